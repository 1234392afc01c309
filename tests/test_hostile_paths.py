"""Paths that a shell or a CI runner would misread are shown so that they cannot be.

A model directory whose name holds a newline followed by ``::error`` must not give GitHub
Actions a workflow command of its own, in any format; the export command the fix block advises
must run as printed, for such a path and for one that starts with ``-``.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tokcheck.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUN = ["--examples", "5", "--prompts", "1", "--jobs", "1"]
EVIL = "m_x\n::error file=evil::INJECTED"
ANNOTATIONS = ("::error title=", "::warning title=", "::error file=", "::warning file=")


def _commands(out: str, github: bool) -> list[str]:
    """The lines of ``out`` a runner would read as workflow commands but tokcheck's own."""
    lines = [line for line in out.split("\n") if line.lstrip().startswith("::")]
    return [line for line in lines if not (github and line.startswith(ANNOTATIONS))]


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", *RUN, "--format", "github"],
        ["compare", *RUN],
        ["gate", "--no-profile", *RUN],
        ["gate", "--no-profile", *RUN, "--format", "github"],
        ["inspect"],
    ],
    ids=["compare-github", "compare-text", "gate-text", "gate-github", "inspect"],
)
def test_a_newline_in_the_model_path_injects_no_workflow_command(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES / "tiny-neox", tmp_path / EVIL)
    code = main([argv[0], EVIL, *argv[1:]])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "INJECTED" in out  # the path is shown,
    assert _commands(out, github="github" in argv) == []  # but as no command


@pytest.mark.parametrize("name", [EVIL, "-dash", "two words"], ids=["newline", "dash", "space"])
def test_the_advised_export_command_runs_as_printed(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES / "tiny-neox", tmp_path / name)
    code = main(["compare", *RUN, "--json", "--", name])
    fix = json.loads(capsys.readouterr().out)["fix"]
    assert code == 1
    command = fix["command"]
    assert "\n" not in command
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash to read the command back")
    # What bash makes of the printed words (argv[0] is "tokcheck").
    words = (
        subprocess.run(
            [bash, "-c", f"printf '%s\\0' {command.removeprefix('tokcheck ')}"],
            capture_output=True,
            check=True,
        )
        .stdout.decode("utf-8")
        .split("\0")[:-1]
    )
    assert words[0] == "export"
    assert Path(words[1]).resolve() == (tmp_path / name).resolve()
    assert main([*words, "--examples", "20"]) == 0
    assert (tmp_path / words[2] / "tokenizer.json").is_file()
    assert shlex.split(command)[0] == "tokcheck"
