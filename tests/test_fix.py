"""The fix block: when a Hugging Face path fails, compare's and the gate's reports say what the
installed transformers does to the model, the export command for the MODEL the user typed, the
lines that load the export and the files to ship; export's own text ends with the last two."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tokcheck.cli import main
from tokcheck.compare.fix import export_command, load_snippet, suggested_outdir
from tokcheck.compare.report import export_advice
from tokcheck.report import terminal

ROOT = Path(__file__).resolve().parents[1]
NEOX = "fixtures/neox-3.6b"  # as a user in a checkout types it
COMMAND = "tokcheck export fixtures/neox-3.6b neox-3.6b-tokcheck"
LOAD = 'tok = AutoTokenizer.from_pretrained("neox-3.6b-tokcheck")'
SHIPPED = (
    "tokenizer.json, tokenizer_config.json, special_tokens_map.json, spiece.model, "
    "tokcheck_export.json"
)
# A tokcheck command run in the checkout at 80 columns: its exit code and stdout.
Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    def go(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        return code, capsys.readouterr().out

    return go


def _words(text: str) -> str:
    """The words of wrapped text, one space apart."""
    return " ".join(text.split())


def test_the_command_names_the_model_typed_and_suggests_an_outdir() -> None:
    assert suggested_outdir("fixtures/neox-3.6b") == "neox-3.6b-tokcheck"
    assert suggested_outdir("fixtures/neox-3.6b/") == "neox-3.6b-tokcheck"
    assert suggested_outdir("rinna/japanese-gpt-neox-3.6b") == "japanese-gpt-neox-3.6b-tokcheck"
    assert suggested_outdir("models/spiece.model") == "spiece-tokcheck"
    assert export_command("my models/x", "x-tokcheck") == "tokcheck export 'my models/x' x-tokcheck"
    assert load_snippet("out dir") == (
        "from transformers import AutoTokenizer",
        'tok = AutoTokenizer.from_pretrained("out dir")',
    )
    assert export_advice(NEOX) == f"run `{COMMAND}` and load the exported directory instead"
    # Without a MODEL the placeholders stay (a library caller's report).
    assert "`tokcheck export MODEL OUTDIR`" in export_advice()


def test_compare_ends_with_the_fix_block_within_80_columns(run: Run) -> None:
    code, out = run("compare", NEOX, "--examples", "50", "--jobs", "1")
    if code == 0:
        pytest.skip("the Hugging Face paths tokenize as sentencepiece on this transformers release")
    assert code == 1
    lines = out.rstrip("\n").splitlines()
    assert all(terminal.width(line) <= 80 for line in lines), max(lines, key=len)
    start = next(i for i, line in enumerate(lines) if line.startswith("fix: "))
    # The verdict is still the last line (wrapped, its continuations indented).
    verdict = max(i for i, line in enumerate(lines) if not line.startswith(" "))
    block = lines[start:verdict]
    assert f"    {COMMAND}" in block
    assert "    from transformers import AutoTokenizer" in block
    assert f"    {LOAD}" in block
    said = _words("\n".join(block))
    assert SHIPPED in said
    import transformers

    if transformers.__version__.startswith("5."):
        assert (
            f"transformers {transformers.__version__} ignores use_fast=False: every path loads "
            "the same T5Tokenizer (fast)"
        ) in said
    assert lines[verdict].startswith("failed: the Hugging Face loading path ")
    assert f"`{COMMAND}`" in _words("\n".join(lines[verdict:]))
    assert "MODEL" not in out
    assert "OUTDIR" not in out


def test_json_carries_the_real_model_and_the_fix(run: Run) -> None:
    code, out = run("compare", NEOX, "--examples", "20", "--jobs", "1", "--json")
    data = json.loads(out)
    if data["fix"] is None:
        assert code == 0, data["next_step"]
        pytest.skip("the Hugging Face paths tokenize as sentencepiece on this transformers release")
    assert f"`{COMMAND}`" in data["next_step"]
    fix = data["fix"]
    assert (fix["command"], fix["outdir"], fix["load"][1]) == (COMMAND, "neox-3.6b-tokcheck", LOAD)
    assert ", ".join(fix["files"]) == SHIPPED
    assert fix["transformers"] == data["versions"]["transformers"]
    assert fix["cause"].startswith(f"transformers {fix['transformers']}")
    assert fix["loses"]


def test_gate_text_and_markdown_end_with_the_fix(run: Run) -> None:
    code, out = run("gate", NEOX, "--examples", "20", "--jobs", "1")
    if code == 0:
        pytest.skip("the Hugging Face paths tokenize as sentencepiece on this transformers release")
    lines = out.rstrip("\n").splitlines()
    assert all(terminal.width(line) <= 80 for line in lines), max(lines, key=len)
    assert lines[-1].startswith("gate failed: compare")
    assert f"    {COMMAND}" in lines
    assert f"    {LOAD}" in lines
    assert "MODEL" not in out
    assert "OUTDIR" not in out
    code, summary = run("gate", NEOX, "--examples", "20", "--jobs", "1", "--format", "markdown")
    assert code == 1
    assert f"```sh\n{COMMAND}\n```" in summary
    assert f"```python\nfrom transformers import AutoTokenizer\n{LOAD}\n```" in summary
    assert "**Fix**: transformers " in summary
    assert "`tokcheck_export.json`" in summary
    assert summary.splitlines()[-1].startswith("gate failed: compare")


def test_a_path_that_raises_gets_the_fix_with_its_own_model(run: Run, unloadable_dir: Path) -> None:
    code, out = run("compare", str(unloadable_dir), "--examples", "5", "--json")
    data = json.loads(out)
    assert code == 1
    fix = data["fix"]
    assert fix["cause"].endswith("cannot load it (default raised)")
    assert fix["loses"] == []  # it gave no ids to judge
    assert fix["command"] == f"tokcheck export {unloadable_dir} unloadable-tokcheck"
    assert fix["command"] in data["next_step"]


def test_export_ends_with_how_to_load_and_ship_it(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # OUTDIR as a user types it, short enough for one line
    code, out = run("export", str(ROOT / "fixtures" / "tiny-neox"), "out", "--examples", "5")
    assert code == 0, out
    lines = out.rstrip("\n").splitlines()
    at = lines.index("load it with transformers:")
    assert lines[at + 1] == "  from transformers import AutoTokenizer"
    assert lines[at + 2] == '  tok = AutoTokenizer.from_pretrained("out")'
    verdict = max(i for i, line in enumerate(lines) if not line.startswith(" "))
    shipped = _words("\n".join(lines[at + 3 : verdict]))
    assert shipped.startswith("and ship these files beside the weights: tokenizer.json")
    assert shipped.split(": ", 1)[1].split(", ") == [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "spiece.model",
        "tokcheck_export.json",
    ]
    assert lines[verdict].startswith("passed")
