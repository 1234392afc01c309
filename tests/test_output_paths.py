"""A report is never written over a file the run reads, nor two reports over one file.

``--output``, ``--html``, ``--dump`` and ``--junit`` are checked before the run: one that names
the model file, an existing file of the model's directory, a corpus, a GGUF or a profile file,
or the same file as another of them, is exit 2 with one line, and every file stays as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tokcheck.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUN = ["--examples", "5", "--prompts", "1", "--jobs", "1"]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(FIXTURES / "tiny-neox", copy)
    (copy / "lines.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    return copy


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("command", "extra", "said"),
    [
        (
            "compare",
            ["--dump", "{model}/lines.jsonl"],
            "--dump {model}/lines.jsonl: would write over a file of the model",
        ),
        (
            "compare",
            ["--html", "{model}/spiece.model"],
            "--html {model}/spiece.model: would write over a file of the model",
        ),
        (
            "gate",
            ["--junit", "{model}/tokenizer_config.json", "--no-profile"],
            "would write over a file of the model",
        ),
        (
            "compare",
            ["--output", "{tmp}/r", "--html", "{tmp}/r"],
            "--output and --html name the same file",
        ),
        (
            "gate",
            ["--junit", "{tmp}/r", "--dump", "{tmp}/./r", "--no-profile"],
            "--junit and --dump name the same file",
        ),
        ("compare", ["--output", "{tmp}/c.txt", "--corpus", "{tmp}/c.txt"], "which the run reads"),
    ],
    ids=[
        "dump-over-corpus-in-model",
        "html-over-model",
        "junit-over-config",
        "two-reports",
        "dot-path",
        "output-over-corpus",
    ],
)
def test_a_report_over_an_input_or_another_report_is_refused(
    capsys: pytest.CaptureFixture[str],
    model: Path,
    tmp_path: Path,
    command: str,
    extra: list[str],
    said: str,
) -> None:
    (tmp_path / "c.txt").write_text("吾輩は猫である。\n", encoding="utf-8")
    (tmp_path / "r").write_text("an earlier report\n", encoding="utf-8")
    before, outside = _files(model), _files(tmp_path)
    fill = {"model": str(model), "tmp": str(tmp_path)}
    argv = [command, str(model), *RUN, "--corpus", str(model / "lines.jsonl")]
    code = main(argv + [a.format(**fill) for a in extra])
    err = capsys.readouterr().err
    assert code == 2
    assert said.format(**fill) in err
    assert len(err.strip().splitlines()) == 1
    assert _files(model) == before
    assert _files(tmp_path) == outside


def test_a_new_report_inside_the_model_directory_is_written(
    capsys: pytest.CaptureFixture[str], model: Path
) -> None:
    report = model / "report.html"
    code = main(["compare", str(model), *RUN, "--html", str(report)])
    capsys.readouterr()
    assert code == 1  # the fixture's loading path diverges: the run happened
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
