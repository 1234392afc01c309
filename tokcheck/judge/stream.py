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

This module streams and judges streams; :mod:`tokcheck.judge.lines` counts ``stream_mismatched``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from tokcheck.errors import one_line
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import BYTE, CONTROL, DEFAULT_UNK_SURFACE, NORMAL, UNKNOWN

REPLACEMENT = "\ufffd"
PREFIX_READ = "prefix/read offsets"
DECODE_STREAM = "DecodeStream"
# llama.cpp's server: each id's piece appended to the bytes so far, whole characters sent.
SERVER = "llama.cpp server"
WHOLE = "decode"
# Ids of lines the rule picks streamed per candidate (about half a second of DecodeStream).
BUDGET = 250_000
# Ids of the longest line streamed under the default budget: one long document must not
# spend what thousands of lines could. Another budget caps lines at the same eighth.
LINE_CAP = BUDGET // 8
# A budget that never runs out: every line the rule picks is streamed.
UNLIMITED = sys.maxsize
# Lines streamed both ways per candidate, DecodeStream and prefix/read offsets, before the
# tokenizers-backed ones go on with DecodeStream alone.
BOTH_WAYS = 200
WHOLE_DIFFERS = "decoding the ids whole already differs from sentencepiece's decode"
# Each id decoded alone, the chunks joined: what a server that keeps no decoding state shows.
STATELESS = "each id decoded alone"
# Ids of the prompt in the first decoding window after it (text-generation-inference and vLLM
# start the prefix offset this far before the prompt's end, the read offset at its end).
PROMPT_WINDOW = 5
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
            except Exception as e:
                return StreamFailure(
                    algorithm, f"raised {type(e).__name__}: {one_line(str(e))}", ()
                )
            if failed := stream_failure(algorithm, chunks, expected):
                return failed
        return None


