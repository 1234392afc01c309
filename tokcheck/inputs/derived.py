"""Inputs derived from the model's own components: where an exported tokenizer can differ.

Corpora and random strings rarely hold the sequences a conversion gets wrong (decomposed kana,
stacked combining marks, a user-defined name beside a byte piece's name, long whitespace runs).
These lines are built from what the model itself holds, so that export's word "exact" covers
them: the charsmap's every multi-character source, alone and inside text; combining marks after
the bases it maps and after bases it does not; every user-defined and special name at the start,
after spaces, beside each other, beside byte-piece names and inside words; whitespace runs up to
past the longest whitespace piece; runs of every one-character piece (where ties live); digit
runs; characters without a piece (unknown or bytes) beside characters with one; the text of
every BPE piece the merges never form, beside user-defined symbols; two BPE merges of equal score
that share a symbol, side by side.

:func:`model_texts` is the whole set, deterministic for a model; nothing here judges a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from tokcheck.convert import bpe, charsmap
from tokcheck.errors import TokcheckError
from tokcheck.model.spm import BPE_MODEL, BYTE, MATCHABLE, NORMAL, SPACE_SYMBOL, UNUSED

if TYPE_CHECKING:
    from tokcheck.model.proto import SentencePieceModel

# The origin of a derived line in reports ("derived[12]"). Derived lines are judged on ids and
# decode, not streamed: they test the conversion, and streaming them would spend the streaming
# budget the other lines are there for (see tokcheck.judge.stream).
ORIGIN = "derived"
# How many items share one line: long enough to keep the line count small, short enough that
# the shortest counterexample shown stays readable.
_PER_LINE = 48
# Combining marks common in real text: Latin accents, dot below, the kana voicing marks (full
# and half width), the Hebrew and Arabic vowel points most used.
_MARKS = "\u0300\u0301\u0302\u0303\u0308\u030a\u030c\u0323\u0327\u0331\u3099\u309a\uff9e\uff9f\u05b7\u064e"
# Bases the charsmap maps or does not: ASCII, full width, kana (full and half width), Hangul jamo.
_BASES = "aeEnoSuz\uff41\uff25\u304b\u30cf\u3046\uff76\uff8a\u1100\u3131"
# Characters the charsmap normaliser itself uses (separators, noncharacters, controls): text
# that holds them must come through unchanged all the same.
_INTERNAL = "\u2061\u2062\u2063\u2064\ufdd0\ufdd1\ufdef\U0010ffff\x01\x08\x0e\x1f"
# How many equal-score merge pairs (see equal_score_texts) are written out, at most.
_EQUAL_SCORE_CAP = 4096
_WHITESPACE = (" ", "\t", "\n", "\u3000", "\r\n")


def model_texts(model: SentencePieceModel) -> list[str]:
    """Every line derived from ``model`` (see the module docstring), in a fixed order."""
    return [
        *charsmap_texts(model),
        *mark_texts(model),
        *name_texts(model),
        *whitespace_texts(model),
        *run_texts(model),
        *digit_texts(model),
        *uncovered_texts(model),
        *unformed_texts(model),
        *equal_score_texts(model),
    ]


def charsmap_texts(model: SentencePieceModel) -> list[str]:
    """Every multi-character source of the charsmap, alone at a line's start, between spaces,
    after a letter and before a combining mark; empty without a charsmap (or one that cannot
    be read, which export refuses on its own)."""
    blob = model.proto.normalizer_spec.precompiled_charsmap
    if not blob:
        return []
    try:
        table = charsmap.entries(blob)
    except TokcheckError:
        return []
    sources = sorted(s for s in table if len(s) > 1)
    texts = []
    for chunk in _chunks(sources):
        texts.append(" ".join(chunk))
        texts.append("".join(f"x{s}\u0301" for s in chunk))
    return texts


def mark_texts(model: SentencePieceModel) -> list[str]:
    """Bases followed by one to four combining marks (each mark, then every pair, then runs),
    and the characters the charsmap normaliser uses internally around them."""
    marks = _MARKS
    blob = model.proto.normalizer_spec.precompiled_charsmap
    bases = _BASES
    if blob:
        try:
            table = charsmap.entries(blob)
        except TokcheckError:
            table = {}
        # The first characters of the charsmap's sources are bases it maps with a mark.
        firsts = sorted({s[0] for s in table if len(s) > 1})
        bases += "".join(firsts[:: max(1, len(firsts) // 64)])
    items = [b + m for b in bases for m in marks]
    items += [b + m + n for b in bases[:8] for m in marks for n in marks]
    items += [b + marks[i % len(marks)] * k for i, b in enumerate(bases) for k in (3, 4)]
    items += [c + b + m + c for c in _INTERNAL for b in bases[:4] for m in marks[:4]]
    items += [m + b for m in marks for b in bases[:4]]  # marks with nothing to attach to
    return [" ".join(chunk) for chunk in _chunks(items)] + ["".join(_INTERNAL), _INTERNAL[::-1]]


def name_texts(model: SentencePieceModel) -> list[str]:
    """Every user-defined and special name (control, unknown, byte pieces' names) at a line's
    start, after one and two spaces, beside each other and beside byte-piece names, inside a
    word and at the end."""
    pieces = model.proto.pieces
    names = [model.pieces[i] for i, p in enumerate(pieces) if p.type not in (NORMAL,)]
    names = [n for n in names if n]
    if not names:
        return []
    byte_names = [model.pieces[i] for i, p in enumerate(pieces) if p.type == BYTE]
    neighbours = byte_names[:: max(1, len(byte_names) // 8)] or names[:8]
    texts = []
    for k, name in enumerate(names):
        other = names[(k + 1) % len(names)]
        byte = neighbours[k % len(neighbours)]
        texts += [
            name,
            f" {name}",
            f"  {name}x",
            f"a{name}b {name}{other}{name}",
            f"{byte}{name}{byte} x{name}\n{name}",
            f"wo{name}rd\t{name} ",
        ]
    return [" ".join(chunk) for chunk in _chunks(texts, 8)] + texts[: 6 * 64]


def whitespace_texts(model: SentencePieceModel) -> list[str]:
    """Runs of spaces (and of tabs, newlines, mixed) from one to two past the longest piece made
    of whitespace alone, at a line's start, middle and end."""
    spaces = {" ", SPACE_SYMBOL, "\t", "\n", "\r"}
    longest = max(
        (
            len(model.pieces[i])
            for i, p in enumerate(model.proto.pieces)
            if p.type in MATCHABLE and model.pieces[i] and set(model.pieces[i]) <= spaces
        ),
        default=1,
    )
    texts = []
    for k in range(1, min(longest, 64) + 3):
        for ws in (" ", "\t", "\n", " \t", "\n "):
            run = (ws * k)[: max(k, 1) * len(ws)]
            texts += [run + "x", f"a{run}b", "x" + run, f"{run}{run}x{run}"]
    return [" ".join(chunk) for chunk in _chunks(texts, 4)] + texts


def run_texts(model: SentencePieceModel) -> list[str]:
    """Runs of two to seven of every one-character piece, alone and after a space: where two
    segmentations can score the same (ties)."""
    singles = sorted(
        {
            model.pieces[i]
            for i, p in enumerate(model.proto.pieces)
            if p.type == NORMAL and len(model.pieces[i]) == 1
        }
        - {SPACE_SYMBOL}
    )
    items = [c * k for c in singles for k in (2, 3, 5, 7)]
    return [" ".join(chunk) for chunk in _chunks(items)]


def digit_texts(model: SentencePieceModel) -> list[str]:
    """Digit runs of 1 to 16 digits, alone, in words, with separators (split_digits or not)."""
    del model  # the same for every model: digits matter under split_digits and without it
    texts = []
    for k in range(1, 17):
        digits = "".join(str((i * 7 + k) % 10) for i in range(k))
        texts += [
            digits,
            f"a{digits}b",
            f" {digits} ",
            f"{digits}.{digits[::-1]}",
            f"x{digits}\uff11",
        ]
    return [" ".join(texts[i : i + 10]) for i in range(0, len(texts), 10)]


def uncovered_texts(model: SentencePieceModel) -> list[str]:
    """Characters no piece contains (unknown, or bytes with byte fallback), one and several,
    beside characters with a piece, beside multi-byte characters and beside byte-piece names."""
    covered = {
        c for i, p in enumerate(model.proto.pieces) if p.type in MATCHABLE for c in model.pieces[i]
    }
    candidates = (
        "\u0f3a\u10a0\u16a0\u2d30\ua4d0\U0001d11e\U00010348\U0001f70f\u2603\u0e01\u0531\u1200"
    )
    uncovered = [c for c in candidates if c not in covered][:6]
    if not uncovered:
        return []
    known = sorted(covered - {SPACE_SYMBOL})[:: max(1, len(covered) // 16)][:16] or ["a"]
    bytes_ = [model.pieces[i] for i, p in enumerate(model.proto.pieces) if p.type == BYTE][:4]
    texts = []
    for u in uncovered:
        for k in known:
            texts += [u + k, k + u, u * 2 + k, k + u + k, f"{u} {k}{u}"]
        texts += [u + b + u for b in bytes_]
    return [" ".join(chunk) for chunk in _chunks(texts, 16)] + [
        "".join(uncovered),
        uncovered[0] * 9,
    ]


def unformed_texts(model: SentencePieceModel) -> list[str]:
    """For a BPE model: the text of every unused piece (sentencepiece resegments one its merges
    form; tokenizers cannot), alone, after a letter and between spaces; with user-defined
    symbols, the text of every piece its merges never form (:func:`bpe.unreachable`), alone and
    as a whole pre-token between symbols, where a tokenizers model that emits whole pre-tokens
    would take it for the piece. Empty for other models."""
    proto = model.runtime_proto
    if proto.trainer_spec.model_type != BPE_MODEL:
        return []
    texts = []
    unused = [p.piece for p in proto.pieces if p.type == UNUSED and len(p.piece) > 1]
    if unused:
        normal = [p.piece for p in proto.pieces if p.type == NORMAL]
        names = set(normal)
        for u in unused:
            # The pieces merged from it: where sentencepiece goes through it and tokenizers,
            # with no merge into it, cannot.
            merged = [n for n in normal if n != u and _merged_from(n, u, names)][:16]
            for text in (t.replace(SPACE_SYMBOL, " ") for t in (u, *merged)):
                texts += [text, f"a{text}", f"{text} {text}"]
    symbols = bpe.user_symbols(proto)
    if not symbols:
        return texts
    for k, i in enumerate(bpe.unreachable(proto)):
        text = proto.pieces[i].piece.replace(SPACE_SYMBOL, " ")
        symbol = symbols[k % len(symbols)]
        texts += [text, f"{symbol}{text}", f"{symbol}{text}{symbol}", f"x{symbol}{text}{text}"]
    return texts


def _merged_from(piece: str, part: str, names: set[str]) -> bool:
    """Whether ``piece`` is ``part`` and another piece side by side."""
    if piece.startswith(part) and piece[len(part) :] in names:
        return True
    return piece.endswith(part) and piece[: -len(part)] in names


def equal_score_texts(model: SentencePieceModel) -> list[str]:
    """For a BPE model, ``l + m + r`` for every two merges ``(l, m)`` and ``(m, r)`` whose pieces
    score the same, alone and between spaces (at most :data:`_EQUAL_SCORE_CAP` of them).

    sentencepiece merges the leftmost of two equal-score pairs, tokenizers the one ranked first,
    and a rank cannot depend on position: where the right merge is ranked first, the two differ.
    Trained models score every piece differently, so this is empty for them; vocabularies
    extended by hand (pieces appended at one score) are where it is not.
    """
    proto = model.runtime_proto
    if proto.trainer_spec.model_type != BPE_MODEL:
        return []
    groups: dict[float, list[tuple[int, str, str]]] = {}
    for i, left, right in bpe.merge_pairs(proto):
        groups.setdefault(proto.pieces[i].score, []).append((i, left, right))
    items: list[str] = []
    # In the order of the pieces: the first piece of each score, then its merges by id.
    for group in sorted(groups.values()):
        merges = [(left, right) for _, left, right in group]
        by_left: dict[str, list[str]] = {}
        for left, right in merges:
            by_left.setdefault(left, []).append(right)
        for left, middle in merges:
            # Two merges into one piece share its rank too: both take the leftmost.
            items += [
                left + middle + r for r in by_left.get(middle, ()) if middle + r != left + middle
            ]
            if len(items) >= _EQUAL_SCORE_CAP:
                break
    items = [item.replace(SPACE_SYMBOL, " ") for item in items[:_EQUAL_SCORE_CAP]]
    return items[:256] + [" ".join(chunk) for chunk in _chunks(items, 16)]


def _chunks(items: Iterable[str], size: int = _PER_LINE) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
