"""Plain-text tables for people, JSON for programs.

Tables are drawn here rather than with rich so that ``tokcheck inspect`` and ``check`` stay
within a few milliseconds of a bare ``import sentencepiece``; widths account for East Asian
wide characters so Japanese pieces line up.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO


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
    stream = stream or sys.stdout
    json.dump(data, stream, ensure_ascii=False, indent=2, default=_json_default)
    stream.write("\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)
