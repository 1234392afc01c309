"""Writing what tokcheck prints: plain-text tables, strict JSON, stdout that fails in one line,
and the progress bar.

Tables are laid out by rich, imported only when a table is drawn (``--json`` and the other
formats never import it). They fit the terminal's width (:mod:`tokcheck.report.terminal`): long
cells wrap within their column, and a table that cannot fit becomes one block per row. A
report's :class:`Text` is fitted to the width as it is printed;
what each report says is :mod:`tokcheck.report.render`'s. The progress bar draws on stderr.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from tokcheck.errors import StdoutError
from tokcheck.report import terminal

if TYPE_CHECKING:
    from tokcheck.inputs.corpus import Location


class Text(str):
    """Text as people read it: :func:`emit` fits each line of a report's to the terminal and
    colours its verdict words (:mod:`tokcheck.report.terminal`), and a cell shows its lines as
    they are. Any other ``str`` is written as it is (JSON, XML) or repr()'d in a cell."""


# Items of a list shown in a cell; the rest are counted (and are in the report's --json).
SHOWN = 8


def cell(value: Any) -> str:
    """A value as a table cell: strings with whitespace or control characters are repr()'d,
    a list shows its first :data:`SHOWN` items, a dict one ``key: value`` line per item."""
    if isinstance(value, dict) and value:
        return "\n".join(f"{_inline(k)}: {_inline(v)}" for k, v in value.items())
    return _inline(value)


def listing(items: Sequence[Any], noun: str = "") -> str:
    """``items`` as text, the first :data:`SHOWN` of a longer list followed by the count of the
    rest: ``702 control symbols: <s> </s> … (+694 in --json)``."""
    shown = [_inline(v) for v in items[:SHOWN]]
    text = ("; " if any(" " in s for s in shown) else " ").join(shown) if shown else "-"
    if len(items) <= SHOWN:
        return text
    return f"{len(items)} {noun or 'in all'}: {text} … (+{len(items) - SHOWN} in --json)"


def _inline(value: Any) -> str:
    if isinstance(value, Text):  # already worded for people: its lines as they are
        return str(value)
    if isinstance(value, str):
        return value if value.isprintable() and value.strip() == value and value else repr(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return listing(value)
    if isinstance(value, dict):
        return ", ".join(f"{_inline(k)} {_inline(v)}" for k, v in value.items()) or "-"
    if value is None:
        return "-"
    return str(value)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    width: int | None = None,
) -> str:
    """``rows`` under ``headers``, drawn by rich within ``width`` (the terminal's by default):
    rich narrows the widest columns first and wraps their cells within them, and the first
    column, which names the row, keeps its words whole. Where even that cannot fit, each row
    becomes a block of ``header value`` lines under its first cell."""
    limit = width or terminal.columns()
    cells = [[cell(v) for v in row] for row in rows]
    heads = list(headers)
    _, least = _widths(heads, cells, limit)
    if len(heads) > 2 and sum(least) + 2 * (len(heads) - 1) > limit:
        return _records(heads, cells, title, limit)
    out = [title] if title else []
    return "\n".join([*out, _draw(heads, cells, least[0], limit)])


def fits(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, wrapped: bool = False) -> bool:
    """Whether :func:`table` lays ``rows`` out as a table at the terminal's width: with no cell
    wrapped, or with ``wrapped``, with some."""
    limit = terminal.columns()
    natural, least = _widths(list(headers), [[cell(v) for v in row] for row in rows], limit)
    return sum(least if wrapped else natural) + 2 * (len(natural) - 1) <= limit


# Columns but the first are narrowed no further than this, or their widest word if narrower.
_WORD = 16


def _widths(heads: list[str], cells: list[list[str]], limit: int) -> tuple[list[int], list[int]]:
    """Each column's natural width, and the least it can be narrowed to without breaking a
    header's word, or a word of the first column (which names the row) or one of _WORD."""
    natural, least = [], []
    for i, column in enumerate(zip(heads, *cells, strict=True)):
        natural.append(max(terminal.width(line) for t in column for line in t.split("\n")))
        word = max(map(terminal.width, column[0].split()), default=0)
        bound = limit // 2 if i == 0 else _WORD
        longest = max((terminal.width(w) for t in column[1:] for w in t.split()), default=0)
        least.append(min(natural[-1], max(word, min(longest, bound), 1)))
    return natural, least


