"""`tokcheck export` end to end: the written directory loads with AutoTokenizer and is exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokcheck.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CARD_TEXT = "  吾輩は  猫である   "


@pytest.mark.parametrize("fixture", ["tiny-neox", "tiny-bilingual", "tiny-legacy"])
def test_exported_directory_is_exact_under_auto_tokenizer(tmp_path: Path, fixture: str) -> None:
    import sentencepiece as spm
    from transformers import AutoTokenizer

    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / fixture), str(out), "--examples", "300"]) == 0
    tok = AutoTokenizer.from_pretrained(str(out))
    sp = spm.SentencePieceProcessor(model_file=str(FIXTURES / fixture / "spiece.model"))
    for text in (CARD_TEXT, "გამარჯობა", "a\tb\nc", " x ", ""):
        assert tok.encode(text) == sp.encode(text)
        assert tok.decode(tok.encode(text)) == sp.decode(sp.encode(text))


def test_card_answers_through_the_exported_directory(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / "tiny-neox"), str(out), "--examples", "50"]) == 0
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.decode(tok.encode(CARD_TEXT)) == CARD_TEXT
    assert tok.decode(tok.encode("გამარჯობა")) == "გამარჯობა"


def test_gate_passes_on_the_exported_directory(tmp_path: Path) -> None:
    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / "tiny-neox"), str(out), "--examples", "50"]) == 0
    assert main(["compare", str(FIXTURES / "tiny-neox"), "--examples", "50"]) == 1
    assert main(["gate", str(out), "--examples", "100"]) == 0


def test_existing_outdir_is_refused_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exported"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["export", str(FIXTURES / "tiny-neox"), str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]
