"""sentencepiece's precompiled charsmap, read entry by entry and rebuilt as tokenizers normalisers.

sentencepiece normalises by longest match: at each position it takes the longest source sequence
of the charsmap that starts there, writes its replacement, and moves past it; a character no
entry starts with is copied. tokenizers' ``Precompiled`` does something else: per grapheme
cluster, it looks up the cluster (only if shorter than six bytes), takes the *shortest* entry that
is a prefix of it and drops the rest of the cluster, else maps character by character. So
``き`` + U+3099 (six bytes) stays two characters, full-width ``e`` (U+FF45) + U+0301 loses
its accent, and
``e`` + U+0301 + U+0301 becomes ``é``.

:func:`normalizers` rebuilds sentencepiece's behaviour from components tokenizers has:

1. a ``Replace`` whose pattern matches sentencepiece's units, longest source sequence first (a
   trie of the charsmap's multi-character sources), and inserts a separator after each one;
2. ``NFKC``, which the separator (a starter that composes with nothing) confines to one unit at a
   time: a multi-character source becomes its NFKC form, which is what these charsmaps map it
   to, and a single character becomes its NFKC form too;
3. anchored ``Replace`` steps, before ``NFKC``, for the units whose replacement is not their NFKC
   form (the ``nmt_`` rules: controls removed, spaces unified, case folded), and for characters
   the charsmap leaves alone but this tokenizers' newer Unicode tables would change, which are
   hidden behind noncharacters until ``NFKC`` has run;
4. two ``Replace`` steps that remove the separators again, keeping those that were the user's.

Each step is checked against the charsmap itself, entry by entry and for every code point, before
it is used: a charsmap it cannot express is refused with its first counterexample
(:class:`CharsmapError`). This module reads and rebuilds; :mod:`tokcheck.convert.converter` places the
steps among the other normalisers.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tokcheck.convert.patterns import char_class, literal
from tokcheck.errors import TokcheckError

# The separator between units: a starter that composes with nothing and that NFKC leaves alone.
# The first of these that no charsmap entry mentions is used.
_SEPARATORS = ("\u2063", "\u2064", "\u2062", "\u2061")
# Control characters: each is a grapheme cluster of its own, so candidates for Plan.split.
_SPLITS = (*map(chr, range(1, 9)), *map(chr, range(0x0E, 0x20)))
# Unicode's noncharacters: stand-ins that NFKC leaves alone.
NONCHARACTERS = [
    *map(chr, range(0xFDD0, 0xFDF0)),
    *(chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)),
]


# Far beyond sentencepiece's own charsmaps (sources of up to 10 bytes, 225,000 entries).
_MAX_SOURCE_BYTES = 256
_MAX_VISITS = 4_000_000


class CharsmapError(TokcheckError):
    """A charsmap that tokenizers' components cannot express; the message names an entry."""


@functools.lru_cache(maxsize=4)
def entries(blob: bytes) -> Mapping[str, str]:
    """Every (source, replacement) of a precompiled charsmap (read once per charsmap).

    The blob is a little-endian uint32 trie size, a darts-clone double-array trie over the
    sources' UTF-8 bytes, then the NUL-terminated replacements its leaves point into.
    """
    units, strings = _trie(blob)
    found: dict[bytes, bytes] = {}
    # Each unit's label and base say whose child it is: one pass finds every node's children.
    children: dict[int, list[tuple[int, int]]] = {}
    for index, unit in enumerate(units):
        if unit >> 31 == 0 and unit & 0xFF:
            children.setdefault(index ^ unit & 0xFF, []).append((unit & 0xFF, index))
    stack = [(_offset(units[0]), b"")]
    visits = 0
    while stack:
        base, prefix = stack.pop()
        visits += 1
        # Paths share nodes (the trie merges common suffixes), so a damaged trie may loop or
        # hold far more paths than units.
        if len(prefix) >= _MAX_SOURCE_BYTES or visits > _MAX_VISITS:
            raise CharsmapError("the charsmap's trie is damaged: its entries do not end")
        for label, child in children.get(base, ()):
            below, key = child ^ _offset(units[child]), prefix + bytes([label])
            if below >= len(units):
                continue
            if units[child] >> 8 & 1:
                found[key] = _replacement(strings, units[below] & ((1 << 31) - 1))
            stack.append((below, key))
    try:
        return MappingProxyType({k.decode(): v.decode() for k, v in found.items()})
    except UnicodeDecodeError as e:
        raise CharsmapError(f"a charsmap entry is not UTF-8 ({e.reason})") from e


