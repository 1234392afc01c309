"""Where in a JSON file a key is: the 1-based line a finding points an annotation at.

:func:`key_lines` reads a JSON text once and maps the path of every key of the top-level
object, and of each member or element directly under one (``("bos_token",)``,
``("additional_special_tokens", 0)``, ``("added_tokens_decoder", "5")``), to the line it starts
on. A key written twice counts where it is written last, as Python's json module keeps the last
value; a key nested deeper is never mistaken for the top-level one. :class:`Locator` answers for
files, reading each at most once: the line of a key, 1 for a file that is not valid JSON (or
whose text cannot be decoded), and None for a key the file does not hold or a file that cannot
be read. A minified file is one line, so every key in it is on line 1.

This module reads text only; :mod:`tokcheck.checks.rules` says which key each check is about.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

Key = str | int
# The tokens of a JSON text that decide its structure: strings, punctuation, and bare scalars
# (numbers, true, false, null), which start an array element as a string or a bracket does.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s"{}\[\],:]+', re.DOTALL)
_BREAK = re.compile(r"\r\n|\r|\n")
# Paths as deep as this are recorded: a top-level key, and what lies directly under it.
_DEPTH = 2


@dataclass
class _Frame:
    """An open object or array: the key or index being read, and whether a key comes next."""

    array: bool
    current: Key = 0
    expect_key: bool = True
    started: bool = False


def key_lines(text: str) -> dict[tuple[Key, ...], int]:
    """The line of every key path up to two deep in ``text``, which must be valid JSON."""
    scan = _Scan([m.end() for m in _BREAK.finditer(text)])
    for match in _TOKEN.finditer(text):
        scan.feed(match.group(), match.start())
    return scan.lines


@dataclass
class _Scan:
    """The open containers of a JSON text read token by token, and the lines found so far."""

    breaks: list[int]
    lines: dict[tuple[Key, ...], int] = field(default_factory=dict)
    stack: list[_Frame] = field(default_factory=list)

    def feed(self, token: str, position: int) -> None:
        top = self.stack[-1] if self.stack else None
        if token in ("}", "]"):
            self.stack.pop()
        elif top is None:
            self._value(token)
        elif token == ",":
            top.expect_key = not top.array
            if top.array:
                top.current, top.started = int(top.current) + 1, False
        elif token == ":":
            top.expect_key = False
        elif not top.array and top.expect_key:
            top.current = json.loads(token)
            self._record(top.current, position)
        else:
            if top.array and not top.started:
                top.started = True
                self._record(top.current, position)
            self._value(token)

    def _value(self, token: str) -> None:
        if token in ("{", "["):
            self.stack.append(_Frame(array=token == "["))

    def _record(self, key: Key, position: int) -> None:
        if len(self.stack) <= _DEPTH:
            path = (*(f.current for f in self.stack[:-1]), key)
            self.lines[path] = bisect.bisect_right(self.breaks, position) + 1


@dataclass
class Locator:
    """The lines of keys in JSON files, each file read at most once."""

    _read: dict[Path, dict[tuple[Key, ...], int] | None] = field(default_factory=dict)

    def line(self, path: Path, *keys: Key) -> int | None:
        """The line of ``keys`` (a top-level key, then optionally a member or index under it)
        in ``path``; 1 when the file is not valid JSON; None when the key is not in it or the
        file cannot be read."""
        if path not in self._read:
            self._read[path] = _scan(path)
        lines = self._read[path]
        if lines is None:
            return 1
        return lines.get(keys)


def _scan(path: Path) -> dict[tuple[Key, ...], int] | None:
    """The key lines of ``path``; None when it is not valid JSON; empty when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    except OSError:
        return {}
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return None
    try:
        return key_lines(text)
    except (ValueError, RecursionError, IndexError):  # text json reads but this scan does not
        return None
