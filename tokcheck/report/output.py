"""Writing what tokcheck prints: plain-text tables, strict JSON, stdout that fails in one line,
and the progress bar.

Tables are drawn here rather than with rich so that ``tokcheck inspect`` and ``check`` stay
within a few milliseconds of a bare ``import sentencepiece``; widths account for East Asian wide
characters so Japanese pieces line up. What each report says is :mod:`tokcheck.report.render`'s.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from tokcheck.errors import StdoutError

if TYPE_CHECKING:
    from tokcheck.inputs.corpus import Location


def cell(value: Any) -> str:
    """A value as a table cell: strings with whitespace or control characters are repr()'d."""
    if isinstance(value, str):
        return value if value.isprintable() and value.strip() == value and value else repr(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return " ".join(cell(v) for v in value) if value else "-"
    if value is None:
        return "-"
    return str(value)


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
) -> str:
    cells = [[cell(v) for v in row] for row in rows]
    widths = [width(h) for h in headers]
    for row in cells:
        widths = [max(w, width(c)) for w, c in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True)
        ).rstrip()

    out = [title] if title else []
    out += [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """Write ``data`` as strict RFC 8259 JSON, which jq and JSON.parse always accept.

    What JSON cannot hold is written as documented text instead: a NaN or infinite float as the
    string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``; a lone surrogate in a string (which
    UTF-8 cannot encode) as the six characters ``\\udXXX``; ``bytes`` as text with each byte that
    is not valid UTF-8 shown as ``\\xNN``, as :func:`tokcheck.model.proto.proto_text` shows piece names.
    """
    stream = stream or sys.stdout

    def dumps(value: Any) -> str:
        return json.dumps(
            value, ensure_ascii=False, indent=2, allow_nan=False, default=_json_default
        )

    try:
        # The usual case costs one pass; only output that needs it is rewritten.
        text = dumps(data)
        text.encode("utf-8")
    # A non-finite float, UnicodeEncodeError on a lone surrogate, or a key json cannot write.
    except (ValueError, TypeError):
        text = dumps(_strict(data))
    if stream is sys.stdout:
        emit(text)
    else:
        stream.write(text)
        stream.write("\n")


def emit(text: str) -> None:
    """Print ``text`` and a newline on stdout; a write the system refuses (a full disk, say)
    raises StdoutError. A reader going away is still BrokenPipeError, for the caller."""
    with _stdout_writes():
        sys.stdout.write(text)
        sys.stdout.write("\n")


def flush_stdout() -> None:
    """Flush stdout now, while a failure can still be reported: StdoutError as in emit."""
    with _stdout_writes():
        sys.stdout.flush()


@contextmanager
def _stdout_writes() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise StdoutError(f"cannot write the output to stdout: {e.strerror or e}") from e


def _strict(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {_key(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return _strict(_json_default(value))


def _key(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    text = _strict(value)
    return text if isinstance(text, str | float) else str(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, bytes | bytearray):
        from tokcheck.model.proto import proto_text

        return proto_text(bytes(value))
    return str(value)


class Progress:
    """A progress bar on stderr for long runs; silent under --json, in CI, or off a terminal."""

    def __init__(
        self,
        corpora: Sequence[Location],
        *,
        enabled: bool,
        extra: Callable[[], int] | None = None,
    ) -> None:
        """``extra`` gives the bytes of generated input beyond the corpora (the exhaustive
        generators'); it is called only when the bar is shown."""
        self.enabled = enabled and sys.stderr.isatty() and not os.environ.get("CI")
        from tokcheck.inputs.corpus import corpus_size

        self.total = sum(map(corpus_size, corpora))
        if self.enabled and extra is not None:
            self.total += extra()
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.enabled and self.total:
            from rich.progress import BarColumn, DownloadColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("comparing", total=self.total)
        return self

    def advance(self, consumed: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=consumed)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
