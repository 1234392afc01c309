"""Corpus files: every record as one text to judge, streamed, whatever the file's format.

The format comes from the suffix: ``.parquet`` is Parquet (one column, ``field``); ``.jsonl``
is JSON Lines (one object per line, its key ``field``); anything else is text, one document per
line, without its line ending. ``.gz`` and ``.zst`` after either of the last two mean gzip and
Zstandard compression. Parquet and Zstandard need the ``formats`` extra (pyarrow, zstandard),
imported only when such a corpus is given.

A JSONL or Parquet document is judged whole, newlines included. A record that cannot be judged
(not UTF-8, invalid JSON, JSON that Python cannot read such as nesting past its recursion
limit or an integer past its digit limit, not an object, the field missing, null or not a
string, a Parquet value pyarrow cannot convert) is counted in :class:`CorpusStats` by position
(line number from 1, or Parquet row from 0) and reason, and skipped: never fatal. What is
fatal, as a :class:`~tokcheck.errors.CorpusError`, is a file that cannot be read as its suffix
says (checked by :func:`check_corpora` before any long work) or a compressed stream that breaks
off part-way.

A corpus is a local path or an fsspec URL (``s3://bucket/part-0.jsonl.zst``, ``file:///data/a.txt``;
the protocol's fsspec package, s3fs say, must be installed). :func:`records` reads a whole file
or a :class:`Span` of one, the part a worker of ``compare --jobs N`` or of the cluster engine
reads (see :mod:`tokcheck.parallel.partition`).

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

# A corpus: a local path, or an fsspec URL as given.
Location = Path | str

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


def corpus_format(path: Location) -> CorpusFormat:
    """The format ``path``'s suffixes name (see the module docstring)."""
    suffixes = [s.lower() for s in Path(str(path).rsplit("/", 1)[-1]).suffixes]
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


@dataclass(frozen=True)
class Span:
    """A part of one corpus file: bytes ``start`` to ``stop`` of an uncompressed text or JSONL
    file, starting at a line start, its first line numbered ``first``; or row groups ``start``
    to ``stop`` of a Parquet file, its first row numbered ``first``. ``stop`` None: to the end.
    """

    start: int = 0
    stop: int | None = None
    first: int = 1


@dataclass
class CorpusStats:
    lines: int = 0  # records yielded
    bytes: int = 0  # bytes of the files consumed as stored (compressed where they are)
    skipped: list[Skipped] = field(default_factory=list)


def check_corpora(paths: Iterable[Location], field: str = DEFAULT_FIELD) -> list[Location]:
    """Fail early, before any long work starts, if a corpus is unusable: missing, not a regular
    file, not the format its suffix names, a Parquet file without the column ``field``, or a
    format whose library (the ``formats`` extra) is not installed."""
    checked = []
    for path in paths:
        if is_url(path):
            _check_url(str(path))
        else:
            _check_path(Path(path))
        _check_format(path, corpus_format(path), field)
        checked.append(path)
    return checked


def is_url(location: Location) -> bool:
    """Whether a corpus is an fsspec URL rather than a local path."""
    return isinstance(location, str) and "://" in location


def corpus_size(location: Location) -> int:
    """The bytes of a corpus file as stored."""
    if is_url(location):
        fs, path = _fs(str(location))
        return int(fs.size(path))
    return Path(location).stat().st_size


def open_corpus(location: Location) -> BinaryIO:
    """A corpus file opened for reading bytes, local or by its fsspec URL."""
    try:
        if is_url(location):
            fs, path = _fs(str(location))
            handle: BinaryIO = fs.open(path, "rb")
            return handle
        return Path(location).open("rb")
    except OSError as e:
        raise _unreadable(location, e) from e


def _check_path(path: Path) -> None:
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


def _check_url(url: str) -> None:
    fs, path = _fs(url)
    try:
        info = fs.info(path)
    except FileNotFoundError as e:
        raise CorpusError(f"{url}: no such corpus file") from e
    except Exception as e:  # each filesystem raises its own errors
        raise CorpusError(f"{url}: cannot read corpus: {type(e).__name__}: {e}") from e
    if info.get("type") == "directory":
        raise CorpusError(f"{url}: is a directory, not a corpus file")
    if info.get("type") != "file":
        raise CorpusError(f"{url}: is not a regular file; a corpus must be a text file")


def _fs(url: str) -> tuple[Any, str]:
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except ImportError as e:
        raise MissingDependencyError(f"{url}: cannot read this URL here: {e}") from e
    except (ValueError, OSError) as e:
        raise CorpusError(f"{url}: not a URL fsspec can open: {e}") from e


def corpus_lines(
    paths: Iterable[Location], stats: CorpusStats, field: str = DEFAULT_FIELD
) -> Iterator[tuple[str, str]]:
    """(text, origin) for every record of each file, streaming; the origin is ``path:line``
    (text, JSONL) or ``path[row]`` (Parquet). ``stats`` counts them, the bytes read and the
    records skipped."""
    for path in paths:
        start = stats.bytes
        yield from ((text, origin) for text, origin, _ in records(path, stats, field))
        # Whatever the read-ahead, a file read to its end counts as its size, as Progress does.
        stats.bytes = start + corpus_size(path)


def records(
    path: Location, stats: CorpusStats, field: str = DEFAULT_FIELD, span: Span | None = None
) -> Iterator[tuple[str, str, int]]:
    """(text, origin, position) for every record of ``path``, or of its ``span``: the position
    is the line number (from 1) or the Parquet row (from 0) that the origin names."""
    fmt = corpus_format(path)
    if fmt.kind == "parquet":
        yield from _parquet(path, stats, field, span or Span(first=0))
    else:
        yield from _lines(path, fmt, stats, field, span or Span())


