"""The streaming check: which lines a candidate's streamed decode is checked on, within a budget.

:class:`StreamCheck` streams a line whose ids include a piece the candidate does not decode
context-free, every line once the rule has failed on the first batch, the first
:data:`BOTH_WAYS` lines both ways, and at most :data:`BUDGET` ids per candidate in input order;
the rules and why are in :mod:`tokcheck.judge.stream`, which holds the streaming algorithms.
A candidate's runtime that dies (:class:`~tokcheck.errors.RuntimeDied`) is never a stream
failure: it is raised, placed at the line of the batch it died on, for the runner to handle.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence

from tokcheck.errors import RuntimeDied, one_line
from tokcheck.judge.stream import (
    SERVER,
    WHOLE,
    Decode,
    Streamer,
    StreamFailure,
    after_prompt,
    flushed,
    prefix_read_offsets,
    server_stream,
    stream_failure,
)
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import BYTE, CONTROL, DEFAULT_UNK_SURFACE, NORMAL, SPACE_SYMBOL, UNKNOWN

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
        self.plain = [p.replace(SPACE_SYMBOL, " ") for p in model.pieces]
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
        neither spend the budget nor count as left. A runtime that dies raises
        :class:`RuntimeDied` at the line it died on (None: while classifying the ids)."""
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
            try:
                failed = self._stream(line, text)
            except RuntimeDied as e:
                raise e.located(k, "streaming") from None
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
        except RuntimeDied:
            raise
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
            except RuntimeDied as e:
                raise e.located(None if e.index is None else other[e.index], "decoding") from None
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
        except RuntimeDied as e:
            raise e.located(None, "classifying the ids of") from None
        except Exception:
            pass
        out: list[str | None] = []
        for window in windows:
            try:
                out.append(self.streamer.decode(window))
            except RuntimeDied as e:
                raise e.located(None, "classifying the ids of") from None
            except Exception:
                out.append(None)
        return out
