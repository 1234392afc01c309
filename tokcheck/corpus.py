"""Corpus files: every record as one text to judge, streamed, whatever the file's format.

The format comes from the suffix: ``.parquet`` is Parquet (one column, ``field``); ``.jsonl``
is JSON Lines (one object per line, its key ``field``); anything else is text, one document per
line, without its line ending. ``.gz`` and ``.zst`` after either of the last two mean gzip and
Zstandard compression. Parquet and Zstandard need the ``formats`` extra (pyarrow, zstandard),
imported only when such a corpus is given.

A JSONL or Parquet document is judged whole, newlines included. A record that cannot be judged
(not UTF-8, invalid JSON, not an object, the field missing, null or not a string) is counted in
:class:`CorpusStats` by position (line number from 1, or Parquet row from 0) and reason, and
skipped: never fatal. What is fatal, as a :class:`~tokcheck.errors.CorpusError`, is a file that
cannot be read as its suffix says (checked by :func:`check_corpora` before any long work) or a
compressed stream that breaks off part-way.

It does not guess formats from content or read more than one record batch at a time.
"""

from __future__ import annotations

import gzip
import io
import json
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tokcheck.errors import CorpusError, MissingDependencyError

DEFAULT_FIELD = "text"
EXTRA = "formats"
# Rows per Parquet record batch: what bounds memory when documents are long.
_PARQUET_ROWS = 1024
_MAGIC = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd", "parquet": b"PAR1"}
_COMPRESSION = {".gz": "gzip", ".zst": "zstd"}


@dataclass(frozen=True)
class CorpusFormat:
    kind: str  # "text", "jsonl" or "parquet"
    compression: str | None = None  # "gzip", "zstd" or None


