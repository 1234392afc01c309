"""Streaming after a prompt and one id at a time: where the prompt ends, what the stream should
show, a runtime that re-emits its prompt or decodes single ids otherwise caught, and what the
serving algorithms themselves lose reported as notes, not charged to a candidate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tokcheck.candidates.hf import from_tokenizers
from tokcheck.convert.converter import build_tokenizer
from tokcheck.inputs.probes import BUILTIN_PROBES
from tokcheck.judge.serving import serving_notes
from tokcheck.judge.stream import PREFIX_READ, Streamer, after_prompt, flushed, prefix_read_offsets
from tokcheck.judge.stream_check import StreamCheck
from tokcheck.model.proto import SentencePieceModel
from tokcheck.report import render

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KANJI = "吾輩は猫である"


@pytest.fixture(scope="module")
def model() -> SentencePieceModel:
    return SentencePieceModel.load(FIXTURES / "tiny-neox" / "spiece.model")


def _decode(model: SentencePieceModel):  # type: ignore[no-untyped-def]
    return lambda ids: str(model.processor.decode(list(ids)))


def _streamer(model: SentencePieceModel, **kwargs: object) -> Streamer:
    decode = _decode(model)
    return Streamer(decode=decode, decode_batch=lambda b: [decode(i) for i in b], **kwargs)  # type: ignore[arg-type]


def test_the_prompt_ends_inside_the_first_byte_spelled_character(model: SentencePieceModel) -> None:
    check = StreamCheck(model, _streamer(model))
    ids = model.processor.encode(f"ab{KANJI}")
    start = check.prompt_end(ids)
    assert start is not None
    pieces = [model.pieces[i] for i in ids]
    assert pieces[start - 1].startswith("<0xE")
    assert pieces[start].startswith("<0x")
    plain = model.processor.encode("abc def")
    assert check.prompt_end(plain) == len(plain) // 2
    assert check.prompt_end(plain[:1]) is None


def test_the_split_character_belongs_to_the_stream(model: SentencePieceModel) -> None:
    decode = _decode(model)
    ids = model.processor.encode(f"ab{KANJI}")
    start = StreamCheck(model, _streamer(model)).prompt_end(ids)
    assert start is not None
    # The prompt is "ab" and the lead byte of 吾: the stream must show 吾 and what follows.
    assert after_prompt(decode, ids, start, decode(ids)) == KANJI
    expected = KANJI
    # TGI and vLLM's offsets from the prompt's end drop the split character, whatever the
    # tokenizer: sentencepiece's own decode shows it.
    shown = "".join(flushed(prefix_read_offsets(decode, ids, start), expected))
    assert shown != expected


def test_offsets_after_a_prompt_at_a_character_boundary_show_only_what_follows(
    model: SentencePieceModel,
) -> None:
    decode = _decode(model)
    ids = model.processor.encode("abc def ghi")
    start = len(ids) // 2
    expected = after_prompt(decode, ids, start, decode(ids))
    assert expected is not None
    assert "".join(flushed(prefix_read_offsets(decode, ids, start), expected)) == expected


def test_a_runtime_that_re_emits_its_prompt_is_caught(model: SentencePieceModel) -> None:
    """Its decode is sentencepiece's; its own streaming ignores the prompt and starts over."""
    decode = _decode(model)

    def leaky(ids: Sequence[int], start: int) -> list[str]:
        return prefix_read_offsets(decode, ids, 0)

    check = StreamCheck(model, _streamer(model, offsets=leaky), every_line=True)
    ids = [model.processor.encode("abc def ghi")]
    failures, _ = check.check(ids, [decode(ids[0])], ids, [decode(ids[0])])
    [failed] = failures
    assert failed is not None
    assert failed.algorithm == f"{PREFIX_READ} after a prompt of {len(ids[0]) // 2} ids"
    honest = StreamCheck(model, _streamer(model), every_line=True)
    assert honest.check(ids, [decode(ids[0])], ids, [decode(ids[0])])[0] == [None]


def test_decoding_single_ids_otherwise_is_caught(model: SentencePieceModel) -> None:
    """A decoder right on whole lines that keeps the ▁ of a piece decoded alone."""
    decode = _decode(model)

    def batch(lines: list[list[int]]) -> list[str]:
        return [model.pieces[b[0]] if len(b) == 1 else decode(b) for b in lines]

    check = StreamCheck(model, Streamer(decode=decode, decode_batch=batch), every_line=True)
    ids = [model.processor.encode("abc def")]
    assert "\u2581" in "".join(model.pieces[i] for i in ids[0])
    [failed], _ = check.check(ids, [decode(ids[0])], ids, [decode(ids[0])])
    assert failed is not None
    assert failed.algorithm == "each id decoded alone"


def test_the_exported_tokenizer_streams_after_prompts_as_sentencepiece(
    model: SentencePieceModel,
) -> None:
    candidate = from_tokenizers("exported", build_tokenizer(model), "tokenizers.Tokenizer")
    assert candidate.streamer is not None
    check = StreamCheck(model, candidate.streamer, every_line=True)
    lines = [model.processor.encode(t) for t in (*BUILTIN_PROBES, KANJI, f"x{KANJI}y")]
    texts = [str(model.processor.decode(i)) for i in lines]
    failures, _ = check.check(lines, texts, lines, texts)
    assert failures == [None] * len(lines)


def test_serving_notes_name_what_the_algorithms_lose(model: SentencePieceModel) -> None:
    candidate = from_tokenizers("exported", build_tokenizer(model), "tokenizers.Tokenizer")
    found = serving_notes(model, [candidate], BUILTIN_PROBES)
    notes = [str(n) for n in found]  # as --json says them
    assert len(notes) == 3
    assert "prefix/read offsets (text-generation-inference, vLLM) show [" in notes[0]
    assert "DecodeStream primed with it" in notes[1]
    assert "on exported" in notes[1]
    assert "\ufffd" in notes[2]
    assert "alone" in notes[2]
    # The parts the text report shows: the line, the chunks, and the decode they should spell.
    alone = found[2]
    assert alone.prompt is None
    assert alone.on is None
    assert alone.expected == model.processor.decode(model.processor.encode(alone.text))
    assert "".join(alone.shown) != alone.expected
    assert found[1].on == "exported"
    shown = render.serving(found)
    assert all(line.startswith("serving (the algorithm's, any tokenizer): ") for line in shown)
    assert "'  " not in shown[2]  # the texts as text, not as Python literals
    assert " | \ufffd | " in shown[2]
    assert f"alone ({alone.algorithm}) shows" in shown[2]
    # A model whose probes hold no byte-spelled character has nothing to note.
    legacy = SentencePieceModel.load(FIXTURES / "tiny-legacy" / "spiece.model")
    assert serving_notes(legacy, [], BUILTIN_PROBES) == []
