"""Counterexamples as a person at a terminal reads them.

A line and its decodes are shown as text, not as Python reprs: a space shows as ``␣`` where
it matters (at either end, or next to other whitespace), a tab as ``⇥``, a newline as ``↵``,
another C0 control character as its control picture (``␀``, ``␍``…), and what would hide or
reorder text (C1 controls, zero-width and bidi marks, other spaces such as U+3000, unassigned
and private-use code points, a lone surrogate) as an escape (``\\x85``, ``\\u3000``). Pieces
are joined with `` | ``, every space in them visible, and the first piece where the two sides
part is marked ``»…«``. A tie is said in words: both segmentations' scores and which stretch
each side picks. ``--json`` keeps the raw strings.

Lines wrap to the terminal as every report's text does (:mod:`tokcheck.report.terminal`,
where wide characters count two columns).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokcheck.judge.tally import Counterexample, Tally

# Characters of a line shown in a counterexample, from the start or the first difference.
TEXT = 80
# Where a decode's first difference lies past this, the decodes are shown from a little before.
_CONTEXT = 20
_PICTURES = {" ": "␣", "\t": "⇥", "\n": "↵", "\x7f": "␡"}
# Categories shown as escapes: controls, format marks (zero-width, bidi), surrogates, private
# use, unassigned, and separators other than the plain space.
_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
# The symbols this module shows whitespace as: escaped where the text itself holds them.
_SYMBOLS = frozenset({*_PICTURES.values(), *map(chr, range(0x2400, 0x2427))})
_MARK = ("»", "«")


def visible(text: str, *, spaces: bool = False) -> str:
    """``text`` with its whitespace and invisible characters shown (see the module's
    docstring); with ``spaces``, every space as ``␣``, else only where it matters."""
    if text.isascii() and text.isprintable() and "  " not in text and text.strip(" ") == text:
        return text.replace(" ", "␣") if spaces else text
    out = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch == " " and not spaces and 0 < i < last:
            before, after = text[i - 1], text[i + 1]
            if not before.isspace() and not after.isspace():
                out.append(ch)
                continue
        out.append(_char(ch, first=i == 0))
    return "".join(out)


def _char(ch: str, *, first: bool = False) -> str:
    if ch in _PICTURES:
        return _PICTURES[ch]
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)
    category = unicodedata.category(ch)
    # A combining mark first would combine with what is printed before it.
    if category in _ESCAPED or ch in _SYMBOLS or (first and category.startswith("M")):
        return ch.encode("unicode_escape").decode("ascii")  # \x85, \u3000, \U000e0001
    return ch


def shown_text(text: str, start: int = 0) -> str:
    """``text`` made visible from ``start``, at most :data:`TEXT` characters of it, an
    ellipsis where it is cut; ``(empty)`` for no text."""
    if not text:
        return "(empty)"
    part = visible(text[start : start + TEXT])
    head = "…" if start else ""
    tail = f"… ({len(text)} characters)" if len(text) > start + TEXT else ""
    return head + part + tail


def pieces(items: Sequence[str], mark: int | None = None, *, clip: int = 0) -> str:
    """Pieces joined with `` | ``, every space shown, the one at ``mark`` marked ``»…«``;
    with ``clip``, each cut to that many characters."""
    if not items:
        return "(none)"
    shown = [
        visible(p[:clip] if clip else p, spaces=True) + ("…" if clip and len(p) > clip else "")
        or "(empty)"
        for p in items
    ]
    if mark is not None and 0 <= mark < len(shown):
        shown[mark] = f"{_MARK[0]}{shown[mark]}{_MARK[1]}"
    return " | ".join(shown)


def counterexample(example: Counterexample, name: str) -> list[str]:
    """The line, its kinds and where the ids part, a tie in words, both sides' pieces and ids
    from just before the first divergence, the decodes where they differ, and the stream."""
    e = example
    same = e.reference_ids == e.candidate_ids
    if same:
        where = "the same ids; the decoded text differs"
    else:
        where = f"first difference at token {e.first_divergence}"
        if e.offset:
            where += f", shown from token {e.offset}"
    pad = max(len("sentencepiece:"), len(name) + 1)
    at = None if same else e.first_divergence - e.offset
    cut = "… " if e.offset else ""
    out = [
        f"  {e.origin}: {shown_text(e.text)}",
        f"    {', '.join(e.kinds)} ({where})",
        *tie(e, name),
        f"    {'sentencepiece:':{pad}} {cut}{pieces(e.reference_pieces, at)}"
        + _ids(e.reference_ids),
        f"    {name + ':':{pad}} {cut}{pieces(e.candidate_pieces, at)}" + _ids(e.candidate_ids),
    ]
    if e.reference_decoded != e.candidate_decoded:
        out += decoded(e.reference_decoded, e.candidate_decoded, name)
    if e.stream is not None:
        s = e.stream
        chunks = pieces(s.chunks[:8], clip=_CONTEXT)
        more = f" | … (+{len(s.chunks) - 8})" if len(s.chunks) > 8 else ""
        out.append(
            f"    streamed ({s.algorithm}): {s.reason}; chunks: {chunks}{more}; "
            f"joined: {shown_text(''.join(s.chunks))}"
        )
    return out


def _ids(ids: Sequence[int]) -> str:
    return f"  (ids {' '.join(map(str, ids))})" if ids else ""


def decoded(reference: str, candidate: str, name: str) -> list[str]:
    """Both decodes, from a little before their first difference when it lies far in."""
    common = next(
        (i for i, (a, b) in enumerate(zip(reference, candidate, strict=False)) if a != b),
        min(len(reference), len(candidate)),
    )
    start = common - _CONTEXT if common > TEXT - _CONTEXT else 0
    label = f"decoded by {name}:"
    pad = max(len(label), len("decoded by sentencepiece:"))
    return [
        f"    {'decoded by sentencepiece:':{pad}} {shown_text(reference, start)}",
        f"    {label:{pad}} {shown_text(candidate, start)}",
    ]


def tie(example: Counterexample, name: str) -> list[str]:
    """A tie in words: what both segmentations score to sentencepiece, and the stretch where
    they part on each side; nothing for a line that is no tie."""
    if "tie" not in example.kinds:
        return []
    at = example.first_divergence - example.offset
    ours, theirs = stretch(example.reference_pieces, example.candidate_pieces, at)
    picks = f"sentencepiece picks {ours} where {name} picks {theirs}"
    if example.scores is None:
        return [f"    tie: the same text in other pieces; {picks}"]
    a, b = example.scores
    if a == b:
        return [f"    tie: both segmentations score {a:.2f}; {picks}"]
    left, right = _apart(a, b)
    return [
        f"    tie: the segmentations score {left} and {right}, closer than sentencepiece's "
        f"float32 sum can tell apart there; {picks}"
    ]


def _apart(a: float, b: float) -> tuple[str, str]:
    """Two scores with the fewest decimals (2 to 8) that tell them apart."""
    for decimals in range(2, 9):
        left, right = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
        if left != right:
            return left, right
    return f"{a!r}", f"{b!r}"


def stretch(reference: Sequence[str], candidate: Sequence[str], at: int) -> tuple[str, str]:
    """The pieces of each side from ``at`` to where both have spelled the same text again
    (an ellipsis where the shown pieces end first)."""
    i = j = at
    ri = cj = 0
    while True:
        if ri <= cj and i < len(reference):
            ri += len(reference[i])
            i += 1
        elif j < len(candidate):
            cj += len(candidate[j])
            j += 1
        else:
            break
        if ri == cj:
            break
    end = "" if ri == cj else " | …"
    return pieces(reference[at:i]) + end, pieces(candidate[at:j]) + end


def counterexamples(tally: Tally) -> list[str]:
    """A tally's counterexamples, then its ties: the K shortest of each, and the shortest of
    every other source of input that has one (see :func:`tokcheck.judge.tally.shown`)."""
    from tokcheck.judge.tally import shown

    out: list[str] = []
    for label, examples in (("counterexample", tally.counterexamples), ("tie", tally.ties)):
        if not examples:
            continue
        k = tally.show or len(examples)
        chosen = shown(examples, k)
        out.append(heading(tally.name, label, len(examples), min(k, len(examples)), len(chosen)))
        for e in chosen:
            out += counterexample(e, tally.name)
    return out


def heading(name: str, label: str, kept: int, shortest: int, chosen: int) -> str:
    """``default: the 5 shortest counterexamples, and the shortest of 2 more sources``, with
    how many are kept where more are kept than shown."""
    said = f"the shortest {label}" if shortest == 1 else f"the {shortest} shortest {label}s"
    extra = chosen - shortest
    if extra:
        said += f", and the shortest of {extra} more source{'s' if extra > 1 else ''}"
    if kept > chosen:
        said += f" ({kept} kept, all in --json)"
    return f"{name}: {said}"
