"""One line as judged for one candidate: the record the runner fills, streaming completes, the
judge classifies and a tally keeps as a counterexample.

It replaces parallel lists (texts, origins, serials, both sides' ids and decodes, stream
failures) passed side by side through five signatures: a new thing known of a line is one
field here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokcheck.judge.stream import StreamFailure

# Ids a candidate is expected to add before and after the text's own (see Candidate.added).
Added = tuple[tuple[int, ...], tuple[int, ...]]


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
