"""One line as judged for one candidate: the record the runner fills, streaming completes, the
judge classifies and a tally keeps as a counterexample.

It replaces parallel lists (texts, origins, serials, both sides' ids and decodes, stream
failures) passed side by side through five signatures: a new thing known of a line is one
field here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tokcheck.judge.stream import StreamFailure

# Ids a candidate is expected to add before and after the text's own (see Candidate.added).
Added = tuple[tuple[int, ...], tuple[int, ...]]

# Serials, a line's place in the whole input (see tokcheck.parallel.partition): the generated
# lines from 0, record p of corpus file f at (f + 1) * STRIDE + p (more records than any file
# holds), and the exhaustive lines from EXHAUSTIVE (after more corpus files than any run names).
STRIDE = 1 << 40
EXHAUSTIVE = STRIDE << 20
# A corpus record's position at the end of its origin: ``path:line`` or ``path[row]``.
_POSITION = re.compile(r"(?::[0-9]+|\[[0-9]+\])\Z")


def source_key(origin: str, serial: int) -> int | str:
    """What tells a line's source apart from the others, cheaper than :func:`source` on the
    judge's path: a corpus file's or the exhaustive lines' band of serials, else the generated
    origin's name."""
    return serial // STRIDE if serial >= STRIDE else origin.partition("[")[0]


def source(origin: str, serial: int) -> str:
    """The source of input a line comes from, as reports name it: ``exhaustive``, a corpus
    file's path, or for a generated line its origin's name (``probe``, ``prompt``, ``inject``,
    ``hypothesis``, ``verification``, ``derived``, ``line``). The serial tells which: a corpus
    path may look like anything, a generated origin never ends in a corpus position."""
    if serial >= EXHAUSTIVE:
        return "exhaustive"
    if serial >= STRIDE:
        return _POSITION.sub("", origin)
    return origin.partition("[")[0]


@dataclass(slots=True)
class Outcome:
    """``text`` (from ``origin``, the ``serial``-th line of the input) as sentencepiece and a
    candidate encode and decode it, how streaming the candidate's decode failed, if it did, and
    the kinds of difference the judge found (empty until judged, and where there is none)."""

    text: str
    origin: str
    serial: int
    # sentencepiece's ids for the text alone, as streaming and the decode use them.
    reference_ids: list[int]
    reference_decoded: str
    candidate_ids: list[int]
    candidate_decoded: str
    added: Added = ((), ())
    stream: StreamFailure | None = None
    kinds: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """The source of input the line comes from (see :func:`source`)."""
        return source(self.origin, self.serial)

    @property
    def expected_ids(self) -> list[int]:
        """The ids the candidate is judged against: sentencepiece's, with what it adds."""
        before, after = self.added
        if not before and not after:
            return self.reference_ids
        return [*before, *self.reference_ids, *after]

    @property
    def first_divergence(self) -> int:
        """The first position where the candidate's ids part from :attr:`expected_ids` (the
        shorter's length where one is a prefix of the other; equal ids give their length)."""
        r, c = self.expected_ids, self.candidate_ids
        return next(
            (i for i, (a, b) in enumerate(zip(r, c, strict=False)) if a != b), min(len(r), len(c))
        )
