"""Text output fits the terminal, colours only where it may, and the progress bar stays on stderr.

The commands run in-process (``main``) on the bundled fixtures with ``COLUMNS`` set; the
progress bar needs a terminal on stderr, so that case runs in a subprocess with a pty there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tokcheck.cli import main
from tokcheck.report import output, terminal
from tokcheck.report.render import short_class

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

COMMANDS = {
    "check": ["check", str(FIXTURES / "bpe-32k"), "--no-profile"],
    "check-profile": ["check", str(FIXTURES / "neox-3.6b")],
    "inspect": ["inspect", str(FIXTURES / "bpe-32k")],
    "inspect-gguf": ["inspect", str(FIXTURES / "gguf" / "neox-3.6b-as-t5.gguf")],
    "profiles": ["profiles"],
    "compare": ["compare", str(FIXTURES / "neox-3.6b"), "--examples", "100", "--jobs", "1"],
    "gate": ["gate", str(FIXTURES / "neox-3.6b"), "--examples", "100", "--jobs", "1"],
}


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour or width from the environment the suite runs in."""
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _widest(text: str) -> int:
    return max(terminal.width(ESCAPE.sub("", line)) for line in text.splitlines())


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_line_fits_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run(capsys, argv)
    assert code in (0, 1)
    assert _widest(out) <= 80, [line for line in out.splitlines() if terminal.width(line) > 80]
    assert "{'" not in out  # values are text, not Python dicts


def test_wide_terminals_get_wide_tables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    _, out, _ = _run(capsys, COMMANDS["check"])
    assert 80 < _widest(out) <= 160