class StreamCheck:
    """Streams a candidate's decode of each batch's reference ids; see the module docstring
    for which lines are streamed.

    ``every_line`` streams every line (the rule failed on this candidate's first batch, in
    another process). With ``defer`` (a worker's part of the input), lines to stream are not
    streamed but returned by :meth:`check`, as many as fit ``defer`` ids, for the
    coordinator's :meth:`stream`; no line is then taken as the first batch.
    """

    def __init__(
        self,
        model: SentencePieceModel,
        streamer: Streamer,
        *,
        every_line: bool = False,
        defer: int | None = None,
        budget: int | None = None,
    ) -> None:
        self.streamer = streamer
        # The budget and line cap of this run, read now (None: the module's defaults).
        self.cap = LINE_CAP if budget is None else budget // 8
        budget = BUDGET if budget is None else budget
        processor = model.processor
        self.reference_decode: Decode = lambda ids: str(processor.decode(ids))
        proto = model.proto
        self.plain = [p.replace("\u2581", " ") for p in model.pieces]
        # Byte pieces' values: a prompt may end inside a character they spell.
        self.byte_values = {
            i: int(p.piece[3:5], 16) for i, p in enumerate(proto.pieces) if p.type == BYTE
        }
        # What sentencepiece's decode writes for control and unknown pieces, piece by piece.
        self.control = {i for i, p in enumerate(proto.pieces) if p.type == CONTROL}
        trainer = proto.trainer_spec
        surface = trainer.unk_surface if trainer.HasField("unk_surface") else DEFAULT_UNK_SURFACE
        self.surfaces = {i: surface for i, p in enumerate(proto.pieces) if p.type == UNKNOWN}
        self.dummy_prefix = bool(proto.normalizer_spec.add_dummy_prefix)
        # Pieces other than normal ones are never context-free: bytes, controls, unknown.
        self.risky = {i for i, p in enumerate(proto.pieces) if p.type != NORMAL}
        self.normal = set(range(len(self.plain))) - self.risky
        self.anchor = next(
            (i for i, p in enumerate(proto.pieces) if p.type == NORMAL and self.plain[i].isalnum()),
            None,
        )
        self.classified: set[int] = set(self.risky)
        self.every_line = every_line or self.anchor is None
        self.checked = 0
        # Lines the rule would stream that were not, the budget being spent.
        self.unchecked = 0
        self.deferring = defer is not None
        self.budget = budget if defer is None else defer
        # A line did not fit the budget: no later line is streamed.
        self.spent = False
        # A worker's part is never the first batch: the coordinator tested the rule.
        self._batches = 1 if self.deferring else 0

    def check(
        self,
        ids: Sequence[list[int]],
        expected: Sequence[str],
        candidate_ids: Sequence[list[int]],
        candidate_decoded: Sequence[str],
        unstreamed: Collection[int] = (),
    ) -> tuple[list[StreamFailure | None], list[int]]:
        """One entry per line: how decoding the reference ``ids`` failed, or None (right, not
        streamed, or deferred); and the positions of the deferred lines. ``candidate_decoded``
        is the candidate's decode of ``candidate_ids``, reused where those are the reference
        ids. Lines at the positions ``unstreamed`` have their whole decode checked only: they
        neither spend the budget nor count as left."""
        whole = self._whole(ids, candidate_ids, candidate_decoded)
        first = self._batches == 0
        self._batches += 1
        if not self.every_line:
            self._classify(ids)
        risky = self.risky
        out: list[StreamFailure | None] = []
        deferred: list[int] = []
        for k, (line, text, full) in enumerate(zip(ids, expected, whole, strict=True)):
            if full != text:
                out.append(StreamFailure(WHOLE, WHOLE_DIFFERS, (full,)))
                continue
            if k in unstreamed:
                out.append(None)
                continue
            needed = self.every_line or not risky.isdisjoint(line)
            if not (needed or first) or (needed and not self._admit(len(line))):
                out.append(None)
                continue
            if self.deferring:
                deferred.append(k)
                out.append(None)
                continue
            failed = self._stream(line, text)
            if failed and not needed:
                # The rule would have skipped a line that streams wrongly: stream every line.
                self.every_line = True
            out.append(failed)
        return out, deferred

    def stream(self, ids: list[int], text: str) -> StreamFailure | None:
        """A deferred line (see :meth:`check`), streamed if it fits the budget in input order:
        how it failed, or None."""
        return self._stream(ids, text) if self._admit(len(ids)) else None

    def restart(self, defer: int) -> None:
        """Begin another part, with ``defer`` ids of budget that may be left when it starts."""
        self.budget, self.spent, self.checked, self.unchecked = defer, False, 0, 0

    def _admit(self, length: int) -> bool:
        """Whether a line the rule picks is streamed: its ids are taken from the budget, or
        it is counted unchecked (and a line that does not fit ends streaming)."""
        if length > self.cap or self.spent or length > self.budget:
            self.spent = self.spent or length <= self.cap
            self.unchecked += 1
            return False
        self.budget -= length
        return True

    def _stream(self, ids: list[int], text: str) -> StreamFailure | None:
        """How streaming ``ids`` fails: from no prompt; and, for the first :data:`BOTH_WAYS`
        lines, after a prompt (see :meth:`prompt_end`) and one id at a time."""
        self.checked += 1
        both = self.checked <= BOTH_WAYS
        failed = self.streamer.failure(ids, text, both=both)
        if failed and self._reference_streams_so(ids, text, failed):
            failed = None
        if failed is None and both:
            failed = self._after_prompt(ids, text) or self._stateless(ids, text)
        return failed

    def _after_prompt(self, ids: list[int], text: str) -> StreamFailure | None:
        """Streaming the ids after :meth:`prompt_end` as a server streams a completion of
        them. The text expected is the line's decode after the prompt's whole characters
        (:func:`after_prompt`); a line the algorithm gets wrong with sentencepiece's own decode
        says nothing of the candidate and is not judged (:func:`serving_notes` reports it)."""
        start = self.prompt_end(ids)
        expected = None if start is None else after_prompt(self.reference_decode, ids, start, text)
        if start is None or expected is None:
            return None
        own = flushed(self.reference_chunks(ids, start), expected)
        if stream_failure(self.streamer.algorithm, own, expected):
            return None
        return self.streamer.failure(ids, expected, both=True, start=start)

    def reference_chunks(self, ids: list[int], start: int) -> list[str]:
        """sentencepiece's decode streamed after ``ids[:start]`` the candidate's way (the
        llama.cpp server's, or prefix/read offsets): what the algorithm itself shows."""
        if self.streamer.algorithm == SERVER:
            first = self.dummy_prefix and start == 0
            pieces = (self._piece_bytes(t, first and i == 0) for i, t in enumerate(ids[start:]))
            return server_stream(pieces)
        return prefix_read_offsets(self.reference_decode, ids, start)

    def _piece_bytes(self, token: int, first: bool) -> bytes:
        """One id's bytes as sentencepiece's decode writes them (the dummy prefix's space
        dropped from the first piece of a text)."""
        if (value := self.byte_values.get(token)) is not None:
            return bytes([value])
        text = "" if token in self.control else self.surfaces.get(token, self.plain[token])
        return (text[1:] if first and text.startswith(" ") else text).encode("utf-8")

    def prompt_end(self, ids: Sequence[int]) -> int | None:
        """Where a prompt ends in ``ids`` for :meth:`_after_prompt`: inside the first
        character spelled by byte pieces (after its lead byte), else at the middle; None for a
        line of one id."""
        values = self.byte_values
        for k in range(len(ids) - 1):
            lead, following = values.get(ids[k]), values.get(ids[k + 1])
            if (
                lead is not None
                and lead >= 0xC2
                and following is not None
                and following & 0xC0 == 0x80
            ):
                return k + 1
        return len(ids) // 2 if len(ids) > 1 else None

    def _stateless(self, ids: list[int], expected: str) -> StreamFailure | None:
        """Each id decoded alone, as a server that keeps no state shows the stream: it must
        show ``expected``, the line's decode, wherever sentencepiece's decode of each id alone
        does."""
        alone = [[i] for i in ids]
        reference = [self.reference_decode(i) for i in alone]
        if stream_failure(STATELESS, reference, expected):
            return None  # wrong with sentencepiece's own decode too: the algorithm's loss
        try:
            chunks = self.streamer.decode_batch(alone)
        except Exception as e:
            return StreamFailure(STATELESS, f"raised {type(e).__name__}: {one_line(str(e))}", ())
        return stream_failure(STATELESS, chunks, expected)

    def _reference_streams_so(self, ids: list[int], text: str, failed: StreamFailure) -> bool:
        """Whether sentencepiece's own decode, streamed the candidate's way, shows the same
        text: then the loss is the algorithm's on this model, not the candidate's."""
        if failed.reason.startswith("raised "):
            return False  # a stream that raised emitted nothing: no algorithm's loss excuses it
        chunks = flushed(self.reference_chunks(ids, 0), text)
        return "".join(chunks) == "".join(failed.chunks)

    def _whole(
        self,
        ids: Sequence[list[int]],
        candidate_ids: Sequence[list[int]],
        candidate_decoded: Sequence[str],
    ) -> list[str]:
        """The candidate's decode of each line's reference ids, in one batch call."""
        whole = list(candidate_decoded)
        other = [k for k, (r, c) in enumerate(zip(ids, candidate_ids, strict=True)) if r != c]
        if other:
            try:
                decoded = self.streamer.decode_batch([ids[k] for k in other])
            except Exception as e:
                decoded = [f"raised {type(e).__name__}: {one_line(str(e))}"] * len(other)
            for k, text in zip(other, decoded, strict=True):
                whole[k] = text
        return whole

    def _classify(self, ids: Sequence[list[int]]) -> None:
        """Decide for each id not yet seen whether the candidate decodes it context-free."""
        new = sorted(set().union(*ids) - self.classified)
        if not new:
            return
        self.classified.update(new)
        inside = [i for i in new if i in self.normal]
        # Ids past the model's pieces are the candidate's own: never context-free.
        self.risky.update(i for i in new if i not in self.normal)
        anchor = self.anchor
        assert anchor is not None  # every_line is set without one
        a = self.plain[anchor]
        self.risky.update(
            i
            for i, text in zip(inside, self._between(anchor, inside), strict=True)
            if text != a + self.plain[i] + a
        )

    def _between(self, anchor: int, ids: list[int]) -> list[str | None]:
        """The candidate's decode of each id between two anchors; None where it raises (one
        id at a time then, so that which ids are risky never depends on the batch)."""
        windows = [[anchor, i, anchor] for i in ids]
        try:
            return list(self.streamer.decode_batch(windows))
        except Exception:
            pass
        out: list[str | None] = []
        for window in windows:
            try:
                out.append(self.streamer.decode(window))
            except Exception:
                out.append(None)
        return out


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
