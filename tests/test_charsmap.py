"""tokcheck.convert.charsmap: the charsmap read entry by entry, and normalised as sentencepiece does.

sentencepiece normalises by longest source first; tokenizers' ``Precompiled`` works per grapheme
cluster and takes the shortest entry, so decomposed kana and stacked combining marks come out
wrong there. Every check is against sentencepiece itself: its normaliser alone (the charsmap,
no dummy prefix or whitespace handling), on ../shared's two real models, the nmt_nfkc fixture
and models trained here with ``nmt_nfkc_cf``, ``nfkc`` and a hand-written rule file.
"""

from __future__ import annotations

import random
import struct
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sentencepiece as spm
from sentencepiece.sentencepiece_model_pb2 import ModelProto

from tokcheck.convert import charsmap
from tokcheck.convert.converter import build_tokenizer
from tokcheck.errors import TokcheckError
from tokcheck.model.proto import SentencePieceModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"
LEGACY = FIXTURES / "tiny-legacy" / "spiece.model"
# Decomposed kana (how macOS file names and many PDFs store them), full-width letters and
# stacked marks, half-width katakana with its voicing marks, and what the normaliser uses itself.
MARKS = [chr(c) for c in range(0x300, 0x370)] + ["\u3099", "\u309a", "\uff9e", "\uff9f"]
BASES = (
    [chr(c) for c in range(0x3041, 0x3097)]
    + [chr(c) for c in range(0xFF66, 0xFF9E)]
    + list("aeiouAEIOUnN \t\n")
    + [chr(c) for c in range(0xFF41, 0xFF5B)]
    + [chr(c) for c in range(0xC0, 0x100)]
)
INTERNAL = ["\u2063", "\u2064", "\ufdd0", "\ufdd1", "\ufdef", "\x01", "\ua69c", "\U0001f23b"]


def _models() -> list[Path]:
    shared = sorted((SHARED / "models").glob("*.model")) if SHARED.is_dir() else []
    return [LEGACY, *shared]


def _only_charsmap(path: Path) -> Callable[[Any], Any]:
    """sentencepiece's normaliser on the model's charsmap alone."""
    proto = ModelProto()
    proto.ParseFromString(path.read_bytes())
    spec = proto.normalizer_spec
    spec.add_dummy_prefix = spec.remove_extra_whitespaces = spec.escape_whitespaces = False
    for piece in proto.pieces:
        if piece.type == ModelProto.SentencePiece.USER_DEFINED:
            piece.type = ModelProto.SentencePiece.NORMAL
    processor = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    normalize: Callable[[Any], Any] = processor.normalize
    return normalize


def _hostile(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    pool = BASES + INTERNAL

    def cluster() -> str:
        return rng.choice(pool) + "".join(rng.choices(MARKS + INTERNAL, k=rng.randint(0, 4)))

    return ["".join(cluster() for _ in range(rng.randint(1, 6))) for _ in range(count)]


def _nfd_corpus() -> list[str]:
    if not SHARED.is_dir():
        return []
    text = (SHARED / "corpora" / "wagahaiwa_nekodearu.txt").read_text(encoding="utf-8")
    return [unicodedata.normalize("NFD", line) for line in text.splitlines()[:3000]]


def _train(tmp_path: Path, **flags: Any) -> Path:
    rng = random.Random(7)
    words = ["".join(rng.choices("abcdeﾃﾞｶﾞがぎぐ猫犬ÉéÀç", k=rng.randint(1, 6))) for _ in range(400)]
    lines = [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(2000)]
    path = tmp_path / "m.model"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(path.with_suffix("")),
        vocab_size=300,
        character_coverage=1.0,
        byte_fallback=True,
        num_threads=1,
        minloglevel=2,
        **flags,
    )
    return path


# -- the charsmap's entries ---------------------------------------------------------------


@pytest.mark.parametrize("path", _models(), ids=lambda p: p.name)
def test_every_entry_is_what_sentencepiece_does_to_its_source(path: Path) -> None:
    proto = SentencePieceModel.load(path).proto
    table = charsmap.entries(proto.normalizer_spec.precompiled_charsmap)
    assert len(table) > 200_000  # nmt_nfkc and nfkc: about 225,000 entries each
    normalize = _only_charsmap(path)
    sources = sorted(table)
    assert normalize(sources) == [table[s] for s in sources]


@pytest.mark.parametrize("path", _models(), ids=lambda p: p.name)
def test_longest_match_in_python_is_sentencepiece(path: Path) -> None:
    proto = SentencePieceModel.load(path).proto
    table = charsmap.entries(proto.normalizer_spec.precompiled_charsmap)
    normalize = _only_charsmap(path)
    texts = _hostile(1, 3000)
    assert [charsmap.apply(table, t) for t in texts] == normalize(texts)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x01\x00", "shorter than its header"),
        (struct.pack("<I", 1 << 30) + b"\x00" * 8, "does not fit"),
        (struct.pack("<I", 0), "does not fit"),
    ],
    ids=["truncated", "size past the end", "empty trie"],
)
def test_a_damaged_charsmap_is_one_clear_error(blob: bytes, message: str) -> None:
    with pytest.raises(charsmap.CharsmapError, match=message) as raised:
        charsmap.entries(blob)
    assert "\n" not in str(raised.value)