def test_without_a_terminal_or_columns_the_width_is_80(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _run(capsys, COMMANDS["check"])
    assert _widest(out) <= terminal.DEFAULT_WIDTH


def test_compare_shows_short_classes_and_the_kinds_as_rows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokcheck.judge.tally import KINDS

    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = _run(capsys, COMMANDS["compare"])
    labels = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(KINDS) <= labels
    assert "transformers.models." not in out
    assert "T5Tokenizer (fast)" in out
    # The candidates that loaded the default's tokenizer are named in its column.
    assert re.search(r"^same tokenizer +slow, fast, sentencepiece-backend$", out, re.M)


def test_long_lists_are_capped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = _run(capsys, COMMANDS["inspect"])
    row = next(line for line in out.splitlines() if line.startswith("control_symbols"))
    assert "702 control symbols: <s> </s> " in row
    assert row.endswith(f"… (+{702 - output.SHOWN} in --json)")


def test_no_color_wins_over_force_color(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    for argv in (COMMANDS["check"], COMMANDS["gate"]):
        _, out, err = _run(capsys, argv)
        assert "\x1b[" not in out + err


def test_force_color_colours_the_verdict_words(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, out, _ = _run(capsys, COMMANDS["check"])
    assert "\x1b[32mPASS\x1b[0m  sentencepiece_loads" in out
    assert "\x1b[33mpassed with caveats\x1b[0m: " in out
    _, out, _ = _run(capsys, COMMANDS["gate"])
    assert "gate \x1b[31mfailed\x1b[0m: compare" in out
    # Off a terminal, without FORCE_COLOR: plain text.
    monkeypatch.delenv("FORCE_COLOR")
    _, out, _ = _run(capsys, COMMANDS["check"])
    assert "\x1b[" not in out


def test_json_ignores_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = [*COMMANDS["check"], "--json"]
    _, wide, _ = _run(capsys, argv)
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, narrow, _ = _run(capsys, argv)
    assert narrow == wide
    assert "\x1b[" not in narrow


def test_wrapping_keeps_commands_and_quoted_text_whole() -> None:
    line = (
        "next: the loading path diverges from sentencepiece on 1697 lines: run "
        "`tokcheck export fixtures/neox-3.6b OUTDIR` and load the exported directory"
    )
    lines = terminal.wrap(line, 60)
    assert all(terminal.width(x) <= 60 for x in lines)
    assert any("`tokcheck export fixtures/neox-3.6b OUTDIR`" in x for x in lines)
    assert all(x.startswith("    ") for x in lines[1:])
    quoted = "serving: decoding each id of '  吾輩は  猫である   ' alone shows more text"
    lines = terminal.wrap(quoted, 40)
    assert any("'  吾輩は  猫である   '" in x for x in lines)
    assert all(terminal.width(x) <= 40 for x in lines)
    assert terminal.width("吾輩") == 4
    # A word longer than the line is cut, after a joint where it has one.
    assert terminal.wrap("x" * 30, 12) == ["x" * 12, "    " + "x" * 8, "    " + "x" * 8, "    xx"]
    assert terminal.wrap("a/very/long/path/name/here", 12)[0] == "a/very/long/"


def test_a_table_that_cannot_fit_becomes_blocks() -> None:
    rows = [("rinna/japanese-gpt-neox-3.6b", 32000, True, "https://huggingface.co/rinna/x")]
    headers = ("profile", "pieces", "byte_fallback", "model card")
    wide = output.table(headers, rows, width=120)
    assert wide.splitlines()[0].split() == [*headers[:3], "model", "card"]
    narrow = output.table(headers, rows, width=60)
    assert narrow.splitlines() == [
        "rinna/japanese-gpt-neox-3.6b",
        "  pieces         32000",
        "  byte_fallback  yes",
        "  model card     https://huggingface.co/rinna/x",
    ]


def test_cells_wrap_within_their_column() -> None:
    rows = [("PASS", "special_ids", {"unk_id": 0, "bos_id": 1}, "every id " * 8)]
    text = output.table(("", "check", "actual", "expected"), rows, width=50)
    lines = text.splitlines()
    assert all(terminal.width(x) <= 50 for x in lines)
    assert lines[2].startswith("PASS  special_ids  unk_id: 0")
    assert lines[3].split() == ["bos_id:", "1", "every", "id", "every", "id"]


def test_short_class_names() -> None:
    assert short_class("transformers.models.t5.tokenization_t5.T5Tokenizer (fast)") == (
        "T5Tokenizer (fast)"
    )
    assert short_class("tokenizers.Tokenizer (tokcheck export)") == (
        "tokenizers.Tokenizer (tokcheck export)"
    )


def _with_stderr_on_a_pty(argv: list[str], corpus: Path) -> tuple[str, str]:
    """Run tokcheck with stdout a pipe and stderr a terminal: what each received."""
    import pty

    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm", COLUMNS="80")
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "tokcheck", *argv, "--corpus", str(corpus)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the other end is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    out, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(leader)
    return out.decode("utf-8"), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_progress_draws_on_stderr_only(tmp_path: Path) -> None:
    corpus = tmp_path / "lines.txt"
    corpus.write_text("吾輩は猫である。名前はまだ無い。\n" * 20000, encoding="utf-8")
    argv = ["compare", str(FIXTURES / "tiny-neox"), "--examples", "10", "--jobs", "1"]
    out, err = _with_stderr_on_a_pty(argv, corpus)
    assert "loading tokenizers, judging generated strings" in err
    assert "judging the corpus" in err
    assert re.search(r"judging the corpus .*0\.0/980\.0 kB", ESCAPE.sub("", err))
    assert "judging" not in out
    assert "\x1b[" not in out
    assert out.rstrip().splitlines()[-1].startswith(("passed", "failed", "    "))
    # stderr no terminal: no bar at all.
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    command = [sys.executable, "-m", "tokcheck", *argv, "--corpus", str(corpus)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert "judging" not in done.stdout + done.stderr


def test_the_fix_block_stays_code_a_shell_and_python_read_back(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A model path wider than the terminal: the export command is continued at its arguments
    (no argument cut), and the loading line keeps its string whole, so both still run."""
    import ast
    import shlex
    import shutil

    model = tmp_path / ("a" * 40) / "rinna-japanese-gpt-neox-3.6b-instruction-sft-v2 copy"
    shutil.copytree(FIXTURES / "tiny-neox", model)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _run(capsys, ["compare", str(model), "--examples", "20", "--jobs", "1"])
    assert code == 1
    lines = out.splitlines()
    start = lines.index("  export an exact tokenizer.json, verified against sentencepiece:") + 1
    end = lines.index("  then load it:")
    shell = "\n".join(lines[start:end])
    assert len(lines[start:end]) > 1
    assert shell.count(" \\\n") == end - start - 1
    outdir = "rinna-japanese-gpt-neox-3.6b-instruction-sft-v2 copy-tokcheck"
    assert shlex.split(shell.replace(" \\\n", " ")) == ["tokcheck", "export", str(model), outdir]
    python = "\n".join(line.strip() for line in lines[end + 1 : end + 5])
    tree = ast.parse(python)
    assert ast.literal_eval(tree.body[1].value.args[0]) == outdir  # type: ignore[attr-defined]
    # Every other line of the report still fits.
    code_lines = set(lines[start:end])
    assert all(terminal.width(x) <= 80 for x in lines if x not in code_lines)


def test_code_lines_are_printed_as_they_are() -> None:
    text = "\n".join(
        [
            "prose " * 20,
            *terminal.command("tokcheck export " + "x/" * 50 + " out", 4, 40),
            *terminal.call('tok = f("' + "y" * 60 + '")', 4, 40),
            "more prose " * 10,
        ]
    )
    lines = terminal.fit(text, 40)
    assert "    tokcheck export \\" in lines
    assert "      " + "x/" * 50 + " \\" in lines
    assert lines[lines.index("    tok = f(") + 1 :][:2] == ['        "' + "y" * 60 + '"', "    )"]
    prose = [x for x in lines if "prose" in x]
    assert len(prose) > 2
    assert all(terminal.width(x) <= 40 for x in prose)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_the_gates_progress_names_each_step(tmp_path: Path) -> None:
    corpus = tmp_path / "lines.txt"
    corpus.write_text("吾輩は猫である。名前はまだ無い。\n" * 2000, encoding="utf-8")
    argv = ["gate", str(FIXTURES / "tiny-neox"), "--no-profile", "--examples", "10", "--jobs", "1"]
    out, err = _with_stderr_on_a_pty(argv, corpus)
    seen = ESCAPE.sub("", err)
    steps = [
        "checking the model",
        "compare: loading tokenizers, judging generated strings",
        "judging the corpus",
        "checking round-trip properties",
    ]
    where = [seen.find(s) for s in steps]
    assert -1 not in where, dict(zip(steps, where, strict=True))
    assert where == sorted(where)  # in the order the gate runs them
    assert "checking" not in out


@pytest.mark.parametrize("columns", ["40", "1", "60", "200"])
def test_the_loading_snippet_is_python_at_any_width(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    import ast
    import textwrap

    monkeypatch.setenv("COLUMNS", columns)
    code, out, _ = _run(
        capsys, ["compare", str(FIXTURES / "tiny-neox"), "--examples", "5", "--jobs", "1"]
    )
    lines = out.splitlines()
    start = lines.index("  then load it:") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("  and ship"))
    tree = ast.parse(textwrap.dedent("\n".join(lines[start:end])))
    assert [type(node).__name__ for node in tree.body] == ["ImportFrom", "Assign"]
    assert code == 1
