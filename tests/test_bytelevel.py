"""Export's transformers.js target: the byte-level form of a unigram model with byte fallback
(tokcheck.convert.bytelevel), exact in the Rust library here and, where node and transformers.js's
tokenizer library are installed, in transformers.js."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokcheck.candidates import jsruntime
from tokcheck.candidates.hf import from_tokenizers
from tokcheck.cli import main
from tokcheck.convert import bytelevel
from tokcheck.convert.converter import build_tokenizer
from tokcheck.inputs.probes import numbered, verification_lines
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import BYTE
from tokcheck.parallel.runner import judge_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"
LLM_JP = SHARED / "published-models/llm-jp-tokenizer-100k.ver3.1.model"
CORPORA = sorted((SHARED / "corpora").glob("*.txt")) if SHARED.is_dir() else []


def _installed() -> str | None:
    try:
        jsruntime.require()
    except jsruntime.RuntimeUnavailable as e:
        return str(e)
    return None


needs_js = pytest.mark.skipif(_installed() is not None, reason=str(_installed()))


def test_the_alphabet_is_gpt2s() -> None:
    assert bytelevel.to_byte_level("吾 a") == "åĲ¾Ġa"
    assert bytelevel.to_byte_level("\u2581") == "âĸģ"
    assert len(set(bytelevel._alphabet())) == 256


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "tiny-neox/spiece.model",
        FIXTURES / "neox-3.6b/spiece.model",
        FIXTURES / "bilingual-4b/spiece.model",
        pytest.param(LLM_JP, marks=pytest.mark.skipif(not LLM_JP.is_file(), reason="no ../shared")),
    ],
    ids=lambda p: p.parent.name if p.parent.name != "published-models" else p.stem,
)
def test_the_byte_level_form_gives_sentencepieces_ids_and_decodes(path: Path) -> None:
    """On rinna-flag fixtures and LLM-jp's published unigram model: every verification line
    (model-derived lines included) and both corpora, encoded and decoded, streamed too: only
    ties differ, as they do for the plain export."""
    model = SentencePieceModel.load(path)
    tok = bytelevel.byte_level(build_tokenizer(model), model)
    lines = verification_lines(model, 300)
    for corpus in CORPORA:
        lines += numbered(corpus.read_text("utf-8").splitlines())
    (tally,) = judge_lines(model, [from_tokenizers("byte-level", tok, "t")], lines)
    assert tally.lines == len(lines)
    assert tally.mismatched == 0, tally.counterexamples
    assert tally.decode_mismatched == 0
    assert tally.stream_mismatched == 0


def test_every_byte_piece_decodes_alone_as_sentencepiece_decodes_it() -> None:
    """Byte tokens include those whose character is also a normal piece (named with a
    noncharacter no byte-level text holds, which the decoder strips)."""
    model = SentencePieceModel.load(FIXTURES / "neox-3.6b/spiece.model")
    tok = bytelevel.byte_level(build_tokenizer(model), model)
    ids = [i for i, p in enumerate(model.proto.pieces) if p.type == BYTE]
    assert len(ids) == 256
    unreachable = [i for i in ids if str(tok.id_to_token(i)).endswith(bytelevel.UNREACHABLE)]
    assert unreachable, "some byte's character has a piece of its own in this fixture"
    got = tok.decode_batch([[i] for i in ids], skip_special_tokens=False)
    assert got == model.processor.decode([[i] for i in ids])


def test_a_renamed_one_character_piece_decodes_as_sentencepiece_decodes_it() -> None:
    """The NUL piece, which sentencepiece treats as unused under byte fallback, is exported
    under its character and a noncharacter; in byte-level form too it decodes to the NUL."""
    model = SentencePieceModel.load(FIXTURES / "broken/null-piece/spiece.model")
    tok = bytelevel.byte_level(build_tokenizer(model), model)
    every = [[i] for i in range(len(model.pieces))]
    assert tok.decode_batch(every, skip_special_tokens=False) == model.processor.decode(every)
    assert tok.decode([275, 999, 54], skip_special_tokens=False) == model.processor.decode(
        [275, 999, 54]
    )


def test_a_charsmap_model_is_refused_for_transformers_js_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["export", str(FIXTURES / "legacy-1b"), str(out), "--target", "transformers.js"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Precompiled normaliser ignores the charsmap" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_without_node_export_for_transformers_js_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "out"
    code = main(["export", str(FIXTURES / "tiny-neox"), str(out), "--target", "transformers.js"])
    assert code == 2
    assert "node is not installed" in capsys.readouterr().err
    assert not out.exists()


@needs_js
def test_export_for_transformers_js_is_exact_there_and_compare_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plain export of a rinna-flag model loses every byte-fallback character in
    transformers.js; the transformers.js target is verified there (exit 0), records its target,
    and compare OUTDIR in transformers.js reaches the same verdict on the same lines."""
    out = tmp_path / "out"
    source = str(FIXTURES / "tiny-neox")
    assert (
        main(["export", source, str(out), "--examples", "200", "--target", "transformers.js"]) == 0
    )
    record = json.loads((out / "tokcheck_export.json").read_text("utf-8"))
    assert record["target"] == "transformers.js"
    assert record["verified"]["transformers.js"]["mismatched"] == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--candidate", "transformers.js", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (js,) = report["candidates"]
    assert js["verdict"] == "passed"
    assert js["lines"] >= record["lines"]
    plain = tmp_path / "plain"
    assert main(["export", source, str(plain), "--examples", "200"]) == 0
    capsys.readouterr()
    assert main(["compare", str(plain), "--candidate", "transformers.js", "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)["candidates"][0]
    assert failed["unk_introduced"] > 0