def _trie(blob: bytes) -> tuple[tuple[int, ...], bytes]:
    """The trie's units and the replacements' bytes."""
    if len(blob) < 4:
        raise CharsmapError("the charsmap is shorter than its header")
    (size,) = struct.unpack_from("<I", blob, 0)
    if size % 4 or 4 + size > len(blob) or size == 0:
        raise CharsmapError(f"the charsmap's trie size {size} does not fit its {len(blob)} bytes")
    return struct.unpack_from(f"<{size // 4}I", blob, 4), blob[4 + size :]


def _offset(unit: int) -> int:
    return (unit >> 10) << ((unit & (1 << 9)) >> 6)


def _replacement(strings: bytes, start: int) -> bytes:
    end = strings.find(b"\0", start)
    if start >= len(strings) or end < 0:
        raise CharsmapError("a charsmap entry points past its replacements")
    return strings[start:end]


def apply(table: Mapping[str, str], text: str) -> str:
    """``text`` normalised by the charsmap ``table`` (see :func:`entries`) as sentencepiece
    does it: longest source first, a character no source starts with copied."""
    longest = max(map(len, table), default=0)
    out, i = [], 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            if (replacement := table.get(text[i : i + size])) is not None:
                out.append(replacement)
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def unit_pattern(sources: Iterable[str], symbols: Iterable[str] = ()) -> str:
    """A pattern matching one of sentencepiece's units: the longest of ``symbols`` (user-defined
    symbols, which sentencepiece's normaliser matches first and passes through) that starts
    here, else the longest of ``sources``, else one character; ``\\K`` then puts the (empty)
    match after the unit."""
    end = ""
    root: dict[str, Any] = {}
    for source in sources:
        node = root
        for c in source:
            node = node.setdefault(c, {})
        node[end] = True

    def below(node: dict[str, Any]) -> str:
        kids = [(c, child) for c, child in node.items() if c != end]
        leaves = {c for c, child in kids if child.keys() == {end}}
        branches = [literal(c) + below(child) for c, child in kids if child.keys() != {end}]
        if leaves:
            branches.append(
                literal(next(iter(leaves))) if len(leaves) == 1 else f"[{char_class(leaves)}]"
            )
        return f"(?:{'|'.join(branches)})" + ("?" if end in node else "")

    starts = sorted(
        (c, literal(c) + below(child)) for c, child in root.items() if child.keys() != {end}
    )
    first = sorted({s for s in symbols if s}, key=len, reverse=True)
    branches = [*map(literal, first), *([_dispatch(starts)] if starts else []), r"[\s\S]"]
    return f"(?:{'|'.join(branches)})\\K"


