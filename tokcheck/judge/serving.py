"""Serving notes: what the streaming algorithms themselves lose on the model, whatever tokenizer
runs them.

A prompt that ends inside a multi-byte character, or a server that decodes each id alone, can
show text sentencepiece's own decode does not; these are reported beside the verdict, not
judged against a candidate (:func:`serving_notes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tokcheck.judge.stream import (
    DECODE_STREAM,
    PREFIX_READ,
    Streamer,
    after_prompt,
    decode_stream,
    flushed,
    prefix_read_offsets,
    stream_failure,
)
from tokcheck.judge.stream_check import STATELESS, StreamCheck
from tokcheck.model.proto import SentencePieceModel


def serving_notes(
    model: SentencePieceModel, candidates: Sequence[Any], texts: Sequence[str]
) -> list[str]:
    """What the serving algorithms themselves show after a prompt that ends inside a
    character, and decoding each id alone, on the first of ``texts`` where a prompt can end so:
    with sentencepiece's own decode (and tokenizers' ``DecodeStream`` on a candidate that
    decodes that line as sentencepiece does). These are the algorithms' on this model, whatever
    the tokenizer: reported, not judged."""
    unused: Callable[[list[list[int]]], list[str]] = lambda batch: []  # noqa: E731
    check = StreamCheck(model, Streamer(decode=lambda ids: "", decode_batch=unused))
    decode = check.reference_decode
    processor = model.processor
    for text in texts:
        ids = list(processor.encode(text))
        start = check.prompt_end(ids)
        if start is None or ids[start - 1] not in check.byte_values:
            continue
        full = decode(ids)
        expected = after_prompt(decode, ids, start, full)
        if expected is None:
            continue
        notes = []
        where = f"after a prompt of {start} ids of {text!r} that ends inside a character"
        shown = flushed(prefix_read_offsets(decode, ids, start), expected)
        if stream_failure(PREFIX_READ, shown, expected):
            notes.append(
                f"{where}, prefix/read offsets (text-generation-inference, vLLM) show {shown} "
                f"for {expected!r}, with sentencepiece's own decode"
            )
        for c in candidates:
            streamer = c.streamer
            if streamer is None or streamer.tokenizer is None or streamer.decode(ids) != full:
                continue
            shown = flushed(decode_stream(streamer.tokenizer, ids, start), expected)
            if stream_failure(DECODE_STREAM, shown, expected):
                notes.append(
                    f"{where}, tokenizers' DecodeStream primed with it (ids=) shows {shown} for "
                    f"{expected!r}, on {c.name}, which decodes the line as sentencepiece does"
                )
            break
        alone = [decode([i]) for i in ids]
        if stream_failure(STATELESS, alone, full):
            notes.append(
                f"decoding each id of {text!r} alone (a server that keeps no state) shows "
                f"{alone} for {full!r}, with sentencepiece's own decode"
            )
        return notes
    return []
