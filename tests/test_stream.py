"""Streaming decode and special-token injection (issue 14): the algorithms on byte-fallback
pieces, the two judge kinds, the verified remedy, and the acceptance case on a rinna-flag
fixture. CI runs this file under transformers 5.x and 4.57."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokcheck.candidates.base import special_names
from tokcheck.candidates.hf import from_tokenizers, transformers_version
from tokcheck.cli import main
from tokcheck.compare.options import CompareOptions
from tokcheck.convert.converter import build_tokenizer
from tokcheck.inputs.inject import injection_texts, surfaces
from tokcheck.inputs.probes import numbered
from tokcheck.judge.stream import (
    DECODE_STREAM,
    PREFIX_READ,
    decode_stream,
    flushed,
    prefix_read_offsets,
    stream_failure,
)
from tokcheck.judge.tally import KINDS
from tokcheck.model.proto import SentencePieceModel
from tokcheck.parallel.runner import judge_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAJOR = int((transformers_version() or "0").split(".")[0])
EMOJI = "猫😺と"


@pytest.fixture(scope="module")
def model() -> SentencePieceModel:
    return SentencePieceModel.load(FIXTURES / "tiny-neox" / "spiece.model")


@pytest.fixture(scope="module")
def exported(model: SentencePieceModel):  # type: ignore[no-untyped-def]
    return build_tokenizer(model)


def _no_byte_fallback(tokenizer: Any) -> Any:
    """The same tokenizer with the decoder rinna's directories get from transformers 5.x:
    Metaspace alone, no ByteFallback."""
    from tokenizers import Tokenizer, decoders

    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.decoder = decoders.Metaspace()
    return copy


def test_emoji_is_four_byte_pieces(model: SentencePieceModel) -> None:
    ids = model.processor.encode("😺")
    assert [model.pieces[i] for i in ids] == ["<0xF0>", "<0x9F>", "<0x98>", "<0xBA>"]


def test_both_algorithms_hold_byte_pieces_until_the_character_is_whole(
    model: SentencePieceModel, exported: object
) -> None:
    ids = model.processor.encode(EMOJI)
    expected = model.processor.decode(ids)
    assert expected == EMOJI

    def decode(window: list[int]) -> str:
        return str(exported.decode(window, skip_special_tokens=False))  # type: ignore[attr-defined]

    for chunks in (prefix_read_offsets(decode, ids), decode_stream(exported, ids)):
        assert "".join(chunks) == EMOJI
        # The emoji comes as one chunk, once its fourth byte is in: never U+FFFD or a byte name.
        assert "😺" in chunks
        assert all("\ufffd" not in c and "<0x" not in c for c in chunks)
        assert stream_failure(PREFIX_READ, chunks, expected) is None


def test_a_decoder_without_byte_fallback_streams_byte_names(
    model: SentencePieceModel, exported: object
) -> None:
    ids = model.processor.encode("😺")
    lossy = _no_byte_fallback(exported)
    chunks = decode_stream(lossy, ids)
    assert chunks == ["<0xF0>", "<0x9F>", "<0x98>", "<0xBA>"]
    failure = stream_failure(DECODE_STREAM, chunks, "😺")
    assert failure is not None
    assert failure.reason == "a chunk shows the byte piece name <0xF0>"


def test_a_replacement_character_is_a_failure_only_where_the_text_has_none() -> None:
    assert stream_failure(PREFIX_READ, ["a", "\ufffd"], "ab") is not None
    assert stream_failure(PREFIX_READ, ["a\ufffd"], "a\ufffd") is None
    # A text that ends in U+FFFD is held by both algorithms, then sent when generation ends.
    assert flushed(["a"], "a\ufffd") == ["a", "\ufffd"]
    assert flushed(["x"], "a\ufffd") == ["x"]


def test_prefix_read_offsets_on_a_toy_decoder() -> None:
    # Each id is a UTF-8 byte of "é" (C3 A9) or a letter: the window decodes with U+FFFD
    # while the character is incomplete, as byte fallback does.
    table = {1: b"\xc3", 2: b"\xa9", 3: b"x"}

    def decode(ids: list[int]) -> str:
        return b"".join(table[i] for i in ids).decode("utf-8", "replace")

    assert prefix_read_offsets(decode, [3, 1, 2, 3]) == ["x", "é", "x"]
    assert prefix_read_offsets(decode, [1]) == []


def test_the_judge_counts_stream_mismatches_per_candidate(
    model: SentencePieceModel, exported: object
) -> None:
    lines = numbered([EMOJI, "plain", "𠮷野家"])
    good = from_tokenizers("exported", exported, "tokenizers.Tokenizer")
    bad = from_tokenizers("lossy", _no_byte_fallback(exported), "tokenizers.Tokenizer")
    tally_good, tally_bad = judge_lines(model, [good, bad], lines)
    assert tally_good.stream_mismatched == 0
    assert tally_good.passed()
    # The lossy decoder gets the two byte-piece lines wrong whole already: they count
    # without streaming; "plain" has no byte pieces and is streamed (the first batch).
    assert tally_bad.stream_mismatched == 2
    assert tally_bad.stream_checked == 1
    example = tally_bad.counterexamples[0]
    assert example.stream is not None
    assert "stream_mismatched" in example.kinds
    assert example.stream.algorithm == "decode"


def test_injection_lines_embed_every_special_name(model: SentencePieceModel) -> None:
    names = surfaces(model)
    assert {"<s>", "</s>", "[UNK]"} <= set(names)
    texts = injection_texts(model)
    for name in names:
        assert name in texts
        assert any(t.startswith("無視して" + name) for t in texts)
        assert f" {name} " in texts
        assert f"\t{name}\t" in texts


def test_the_exported_tokenizer_is_not_injectable(
    model: SentencePieceModel, exported: object
) -> None:
    candidate = from_tokenizers("exported", exported, "tokenizers.Tokenizer")
    (tally,) = judge_lines(
        model, [candidate], numbered(injection_texts(model, special_names([candidate])))
    )
    assert tally.special_injected == 0
    assert tally.special_introduced == 0
    assert tally.passed()


# -- the acceptance case: a rinna-flag fixture, default against exported ----------------


@pytest.fixture(scope="module")
def acceptance() -> dict:  # type: ignore[type-arg]
    from tokcheck.model.resolve import resolve

    resolved = resolve(str(FIXTURES / "neox-3.6b"))
    from tokcheck.compare.run import compare

    report = compare(
        resolved,
        SentencePieceModel.load(resolved.model_file),
        CompareOptions(examples=50, candidates=["default", "exported"]),
    )
    return report.to_dict()


def _by_name(report: dict) -> dict:  # type: ignore[type-arg]
    return {c["name"]: c for c in report["candidates"]}


def test_json_reports_stream_and_injection_counts(acceptance: dict) -> None:  # type: ignore[type-arg]
    candidates = _by_name(acceptance)
    exported = candidates["exported"]
    assert exported["stream_mismatched"] == 0
    assert exported["special_injected"] == 0
    assert exported["stream_checked"] > 0
    # Runs of one-character pieces among the lines derived from the model hold float32 ties.
    assert exported["mismatched"] == 0
    assert exported["status"] in {"exact", "ties"}
    assert acceptance["inputs"]["injection"] > 0
    if "default" not in candidates:
        pytest.skip("the default path raises while loading on this transformers release")
    default = candidates["default"]
    # Both transformers lines: the default decoder has no byte fallback, and extracts
    # </s>, <s> and [PAD] from text.
    assert default["stream_mismatched"] > 0
    assert default["special_injected"] > 0


@pytest.mark.skipif(MAJOR < 5, reason="asserts transformers 5.x behaviour")
def test_transformers5_split_special_tokens_does_not_remove_the_injection(
    acceptance: dict,  # type: ignore[type-arg]
) -> None:
    (remedy,) = [r for r in acceptance["remedies"] if r["candidate"] == "default"]
    assert remedy["setting"] == "split_special_tokens=True"
    assert remedy["injected"] > 0
    # The Unigram vocabulary itself holds </s> and <s>: split or not, they are matched whole.
    assert remedy["injected_with_setting"] > 0
    assert not remedy["removes_injection"]


@pytest.mark.skipif(MAJOR != 4, reason="asserts transformers 4.x behaviour")
def test_transformers4_slow_class_is_safe_with_split_special_tokens(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["compare", str(FIXTURES / "tiny-neox"), "--examples", "0", "--json"])
    out.write_text(buffer.getvalue())
    report = json.loads(out.read_text())
    assert code == 1
    remedies = {r["candidate"]: r for r in report["remedies"]}
    assert remedies["slow"]["removes_injection"]
    assert remedies["slow"]["mismatched_with_setting"] == 0
    assert not remedies["default"]["removes_injection"]


def test_every_kind_is_in_the_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", str(FIXTURES / "tiny-neox"), "--candidate", "exported"])
    text = capsys.readouterr().out
    assert code == 0
    # A column per kind where the terminal is wide enough, else a row per kind.
    header = next(line for line in text.splitlines() if line.startswith("candidate"))
    labels = {line.split()[0] for line in text.splitlines() if line.strip()}
    assert all(kind in header for kind in KINDS) or set(KINDS) <= labels
    assert "special_injected" in KINDS
    assert "stream_mismatched" in KINDS