def _dispatch(starts: list[tuple[str, str]]) -> str:
    """An alternation of ``starts`` (first character, branch), as a tree of lookaheads on the
    first character: a regex engine tries alternatives in order, and this tries about log2 of
    them instead of thousands."""
    if len(starts) <= 8:
        return "|".join(branch for _, branch in starts)
    left, right = starts[: len(starts) // 2], starts[len(starts) // 2 :]
    first = char_class({c for c, _ in left})
    return f"(?=[{first}])(?:{_dispatch(left)})|(?:{_dispatch(right)})"


@dataclass(frozen=True)
class Plan:
    """What the steps do for one charsmap, as data: the separator, the multi-character sources
    (sentencepiece's units), and the units or characters whose replacement NFKC does not give."""

    sep: str
    sources: tuple[str, ...]
    # Whole units written out before anything else changes them, by replacement.
    units: dict[str, tuple[str, ...]]
    # Single characters mapped wherever they are (inside units too), by replacement.
    chars: dict[str, tuple[str, ...]]
    # Single characters the charsmap keeps but NFKC would change, and noncharacters no entry
    # mentions, to stand in for them while NFKC runs.
    kept: tuple[str, ...]
    free: tuple[str, ...]
    # What each character is mapped to before NFKC, wherever it is (``chars``, or with ``split``
    # every entry for one character).
    mapped: dict[str, str]
    # A control character put between the characters of every unit: it makes each one a
    # grapheme cluster of its own, which ``Precompiled`` maps correctly, so one ``Precompiled``
    # does all of ``chars``. One the charsmap removes (nmt_ rules) goes with ``Precompiled``;
    # else one the charsmap never mentions is removed after it (``split_kept``), the user's own
    # hidden meanwhile. None: ``chars`` are replaced one by one.
    split: str | None
    split_kept: bool = False


def plan(blob: bytes) -> Plan:
    """The :class:`Plan` for the charsmap ``blob``, checked against every entry and code point:
    raises :class:`CharsmapError` where NFKC and replacements cannot give the charsmap's result."""
    from tokenizers.normalizers import NFKC

    table = entries(blob)
    mentioned = {c for pair in table.items() for text in pair for c in text}
    sep = next((s for s in _SEPARATORS if s not in mentioned), None)
    if sep is None:
        raise CharsmapError("the charsmap mentions every separator tokcheck could use")
    nfkc = _batch(NFKC(), sep)
    singles = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000 and chr(c) != sep]
    differ = [
        (c, table.get(c, c))
        for c, form in zip(singles, nfkc(singles), strict=True)
        if form != table.get(c, c)
    ]
    # Removed characters are units of their own, as a character removed inside a unit is not.
    units = _grouped((want, c) for c, want in differ if c in table and not want)
    chars = _grouped((want, c) for c, want in differ if c in table and want)
    kept = [c for c, _ in differ if c not in table]
    sources = sorted(s for s in table if len(s) > 1)
    inside = {c for s in sources for c in s}
    split = next((c for c in _SPLITS if table.get(c) == "" and c not in inside), None)
    if split is None:
        split = next((c for c in _SPLITS if c not in mentioned), None)
    if chars and split:  # one Precompiled maps every character
        mapped = {c: want for c, want in table.items() if len(c) == 1}
    else:
        mapped = {c: want for want, cs in chars.items() for c in cs}
    premapped = ["".join(mapped.get(c, c) for c in s) for s in sources]
    for source, form in zip(sources, nfkc(premapped), strict=True):
        if form != table[source]:
            units.setdefault(table[source], []).append(source)
    _refuse_unsettled(units, chars, mapped, nfkc, sep)
    return Plan(
        sep,
        tuple(sources),
        {w: tuple(s) for w, s in units.items()},
        {w: tuple(s) for w, s in chars.items()},
        tuple(kept),
        tuple(c for c in NONCHARACTERS if c not in mentioned),
        mapped,
        split if chars else None,
        bool(chars) and split is not None and table.get(split) != "",
    )


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return groups


def _refuse_unsettled(
    units: dict[str, list[str]],
    chars: dict[str, list[str]],
    mapped: dict[str, str],
    nfkc: Callable[[list[str]], list[str]],
    sep: str,
) -> None:
    """Replacements are written before NFKC (and a written unit before the character maps):
    each must come through what follows it unchanged."""
    written = [w for w in [*units, *chars] if w]
    for want, form in zip(written, nfkc(written), strict=True):
        moved = want in units and any(mapped.get(c, c) != c for c in want)
        if form != want or sep in want or moved:
            source = (units.get(want) or chars[want])[0]
            raise CharsmapError(
                f"the charsmap maps {source!r} to {want!r}, which NFKC would change again; "
                "tokenizers has no normaliser that leaves it"
            )