def _lines(
    path: Location, fmt: CorpusFormat, stats: CorpusStats, field: str, span: Span
) -> Iterator[tuple[str, str, int]]:
    start = stats.bytes
    errors = _stream_errors(fmt.compression)
    raw = open_corpus(path)
    position = span.first - 1
    left = None if span.stop is None else span.stop - span.start
    with raw:
        try:
            if span.start:
                raw.seek(span.start)
            lines = _decompressed(raw, fmt.compression)
            for position, line in enumerate(lines, start=span.first):
                # Compressed: the bytes the decompressor has read (ahead, never past the end).
                stats.bytes = start + raw.tell() if fmt.compression else stats.bytes + len(line)
                text, reason = _record(line, fmt.kind, field)
                if reason is not None:
                    stats.skipped.append(Skipped(str(path), position, reason))
                elif text is not None:
                    stats.lines += 1
                    yield text, f"{path}:{position}", position
                if left is not None:
                    left -= len(line)
                    if left <= 0:  # the range ends at a line end: its last line is read
                        break
            if left:
                raise CorpusError(changed(path))
        except errors as e:
            what = f"corrupt {fmt.compression} stream" if fmt.compression else "cannot read corpus"
            raise CorpusError(f"{path}: {what} after line {position}: {e}") from e


def changed(path: Location) -> str:
    """The message for a corpus that changed size while compare read it."""
    return f"{path}: changed while being read (its size is not what it was when compare began)"


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
    except RecursionError:
        return None, "JSON nested too deep"
    except ValueError as e:  # an integer past Python's digit limit, say
        return None, f"JSON that cannot be read: {_why(e)}"
    except Exception as e:  # whatever else the reader raises for one record is the record's
        return None, f"JSON that cannot be read: {type(e).__name__}: {_why(e)}"
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


def _parquet(
    path: Location, stats: CorpusStats, field: str, span: Span
) -> Iterator[tuple[str, str, int]]:
    start = stats.bytes
    parquet = require("pyarrow.parquet", path)
    try:
        with open_corpus(path) as handle:
            reader = parquet.ParquetFile(handle)
            groups = list(range(reader.num_row_groups))[span.start : span.stop]
            if not groups:
                return
            rows = sum(reader.metadata.row_group(g).num_rows for g in groups)
            size = corpus_size(path) if span.stop is None else 0
            row = span.first
            batches = reader.iter_batches(
                batch_size=_PARQUET_ROWS, columns=[field], row_groups=groups
            )
            for batch in batches:
                for value in _values(batch.column(0)):
                    text, reason = (
                        _text(_utf8(value), f"column {field!r}")
                        if not isinstance(value, _Unreadable)
                        else (None, f"column {field!r} cannot be read: {value.reason}")
                    )
                    if reason is not None:
                        stats.skipped.append(Skipped(str(path), row, reason, unit="row"))
                    elif text is not None:
                        stats.lines += 1
                        yield text, f"{path}[{row}]", row
                    row += 1
                # Parquet is read by record batches: the bytes are the rows' share of the file.
                stats.bytes = start + size * (row - span.first) // max(rows, 1)
    except (OSError, require("pyarrow", path).ArrowException) as e:
        raise CorpusError(f"{path}: cannot read Parquet corpus: {e}") from e


@dataclass(frozen=True)
class _Unreadable:
    """A Parquet value that pyarrow cannot convert (a string column's bytes not UTF-8, say)."""

    reason: str


def _values(column: Any) -> list[object]:
    """A record batch column's values; one that cannot be converted is :class:`_Unreadable`,
    the rest as they are."""
    try:
        return list(column.to_pylist())
    except Exception:  # some row cannot be converted: find which, one by one
        pass
    values: list[object] = []
    for k in range(len(column)):
        try:
            values.append(column[k].as_py())
        except Exception as e:
            values.append(_Unreadable(f"{type(e).__name__}: {_why(e)}"))
    return values


def _why(e: BaseException) -> str:
    """An exception's message, short and on one line, for a skipped record's reason."""
    text = " ".join(str(e).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _utf8(value: object) -> object:
    """A binary column's value as text; bytes that are not UTF-8 stay bytes (not a string)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _check_format(path: Location, fmt: CorpusFormat, field: str) -> None:
    magic = _MAGIC.get(fmt.compression or fmt.kind)
    if fmt.compression == "zstd" or fmt.kind == "parquet":
        require("zstandard" if fmt.compression else "pyarrow.parquet", path)
    if magic is None:
        return
    try:
        with open_corpus(path) as handle:
            head = handle.read(len(magic))
    except OSError as e:
        raise _unreadable(path, e) from e
    what = fmt.compression or "Parquet"
    if head != magic:
        raise CorpusError(f"{path}: not a {what} file, as its suffix says (bad header)")
    if fmt.kind == "parquet":
        _check_column(path, field)


def _check_column(path: Location, field: str) -> None:
    pa = require("pyarrow", path)
    parquet = require("pyarrow.parquet", path)
    try:
        with open_corpus(path) as handle:
            schema = parquet.read_schema(handle)
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
        zstandard = require("zstandard", None)
        # Across frames: a file of concatenated frames (zstd file1 file2, pzstd) reads whole.
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader)
    return raw


def _stream_errors(compression: str | None) -> tuple[type[Exception], ...]:
    errors: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)
    if compression == "zstd":
        errors += (require("zstandard", None).ZstdError,)
    return errors


def require(module: str, path: Location | None) -> Any:
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


def _unreadable(path: Location, e: OSError) -> CorpusError:
    return CorpusError(f"{path}: cannot read corpus: {e.strerror or e}")
