"""--format text|json|github|markdown|junit and --output on check, compare and gate; GitHub's
step summary; JUnit XML with times, the umask's mode and no absolute paths, even on exit 2."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import pytest

from tokcheck.cli import main
from tokcheck.errors import MissingDependencyError
from tokcheck.report import github, markdown
from tokcheck.report.examples import visible
from tokcheck.system import atomic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = str(FIXTURES / "tiny-neox")
NEOX = str(FIXTURES / "neox-3.6b")
FORMATS = ("text", "json", "github", "markdown", "junit")
# Corpus lines that neox-3.6b's Hugging Face paths tokenize otherwise under transformers 5
# (no dummy prefix, tabs and newlines kept, byte fallback): short, so that they are among the
# shortest counterexamples kept, next to the generated ones. One holds the characters that
# workflow commands escape.
CORPUS = ["吾輩は猫である。", "ABC", "猫\tです", "%,:", "😀"]


class Run(NamedTuple):
    code: int
    out: str
    err: str


CLI = Callable[..., Run]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CLI:
    def run(*argv: str) -> Run:
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 2
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def umask() -> Iterator[int]:
    """A umask unlike the usual 022, restored after."""
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


@pytest.fixture(autouse=True)
def _no_github(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests run in GitHub Actions too: no step summary unless a test sets one."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


def _junit(text: str | Path) -> ET.Element:
    return ET.parse(text).getroot() if isinstance(text, Path) else ET.fromstring(text.encode())


def _unescape(data: str) -> str:
    return (
        data.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def _names(root: ET.Element) -> list[str]:
    return [c.get("name", "") for c in root.iter("testcase")]


def test_check_in_every_format(cli: CLI) -> None:
    runs = {f: cli("check", TINY, "--no-profile", "--format", f) for f in FORMATS}
    assert {f: r.code for f, r in runs.items()} == dict.fromkeys(FORMATS, 0)
    # The text is fitted to the terminal's width; the other formats hold its last line whole.
    assert "passed with caveats" in runs["text"].out
    verdict = "passed with caveats: no profile applied: the family's vocabulary size"
    assert json.loads(runs["json"].out)["verdict"] == "passed with caveats"
    assert json.loads(cli("check", TINY, "--no-profile", "--json").out) == json.loads(
        runs["json"].out
    )
    annotations = runs["github"].out.splitlines()
    assert annotations[-1].startswith(verdict)
    assert annotations[-1].endswith(")")  # (sentencepiece X, transformers Y)
    assert annotations[0].startswith("::warning title=tokcheck check::no profile applied")
    summary = runs["markdown"].out
    assert summary.startswith("## ⚠️ tokcheck check ")
    assert "| check | verdict |" in summary
    assert "| byte\\_pieces | ✅ passed |" in summary
    assert summary.splitlines()[-1] == markdown.text(annotations[-1])
    root = _junit(runs["junit"].out)
    assert root.get("tests") == str(len(_names(root)))
    assert root.get("failures") == "0"
    assert all(not n.startswith("/") and str(FIXTURES) not in n for n in _names(root))


def test_format_usage_errors_are_one_line(cli: CLI) -> None:
    for argv in (
        ["check", TINY, "--json", "--format", "github"],
        ["gate", TINY, "--format", "yaml"],
        ["compare", TINY, "--output", ""],
    ):
        run = cli(*argv)
        assert (run.code, run.out, len(run.err.splitlines())) == (2, "", 1), run


def test_output_is_checked_before_the_run_and_written_instead_of_stdout(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tokcheck.compare.run
    import tokcheck.gate

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("ran although --output is unusable")

    with monkeypatch.context() as m:
        m.setattr(tokcheck.compare.run, "compare", never)
        m.setattr(tokcheck.gate, "run_gate", never)
        for command in ("compare", "gate"):
            for target in (tmp_path / "missing" / "x.md", tmp_path):
                run = cli(command, TINY, "--output", str(target))
                assert (run.code, run.out) == (2, ""), run
                assert run.err.startswith("tokcheck: error: ")
                assert run.err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    out = tmp_path / "check.md"
    run = cli("check", TINY, "--no-profile", "--format", "markdown", "--output", str(out))
    assert (run.code, run.out) == (0, "")
    assert out.read_text("utf-8").startswith("## ⚠️ tokcheck check")
    run = cli("check", TINY, "--no-profile", "--json", "--output", str(out))
    assert (run.code, run.out) == (0, "")
    assert json.loads(out.read_text("utf-8"))["passed"] is True


def test_github_annotates_corpus_counterexamples_with_file_and_line(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name with the characters a property must escape.
    corpus = tmp_path / "my,corpus:1.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    argv = ["compare", NEOX, "--corpus", str(corpus), "--jobs", "1", "--examples", "0"]
    run = cli(*argv, "--show", "50", "--candidate", "default", "--format", "github")
    if run.code == 0:
        pytest.skip("the default path tokenizes as sentencepiece on this transformers release")
    assert run.code == 1, run.err
    lines = run.out.splitlines()
    assert lines[-1].startswith("failed: the Hugging Face loading path diverges")
    assert all(line.startswith("::") for line in lines[:-1])
    prefix = "::error file=my%2Ccorpus%3A1.txt,line="
    annotated = [line for line in lines if line.startswith(prefix)]
    assert annotated, run.out
    for line in annotated:
        number, rest = line.removeprefix(prefix).split(",", 1)
        assert rest.startswith("title=tokcheck%3A default diverges from sentencepiece (")
        message = _unescape(rest.split("::", 1)[1])
        assert f".txt:{number}: {visible(CORPUS[int(number) - 1])}\n" in message
        assert "%" not in rest.split("::", 1)[1].replace("%0A", "").replace("%25", "")
    assert any("%25" in line for line in annotated), "the % line is among the shortest"
    assert any(line.startswith("::error title=tokcheck compare%3A default::") for line in lines)


def test_escaping_follows_the_workflow_command_spec() -> None:
    assert github.escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    said = github.command("error", "x\n::warning::y", file="a,b.txt", line=3)
    assert said == "::error file=a%2Cb.txt,line=3::x%0A::warning::y"
    assert markdown.text("a | b <i>`c`</i>\nd") == "a \\| b \\<i\\>\\`c\\`\\</i\\> d"
    assert markdown.fenced(["x ```` y"])[0] == "`````text"


def test_step_summary_is_appended_and_a_failure_to_is_a_warning(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = cli("gate", TINY, "--no-profile", "--examples", "5", "--jobs", "1", "--json")
    assert run.code == 1, run.err
    assert json.loads(run.out)["verdict"] == "failed"  # stdout is the format asked for
    text = summary.read_text("utf-8")
    assert text.startswith("earlier step\n## ❌ tokcheck gate ")
    assert "| step | verdict |" in text
    assert "| compare | ❌ failed |" in text
    assert "| candidate | class | result | verdict |" in text
    assert "\n```text\ndefault: " in text  # the counterexamples, fenced
    assert text.splitlines()[-1].startswith("gate failed: compare")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
    run = cli("compare", TINY, "--examples", "1", "--jobs", "1", "--candidate", "default")
    assert run.code == 1
    assert "failed" in run.out
    assert run.err.startswith("tokcheck: warning: cannot append to GITHUB_STEP_SUMMARY")
    assert run.err.count("\n") == 1


def test_gate_junit_has_times_the_umask_mode_and_no_absolute_paths(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    monkeypatch.chdir(tmp_path)  # the model is not under it: named by its name
    junit, out = tmp_path / "gate.xml", tmp_path / "out.xml"
    argv = ["gate", TINY, "--no-profile", "--examples", "5", "--jobs", "1", "--junit", str(junit)]
    run = cli(*argv, "--format", "junit", "--output", str(out))
    assert (run.code, run.out) == (1, "")
    for path in (junit, out):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
        root = _junit(path)
        suites = list(root.iter("testsuite"))
        assert {s.get("name") for s in suites} >= {"tokcheck.check", "tokcheck.compare"}
        for element in [root, *suites, *root.iter("testcase")]:
            assert float(element.get("time", "-1")) >= 0, element.attrib
        names = _names(root)
        assert names, path
        assert all(n.endswith("[tiny-neox]") for n in names), names
        assert int(root.get("failures", "0")) >= 1
    monkeypatch.chdir(FIXTURES.parent)  # under it: named relative to it
    run = cli(*argv)
    assert run.code == 1
    assert all(n.endswith("[fixtures/tiny-neox]") for n in _names(_junit(junit)))


def _writer(data: bytes) -> Callable[[BinaryIO], None]:
    def write(handle: BinaryIO) -> None:
        handle.write(data)

    return write


def test_atomic_write_keeps_an_existing_files_mode(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "report.xml"
    atomic.write_file(path, _writer(b"new\n"))
    assert path.stat().st_mode & 0o777 == 0o640
    path.chmod(0o604)
    atomic.write_file(path, _writer(b"again\n"))
    assert (path.read_bytes(), path.stat().st_mode & 0o777) == (b"again\n", 0o604)


def _error(path: Path) -> ET.Element:
    root = _junit(path)
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("1", "1", "0")
    (case,) = root.iter("testcase")
    error = case.find("error")
    assert error is not None
    assert float(case.get("time", "-1")) >= 0
    assert not case.get("name", "").startswith("/")
    return error


def test_junit_is_written_when_the_run_ends_in_exit_2(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junit = tmp_path / "gate.xml"
    missing = tmp_path / "missing.txt"
    run = cli("gate", TINY, "--no-profile", "--corpus", str(missing), "--junit", str(junit))
    assert (run.code, run.out) == (2, "")
    assert run.err.count("\n") == 1
    error = _error(junit)
    assert run.err == f"tokcheck: error: {error.get('message')}\n"
    assert "no such corpus file" in (error.text or "")
    # --format junit --output: the same, for a model that is not there.
    out = tmp_path / "out.xml"
    run = cli("compare", str(tmp_path / "nope"), "--format", "junit", "--output", str(out))
    assert run.code == 2
    assert run.err == f"tokcheck: error: {_error(out).get('message')}\n"
    # An error after the long run (the smoke test's dependency missing): still one errored case.
    import tokcheck.smoke.run

    def no_torch(*args: object, **kwargs: object) -> None:
        raise MissingDependencyError("the smoke test needs torch: pip install 'tokcheck[smoke]'")

    monkeypatch.setattr(tokcheck.smoke.run, "run_smoke", no_torch)
    argv = ["gate", TINY, "--no-profile", "--examples", "5", "--jobs", "1", "--smoke"]
    run = cli(*argv, "--junit", str(junit))
    assert run.code == 2
    assert run.err.count("\n") == 1
    assert "needs torch" in (_error(junit).get("message") or "")
