"""Regular expressions for ``tokenizers``' ``Regex``, written out of literal text."""

from __future__ import annotations


def literal(text: str) -> str:
    """``text`` as a pattern that matches it literally."""
    return "".join(f"\\x{{{ord(c):X}}}" for c in text)


def char_class(chars: set[str]) -> str:
    """A character class body for ``chars``, as code point ranges."""
    points = sorted(ord(c) for c in chars)
    parts: list[str] = []
    start = prev = points[0] if points else 0
    for point in [*points[1:], -1]:
        if point == prev + 1:
            prev = point
            continue
        parts.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        start = prev = point
    return "".join(parts) if points else ""
