"""Every diverging line of a run, one JSON object per line (``--dump FILE.jsonl``).

A tally keeps the K shortest counterexamples; the dump keeps them all. The runner hands the
lines that differ to a sink (:data:`Sink`) batch by batch and part by part, in input order
(:class:`Diverging` records, sorted by the line's place in the input, then by candidate), so
the file is the same whatever the engine and the jobs. :func:`dumping` writes them to a file
that appears, whole, only when the run ends.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tokcheck.errors import OutputError
from tokcheck.judge.outcome import Outcome
from tokcheck.system import atomic


@dataclass(frozen=True, slots=True)
class Diverging:
    """A line on which ``candidate`` (and the candidates in ``same_tokenizer``, which loaded
    the very same tokenizer) differs from sentencepiece, as the judge classified it."""

    candidate: str
    same_tokenizer: tuple[str, ...]
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "candidate": self.candidate,
            "same_tokenizer": list(self.same_tokenizer),
            "origin": o.origin,
            "text": o.text,
            "kinds": list(o.kinds),
            "first_divergence": o.first_divergence,
            # What the candidate is judged against: sentencepiece's ids with what it adds.
            "reference_ids": o.expected_ids,
            "candidate_ids": o.candidate_ids,
            "reference_decoded": o.reference_decoded,
            "candidate_decoded": o.candidate_decoded,
            "stream": o.stream.to_dict() if o.stream else None,
        }


# Where the runner sends the lines that differ, in input order.
Sink = Callable[[Sequence[Diverging]], None]


class JsonLines:
    """A :data:`Sink` writing each record as one line of JSON to ``handle`` (``path`` names it
    in an error)."""

    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle = handle
        self.path = path
        self.written = 0

    def __call__(self, records: Sequence[Diverging]) -> None:
        data = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)
        try:
            # A lone surrogate (a hostile text's) becomes its JSON escape, \udcff.
            self.handle.write(data.encode("utf-8", "backslashreplace"))
        except OSError as e:
            raise OutputError(f"{self.path}: cannot write the dump: {e.strerror or e}") from e
        self.written += len(records)


@contextlib.contextmanager
def dumping(path: Path | None) -> Iterator[JsonLines | None]:
    """A :class:`JsonLines` sink writing ``path`` atomically (None without a path): the file
    appears when the block ends, and a run that fails leaves ``path`` as it was."""
    if path is None:
        yield None
        return
    with atomic.replacing(path) as handle:
        yield JsonLines(handle, path)
