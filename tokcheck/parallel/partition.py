"""compare's corpus input cut into parts that workers judge apart, each placed in the whole.

An uncompressed text or JSONL file is cut into byte ranges of about ``target`` bytes, each
starting at a line start; a compressed one is one part (its stream cannot be entered
part-way); a Parquet file is cut between row groups. Generated input (``--exhaustive``) comes
as parts holding their lines. A part knows the position of its first record, so its origins
(``path:line``, ``path[row]``) and skipped records are those a single reader reports: for
byte ranges the newlines before each are counted first (:func:`count_lines`, a pass at I/O
speed that the engine runs in parallel; :func:`numbered` adds them up).

Every line has a serial, its place in the whole input (see :mod:`tokcheck.parallel.runner`): the
generated lines that come first are numbered from 0, record ``p`` of corpus file ``f`` has
``(f + 1) * STRIDE + p``, and the exhaustive lines come after every corpus file, from
``EXHAUSTIVE`` (both in :mod:`tokcheck.judge.outcome`, where a serial also tells a line's source).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO

from tokcheck.errors import CorpusError
from tokcheck.inputs.corpus import (
    CorpusStats,
    Location,
    Span,
    changed,
    corpus_format,
    corpus_size,
    open_corpus,
    records,
    require,
)
from tokcheck.judge.outcome import EXHAUSTIVE, STRIDE
from tokcheck.parallel.runner import Line

# Bytes read at a time when looking for a line start or counting newlines.
_CHUNK = 1 << 20
# Generated lines per part.
INLINE_LINES = 20_000


@dataclass(frozen=True)
class Partition:
    """A part of the input: a :class:`Span` of the corpus at ``location``, or (``location``
    None) generated ``lines``. ``serial`` is the serial of position 0 (a line or row number;
    for generated lines, the index in ``lines``); ``size`` the bytes it counts for progress."""

    location: Location | None
    span: Span
    serial: int
    size: int
    lines: tuple[Line, ...] = ()
    # Whether the span's first line number waits for count_lines (a byte range past the start).
    uncounted: bool = False
    # The file's size when it was cut, on the byte range that reads to its end: a file that has
    # grown since is caught there, as a whole file is by its size.
    ends: int | None = None

    def read(self, stats: CorpusStats, field: str) -> Iterator[tuple[Line, int]]:
        """Each record's (text, origin) and serial, counted in ``stats``."""
        if self.location is None:  # generated lines: not the corpus's, not in its stats
            return ((line, self.serial + k) for k, line in enumerate(self.lines))
        return self._records(self.location, stats, field)

    def _records(
        self, location: Location, stats: CorpusStats, field: str
    ) -> Iterator[tuple[Line, int]]:
        for text, origin, position in records(location, stats, field, self.span):
            yield (text, origin), self.serial + position
        # A byte range that ends early is caught as it is read; a whole file, or the range
        # that ends it, by the file's size.
        expected = self.size if self.span.stop is None else self.ends
        if expected is not None and corpus_size(location) != expected:
            raise CorpusError(changed(location))


def line_size(text: str) -> int:
    """A line's bytes as compare counts them: UTF-8, plus one for its line end."""
    return len(text.encode("utf-8", "surrogatepass")) + 1


def cut(locations: Sequence[Location], target: int) -> list[Partition]:
    """The corpora's parts, in input order, of about ``target`` bytes each (see the module
    docstring); byte ranges after a file's first wait for :func:`numbered`."""
    if (len(locations) + 1) * STRIDE > EXHAUSTIVE:
        raise CorpusError(f"{len(locations)} corpus files: more than one run can number")
    parts: list[Partition] = []
    for index, location in enumerate(locations):
        serial = (index + 1) * STRIDE
        fmt = corpus_format(location)
        size = corpus_size(location)
        if fmt.kind == "parquet":
            parts += _row_groups(location, serial, size, target)
        elif fmt.compression or size <= target:
            parts.append(Partition(location, Span(), serial, size))
        else:
            starts = _line_starts(location, size, target)
            parts += [
                Partition(
                    location,
                    Span(a, b),
                    serial,
                    b - a,
                    uncounted=k > 0,
                    ends=size if b == size else None,
                )
                for k, (a, b) in enumerate(itertools.pairwise([*starts, size]))
            ]
    return parts


def count_lines(part: Partition) -> int:
    """The newlines in a byte range: the lines that start in it."""
    assert part.location is not None
    assert part.span.stop is not None
    left = part.span.stop - part.span.start
    count = 0
    with open_corpus(part.location) as handle:
        handle.seek(part.span.start)
        while left > 0 and (chunk := handle.read(min(_CHUNK, left))):
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def numbered(parts: Sequence[Partition], counts: Iterable[int]) -> list[Partition]:
    """``parts`` with each byte range's first line number: ``counts`` are :func:`count_lines`
    of every part that precedes an uncounted one, in order."""
    need = _counted(parts)
    before = dict(zip(need, counts, strict=True))
    out: list[Partition] = []
    first = 1
    for k, part in enumerate(parts):
        if part.uncounted:
            part = replace(part, span=replace(part.span, first=first), uncounted=False)
        out.append(part)
        first = part.span.first + before[k] if k in before else 1
    return out


def to_count(parts: Sequence[Partition]) -> list[Partition]:
    """The parts whose lines :func:`numbered` needs counted, in order."""
    return [parts[k] for k in _counted(parts)]


def _counted(parts: Sequence[Partition]) -> list[int]:
    return [k for k in range(len(parts) - 1) if parts[k + 1].uncounted]


def generated(lines: Iterable[Line], serial: int) -> Iterator[Partition]:
    """Generated lines in parts of :data:`INLINE_LINES`, numbered from ``serial``."""
    it = iter(lines)
    while chunk := tuple(itertools.islice(it, INLINE_LINES)):
        yield Partition(None, Span(), serial, sum(line_size(t) for t, _ in chunk), chunk)
        serial += len(chunk)


def _line_starts(location: Location, size: int, target: int) -> list[int]:
    """Offsets about ``target`` apart, each moved on to the next line start."""
    starts = [0]
    with open_corpus(location) as handle:
        offset = target
        while offset < size:
            handle.seek(offset - 1)
            start = _after_newline(handle, offset - 1, size)
            if start >= size:
                break
            if start > starts[-1]:
                starts.append(start)
            offset = max(start, offset) + target
    return starts


def _after_newline(handle: BinaryIO, position: int, size: int) -> int:
    """The offset just past the first newline at or after ``position``; ``size`` if none."""
    while position < size:
        chunk = handle.read(_CHUNK)
        if not chunk:
            break
        found = chunk.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(chunk)
    return size


def _row_groups(location: Location, serial: int, size: int, target: int) -> list[Partition]:
    """Runs of consecutive row groups of about ``target`` bytes (each group's share of the
    file by its rows)."""
    parquet = require("pyarrow.parquet", location)
    with open_corpus(location) as handle:
        metadata = parquet.ParquetFile(handle).metadata
        rows = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
    total = max(sum(rows), 1)
    parts: list[Partition] = []
    start = row = done = first = 0
    last = len(rows) - 1
    for g, n in enumerate(rows):
        row += n
        end = size if g == last else size * row // total
        if end - done >= target or g == last:
            parts.append(Partition(location, Span(start, g + 1, first), serial, end - done))
            start, done, first = g + 1, end, row
    return parts or [Partition(location, Span(first=0), serial, size)]
