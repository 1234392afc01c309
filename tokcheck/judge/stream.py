"""Streaming decode: a candidate's decoder run one id at a time, as serving stacks run it.

A model generates sentencepiece's ids (it was trained on them), and a server shows its output
while it is generated, one id at a time. Two ways of doing that are in wide use:

- tokenizers' ``DecodeStream`` (``tokenizers.decoders.DecodeStream``, ``step(tokenizer, id)``),
  which returns a chunk of text, or None while the ids so far do not yet end a character;
- the prefix/read-offset algorithm of text-generation-inference and vLLM, over any decode
  function: decode the window from ``prefix`` to the end and the window from ``prefix`` to
  ``read``; when the first is longer and does not end in U+FFFD, emit the difference and move
  both offsets forward (``prefix`` to ``read``, ``read`` to the end), else wait for the next id.

Either way, decoding byte-fallback pieces with a decoder that lacks byte fallback emits literal
``<0xE3>`` names, and a decoder that strips or cleans up text per window loses characters. A
stream is judged (:func:`stream_failure`) by what the user would see: the chunks joined must
equal sentencepiece's decode of the same ids, and no chunk may show U+FFFD or a ``<0x..>`` name
that sentencepiece's decode does not hold.

Where the candidate's decode of the whole line's ids already differs from sentencepiece's, the
line counts without streaming (the ``decode`` algorithm in its counterexample): a server sends
that decode when generation ends, so the user sees other text either way. The others are
streamed. Streaming costs a decode per id, so :class:`StreamCheck` streams only lines whose ids
include a piece the candidate does not decode context-free (byte, control, unknown and user-defined
pieces, and any piece the candidate decodes differently between two plain pieces than alone
would say); on a line of context-free pieces each step's difference is that piece's own text.
The lines of the first batch that the rule skips are streamed too, to test the rule on the
candidate: when one of them streams wrongly, every later line is streamed. (In ``compare`` that
batch is of the generated lines, probes first, judged before any worker starts; the workers are
told the outcome. A library caller that turns off every generated line gets no such test.) The first
:data:`BOTH_WAYS` lines are streamed both ways; after them a tokenizers-backed candidate is
streamed with ``DecodeStream`` alone (the same algorithm, in Rust).

At most :data:`BUDGET` ids (``compare --stream-budget N|all``) of the lines the rule picks are
streamed per candidate, in input order: the first line that does not fit ends streaming, and a
line of more than an eighth of the budget (:data:`LINE_CAP` by default) is never streamed (one long document must not spend what thousands of
lines could). On a large corpus whose ids hold many byte pieces the rest are counted, not
streamed. The inputs come probes first, so those are always streamed. Each tally says how many
lines it streamed (``stream_checked``) and how many it left (``stream_unchecked``); the text
report warns about the latter.

Which lines are streamed depends only on their order, never on how the input is split: a
worker judging a part of it (:mod:`tokcheck.parallel.runner`) defers the lines that fit what may be
left of the budget, and the coordinator streams them in input order (:meth:`StreamCheck.stream`),
so ``compare --jobs N`` streams the lines ``--jobs 1`` does.

A stream that sentencepiece's own decode, streamed by prefix/read offsets, gets wrong the same
way is not counted against the candidate: the loss is the algorithm's on that model. (With
whitespace removal, sentencepiece drops the leading spaces of every window it decodes, so a
window that starts with a lone space piece loses it; the exported tokenizer, which decodes as
sentencepiece does, shows the same.)

This module streams and judges streams, :mod:`tokcheck.judge.stream_check` picks the lines, and
:mod:`tokcheck.judge.lines` counts ``stream_mismatched``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from tokcheck.errors import RuntimeDied, one_line

pass

REPLACEMENT = "\ufffd"
# Ids of the prompt in the first decoding window after it (text-generation-inference and vLLM
# start the prefix offset this far before the prompt's end, the read offset at its end).
PROMPT_WINDOW = 5
PREFIX_READ = "prefix/read offsets"
DECODE_STREAM = "DecodeStream"
# llama.cpp's server: each id's piece appended to the bytes so far, whole characters sent.
SERVER = "llama.cpp server"
WHOLE = "decode"
_BYTE_NAME = re.compile(r"<0x[0-9A-Fa-f]{2}>")
# Chunks kept in a counterexample.
_SHOWN = 24

Decode = Callable[[list[int]], str]


@dataclass(frozen=True)
class StreamFailure:
    """How a line's stream went wrong: which algorithm, why, and the chunks it emitted."""

    algorithm: str
    reason: str
    chunks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunks"] = list(self.chunks[:_SHOWN])
        return data


def prefix_read_offsets(decode: Decode, ids: Sequence[int], start: int = 0) -> list[str]:
    """The chunks text-generation-inference and vLLM emit for ``ids[start:]`` generated after
    the prompt ``ids[:start]``, over ``decode``.

    The read offset starts at the prompt's end and the prefix offset :data:`PROMPT_WINDOW` ids
    before it (both at 0 without a prompt). A chunk is emitted when the window from ``prefix``
    decodes longer than the window from ``prefix`` to ``read`` and does not end in U+FFFD (an
    incomplete character, awaiting its next byte). What is still held after the last id is not
    emitted here (see :func:`flushed`).
    """
    chunks: list[str] = []
    prefix, read = max(start - PROMPT_WINDOW, 0), start
    prefix_text = decode(list(ids[prefix:read])) if read > prefix else ""
    for end in range(start + 1, len(ids) + 1):
        text = decode(list(ids[prefix:end]))
        if len(text) > len(prefix_text) and not text.endswith(REPLACEMENT):
            chunks.append(text[len(prefix_text) :])
            prefix, read = read, end
            prefix_text = decode(list(ids[prefix:read])) if read > prefix else ""
    return chunks


