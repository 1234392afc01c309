"""The exhaustive generators behind ``compare --exhaustive``: what they yield, and how much."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokcheck.inputs import exhaustive
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.model.spm import CONTROL

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def bilingual() -> SentencePieceModel:
    return SentencePieceModel.load(FIXTURES / "tiny-bilingual" / "spiece.model")


def test_codepoints_are_the_assigned_ones_below_u30000() -> None:
    chars = exhaustive.codepoints()
    assert isinstance(chars, Iterator)
    values = [ord(c) for c in chars]
    assert values == sorted(set(values))
    assert values[-1] < 0x30000
    categories = Counter(unicodedata.category(chr(v)) for v in values)
    assert not {"Cn", "Cs", "Co"} & set(categories)
    expected = sum(unicodedata.category(chr(v)) not in ("Cn", "Cs", "Co") for v in range(0x30000))
    assert len(values) == expected
    present = set(values)
    assert {0x0, 0x20, 0x3042, 0xFFFD, 0x1F600, 0x20BB7} <= present
    assert not {0xD800, 0xDFFF, 0xE000, 0xF8FF, 0x0378, 0x30000} & present
    # Every category of real text is there, controls and format characters included.
    assert {"Lo", "Lu", "Mn", "Nd", "Zs", "Cc", "Cf", "So"} <= set(categories)


def test_codepoint_lines_alone_then_between_spaces() -> None:
    lines = exhaustive.codepoint_lines()
    assert list(next(lines)) == ["\x00", "codepoint[U+0000]"]
    assert list(next(lines)) == [" \x00 ", "spaced[U+0000]"]
    found = {o: t for t, o in exhaustive.codepoint_lines() if o.endswith(("+3042]", "+20BB7]"))}
    assert found == {
        "codepoint[U+3042]": "あ",
        "spaced[U+3042]": " あ ",
        "codepoint[U+20BB7]": "𠮷",
        "spaced[U+20BB7]": " 𠮷 ",
    }


def test_piece_lines_are_every_piece_but_control_once(bilingual: SentencePieceModel) -> None:
    lines = list(exhaustive.piece_lines(bilingual))
    ids = [int(o.removeprefix("piece[").removesuffix("]")) for _, o in lines]
    types = [p.type for p in bilingual.proto.pieces]
    assert ids == [i for i, t in enumerate(types) if t != CONTROL]
    sp = bilingual.processor
    assert all(text == sp.decode([i]) for (text, _), i in zip(lines, ids, strict=True))
    texts = dict(zip(ids, (t for t, _ in lines), strict=True))
    assert texts[sp.piece_to_id("\n")] == "\n"  # user-defined in the bilingual family
    assert texts[sp.piece_to_id("<0x41>")] == "A"  # a byte piece decodes to its byte


def test_special_names_and_their_variants(bilingual: SentencePieceModel) -> None:
    resolved = resolve(str(FIXTURES / "tiny-bilingual"))
    names = exhaustive.special_names(bilingual, resolved)
    assert len(names) == len(set(names))
    assert {"<s>", "</s>", "\n", "\t"} <= set(names)
    lines = list(exhaustive.special_lines(["</s>", "\n"]))
    assert len(lines) == 2 * len(exhaustive.VARIANTS)
    assert (" </s> ", "special[</s>][3]") in lines
    assert ("a\na", f"special[\\n][{exhaustive.VARIANTS.index('aXa')}]") in lines
    assert all("\n" not in origin for _, origin in lines)


def test_size_counts_what_the_generators_yield(bilingual: SentencePieceModel) -> None:
    resolved = resolve(str(FIXTURES / "tiny-bilingual"))
    size = exhaustive.size(bilingual, resolved)
    lines = exhaustive.exhaustive_lines(bilingual, resolved)
    assert isinstance(lines, Iterator)
    count = total = 0
    origins: Counter[str] = Counter()
    for text, origin in lines:
        count += 1
        total += len(text.encode()) + 1
        origins[origin] += 1
    assert (size["lines"], size["bytes"]) == (count, total)
    assert max(origins.values()) == 1  # every origin names one line
    assert size["lines"] == 2 * size["codepoints"] + size["pieces"] + size["special_names"] * len(
        exhaustive.VARIANTS
    )
    assert size["unicode"] == unicodedata.unidata_version
