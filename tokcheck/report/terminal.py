"""What the terminal allows: its width, whether it takes colour, and text wrapped to the width.

- **Width**: ``COLUMNS`` where it is set, else the width of the terminal stdout is, else 80 (a
  file or a pipe gets what an 80-column reader can read); never under :data:`MIN_WIDTH`.
- **Colour**: never where ``NO_COLOR`` is set (to anything but the empty string), else always
  where ``FORCE_COLOR`` is, else only on a terminal. Only the verdict words at the start of a line
  are coloured (:func:`paint`): PASS and passed green, FAIL and failed red, PASS*, passed with
  caveats and caveat yellow.
- **Wrapping** (:func:`wrap`): a line too long for the width breaks at spaces, its continuation
  indented under it; a command in backticks, a quoted string and a short parenthesis are not
  broken where they fit on a line of their own.
- **Workflow commands**: no line of text starts with ``::`` (:func:`inert`), so that a value
  holding a newline cannot make a line GitHub Actions would run as a command.
- **Commands** to copy (:func:`command`): one too long for the width is continued with a
  backslash at its arguments' boundaries, as a shell reads it back, and :func:`fit` prints
  it, and the lines of a Python call laid out by :func:`call`, as they are: no argument is cut,
  even one wider than the terminal.

Widths count East Asian wide characters as two columns, so Japanese text lines up.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from typing import TextIO

DEFAULT_WIDTH = 80
MIN_WIDTH = 40


def columns() -> int:
    """The width text is laid out for (see the module's docstring)."""
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def width(text: str) -> int:
    """Display columns of ``text``: East Asian wide and fullwidth characters take two."""
    if text.isascii():
        return len(text)
    return sum(map(_columns, text))


def _columns(ch: str) -> int:
    """Display columns of one character."""
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def colour(stream: TextIO) -> bool:
    """Whether to colour what is written to ``stream`` (see the module's docstring)."""
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or is_terminal(stream)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for one that is no file, or closed)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


_COLOURS = {
    "PASS": "32",
    "passed": "32",
    "FAIL": "31",
    "failed": "31",
    "PASS*": "33",
    "passed with caveats": "33",
    "caveat": "33",
}
_VERDICT = re.compile(
    r"^(gate )?(passed with caveats|passed|failed|PASS\*|PASS|FAIL|caveat)(?=[:\s]|$)",
    re.MULTILINE,
)


def paint(text: str) -> str:
    """``text`` with the verdict word that starts a line coloured."""
    return _VERDICT.sub(
        lambda m: f"{m[1] or ''}\x1b[{_COLOURS[m[2]]}m{m[2]}\x1b[0m",
        text,
    )


# What wrapping keeps whole where it can: a command in backticks, a quoted string (a Python
# repr, whose spaces are part of the text it shows) and a short parenthesis.
_WHOLE = re.compile(
    r"`[^`\n]*`"
    r"|(?<![\w'\"])'(?:[^'\\\n]|\\.)*'(?!\w)"
    r"|(?<![\w'\"])\"(?:[^\"\\\n]|\\.)*\"(?!\w)"
    r"|\([^()\n]{1,60}\)"
)


def wrap(line: str, limit: int, hang: int = 4) -> list[str]:
    """``line`` as lines of at most ``limit`` columns, each continuation indented ``hang``
    columns past the line's own indentation (see the module's docstring)."""
    if width(line) <= limit:
        return [line]
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    first = " " * indent
    rest = " " * (indent + hang) if indent + hang <= limit // 2 else first
    if len(first) > limit // 2:
        first = rest = ""
    at = [0]
    for ch in body:  # at[i]: the columns of body[:i]
        at.append(at[-1] + _columns(ch))
    whole = [m.span() for m in _WHOLE.finditer(body)]
    spaces = [i for i, ch in enumerate(body) if ch == " "]
    breaks = [i for i in spaces if not any(a < i < b - 1 for a, b in whole)]
    out: list[str] = []
    start, prefix = 0, first
    while True:
        room = limit - len(prefix)
        if at[len(body)] - at[start] <= room:
            out.append(prefix + body[start:])
            return out
        cut = _last(breaks, start, at, room) or _last(spaces, start, at, room)
        if cut is None:  # one word longer than the line: cut it where the line ends
            cut = start + 1
            while at[cut + 1] - at[start] <= room:
                cut += 1
            # after the word's last _, /, - or . that leaves something on the line
            joints = [i + 1 for i in range(start, cut) if body[i] in "_/-."]
            cut = joints[-1] if joints else cut
        out.append(prefix + body[start:cut].rstrip(" "))
        start, prefix = cut, rest
        while start < len(body) and body[start] == " ":
            start += 1
        if start == len(body):
            return out


def _last(breaks: list[int], start: int, at: list[int], room: int) -> int | None:
    """The last of ``breaks`` after ``start`` that leaves the text before it within ``room``."""
    found = None
    for i in breaks:
        if i <= start:
            continue
        if at[i] - at[start] > room:
            break
        found = i
    return found


# A word of a command as tokcheck quotes it (tokcheck.system.paths.shell_word): bare, '...' or
# $'...', or several of these joined.
_WORDS = re.compile(r"(?:\$'(?:[^'\\]|\\.)*'|'[^']*'|[^\s'])+")
# What ends each line of a command continued on the next, as a POSIX shell reads it.
CONTINUED = " \\"


def command(text: str, indent: int, limit: int) -> list[str]:
    """The shell command ``text`` indented ``indent`` columns, on one line where that fits
    ``limit``, else continued at its arguments' boundaries, each continuation two columns in."""
    first = " " * indent + text
    if width(first) <= limit:
        return [first]
    quoted = _WORDS.findall(text)
    out, line = [], " " * indent + quoted[0]
    for word in quoted[1:]:
        if width(line + " " + word + CONTINUED) <= limit:
            line += " " + word
        else:
            out.append(line + CONTINUED)
            line = " " * (indent + 2) + word
    return [*out, line]


def call(text: str, indent: int, limit: int) -> list[str]:
    """The line of Python ``text`` (``name = f(argument)``) indented ``indent`` columns, on one
    line where that fits ``limit``, else with its argument on a line of its own."""
    first = " " * indent + text
    if width(first) <= limit or not text.endswith(")") or "(" not in text:
        return [first]
    head, _, argument = text[:-1].partition("(")
    return [f"{first[: indent + len(head)]}(", " " * (indent + 4) + argument, " " * indent + ")"]


def fit(text: str, limit: int) -> list[str]:
    """The lines of ``text``, each wrapped to ``limit`` (:func:`wrap`) but for the lines of code
    laid out by :func:`command` and :func:`call`, which must reach a shell or Python as they are:
    those that follow a line ending with a continuation or an opening parenthesis, up to the
    closing one."""
    out: list[str] = []
    shell = python = False
    for line in text.split("\n"):
        code = shell or python
        python = (python and line.strip() != ")") or line.endswith("(")
        shell = line.endswith(CONTINUED)
        out += [line] if code else wrap(line, limit)
    return [inert(line) for line in out]


# Before a line that would read as a workflow command: a character that is neither blank nor
# visible (WORD JOINER), so that the line shows as it is and the runner passes it over.
_INERT = "\u2060"


def inert(line: str) -> str:
    """``line``, where it starts with ``::`` after blanks (which GitHub Actions reads as a
    workflow command: only a value holding a newline, a path say, can make a report's line do
    so), with U+2060 WORD JOINER before it."""
    return _INERT + line if line.lstrip().startswith("::") else line
