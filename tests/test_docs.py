"""The documentation site: it builds with ``mkdocs build --strict``, and the tutorial does what it
says. Every ``$ tokcheck ...  # exit N`` line of a ``console`` block in docs/tutorial.md is run,
in order, against the bundled fixtures in a scratch directory and must end with the exit code the
page states; the tutorial's ``python`` blocks then run there, after the export they load.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.md"
README = ROOT / "README.md"

FENCE = re.compile(r"^```([\w.+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# A runnable line: "$ tokcheck ARGS  # exit N".
COMMAND = re.compile(r"^\$ (?P<command>tokcheck\s.+?)\s+#\s*exit\s+(?P<exit>\d+)\s*$")
COMMAND_TIMEOUT_S = 300


@dataclass(frozen=True)
class Step:
    command: str
    expected: int


@dataclass(frozen=True)
class Ran:
    step: Step
    returncode: int
    stderr: str


def fenced(path: Path, language: str) -> list[str]:
    """The bodies of the page's fenced blocks of ``language``, in page order."""
    return [body for lang, body in FENCE.findall(path.read_text("utf-8")) if lang == language]


def tutorial_steps() -> list[Step]:
    """Every ``$ tokcheck`` line of the tutorial's console blocks, with the exit it states."""
    steps = []
    for block in fenced(TUTORIAL, "console"):
        for line in block.splitlines():
            if not line.startswith("$ tokcheck"):
                continue
            match = COMMAND.match(line)
            assert match, f"{line!r} in {TUTORIAL.name} does not state its exit code (# exit N)"
            steps.append(Step(match["command"], int(match["exit"])))
    return steps


def _environment() -> dict[str, str]:
    """This checkout's tokcheck first on the path, and no hub access."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch directory where the tutorial's relative paths resolve: fixtures/ is the repo's."""
    path = tmp_path_factory.mktemp("tutorial")
    (path / "fixtures").symlink_to(ROOT / "fixtures", target_is_directory=True)
    return path


@pytest.fixture(scope="module")
def tutorial_run(workdir: Path) -> list[Ran]:
    """Run the tutorial's commands in order, as ``python -m tokcheck``, in ``workdir``."""
    ran = []
    for step in tutorial_steps():
        argv = [sys.executable, "-m", "tokcheck", *shlex.split(step.command)[1:]]
        done = subprocess.run(
            argv,
            cwd=workdir,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        ran.append(Ran(step, done.returncode, done.stderr))
    return ran


def test_the_tutorial_states_an_exit_code_for_each_command() -> None:
    commands = [step.command.split()[1] for step in tutorial_steps()]
    assert {"inspect", "check", "compare", "export"} <= set(commands), commands
    assert fenced(TUTORIAL, "python"), "the tutorial has no Python snippet"


def test_tutorial_commands_exit_as_the_page_says(tutorial_run: list[Ran]) -> None:
    wrong = [
        f"$ {r.step.command}: exit {r.returncode}, the page says {r.step.expected}\n"
        f"{r.stderr[-2000:]}"
        for r in tutorial_run
        if r.returncode != r.step.expected
    ]
    assert not wrong, "\n".join(wrong)


def test_tutorial_python_snippet_runs_after_the_export(
    tutorial_run: list[Ran], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = [r for r in tutorial_run if r.step.command.split()[1] == "export"]
    assert exports, "the tutorial runs no export for its snippet to load"
    assert all(r.returncode == 0 for r in exports), [r.stderr[-2000:] for r in exports]
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for i, snippet in enumerate(fenced(TUTORIAL, "python")):
        exec(compile(snippet, f"{TUTORIAL}:python[{i}]", "exec"), {"__name__": "__tutorial__"})


def test_the_site_builds_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"]
    done = subprocess.run(
        [*build, "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    cli = (site / "reference" / "cli" / "index.html").read_text("utf-8")
    assert "tokcheck-cli-help" not in cli, "the CLI help was not generated"
    for command in ("inspect", "check", "profiles", "compare", "roundtrip", "smoke", "export"):
        assert f"usage: tokcheck {command}" in cli, command
    assert "usage: tokcheck gate" in cli
    profiles = (site / "reference" / "profiles" / "index.html").read_text("utf-8")
    assert "rinna/japanese-gpt-neox-3.6b" in profiles, "the profiles table was not generated"
    api = (site / "reference" / "python-api" / "index.html").read_text("utf-8")
    assert "assert_matches_reference" in api
    assert "run_gate" in api


def _relative_links(path: Path) -> Iterator[str]:
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text("utf-8")):
        if "://" not in target and not target.startswith("#"):
            yield target.split("#", 1)[0]


def test_the_readme_is_short_and_its_links_resolve() -> None:
    assert len(README.read_text("utf-8").splitlines()) <= 200
    missing = [t for t in _relative_links(README) if not (ROOT / t).exists()]
    assert not missing, missing