def corpus_format(path: Path) -> CorpusFormat:
    """The format ``path``'s suffixes name (see the module docstring)."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    body = suffixes[:-1] if compression else suffixes
    if body[-1:] == [".parquet"] and compression is None:
        return CorpusFormat("parquet")
    return CorpusFormat("jsonl" if body[-1:] == [".jsonl"] else "text", compression)


@dataclass(frozen=True)
class Skipped:
    """A record that was not judged: where (``unit`` ``line`` from 1, or ``row`` from 0) and why."""

    path: str
    position: int
    reason: str
    unit: str = "line"

    def where(self) -> str:
        return (
            f"{self.path}:{self.position}"
            if self.unit == "line"
            else f"{self.path}[{self.position}]"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, self.unit: self.position, "reason": self.reason}


@dataclass
class CorpusStats:
    lines: int = 0  # records yielded
    bytes: int = 0  # bytes of the files consumed as stored (compressed where they are)
    skipped: list[Skipped] = field(default_factory=list)


def check_corpora(paths: Iterable[Path], field: str = DEFAULT_FIELD) -> list[Path]:
    """Fail early, before any long work starts, if a corpus is unusable: missing, not a regular
    file, not the format its suffix names, a Parquet file without the column ``field``, or a
    format whose library (the ``formats`` extra) is not installed."""
    checked = []
    for path in paths:
        # stat before opening: opening a FIFO would block until something writes to it.
        try:
            mode = path.stat().st_mode
        except FileNotFoundError as e:
            raise CorpusError(f"{path}: no such corpus file") from e
        except OSError as e:
            raise _unreadable(path, e) from e
        if stat.S_ISDIR(mode):
            raise CorpusError(f"{path}: is a directory, not a corpus file")
        if not stat.S_ISREG(mode):
            raise CorpusError(f"{path}: is not a regular file; a corpus must be a text file")
        _check_format(path, corpus_format(path), field)
        checked.append(path)
    return checked


def corpus_lines(
    paths: Iterable[Path], stats: CorpusStats, field: str = DEFAULT_FIELD
) -> Iterator[tuple[str, str]]:
    """(text, origin) for every record of each file, streaming; the origin is ``path:line``
    (text, JSONL) or ``path[row]`` (Parquet). ``stats`` counts them, the bytes read and the
    records skipped."""
    for path in paths:
        fmt = corpus_format(path)
        start = stats.bytes
        if fmt.kind == "parquet":
            yield from _parquet(path, stats, field)
        else:
            yield from _lines(path, fmt, stats, field)
        # Whatever the read-ahead, a file read to its end counts as its size, as Progress does.
        stats.bytes = start + path.stat().st_size


def iter_corpus(
    paths: Iterable[Path], stats: CorpusStats, field: str = DEFAULT_FIELD
) -> Iterator[str]:
    """The texts of :func:`corpus_lines`, without their origins."""
    return (text for text, _ in corpus_lines(paths, stats, field))


def _lines(
    path: Path, fmt: CorpusFormat, stats: CorpusStats, field: str
) -> Iterator[tuple[str, str]]:
    start = stats.bytes
    errors = _stream_errors(fmt.compression)
    try:
        raw = path.open("rb")
    except OSError as e:
        raise _unreadable(path, e) from e
    position = 0
    with raw:
        try:
            lines = _decompressed(raw, fmt.compression)
            for position, line in enumerate(lines, start=1):
                # Compressed: the bytes the decompressor has read (ahead, never past the end).
                stats.bytes = start + raw.tell() if fmt.compression else stats.bytes + len(line)
                text, reason = _record(line, fmt.kind, field)
                if reason is not None:
                    stats.skipped.append(Skipped(str(path), position, reason))
                elif text is not None:
                    stats.lines += 1
                    yield text, f"{path}:{position}"
        except errors as e:
            what = f"corrupt {fmt.compression} stream" if fmt.compression else "cannot read corpus"
            raise CorpusError(f"{path}: {what} after line {position}: {e}") from e


def _record(line: bytes, kind: str, field: str) -> tuple[str | None, str | None]:
    """(text, None) to judge, (None, reason) to skip, or (None, None) for a blank JSONL line."""
    try:
        decoded = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    if kind == "text":
        return decoded.removesuffix("\n").removesuffix("\r"), None
    if not decoded.strip():
        return None, None
    try:
        record = json.loads(decoded)
    except json.JSONDecodeError:
        return None, "invalid JSON"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    if field not in record:
        return None, f"no field {field!r}"
    return _text(record[field], f"field {field!r}")


def _text(value: object, what: str) -> tuple[str | None, str | None]:
    if value is None:
        return None, f"{what} is null"
    if not isinstance(value, str):
        return None, f"{what} is not a string"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escaped in JSON
        return None, f"{what} is not UTF-8"
    return value, None


def _parquet(path: Path, stats: CorpusStats, field: str) -> Iterator[tuple[str, str]]:
    start = stats.bytes
    parquet = _require("pyarrow.parquet", path)
    try:
        reader = parquet.ParquetFile(path)
        rows = reader.metadata.num_rows
        size = path.stat().st_size
        row = 0
        for batch in reader.iter_batches(batch_size=_PARQUET_ROWS, columns=[field]):
            for value in batch.column(0).to_pylist():
                text, reason = _text(_utf8(value), f"column {field!r}")
                if reason is not None:
                    stats.skipped.append(Skipped(str(path), row, reason, unit="row"))
                elif text is not None:
                    stats.lines += 1
                    yield text, f"{path}[{row}]"
                row += 1
            # Parquet is read by record batches: the bytes are the rows' share of the file.
            stats.bytes = start + size * row // max(rows, 1)
    except (OSError, _require("pyarrow", path).ArrowException) as e:
        raise CorpusError(f"{path}: cannot read Parquet corpus: {e}") from e


def _utf8(value: object) -> object:
    """A binary column's value as text; bytes that are not UTF-8 stay bytes (not a string)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _check_format(path: Path, fmt: CorpusFormat, field: str) -> None:
    magic = _MAGIC.get(fmt.compression or fmt.kind)
    if fmt.compression == "zstd" or fmt.kind == "parquet":
        _require("zstandard" if fmt.compression else "pyarrow.parquet", path)
    if magic is None:
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(len(magic))
    except OSError as e:
        raise _unreadable(path, e) from e
    what = fmt.compression or "Parquet"
    if head != magic:
        raise CorpusError(f"{path}: not a {what} file, as its suffix says (bad header)")
    if fmt.kind == "parquet":
        _check_column(path, field)


def _check_column(path: Path, field: str) -> None:
    pa = _require("pyarrow", path)
    parquet = _require("pyarrow.parquet", path)
    try:
        schema = parquet.read_schema(path)
    except (OSError, pa.ArrowException) as e:
        raise CorpusError(f"{path}: cannot read Parquet corpus: {e}") from e
    if field not in schema.names:
        columns = ", ".join(schema.names)
        raise CorpusError(
            f"{path}: no column {field!r} (columns: {columns}); name one with --field"
        )
    kind = schema.field(field).type
    textual = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_binary,
        pa.types.is_large_binary,
    )
    if not any(test(kind) for test in textual):
        raise CorpusError(f"{path}: column {field!r} is {kind}, not text")


def _decompressed(raw: BinaryIO, compression: str | None) -> Iterable[bytes]:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "zstd":
        zstandard = _require("zstandard", None)
        # Across frames: a file of concatenated frames (zstd file1 file2, pzstd) reads whole.
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader)
    return raw


def _stream_errors(compression: str | None) -> tuple[type[Exception], ...]:
    errors: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)
    if compression == "zstd":
        errors += (_require("zstandard", None).ZstdError,)
    return errors


def _require(module: str, path: Path | None) -> Any:
    """``module``, imported now; a one-line error naming the extra where it is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        what = f"{path}: " if path is not None else ""
        name = module.split(".")[0]
        raise MissingDependencyError(
            f"{what}reading this corpus needs {name}: pip install 'tokcheck[{EXTRA}]'"
        ) from e


def _unreadable(path: Path, e: OSError) -> CorpusError:
    return CorpusError(f"{path}: cannot read corpus: {e.strerror or e}")
