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
    """Write ``data`` as strict RFC 8259 JSON, which jq and JSON.parse always accept.

    What JSON cannot hold is written as documented text instead: a NaN or infinite float as the
    string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``; a lone surrogate in a string (which
    UTF-8 cannot encode) as the six characters ``\\udXXX``; ``bytes`` as text with each byte that
    is not valid UTF-8 shown as ``\\xNN``, as :func:`tokcheck.proto.proto_text` shows piece names.
    """
    stream = stream or sys.stdout

    def dumps(value: Any) -> str:
        return json.dumps(
            value, ensure_ascii=False, indent=2, allow_nan=False, default=_json_default
        )

    def strict(value: Any) -> Any:
        if isinstance(value, str):
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        if isinstance(value, float) and (value != value or abs(value) == float("inf")):
            return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {key(k): strict(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [strict(v) for v in value]
        return strict(_json_default(value))

    def key(value: Any) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        text = strict(value)
        return text if isinstance(text, str | float) else str(text)

    try:
        # The usual case costs one pass; only output that needs it is rewritten.
        text = dumps(data)
        text.encode("utf-8")
    # A non-finite float, UnicodeEncodeError on a lone surrogate, or a key json cannot write.
    except (ValueError, TypeError):
        text = dumps(strict(data))
    stream.write(text)
    stream.write("\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, bytes | bytearray):
        from tokcheck.proto import proto_text

        return proto_text(bytes(value))
    return str(value)
