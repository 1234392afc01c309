"""The judging loop: lines encoded and decoded by sentencepiece and every candidate, judged.

:func:`judge_lines` is the one loop that ``compare``, ``export``'s verification and
:mod:`tokcheck.testing` run in this process. :class:`Runner` is that loop over a stream of
batches; it can also judge one part of a larger input (a worker of ``compare --jobs N`` or of
the cluster engine, see :mod:`tokcheck.parallel.engine`) and hand back a :class:`Part`, which the
coordinator's runner absorbs in input order (:meth:`Runner.absorb`). Counts add up, the K
shortest counterexamples of each source of input in the parts are those of the whole, and the
lines a part would stream are streamed by the coordinator in input order (see
:mod:`tokcheck.judge.stream`): the report is the one a single process gives.

A runtime whose process dies while it runs a candidate (:class:`~tokcheck.errors.RuntimeDied`)
ends that candidate, not the run, in a runner made to ``survive`` it (compare's): the candidate is
judged no further, has no tally, and :attr:`Runner.crashed` says why, naming the line where it is
known; a part carries its crashes to the coordinator, which keeps the first in input order.

Memory stays flat: a batch at a time, the judge's counters and K lines per source of input and
candidate, and at most the streaming budget's worth of deferred lines per part. With a ``sink``
(:mod:`tokcheck.judge.dump`), every line that differs goes to it in input order, a batch or an
absorbed part at a time (a worker keeps its part's, with ``keep``, and hands them over in it).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from tokcheck.candidates.base import Candidate, without_added
from tokcheck.errors import RuntimeDied
from tokcheck.inputs.derived import ORIGIN
from tokcheck.judge.dump import Diverging, Sink
from tokcheck.judge.lines import Judge, Judged
from tokcheck.judge.outcome import Outcome
from tokcheck.judge.stream_check import StreamCheck
from tokcheck.judge.tally import Tally
from tokcheck.model.proto import SentencePieceModel

BATCH_LINES = 2000

Line = tuple[str, str]  # (text, origin)
# Lines derived from the model are judged but not streamed (see tokcheck.inputs.derived.ORIGIN).
_DERIVED = f"{ORIGIN}["
# A batch of lines, and each line's serial: its place in the whole input (increasing).
Batch = tuple[list[Line], list[int]]
# What each distinct candidate gave for a batch (its ids and its decode), and the deaths of
# those whose runtime died on it.
Outputs = tuple[dict[str, tuple[list[list[int]], list[str]]], list[tuple[str, RuntimeDied]]]
# The characters of a line a crash's reason shows.
_SHOWN = 60


@dataclass
class Part:
    """What a runner judged on one part of the input, keyed by the name of each distinct
    candidate (the first of those that load the same tokenizer)."""

    judged: dict[str, Judged]
    # Lines left to the coordinator to stream (see StreamCheck.check), judged once streamed.
    deferred: dict[str, list[Outcome]] = field(default_factory=dict)
    # Candidates whose streaming budget ran out in this part: it has run out for what follows.
    spent: list[str] = field(default_factory=list)
    # Candidates whose runtime died, with why (see Runner.crashed).
    crashed: dict[str, str] = field(default_factory=dict)


def judge_lines(
    model: SentencePieceModel,
    candidates: Sequence[Candidate],
    lines: Iterable[Line],
    *,
    show: int = 5,
    on_batch: Callable[[list[Line]], None] | None = None,
) -> list[Tally]:
    """Encode and decode ``lines`` with sentencepiece and every candidate; judge each line.

    One tally per candidate, in the order given; candidates with the same ``key`` are run once.
    ``on_batch`` is called with each batch once it is judged.
    """
    model.require_text("judge a tokenizer against it")
    runner = Runner(model, list(candidates), show)
    for batch in runner.run(numbered_batches(lines)):
        if on_batch:
            on_batch(batch)
    return runner.tallies()


def numbered_batches(lines: Iterable[Line]) -> Iterator[Batch]:
    """``lines`` in batches of :data:`BATCH_LINES`, numbered from 0 in order."""
    return batches((line, serial) for serial, line in enumerate(lines))


def batches(numbered: Iterable[tuple[Line, int]]) -> Iterator[Batch]:
    """(line, serial) pairs in batches of :data:`BATCH_LINES`."""
    it = iter(numbered)
    while chunk := list(itertools.islice(it, BATCH_LINES)):
        lines, serials = zip(*chunk, strict=True)
        yield list(lines), list(serials)


class Runner:
    """Encodes each batch once per distinct candidate and hands the outputs to the judge.

    ``threads`` bounds sentencepiece's threads (the machine's cores unless given). A worker's
    runner takes ``every_line``, the names of candidates whose streaming rule failed on the
    coordinator's first batch, and ``defer``, the streaming budget that may be left when its
    part starts (see :class:`tokcheck.judge.stream_check.StreamCheck`); ``budget`` is the run's streaming
    budget (None: :data:`tokcheck.judge.stream_check.BUDGET`). ``sink`` gets every line that
    differs, in input order (a coordinator's); ``keep`` keeps them in the part (a worker's).
    With ``survive``, a candidate whose runtime dies is dropped (see the module's docstring);
    without, its :class:`~tokcheck.errors.RuntimeDied` ends the run.
    """

    def __init__(
        self,
        model: SentencePieceModel,
        candidates: list[Candidate],
        show: int,
        *,
        threads: int | None = None,
        every_line: Iterable[str] = (),
        defer: int | None = None,
        budget: int | None = None,
        sink: Sink | None = None,
        keep: bool = False,
        survive: bool = False,
    ) -> None:
        self.sp = model.processor
        self.survive = survive
        # Each candidate whose runtime died, by name (its twins too): why, where known.
        self.crashed: dict[str, str] = {}
        self.sink = sink
        self.keep = keep or sink is not None
        self.show = show
        self.threads = threads or os.cpu_count() or 1
        self.judge = Judge(model, show=show)
        self.distinct: dict[str, Candidate] = {}
        self.names: dict[str, list[Candidate]] = {}
        for c in candidates:
            self.distinct.setdefault(c.key, c)
            self.names.setdefault(c.key, []).append(c)
        failed = set(every_line)
        self.streams = {
            key: StreamCheck(
                model, c.streamer, every_line=c.name in failed, defer=defer, budget=budget
            )
            for key, c in self.distinct.items()
            if c.streamer is not None
        }
        self._fresh()
        # What each candidate calls its special ids and the model's control pieces.
        self.special_names: dict[str, dict[int, str]] = {}
        for key, c in list(self.distinct.items()):
            try:
                self.special_names[key] = _special_names(model, c, self.judge.control)
            except RuntimeDied as e:
                self._crash(key, e.located(None, "naming its special tokens"))
        self._tallies: list[Tally] | None = None

    def _fresh(self) -> None:
        self.judged = {
            k: self.judge.tally(c.name, c.cls, keep=self.keep) for k, c in self.distinct.items()
        }
        self.deferred: dict[str, list[Outcome]] = {key: [] for key in self.distinct}

    def run(self, batches: Iterable[Batch]) -> Iterator[list[Line]]:
        """Judge each batch, yielding its lines once judged.

        The candidates encode and decode on a worker thread, one batch ahead: their Rust code
        releases the GIL, so it runs while this thread encodes the reference and judges.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokcheck-candidates") as pool:
            it = iter(batches)
            batch = next(it, None)
            ahead = self._ahead(pool, batch[0]) if batch else None
            while batch is not None and ahead is not None:
                lines = batch[0]
                texts = [t for t, _ in lines]
                ref_ids: list[list[int]] = self.sp.encode(texts, num_threads=self.threads)
                ref_decoded: list[str] = self.sp.decode(ref_ids, num_threads=self.threads)
                outputs, deaths = ahead.result()
                for key, died in deaths:
                    self._crash(key, died, lines)
                following = next(it, None)
                if following is not None:
                    ahead = self._ahead(pool, following[0])
                for key, (cand_ids, cand_decoded) in outputs.items():
                    if key in self.distinct:  # not dead since
                        self._judge(key, batch, ref_ids, ref_decoded, cand_ids, cand_decoded)
                self._flush()
                yield lines
                batch = following

    def _judge(
        self,
        key: str,
        batch: Batch,
        ref_ids: list[list[int]],
        ref_decoded: list[str],
        cand_ids: list[list[int]],
        cand_decoded: list[str],
    ) -> None:
        lines, serials = batch
        added = self.distinct[key].added
        outcomes = [
            Outcome(text, origin, serial, r, rd, c, cd, added)
            for (text, origin), serial, r, rd, c, cd in zip(
                lines, serials, ref_ids, ref_decoded, cand_ids, cand_decoded, strict=True
            )
        ]
        if stream := self.streams.get(key):
            derived = {k for k, o in enumerate(outcomes) if o.origin.startswith(_DERIVED)}
            try:
                failures, deferred = stream.check(
                    ref_ids, ref_decoded, cand_ids, cand_decoded, derived
                )
            except RuntimeDied as e:
                self._crash(key, e, lines)
                return
            for outcome, failure in zip(outcomes, failures, strict=True):
                outcome.stream = failure
            if deferred:
                later = set(deferred)
                self.deferred[key] += [outcomes[k] for k in deferred]
                outcomes = [o for k, o in enumerate(outcomes) if k not in later]
        self._judge_outcomes(key, outcomes)

    def _judge_outcomes(self, key: str, outcomes: list[Outcome]) -> None:
        """The judge's call for one candidate's lines."""
        candidate = self.distinct[key]
        self.judge.judge_batch(
            self.judged[key], outcomes, candidate.special_ids, self.special_names[key]
        )

    def _ahead(self, pool: ThreadPoolExecutor, lines: list[Line]) -> Future[Outputs]:
        """The candidates alive now encoding and decoding ``lines`` on the pool's thread."""
        return pool.submit(self._candidates, lines, [*self.distinct.items()])

    def _candidates(self, lines: list[Line], candidates: list[tuple[str, Candidate]]) -> Outputs:
        """Each candidate's ids and decode of ``lines`` (on the worker thread)."""
        texts = [t for t, _ in lines]
        out = {}
        deaths = []
        for key, cand in candidates:
            try:
                ids = cand.encode_batch(texts)
                out[key] = (ids, cand.decode_batch(without_added(ids, cand.added)))
            except RuntimeDied as e:
                deaths.append((key, e))
        return out, deaths

    def crash(self, candidate: Candidate, error: RuntimeDied, doing: str) -> None:
        """``candidate``'s runtime died ``doing`` something outside the lines' loop."""
        self._crash(candidate.key, error.located(None, doing))

    def _crash(self, key: str, error: RuntimeDied, lines: Sequence[Line] = ()) -> None:
        """The runtime of the candidate ``key`` died on ``lines`` (the line at the error's
        index, where known: a runtime's candidate sends a batch as one request, one item a
        line): without ``survive`` that ends the run; with it, the candidate and its twins are
        dropped, the reason kept in :attr:`crashed`."""
        if not self.survive:
            raise error
        if key not in self.distinct:
            return
        index = 0 if len(lines) == 1 else error.index
        if index is not None and index < len(lines):
            text, origin = lines[index]
            shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
            where = f"{origin} ({shown!r})"
        elif lines:
            where = f"a batch of {len(lines)} lines ({lines[0][1]} to {lines[-1][1]})"
        else:
            where = ""
        # Worded as a load failure's "failed to load: ...", after the candidate's name.
        self._drop(key, f"crashed: {error.reason(where)}")

    def _drop(self, key: str, reason: str) -> None:
        for c in self.names[key]:
            self.crashed.setdefault(c.name, reason)
        del self.distinct[key], self.judged[key], self.deferred[key]
        self.streams.pop(key, None)
        self.special_names.pop(key, None)

    def alive(self, candidates: Iterable[Candidate]) -> list[Candidate]:
        """Those of ``candidates`` whose runtime has not died."""
        return [c for c in candidates if c.name not in self.crashed]

    def every_line(self) -> list[str]:
        """The candidates whose streaming rule failed here: every later line is streamed."""
        return [self.distinct[key].name for key, s in self.streams.items() if s.every_line]

    def budget_left(self) -> int:
        """The most streaming budget any candidate has left (see :meth:`StreamCheck.check`)."""
        return max((0 if s.spent else s.budget for s in self.streams.values()), default=0)

    def begin(self, defer: int) -> None:
        """Start judging another part afresh, ``defer`` ids of streaming budget that may be
        left when it starts (see :class:`tokcheck.judge.stream_check.StreamCheck`)."""
        self._fresh()
        for stream in self.streams.values():
            stream.restart(defer)

    def part(self) -> Part:
        """What this runner judged, for a coordinator's :meth:`absorb`."""
        for key, stream in self.streams.items():
            self.judged[key].tally.stream_unchecked += stream.unchecked
            stream.unchecked = 0
        return Part(
            judged={self.distinct[k].name: j for k, j in self.judged.items()},
            deferred={self.distinct[k].name: d for k, d in self.deferred.items() if d},
            spent=[self.distinct[k].name for k, s in self.streams.items() if s.spent],
            crashed=dict(self.crashed),
        )

    def absorb(self, part: Part) -> None:
        """Add a part judged elsewhere, the parts in input order: its counts and
        counterexamples, and its deferred lines streamed here."""
        by_name = {c.name: key for key, c in self.distinct.items()}
        for name, reason in part.crashed.items():
            if name in by_name:  # the first in input order: the one a single process meets
                self._drop(by_name.pop(name), reason)
        for name, judged in part.judged.items():
            if name in by_name:
                self.judged[by_name[name]].merge(judged, self.show)
        for name, deferred in part.deferred.items():
            if name in by_name:
                self._stream_deferred(by_name[name], deferred)
        for name in part.spent:
            # The part ran out with at least the budget left here: so would one process have.
            if by_name.get(name) in self.streams:
                self.streams[by_name[name]].spent = True
        self._flush()

    def _stream_deferred(self, key: str, deferred: list[Outcome]) -> None:
        """Stream a part's deferred lines of one candidate here, and judge them."""
        stream = self.streams[key]
        for outcome in deferred:
            try:
                outcome.stream = stream.stream(outcome.reference_ids, outcome.reference_decoded)
            except RuntimeDied as e:
                self._crash(key, e.located(0, "streaming"), [(outcome.text, outcome.origin)])
                return
        self._judge_outcomes(key, deferred)

    def _flush(self) -> None:
        """Hand the lines that differed since the last call to the sink, in input order (and
        the candidates' order on one line): the parts' lines and those streamed here alike."""
        if self.sink is None:
            return
        records: list[tuple[int, int, Diverging]] = []
        for rank, (key, judged) in enumerate(self.judged.items()):
            if not judged.kept:
                continue
            first, *twins = (c.name for c in self.names[key])
            records += [(o.serial, rank, Diverging(first, tuple(twins), o)) for o in judged.kept]
            judged.kept.clear()
        if records:
            records.sort(key=lambda r: r[:2])
            self.sink([r for _, _, r in records])

    def tallies(self) -> list[Tally]:
        """Every candidate's tally, counterexamples spelled out (once: this ends the run)."""
        if self._tallies is not None:
            return self._tallies
        out = []
        for key, judged in list(self.judged.items()):
            if stream := self.streams.get(key):
                judged.tally.stream_checked += stream.checked
                judged.tally.stream_unchecked += stream.unchecked
            try:
                base = self.judge.finish(judged, self.distinct[key].pieces)
            except RuntimeDied as e:
                self._crash(key, e.located(None, "naming the ids of its counterexamples"))
                continue
            out.append(base)
            out += [base.renamed(c.name, c.cls) for c in self.names[key][1:]]
        order = {name: i for i, name in enumerate(c.name for cs in self.names.values() for c in cs)}
        self._tallies = sorted(out, key=lambda r: order[r.name])
        return self._tallies


def _special_names(
    model: SentencePieceModel, candidate: Candidate, control: frozenset[int]
) -> dict[int, str]:
    ids = sorted(candidate.special_ids | control)
    try:
        return dict(zip(ids, candidate.pieces(ids), strict=True))
    except RuntimeDied:
        raise
    except Exception:  # an id the candidate cannot name: the judge falls back to the model's
        return {}
