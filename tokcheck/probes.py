"""Inputs for differential testing: built-in probes, user corpora, Hypothesis-generated strings.

The built-in probes cover what the rinna model cards document (whitespace runs, scripts missing
from the vocab, the ``<NL>`` chat format) plus the usual tokenizer traps. Corpora are streamed
line by line; a line that is not UTF-8 is recorded by number and skipped.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tokcheck.errors import CorpusError

if TYPE_CHECKING:
    from tokcheck.proto import SentencePieceModel

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


@dataclass
class CorpusStats:
    lines: int = 0
    bytes: int = 0
    skipped: list[tuple[str, int]] = field(default_factory=list)


def iter_corpus(paths: Iterable[Path], stats: CorpusStats) -> Iterator[str]:
    """Yield the lines of each file without their line ending, streaming.

    A line that is not valid UTF-8 is recorded in ``stats.skipped`` as (path, line number)
    and skipped.
    """
    for path in paths:
        try:
            handle = path.open("rb")
        except OSError as e:
            raise CorpusError(f"{path}: cannot read corpus: {e.strerror or e}") from e
        with handle:
            for number, raw in enumerate(handle, start=1):
                stats.bytes += len(raw)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    stats.skipped.append((str(path), number))
                    continue
                stats.lines += 1
                yield text.removesuffix("\n").removesuffix("\r")


def check_corpora(paths: Iterable[Path]) -> list[Path]:
    """Fail early, before any long work starts, if a corpus path is unusable."""
    checked = []
    for path in paths:
        # stat, never open: opening a FIFO would block until something writes to it.
        try:
            mode = path.stat().st_mode
        except FileNotFoundError as e:
            raise CorpusError(f"{path}: no such corpus file") from e
        except OSError as e:
            raise CorpusError(f"{path}: cannot read corpus: {e.strerror or e}") from e
        if stat.S_ISDIR(mode):
            raise CorpusError(f"{path}: is a directory, not a corpus file")
        if not stat.S_ISREG(mode):
            raise CorpusError(f"{path}: is not a regular file; a corpus must be a text file")
        checked.append(path)
    return checked


def generation_alphabet(model: SentencePieceModel) -> str | None:
    """Characters generated strings may use: any (None) with byte fallback; otherwise only those
    the model's normal and user-defined pieces spell, plus the space, since anything else is
    unknown and cannot round-trip."""
    if model.proto.trainer_spec.byte_fallback:
        return None
    # A name that is not UTF-8 (bytes, see tokcheck.proto) spells no characters.
    bad = set(model.invalid_utf8_pieces)
    chars = {
        c
        for i, p in enumerate(model.proto.pieces)
        if p.type in (1, 4) and i not in bad
        for c in p.piece
        if c != "\u2581"
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

    collect()
    return drawn