def decode_stream(tokenizer: Any, ids: Sequence[int], start: int = 0) -> list[str]:
    """The chunks tokenizers' ``DecodeStream`` emits for ``ids[start:]``, special tokens kept,
    primed with the prompt ``ids[:start]`` (its ``ids=`` argument) where there is one."""
    from tokenizers.decoders import DecodeStream

    prompt = {"ids": list(ids[:start])} if start else {}
    stream = DecodeStream(skip_special_tokens=False, **prompt)
    step = stream.step
    return [chunk for i in ids[start:] if (chunk := step(tokenizer, i)) is not None]


def server_stream(pieces: Iterable[bytes]) -> list[str]:
    """Chunks as llama.cpp's server sends them: the bytes so far, cut after the last whole
    character (an incomplete one waits for the next id)."""
    chunks: list[str] = []
    pending = b""
    for piece in pieces:
        pending += piece
        cut = _complete(pending)
        if cut:
            chunks.append(pending[:cut].decode("utf-8", "replace"))
            pending = pending[cut:]
    if pending:
        chunks.append(pending.decode("utf-8", "replace"))
    return chunks


def _complete(data: bytes) -> int:
    """The length of ``data`` up to its last whole UTF-8 character (the server's
    validate_utf8): a lead byte whose sequence runs past the end is held back."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back
            continue
        need = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
        return n - back if need > back else n
    return n


def after_prompt(decode: Decode, ids: Sequence[int], start: int, text: str) -> str | None:
    """What a stream of ``ids[start:]`` after the prompt ``ids[:start]`` should show: the
    line's decode ``text`` after the prompt's own whole characters (a character the prompt
    ends inside belongs to the stream). None when the prompt's decode begins no such text."""
    prompt = decode(list(ids[:start]))
    whole = prompt.rstrip(REPLACEMENT)
    return text[len(whole) :] if text.startswith(whole) else None


def flushed(chunks: list[str], full: str) -> list[str]:
    """``chunks`` with what a server sends when generation ends: the rest of the full decode
    after the text already streamed (held back when the text itself ends in U+FFFD), if the
    streamed text is its beginning."""
    shown = "".join(chunks)
    if len(full) > len(shown) and full.startswith(shown):
        return [*chunks, full[len(shown) :]]
    return chunks


def stream_failure(algorithm: str, chunks: Sequence[str], expected: str) -> StreamFailure | None:
    """What is wrong with ``chunks`` as the stream of text whose full decode is ``expected``."""
    reason = None
    if REPLACEMENT not in expected and any(REPLACEMENT in c for c in chunks):
        reason = "a chunk shows U+FFFD"
    elif (name := _byte_name(chunks)) and name not in expected:
        reason = f"a chunk shows the byte piece name {name}"
    elif "".join(chunks) != expected:
        reason = "the chunks joined differ from sentencepiece's decode"
    return None if reason is None else StreamFailure(algorithm, reason, tuple(chunks))


def _byte_name(chunks: Sequence[str]) -> str | None:
    for chunk in chunks:
        if "<0x" in chunk and (match := _BYTE_NAME.search(chunk)):
            return match.group()
    return None


@dataclass
class Streamer:
    """A candidate's ways of streaming: its own decode of one sequence (for prefix/read
    offsets) and, for a tokenizers-backed candidate, the ``tokenizers.Tokenizer`` that
    ``DecodeStream`` steps through."""

    decode: Decode
    decode_batch: Callable[[list[list[int]]], list[str]]
    tokenizer: Any = None
    # Prefix/read offsets run by the candidate itself (a runtime in another process runs the
    # algorithm there, one request a line instead of one a step), or the runtime's own way of
    # streaming, named by ``algorithm``; None: prefix/read offsets over ``decode`` here. It is
    # called with the ids and where the prompt ends in them (0: no prompt).
    offsets: Callable[[Sequence[int], int], list[str]] | None = None
    algorithm: str = PREFIX_READ

    def failure(
        self, ids: list[int], expected: str, *, both: bool = False, start: int = 0
    ) -> StreamFailure | None:
        """The first way streaming ``ids[start:]`` after the prompt ``ids[:start]`` goes
        wrong, or None when every way is right.

        ``expected`` is the text the stream should show: the candidate's own decode of ``ids``
        without the prompt's (see :func:`flushed`). Without a prompt a tokenizers-backed
        candidate streams with ``DecodeStream``, the same algorithm in Rust, and with
        prefix/read offsets over its decode only when ``both``; any other candidate, and every
        candidate after a prompt, with prefix/read offsets (or its runtime's own ``offsets``).
        """
        ways: list[tuple[str, Callable[[], list[str]]]] = []
        if self.tokenizer is not None and not start:
            ways.append((DECODE_STREAM, lambda: decode_stream(self.tokenizer, ids)))
        if both or self.tokenizer is None or start:
            offsets = self.offsets or partial(prefix_read_offsets, self.decode)
            ways.append((self.algorithm, lambda: offsets(ids, start)))
        after = f" after a prompt of {start} ids" if start else ""
        for way, run in ways:
            algorithm = way + after
            try:
                chunks = flushed(run(), expected)
            except RuntimeDied:
                raise  # the runtime is gone: no finding about this line (see tokcheck.parallel.runner)
            except Exception as e:
                return StreamFailure(
                    algorithm, f"raised {type(e).__name__}: {one_line(str(e))}", ()
                )
            if failed := stream_failure(algorithm, chunks, expected):
                return failed
        return None
