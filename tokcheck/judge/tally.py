"""What the judge counts for a candidate: the divergence kinds, the tally, and its shortest
counterexamples.

:data:`KINDS` is the vocabulary every report uses; a :class:`Tally` counts each kind, the lines
seen and streamed, and keeps the K shortest diverging lines and ties of each source of input
(:class:`Shortest`) as :class:`Counterexample` records aligned at the first differing id.
Reports show the K shortest of them and the shortest of every other source (:func:`shown`), so
short probes never hide the lines of a corpus.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tokcheck.judge.outcome import Outcome, source_key
from tokcheck.judge.stream import StreamFailure

KINDS = (
    "mismatched",
    "tie",
    "unk_introduced",
    "special_introduced",
    "special_injected",
    "decode_mismatched",
    "whitespace_collapsed",
    "stream_mismatched",
)


# What a tie is, in the words every report uses.
TIES = "other ids for the same text, scoring the same to sentencepiece's float32 arithmetic"


# Ids shown before and after the first divergence of a counterexample.
WINDOW = (4, 8)


@dataclass
class Counterexample:
    """One line on which a candidate differs, aligned at the first differing id."""

    text: str
    origin: str
    kinds: list[str]
    first_divergence: int
    offset: int
    reference_ids: list[int]
    candidate_ids: list[int]
    reference_pieces: list[str]
    candidate_pieces: list[str]
    reference_decoded: str
    candidate_decoded: str
    # How streaming sentencepiece's ids through the candidate's decoder went wrong, if it did.
    stream: StreamFailure | None = None
    # The source of input of the line (see tokcheck.judge.outcome.source): probe, a corpus...
    source: str = ""
    # For a tie, each segmentation's score as sentencepiece sums its pieces' scores
    # (sentencepiece's, then the candidate's); None otherwise.
    scores: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stream"] = self.stream.to_dict() if self.stream else None
        return data


@dataclass
class Tally:
    """What the judge found for one candidate over every line it saw."""

    name: str
    cls: str
    same_as: str | None = None
    lines: int = 0
    # Lines with any difference at all.
    differing: int = 0
    mismatched: int = 0
    tie: int = 0
    unk_introduced: int = 0
    special_introduced: int = 0
    special_injected: int = 0
    decode_mismatched: int = 0
    whitespace_collapsed: int = 0
    stream_mismatched: int = 0
    # Lines whose stream was decoded and judged, and lines that would have been but for the
    # streaming budget (see tokcheck.judge.stream).
    stream_checked: int = 0
    stream_unchecked: int = 0
    # The shortest lines that diverged, and separately the shortest ties: K of each source of
    # input, shortest first (the first in the input among equals).
    counterexamples: list[Counterexample] = field(default_factory=list)
    ties: list[Counterexample] = field(default_factory=list)
    # K, the lines kept per source (--show).
    show: int = 0

    @property
    def diverged(self) -> bool:
        return bool(self.mismatched or self.decode_mismatched or self.stream_mismatched)

    def passed(self, strict: bool = False) -> bool:
        """No divergence; with ``strict``, no tie either."""
        return not self.diverged and not (strict and self.tie)

    @property
    def status(self) -> str:
        """``exact``, ``ties`` (exact but for ties) or ``diverged``: never exact with a tie."""
        return "diverged" if self.diverged else "ties" if self.tie else "exact"

    def counts(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in KINDS}

    def summary(self) -> str:
        """One line: how many lines differ, and of which kinds."""
        if not self.differing:
            return f"exact on {self.lines} lines"
        kinds = ", ".join(f"{k} {n}" for k, n in self.counts().items() if n)
        return f"{self.status}: {self.differing} of {self.lines} lines differ ({kinds})"

    def tie_warning(self, strict: bool = False) -> str | None:
        """The one wording of a tally's ties, for every command; None when there are none."""
        if not self.tie:
            return None
        verdict = "they fail under strict" if strict else "they pass; strict fails them"
        return f"{self.name}: {self.tie} of {self.lines} lines are ties ({TIES}): {verdict}"

    def renamed(self, name: str, cls: str) -> Tally:
        """The same findings under another candidate name that loaded the same tokenizer."""
        twin = Tally(**{**self.__dict__, "name": name, "cls": cls})
        twin.same_as = self.name
        return twin

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "class": self.cls, "same_as": self.same_as}
        data.update(lines=self.lines, differing=self.differing, **self.counts())
        data.update(stream_checked=self.stream_checked, stream_unchecked=self.stream_unchecked)
        data.update(status=self.status, diverged=self.diverged, passed=self.passed(strict))
        data["counterexamples"] = [e.to_dict() for e in self.counterexamples]
        data["ties"] = [e.to_dict() for e in self.ties]
        return data


def shown(examples: Sequence[Counterexample], k: int) -> list[Counterexample]:
    """What a report shows of ``examples`` (kept shortest first): the ``k`` shortest, and the
    shortest of each source that has none among them, in the same order."""
    sources = {e.source for e in examples[:k]}
    out = []
    for i, e in enumerate(examples):
        if i < k or e.source not in sources:
            sources.add(e.source)
            out.append(e)
    return out


class Shortest:
    """The K shortest lines offered from each source of input (see
    :func:`tokcheck.judge.outcome.source`), first in the input first among equals (serials are
    unique, so lines are never compared). Memory is K lines per source: the generated sources,
    each corpus file and the exhaustive lines."""

    def __init__(self) -> None:
        # By source (tokcheck.judge.outcome.source_key).
        self._heaps: dict[int | str, list[tuple[int, int, Outcome]]] = {}

    def offer(self, line: Outcome, k: int) -> None:
        if not k:
            return
        key = source_key(line.origin, line.serial)
        heap = self._heaps.get(key)
        if heap is None:
            heap = self._heaps[key] = []
        item = (-len(line.text), -line.serial, line)
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)

    def items(self) -> list[Outcome]:
        """Every line kept, shortest first (the first in the input among equals)."""
        kept = [item for heap in self._heaps.values() for item in heap]
        return [line for _, _, line in sorted(kept, key=lambda item: item[:2], reverse=True)]

    def merge(self, other: Shortest, k: int) -> None:
        """Keep the K shortest of each source of both, as if every line had been offered here."""
        for heap in other._heaps.values():
            for _, _, line in heap:
                self.offer(line, k)


# What Judged.merge adds up: the counts of every kind and of the lines seen and streamed.
COUNTERS = ("lines", "differing", *KINDS, "stream_checked", "stream_unchecked")