def _draw(heads: Sequence[str] | None, cells: list[list[str]], first: int, limit: int) -> str:
    """``cells`` as rich lays them out in ``limit`` columns, under ``heads`` ruled with dashes
    (none where ``heads`` is None), two spaces between columns, the first at least ``first``
    wide. Drawn without colour: :func:`emit` colours the verdict words."""
    import io

    from rich.box import Box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text as Plain

    # Each line of a Box is: left edge, horizontal, column divider, right edge; only the rule
    # under the headers is drawn, with a blank divider.
    ruled = Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)
    grid = Table(
        box=ruled if heads is not None else None,
        show_header=heads is not None,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1 if heads is not None else 2, 0, 0),
        header_style="",
    )
    for i, head in enumerate(heads if heads is not None else cells[0]):
        grid.add_column(
            Plain(head if heads is not None else ""),
            min_width=first if i == 0 else None,
        )
    for row in cells:
        grid.add_row(*(_Cell(value) for value in row))
    drawn = io.StringIO()
    console = Console(
        file=drawn,
        width=limit,
        color_system=None,
        force_terminal=False,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(grid)
    lines = [line.rstrip() for line in drawn.getvalue().splitlines()]
    if heads is not None:  # the rule runs under each column's text, not its padding too
        lines[1] = re.sub("- ", "  ", lines[1])
    return "\n".join(lines)


class _Cell:
    """A cell as rich measures and draws it, wrapped by :func:`terminal.wrap` (which keeps a
    command or a quoted string whole where it can): each of its lines (a dict's items, say) on
    a line of its own, a longer one continued two columns in."""

    def __init__(self, text: str) -> None:
        self.items = text.split("\n")

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        words = [terminal.width(w) for item in self.items for w in item.split()]
        widest = max(map(terminal.width, self.items))
        return Measurement(min(max(words, default=1), widest), widest)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text as Plain

        hang = 2 if len(self.items) > 1 else 0
        for item in self.items:
            for line in terminal.wrap(item, options.max_width, hang):
                yield Plain(line, end="\n")


def _records(heads: list[str], cells: list[list[str]], title: str | None, limit: int) -> str:
    """Each row as its first cell, then a ``header value`` line for each other cell."""
    out = [title] if title else []
    for k, row in enumerate(cells):
        pairs = [list(p) for p in zip(heads[1:], row[1:], strict=True)]
        _, least = _widths(["", ""], pairs, limit - 2)
        out += ([""] if k else []) + [row[0]]
        out += ["  " + line for line in _draw(None, pairs, least[0], limit - 2).split("\n")]
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
    raises StdoutError. A reader going away is still BrokenPipeError, for the caller.

    A report's :class:`Text` is fitted to the terminal first: each line longer than its width
    wraps, and the verdict words are coloured where stdout takes colour."""
    if isinstance(text, Text):
        text = "\n".join(terminal.fit(text, terminal.columns()))
        if terminal.colour(sys.stdout):
            text = terminal.paint(text)
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
    """What a long run is doing, on stderr: the phase's label and how long it has taken and,
    while the corpora are judged, a bar of their bytes. It draws where stderr is a terminal,
    whatever stdout is, and nowhere under --json, in CI or where stderr is no terminal; nothing
    of it reaches stdout.

    The run reports only the bytes it has judged (:meth:`advance`); :meth:`phase` says what
    runs before the first of them (all of the run, where there are no corpora) and what after
    the last."""

    def __init__(
        self,
        corpora: Sequence[Location],
        *,
        enabled: bool,
        extra: Callable[[], int] | None = None,
    ) -> None:
        """``extra`` gives the bytes of generated input beyond the corpora (the exhaustive
        generators'); it is called only when the bar is shown."""
        self.enabled = enabled and terminal.is_terminal(sys.stderr) and not os.environ.get("CI")
        from tokcheck.inputs.corpus import corpus_size

        self.total = sum(map(corpus_size, corpora))
        if self.enabled and extra is not None:
            self.total += extra()
        judged = "the corpus" if len(corpora) == 1 else f"{len(corpora)} corpora"
        judged = judged if extra is None else f"{judged} and the exhaustive lines"
        self._judging = f"judging {'the exhaustive lines' if not corpora else judged}"
        self._labels: tuple[str, str] | None = None
        self._bar: Any = None
        self._task: Any = None
        self._done = 0
        self._started = 0.0

    def phase(self, label: str, *, then: str = "finishing") -> None:
        """Show ``label`` until the corpora's bytes are judged, and ``then`` after them."""
        self._labels = (label, then)
        if self._bar is not None and not self._done:
            self._show(label)

    def step(self, label: str, then: str | None = None) -> None:
        """A step of the run starts: ``label`` from now on, whatever was judged before, and
        ``then`` (``label`` by default) once it has judged the last of the corpora's bytes."""
        self._labels = (label, then or label)
        if self._bar is not None:
            self._show(label)

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[amount]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
                redirect_stdout=False,
            )
            self._bar.__enter__()
            if self._labels is not None:
                self._show(self._labels[0])
        return self

    def _show(self, label: str, total: int | None = None, amount: str = "") -> None:
        """A new phase, drawn now: its label, its own clock, and a bar where it has a
        ``total``."""
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(label, total=total, amount=amount)
        self._bar.refresh()

    def advance(self, consumed: int) -> None:
        """``consumed`` more bytes of the corpora (and exhaustive lines) judged."""
        if self._bar is None or not consumed:
            return
        if not self._done:
            self._show(self._judging, self.total, _amount(0, self.total, 0))
            self._started = time.monotonic()
        self._done += consumed
        amount = _amount(self._done, self.total, time.monotonic() - self._started)
        self._bar.update(self._task, completed=self._done, amount=amount)
        if self._done >= self.total:
            self._show(self._labels[1] if self._labels else "finishing")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _amount(done: int, total: int, seconds: float) -> str:
    """``done`` of ``total`` bytes in a unit that fits the total, and the time left at the rate
    so far."""
    unit, scale = ("GB", 1e9) if total >= 1e9 else ("MB", 1e6) if total >= 1e6 else ("kB", 1e3)
    said = f"{done / scale:.1f}/{total / scale:.1f} {unit}"
    if 0 < done < total and seconds > 0:
        left = int((total - done) * seconds / done)
        said += f", {left // 60}:{left % 60:02d} left"
    return said