def test_a_replacement_past_the_end_is_one_clear_error() -> None:
    blob = SentencePieceModel.load(LEGACY).proto.normalizer_spec.precompiled_charsmap
    (size,) = struct.unpack_from("<I", blob, 0)
    with pytest.raises(charsmap.CharsmapError, match="points past its replacements"):
        charsmap.entries(blob[: 4 + size + 10])


# -- the normaliser -------------------------------------------------------------------------


@pytest.mark.parametrize("path", _models(), ids=lambda p: p.name)
def test_the_normaliser_is_sentencepiece_where_precompiled_is_not(path: Path) -> None:
    from tokenizers import normalizers

    blob = SentencePieceModel.load(path).proto.normalizer_spec.precompiled_charsmap
    ours = normalizers.Sequence(charsmap.normalizers(blob))
    theirs = normalizers.Precompiled(blob)
    normalize = _only_charsmap(path)
    texts = [*_hostile(2, 20_000), *_nfd_corpus()]
    want = normalize(texts)
    assert [t for t, w in zip(texts, want, strict=True) if ours.normalize_str(t) != w] == []
    # The cases the module docstring names, where tokenizers' own normaliser differs.
    for text in ("\u304d\u3099", "\uff45\u0301", "e\u0301\u0301", "\uff76\uff9e", "A\u0363"):
        assert ours.normalize_str(text) == normalize(text)
    assert sum(theirs.normalize_str(t) != w for t, w in zip(texts, want, strict=True)) > 1000


@pytest.mark.parametrize(
    "flags",
    [
        {"normalization_rule_name": "nmt_nfkc_cf"},
        {"normalization_rule_name": "nmt_nfkc_cf", "remove_extra_whitespaces": False},
        {"normalization_rule_name": "nfkc", "add_dummy_prefix": False},
        {"normalization_rule_name": "nfkc_cf"},
        {"normalization_rule_name": "nmt_nfkc", "user_defined_symbols": ["ｶﾞ", "e\u0301", "<x>"]},
    ],
    ids=["nmt_nfkc_cf", "nmt_nfkc_cf-whitespace-kept", "nfkc-no-prefix", "nfkc_cf", "symbols"],
)
def test_exported_tokenizer_is_exact_on_decomposed_text(
    tmp_path: Path, flags: dict[str, object]
) -> None:
    path = _train(tmp_path, **flags)
    model = SentencePieceModel.load(path)
    tokenizer = build_tokenizer(model)
    texts = [*_hostile(3, 5000), *_nfd_corpus()[:1000], "ＡＢＣ ｶﾞ e\u0301<x> \u304b\u3099"]
    got = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    want = model.processor.encode(texts)
    assert [t for t, g, w in zip(texts, got, want, strict=True) if g != w] == []


@pytest.mark.parametrize("rule", ["nfkc", "nfkc_cf"])
def test_a_charsmap_that_removes_no_control_maps_characters_in_one_step(
    tmp_path: Path, rule: str
) -> None:
    # Without a control character the charsmap removes, one Replace per replacement made 1,630
    # steps for nfkc_cf and an encode 25 times slower; a control it never mentions splits the
    # units instead, and the user's own one comes through.
    from tokenizers import normalizers

    path = _train(tmp_path, normalization_rule_name=rule)
    blob = SentencePieceModel.load(path).proto.normalizer_spec.precompiled_charsmap
    how = charsmap.plan(blob)
    assert how.split is not None
    assert how.split_kept
    steps = charsmap.normalizers(blob)
    assert len(steps) < 100
    ours = normalizers.Sequence(steps)
    normalize = _only_charsmap(path)
    texts = [*_hostile(4, 20_000), *_nfd_corpus(), f"a{how.split}b", how.split * 3]
    want = normalize(texts)
    assert [t for t, w in zip(texts, want, strict=True) if ours.normalize_str(t) != w] == []


def test_a_rule_whose_output_nfkc_changes_again_is_refused(tmp_path: Path) -> None:
    # "x" -> the ligature "ﬁ": NFKC would make it "fi", and tokenizers has no step that keeps it.
    rules = tmp_path / "rules.tsv"
    rules.write_text("78\tFB01\n", encoding="utf-8")
    path = _train(tmp_path, normalization_rule_tsv=str(rules))
    model = SentencePieceModel.load(path)
    with pytest.raises(
        TokcheckError, match=r"cannot export: the charsmap maps 'x' to 'ﬁ'"
    ) as raised:
        build_tokenizer(model)
    assert "\n" not in str(raised.value)


def test_a_trie_that_loops_is_one_clear_error() -> None:
    # The root's child for byte 0x61 ("a") has the root's own base: "a", "aa", "aaa", ...
    def unit(label: int, base: int) -> int:
        return (base << 10) | label  # offset base << 10, no leaf

    units = [unit(0, 1), 0, 0, 0]
    units += [0] * 200
    units[1 ^ 0x61] = unit(0x61, (1 ^ 0x61) ^ 1)
    blob = struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + b"\0"
    with pytest.raises(charsmap.CharsmapError, match="damaged"):
        charsmap.entries(blob)
