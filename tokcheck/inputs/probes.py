"""Inputs for differential testing: built-in probes and generated strings.

The built-in probes cover what the rinna model cards document (whitespace runs, scripts missing
from the vocab, the ``<NL>`` chat format) plus the usual tokenizer traps.
Corpora are read by :mod:`tokcheck.inputs.corpus`; its names stay importable from here.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tokcheck.model.spm import MATCHABLE, NORMAL, SPACE_SYMBOL, USER_DEFINED

if TYPE_CHECKING:
    from tokcheck.model.proto import SentencePieceModel

BUILTIN_PROBES: tuple[str, ...] = (
    # The model cards' own examples.
    "  吾輩は  猫である   ",
    "გამარჯობა",
    "吾輩は猫である。名前はまだ無い。",
    "ユーザー: 日本のおすすめの観光地を教えてください。<NL>システム: どの地域の観光地が知りたいですか?<NL>ユーザー: 渋谷の観光地を教えてください。<NL>システム: ",
    "ユーザー: 日本のおすすめの観光地を教えてください。\nシステム: どの地域の観光地が知りたいですか?\nシステム: ",
    "<NL>",
    # Leading, trailing and repeated spaces.
    " leading space",
    "trailing space ",
    "a  b   c    d",
    "   ",
    " ",
    "",
    # Tabs and newlines.
    "tab\tseparated\tvalues",
    "line one\nline two\n\nline four",
    "\t\n \t",
    "\r\n windows line end",
    # Scripts likely missing from a Japanese/English vocab.
    "Привет, мир",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "안녕하세요 세계",
    "Γειά σου Κόσμε",
    "שלום עולם",
    # Emoji, including sequences joined by ZWJ and skin-tone modifiers.
    "猫😺と犬🐶",
    "👩‍👩‍👧‍👦 family",
    "👍🏽 ok",
    # CJK Extension B and rare kanji.
    "𠮷野家の𩸽",
    "𪚲𠀋",
    # Half-width katakana and full-width forms.
    "ｶﾀｶﾅ ﾃﾞｽ",
    "ＡＢＣ１２３！？",
    "（全角括弧）　全角スペース",
    # Control and zero-width characters.
    "zero\u200bwidth\u200cjoiner\u200d",
    "bom\ufeffinside",
    "bell\x07 and nul\x00 and esc\x1b",
    "soft\u00adhyphen",
    "combining e\u0301 vs é",
    # Pieces that look like special tokens.
    "<s> </s> <unk> [UNK] [PAD] <pad> <0x41>",
    "▁ literal lower one eighth block",
    # Numbers, punctuation, code.
    "1234567890 3.14159 1,000,000",
    "def f(x):\n    return x ** 2  # comment",
    "https://example.com/path?q=検索&lang=ja",
    # Very long lines.
    "吾輩は猫である。" * 200,
    "word " * 500,
    "x" * 3000,
)


def numbered(texts: Iterable[str]) -> list[tuple[str, str]]:
    """``texts`` as judged lines: (text, origin), the origin ``line[i]``."""
    return [(text, f"line[{i}]") for i, text in enumerate(texts)]


def generation_alphabet(model: SentencePieceModel) -> str | None:
    """Characters generated strings may use: any (None) with byte fallback; otherwise only those
    the model's normal and user-defined pieces spell, plus the space, since anything else is
    unknown and cannot round-trip."""
    if model.proto.trainer_spec.byte_fallback:
        return None
    # A name that is not UTF-8 (bytes, see tokcheck.model.proto) spells no characters.
    bad = set(model.invalid_utf8_pieces)
    chars = {
        c
        for i, p in enumerate(model.proto.pieces)
        if p.type in MATCHABLE and i not in bad
        for c in p.piece
        if c != SPACE_SYMBOL
    }
    return "".join(sorted(chars | {" "}))


def hypothesis_strings(count: int, seed: int, alphabet: str | None = None) -> list[str]:
    """``count`` strings drawn by Hypothesis, reproducibly for a given seed.

    With ``alphabet`` the strings use only those characters (for models without byte fallback,
    whose unknown characters cannot round-trip); otherwise any Unicode text, surrogates excluded.
    """
    if count <= 0:
        return []
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    chars = st.sampled_from(alphabet) if alphabet else st.characters(exclude_categories=["Cs"])
    drawn: list[str] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.text(chars, max_size=64))
    def collect(text: str) -> None:
        drawn.append(text)

    with without_local_constants():
        collect()
    return drawn


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Hypothesis without the string constants it collects from the running program's own
    modules (6.131 and later): with them, what a seed draws depends on which of tokcheck's
    modules are imported and on their source, so that ``--engine dask``, ``gate`` or an
    editable install would draw other strings than ``compare`` for the same seed. Without
    them it depends on the seed and the Hypothesis release alone. Hypothesis has no public
    switch for this; where its internals differ, nothing is changed.
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants

        cache = providers.CONSTANTS_CACHE.cache
        collect = providers._get_local_constants
    except (ImportError, AttributeError):
        yield
        return
    cache.clear()  # pools cached with the local constants
    providers._get_local_constants = Constants
    try:
        yield
    finally:
        providers._get_local_constants = collect
        cache.clear()


# Text units that exercise sentencepiece's whitespace handling, normaliser and byte fallback.
# Decomposed sequences appear only as real text has them; a stray combining mark after an
# arbitrary character is a known gap of tokenizers' charsmap lookup (see tokcheck.convert.converter).
_UNITS = (
    " ", "  ", "   ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u200b", "\ufeff", "\x00",
    "\x07", "\x1b", "\x7f", "\u00ad", "\u2581", "\u2047", "\ufffd", "e\u0301", "\u00e9",
    "\uff76\uff9e", "\uff8a\uff9f", "\uff71", "\uff70", "\u30ac", "\u30fc", "\uff5e",
    "\u3001", "\u3002", "\uff01", "\uff1f", "\uff08", "\uff09", "\uff21", "\uff11", "吾輩",
    "猫", "日本語", "カタカナ", "ひらがな", "გამარჯობა", "مرحبا", "नमस्ते", "สวัสดี", "안녕",
    "\U0001f600", "\U0001f431", "\U0001f44d\U0001f3fd", "\U0001f469\u200d\U0001f467",
    "\U00020bb7", "\U00029e3d", "<", ">", "[", "]", "/", "\\", "0", "9", "x", "A", "F", "a",
    ".", ",", "!", "?", "-", "_", "'", '"', "#", "&", ";", ":", "~",
)  # fmt: skip


def sample_texts(model: SentencePieceModel, count: int, seed: int = 0) -> list[str]:
    """``count`` reproducible strings that stress ``model``: runs of its own pieces, joined by
    whitespace, names of the pieces it never matches, characters sentencepiece treats
    specially and random code points (combining marks only where real text has them)."""
    rng = random.Random(seed)
    pieces = model.pieces
    names = [pieces[i] for i, p in enumerate(model.proto.pieces) if p.type != NORMAL]
    texts: list[str] = []
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.randint(1, 12)):
            roll = rng.random()
            if roll < 0.5:
                parts.append(rng.choice(pieces).replace(SPACE_SYMBOL, " "))
            elif roll < 0.8:
                parts.append("".join(rng.choices(_UNITS, k=rng.randint(1, 4))))
            elif roll < 0.9 and names:
                parts.append(rng.choice(names))
            else:
                parts.append(_random_char(rng))
        texts.append("".join(parts))
    return texts


def symbol_texts(model: SentencePieceModel, count: int, seed: int = 0) -> list[str]:
    """``count`` reproducible strings rich in ``model``'s user-defined symbols: at the start,
    after and between whitespace (spaces, runs, tabs, newlines), adjacent to each other and
    inside words, among digits, non-Latin text, the names of pieces sentencepiece never matches
    (``</s>``, ``<0x41>``, control symbols) and pieces cut in two. Empty without such symbols."""
    types = [p.type for p in model.proto.pieces]
    symbols = [model.pieces[i] for i, t in enumerate(types) if t == USER_DEFINED]
    if not symbols:
        return []
    names = [model.pieces[i] for i, t in enumerate(types) if t not in MATCHABLE]
    pieces = model.pieces
    rng = random.Random(seed)

    def part() -> str:
        roll = rng.random()
        if roll < 0.35:
            return rng.choice(symbols)
        if roll < 0.6:
            return rng.choice(_SPACES)
        if roll < 0.7:
            return str(rng.randint(0, 10 ** rng.randint(1, 6)))
        if roll < 0.8:
            word = rng.choice(pieces).replace(SPACE_SYMBOL, " ")
            cut = rng.randint(0, len(word))
            return word[:cut] + rng.choice(symbols) + word[cut:]
        if roll < 0.87 and names:
            return rng.choice(names)
        if roll < 0.95:
            return rng.choice(pieces).replace(SPACE_SYMBOL, " ")
        return rng.choice(_UNITS)

    return ["".join(part() for _ in range(rng.randint(1, 10))) for _ in range(count)]


def verification_texts(model: SentencePieceModel, examples: int, seed: int = 0) -> list[str]:
    """The lines ``tokcheck export`` verifies beside its probes, and ``compare`` (so ``gate``)
    judges too, so that both give one verdict on one tokenizer: the lines derived from the
    model's own components (:func:`tokcheck.inputs.derived.model_texts`), structured text (code, JSON,
    tables, aligned columns), ``examples`` strings that
    stress the model and as many rich in its user-defined symbols, every name the tokenizer
    must not take for its id (see :mod:`tokcheck.convert.bpe`) and runs of unknown characters, which
    sentencepiece makes one piece each."""
    return [text for text, _ in verification_lines(model, examples, seed)]


def verification_lines(
    model: SentencePieceModel,
    examples: int,
    seed: int = 0,
    origin: str = "verification",
    start: int = 0,
) -> list[tuple[str, str]]:
    """:func:`verification_texts` as judged lines: (text, origin), the origin ``origin[i]`` with
    ``i`` from ``start``, or ``derived[i]`` for the lines derived from the model, which are not
    streamed (see :data:`tokcheck.inputs.derived.ORIGIN`)."""
    from tokcheck.inputs.derived import ORIGIN, model_texts

    generated = [
        *sample_texts(model, examples, seed),
        *symbol_texts(model, examples, seed),
        *hazard_texts(model),
        *unknown_texts(model),
        *structured_texts(),
    ]
    return [
        *((t, f"{origin}[{i}]") for i, t in enumerate(generated, start)),
        *((t, f"{ORIGIN}[{i}]") for i, t in enumerate(model_texts(model))),
    ]


# The longest user-defined symbol put beside every name sentencepiece never matches.
_NEIGHBOUR = 32


def hazard_texts(model: SentencePieceModel) -> list[str]:
    """Every name sentencepiece never matches in text (control symbols, bytes, the unknown
    piece), alone and beside user-defined symbols: where an exported tokenizer could take such
    a name for its id. Empty without multi-character user-defined symbols."""
    types = [p.type for p in model.proto.pieces]
    symbols = [
        model.pieces[i]
        for i, t in enumerate(types)
        if t == USER_DEFINED and len(model.pieces[i]) > 1
    ]
    if not symbols:
        return []
    hazards = [model.pieces[i] for i, t in enumerate(types) if t not in MATCHABLE]
    # Every name alone and beside the short symbols in turn; each long symbol beside one name,
    # so that a symbol of thousands of characters does not make every hazard line as long.
    ring = [s for s in symbols if len(s) <= _NEIGHBOUR]
    texts: list[str] = []
    for k, name in enumerate(hazards):
        texts.append(name)
        if ring:
            left, right = ring[k % len(ring)], ring[(k + 1) % len(ring)]
            texts += [left + name, name + right, left + name + right, f"{left} {name}\n"]
    for k, symbol in enumerate(s for s in symbols if len(s) > _NEIGHBOUR):
        name = hazards[k % len(hazards)] if hazards else ""
        texts += [symbol + name, name + symbol, f"{symbol} {name}\n"]
    return texts


# Characters for unknown runs: rare scripts and symbols, the first few absent from a model.
_RARE = "\ua66e\u0f3a\u10a0\u16a0\u2d30\ua4d0\U0001d11e\U00010348\U0001f70f\u2603"


def unknown_texts(model: SentencePieceModel, limit: int = 64) -> list[str]:
    """Runs of unknown characters, alone, with text and beside characters that have no piece
    of their own (a hand-edited vocabulary's) and beside the names sentencepiece never
    matches: sentencepiece gives one unknown piece per run, wherever the run's edges are."""
    pieces = model.proto.pieces
    chars = {c for i, p in enumerate(pieces) if p.type in MATCHABLE for c in model.pieces[i]}
    single = {model.pieces[i] for i, p in enumerate(pieces) if p.type in MATCHABLE}
    unknown = [c for c in _RARE if c not in chars][:3]
    if not unknown:
        return []
    u, v = unknown[0], unknown[-1]
    texts = [u, u + v + u, f"{u} {v}", f"a{u}{v}b", f"{u}\n{v}", "x" + u * 3]
    maybe = sorted(c for c in chars if c not in single and c != SPACE_SYMBOL)[:limit]
    for c in maybe:
        texts += [c, c + u, u + c, c + u + c, u + c + v, c + c + u, f"x{c}{u}y"]
    names = [model.pieces[i] for i, p in enumerate(pieces) if p.type not in MATCHABLE][:limit]
    for k, name in enumerate(names):
        c = maybe[k % len(maybe)] if maybe else v
        texts += [u + name + v, name + u, c + name + c, f"{u}{name} {name}{u}"]
    return texts


_SPACES = (" ", "  ", "   ", "     ", "\n", "\n\n", " \n ", "\t", " \t", "\r\n", "\u3000")

_WORDS = ("name", "value", "count", "猫", "東京", "price", "item_id", "説明", "total", "x", "data")


def structured_texts(count: int = 120, seed: int = 0) -> list[str]:
    """``count`` reproducible chunks of structured text, each many lines joined by newlines:
    indented code (spaces and tabs), pretty-printed JSON, Markdown tables and space-aligned
    columns, the text a bilingual model built for structured text meets, and where runs of
    whitespace pieces tie."""
    rng = random.Random(f"structured:{seed}")
    makers = (_code, _json_text, _table, _columns)
    return [makers[i % len(makers)](rng) for i in range(count)]


def _code(rng: random.Random) -> str:
    indent = rng.choice(("    ", "  ", "\t"))
    lines, depth = [], 0
    for _ in range(rng.randint(10, 40)):
        a, b = rng.sample(_WORDS, 2)
        line = rng.choice(
            (f"def {a}_{b}({a}, {b}=None):", f"if {a} > {rng.randint(0, 99)}:", f"for {a} in {b}:")
        )
        if rng.random() < 0.6 or depth > 4:
            line = rng.choice((f"{a} = {b}[{rng.randint(0, 9)}]", f"return {a}", f"# {a}  {b}"))
            depth = max(0, depth - rng.randint(0, 1))
            lines.append(indent * depth + line + " " * rng.randint(0, 3) * (rng.random() < 0.2))
        else:
            lines.append(indent * depth + line)
            depth += 1
    return "\n".join(lines)


def _json_text(rng: random.Random) -> str:
    import json

    def value(depth: int) -> object:
        if depth > 2 or rng.random() < 0.4:
            return rng.choice((rng.randint(0, 10**6), rng.choice(_WORDS), None, True, 3.25))
        return {rng.choice(_WORDS) + str(i): value(depth + 1) for i in range(rng.randint(1, 4))}

    return json.dumps(value(0), ensure_ascii=False, indent=rng.choice((2, 4)))


def _table(rng: random.Random) -> str:
    columns = rng.sample(_WORDS, 3)
    rows = [
        [rng.choice(_WORDS) * rng.randint(1, 2), str(rng.randint(0, 9999)), ""] for _ in range(8)
    ]
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) + rng.randint(0, 3) for i, c in enumerate(columns)
    ]

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([row(columns), row(["-" * w for w in widths]), *map(row, rows)])


def _columns(rng: random.Random) -> str:
    rows = [
        [rng.choice(_WORDS), str(rng.randint(0, 10 ** rng.randint(1, 6))), rng.choice(_WORDS)]
        for _ in range(12)
    ]
    sep = rng.choice(("  ", "\t", " \t"))
    width = max(len(r[0]) for r in rows) + rng.randint(1, 6)
    return "\n".join(r[0].ljust(width) + r[1].rjust(8) + sep + r[2] for r in rows)


def _random_char(rng: random.Random) -> str:
    while True:
        char = chr(rng.choice([rng.randint(0x20, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
        if not unicodedata.category(char).startswith("M"):
            return char
