"""Exhaustive inputs for ``compare --exhaustive``, as llama.cpp's tokenizer tests have them and more.

Three generators of judged lines ``(text, origin)``, each an iterator so that memory stays flat
however many lines they yield:

- ``codepoint[U+XXXX]`` and ``spaced[U+XXXX]``: every code point below U+30000 that Python's
  Unicode database assigns, except surrogates and private use, alone and between spaces;
- ``piece[ID]``: every piece of the vocabulary but the control pieces, decoded by
  sentencepiece and that text encoded again;
- ``special[NAME][K]``: every control, user-defined and unknown piece's name, and every special
  token the Hugging Face files name, in whitespace and text variants (K numbers them).

The judge compares each candidate's encode and decode of these lines with sentencepiece's, as
for any line. How many lines and bytes they make is known before they run (:func:`size`), which
sizes the progress bar. This module generates text; it judges nothing.
"""

from __future__ import annotations

import itertools
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tokcheck.model.hftokens import special_contents
from tokcheck.model.spm import CONTROL

if TYPE_CHECKING:
    from tokcheck.model.proto import SentencePieceModel
    from tokcheck.model.resolve import ResolvedModel

Line = tuple[str, str]

# Code points from U+0000 up to this one, excluded: the BMP, the SMP and the SIP (CJK Ext. B-F).
CODEPOINT_LIMIT = 0x30000
# Not characters of text: unassigned, surrogates (not encodable as UTF-8), private use.
_EXCLUDED_CATEGORIES = frozenset({"Cn", "Cs", "Co"})
# Where a special token's name is put; "X" stands for the name.
VARIANTS = (
    "X",
    " X",
    "X ",
    " X ",
    "  X  ",
    "\nX\n",
    "\tX\t",
    "\u3000X\u3000",
    "\r\nX\r\n",
    "X\tX",
    "XX",
    "X X",
    "X\nX",
    "aXa",
    "a X a",
    "吾輩X猫",
    "吾輩 X 猫。",
    "XX<0x41>",
)
_DECODE_BATCH = 2000


def codepoints() -> Iterator[str]:
    """Every code point below :data:`CODEPOINT_LIMIT` that is assigned, not a surrogate and
    not private use, by the running Python's Unicode database (``unicodedata.unidata_version``)."""
    category = unicodedata.category
    for value in range(CODEPOINT_LIMIT):
        char = chr(value)
        if category(char) not in _EXCLUDED_CATEGORIES:
            yield char


def codepoint_lines() -> Iterator[Line]:
    """Each code point of :func:`codepoints` alone, then between spaces."""
    for char in codepoints():
        label = f"U+{ord(char):04X}]"
        yield char, "codepoint[" + label
        yield f" {char} ", "spaced[" + label


def piece_lines(model: SentencePieceModel) -> Iterator[Line]:
    """Each piece that is not a control piece, as sentencepiece decodes it alone; control pieces
    decode to nothing (their names are among :func:`special_lines`)."""
    sp = model.processor
    ids = (i for i, p in enumerate(model.proto.pieces) if p.type != CONTROL)
    while chunk := list(itertools.islice(ids, _DECODE_BATCH)):
        texts: list[str] = sp.decode([[i] for i in chunk])
        yield from ((text, f"piece[{i}]") for i, text in zip(chunk, texts, strict=True))


def special_names(model: SentencePieceModel, resolved: ResolvedModel | None = None) -> list[str]:
    """The names a user could type that are special somewhere: the model's control,
    user-defined and unknown pieces, then the Hugging Face files' special tokens; each once."""
    names = list(model.special_names)
    if resolved is not None:
        for config in (resolved.tokenizer_config, resolved.special_tokens_map):
            names += special_contents(config or {})
    return [name for name in dict.fromkeys(names) if name]


def special_lines(names: Iterable[str]) -> Iterator[Line]:
    """Each name in every one of :data:`VARIANTS`."""
    for name in names:
        label = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
        for k, variant in enumerate(VARIANTS):
            yield variant.replace("X", name), f"special[{label}][{k}]"


def exhaustive_lines(
    model: SentencePieceModel, resolved: ResolvedModel | None = None
) -> Iterator[Line]:
    """Every line of the three generators, in turn."""
    yield from codepoint_lines()
    yield from piece_lines(model)
    yield from special_lines(special_names(model, resolved))


def size(model: SentencePieceModel, resolved: ResolvedModel | None = None) -> dict[str, Any]:
    """How many lines each generator yields and how many bytes they make in all (UTF-8, plus
    one per line, as compare counts them), by running them once; their memory stays flat."""
    counts = {
        "codepoints": sum(1 for _ in codepoints()),
        "pieces": sum(1 for p in model.proto.pieces if p.type != CONTROL),
        "special_names": len(special_names(model, resolved)),
    }
    total = sum(
        len(t.encode("utf-8", "surrogatepass")) + 1 for t, _ in exhaustive_lines(model, resolved)
    )
    return {
        **counts,
        "lines": 2 * counts["codepoints"]
        + counts["pieces"]
        + counts["special_names"] * len(VARIANTS),
        "bytes": total,
        "unicode": unicodedata.unidata_version,
        "python": ".".join(map(str, sys.version_info[:3])),
    }
