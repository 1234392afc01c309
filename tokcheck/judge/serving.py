"""Serving notes: what the streaming algorithms themselves lose on the model, whatever tokenizer
runs them.

A prompt that ends inside a multi-byte character, or a server that decodes each id alone, can
show text sentencepiece's own decode does not; these are reported beside the verdict, not
judged against a candidate (:func:`serving_notes`). Each is a :class:`ServingNote`: its
``str()`` is the sentence ``--json`` carries, and reports show its parts as they show text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ServingNote:
    """What a serving algorithm shows for the ids of ``text`` that sentencepiece's own decode
    does not: ``shown``, chunk by chunk, where the decode gives ``expected``."""

    # What runs: "prefix/read offsets (text-generation-inference, vLLM)", say.
    algorithm: str
    text: str
    shown: tuple[str, ...]
    expected: str
    # The prompt's ids, where the note is about a prompt that ends inside a character; None
    # for decoding each id alone.
    prompt: int | None = None
    # The candidate whose own streamer ran, where it is not sentencepiece's decode.
    on: str | None = None

    def __str__(self) -> str:
        """The note as ``--json`` says it: the texts as Python literals, the chunks a list."""
        return self.said(repr, lambda chunks: str(list(chunks)))

    def said(self, text: Callable[[str], str], chunks: Callable[[Sequence[str]], str]) -> str:
        """The note in words, ``text`` showing the line and the decode, ``chunks`` the chunks."""
        verb = "show" if self.algorithm == _PREFIX_READ else "shows"  # the offsets show
        shown = f"{verb} {chunks(self.shown)} for {text(self.expected)}"
        if self.prompt is None:
            return (
                f"decoding each id of {text(self.text)} alone ({self.algorithm}) {shown}, with "
                "sentencepiece's own decode"
            )
        where = (
            f"after a prompt of {self.prompt} ids of {text(self.text)} that ends inside a character"
        )
        if self.on is None:
            return f"{where}, {self.algorithm} {shown}, with sentencepiece's own decode"
        return (
            f"{where}, {self.algorithm} {shown}, on {self.on}, which decodes the line as "
            "sentencepiece does"
        )


_PREFIX_READ = "prefix/read offsets (text-generation-inference, vLLM)"
_DECODE_STREAM = "tokenizers' DecodeStream primed with it (ids=)"
_ALONE = "a server that keeps no state"


def serving_notes(
    model: SentencePieceModel, candidates: Sequence[Any], texts: Sequence[str]
) -> list[ServingNote]:
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
        shown = flushed(prefix_read_offsets(decode, ids, start), expected)
        if stream_failure(PREFIX_READ, shown, expected):
            notes.append(ServingNote(_PREFIX_READ, text, tuple(shown), expected, start))
        for c in candidates:
            streamer = c.streamer
            if streamer is None or streamer.tokenizer is None or streamer.decode(ids) != full:
                continue
            shown = flushed(decode_stream(streamer.tokenizer, ids, start), expected)
            if stream_failure(DECODE_STREAM, shown, expected):
                notes.append(
                    ServingNote(_DECODE_STREAM, text, tuple(shown), expected, start, on=c.name)
                )
            break
        alone = [decode([i]) for i in ids]
        if stream_failure(STATELESS, alone, full):
            notes.append(ServingNote(_ALONE, text, tuple(alone), full))
        return notes
    return []