def normalizers(blob: bytes, symbols: Iterable[str] = (), taken: Iterable[str] = ()) -> list[Any]:
    """The steps that normalise like sentencepiece on the charsmap ``blob``, passing the
    user-defined ``symbols`` through as its normaliser does.

    ``taken`` are noncharacters the caller uses for stand-ins of its own. Raises
    :class:`CharsmapError` for a charsmap these steps cannot express.
    """
    from tokenizers import Regex
    from tokenizers import normalizers as n

    how = _plan(blob)
    sep = literal(how.sep)
    symbols = sorted(set(symbols), key=len, reverse=True)
    if bad := [x for x in symbols if how.sep in x or (how.split and how.split in x)]:
        raise CharsmapError(
            f"the user-defined symbol {bad[0]!r} holds a character the charsmap normaliser "
            "uses to keep units apart"
        )
    # Units that what follows would change, so that a stand-in takes their place meanwhile.
    hide = [*how.kept, *(x for x in _changed(how, symbols) if x not in how.kept)]
    if how.split_kept and how.split is not None:
        hide.append(how.split)
    pool = [c for c in how.free if c not in set(taken) and c not in set(symbols)]
    if len(hide) > len(pool):
        raise CharsmapError(
            f"{len(hide)} characters and user-defined symbols need a stand-in while NFKC runs, "
            f"more than the {len(pool)} free noncharacters"
        )
    stand_ins = list(zip(hide, pool, strict=False))

    def whole(sources: Iterable[str], then: str = f"(?={sep})") -> Any:
        """A unit that is one of ``sources`` (a unit starts the text or follows a separator,
        and is followed by one), and ``then``."""
        return Regex(rf"(?:\A|(?<={sep}))(?:{_alternatives(sources)}){then}")

    steps: list[Any] = [n.Replace(Regex(unit_pattern(how.sources, symbols)), how.sep)]
    # A stand-in of the user's own is written twice, so that it stays itself.
    steps += [n.Replace(whole([s]), s + s) for _, s in stand_ins]
    steps += [n.Replace(whole([x]), s) for x, s in stand_ins]
    for want, sources in how.units.items():
        # A removed unit goes with its separator, so that every other unit keeps exactly one.
        steps.append(n.Replace(whole(sources) if want else whole(sources, sep), want))
    if how.split:
        between = rf"(?<=[^{sep}])(?=[^{sep}])"
        steps += [n.Replace(Regex(between), how.split), n.Precompiled(blob)]
        if how.split_kept:
            steps.append(n.Replace(how.split, ""))
    else:
        steps += [n.Replace(Regex(_alternatives(cs)), want) for want, cs in how.chars.items()]
    steps.append(n.NFKC())
    steps += [n.Replace(whole([s]), x) for x, s in stand_ins]
    steps += [n.Replace(whole([s + s]), s) for _, s in stand_ins]
    # Each unit is followed by one separator, and a separator of the user's is a unit: drop the
    # first separator of every run that follows other text, then every second one.
    steps.append(n.Replace(Regex(f"(?<=[^{sep}]){sep}"), ""))
    steps.append(n.Replace(how.sep + how.sep, how.sep))
    return steps


def _changed(how: Plan, symbols: list[str]) -> list[str]:
    """The ``symbols`` that the steps after the units are found would change: a unit written
    out, or one the character maps and NFKC do not leave as it is."""
    from tokenizers.normalizers import NFKC

    written = {source for sources in how.units.values() for source in sources}
    nfkc = NFKC()
    return [
        x
        for x in symbols
        if x in written or nfkc.normalize_str("".join(how.mapped.get(c, c) for c in x)) != x
    ]


_plan = functools.lru_cache(maxsize=4)(plan)


def _alternatives(sources: Iterable[str]) -> str:
    """A pattern for any of ``sources``, longest first, the single characters as one class."""
    sources = set(sources)
    one = {s for s in sources if len(s) == 1}
    longer = sorted((s for s in sources if len(s) > 1), key=len, reverse=True)
    return "|".join([*map(literal, longer), *([f"[{char_class(one)}]"] if one else [])])


def _batch(normalizer: Any, sep: str) -> Callable[[list[str]], list[str]]:
    """``normalizer`` applied to each of many strings in one call, ``sep`` keeping them apart
    (it is a starter that composes with nothing, so NFKC cannot reach across it)."""

    def apply(texts: list[str]) -> list[str]:
        if not texts:
            return []
        out: list[str] = normalizer.normalize_str(sep.join(texts)).split(sep)
        if len(out) != len(texts):
            raise CharsmapError("NFKC changed the separator tokcheck puts between units")
        return out

    return apply
