"""Exact export of Llama/Mistral-style BPE models: user-defined symbols anywhere, control names.

The reference is sentencepiece on the raw model. The models: the committed ``bpe-32k`` fixture
(32,000 pieces, 702 control and 21 user-defined symbols, byte fallback, dummy prefix, digits
split) and small variants trained here from the same generator, with the dummy prefix off, an
``nmt_nfkc`` charsmap, whitespace removal, no byte fallback, and overlapping symbols.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fixturebuild import build
from sentencepiece import sentencepiece_model_pb2 as pb

from tokcheck.candidates.hf import from_tokenizers, from_transformers, quiet_transformers
from tokcheck.convert.converter import Converter
from tokcheck.errors import ExportRefusedError, TokcheckError
from tokcheck.export.run import export
from tokcheck.inputs.probes import (
    BUILTIN_PROBES,
    hazard_texts,
    numbered,
    sample_texts,
    symbol_texts,
)
from tokcheck.judge.tally import Tally
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.model.spm import NORMAL, USER_DEFINED
from tokcheck.parallel.runner import judge_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"
BPE_32K = FIXTURES / "bpe-32k" / "tokenizer.model"


# The acceptance figure: generated strings rich in user-defined symbols and whitespace.
SYMBOL_TEXTS = 100_000
VARIANTS: dict[str, dict[str, object]] = {
    "dummy-prefix-off": {"add_dummy_prefix": False},
    "nmt-nfkc": {"normalization_rule_name": "nmt_nfkc"},
    "nmt-nfkc-whitespace-removal": {
        "normalization_rule_name": "nmt_nfkc",
        "remove_extra_whitespaces": True,
    },
    "no-byte-fallback": {"byte_fallback": False},
}


def _judge(model: SentencePieceModel, texts: list[str], tokenizer: object = None) -> Tally:
    built = tokenizer if tokenizer is not None else Converter(model).build()
    candidate = from_tokenizers("exported", built, "tokenizers.Tokenizer")
    (tally,) = judge_lines(model, [candidate], numbered(texts))
    return tally


def _assert_exact(tally: Tally) -> None:
    assert tally.status == "exact", tally.summary() + "".join(
        f"\n{c.text!r}" for c in tally.counterexamples
    )


@pytest.fixture(scope="module")
def bpe_32k() -> SentencePieceModel:
    return SentencePieceModel.load(BPE_32K)


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small BPE model with the fixture's symbols, one flag changed, and two symbols that
    overlap ("ab"/"bc") plus one that starts with the space symbol."""
    lines = build.synthetic_lines(build.SEED + 6, 8000, 600, 0.6)
    data = build.train(
        lines,
        2000,
        {**build.BPE_FLAGS, **VARIANTS[request.param]},
        **build.BPE_SPECIALS,
        user_defined_symbols=[*build.BPE_USER_SYMBOLS, "ab", "bc", "\u2581x"],
        control_symbols=build.BPE_CONTROL_SYMBOLS[:100],
    )
    path = tmp_path_factory.mktemp(request.param) / "bpe.model"
    path.write_bytes(data)
    return path


def test_fixture_has_what_the_issue_asks_for(bpe_32k: SentencePieceModel) -> None:
    summary = bpe_32k.summary()
    assert summary.vocab_size == 32_000
    assert summary.piece_types["control"] == 702
    assert summary.piece_types["user_defined"] == 21
    spec, trainer = bpe_32k.proto.normalizer_spec, bpe_32k.proto.trainer_spec
    assert trainer.model_type == 2
    assert trainer.byte_fallback
    assert trainer.split_digits
    assert spec.add_dummy_prefix
    assert not spec.remove_extra_whitespaces


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        # The dummy prefix stays in front of a leading symbol, as a piece of its own.
        ("[INST]", ["\u2581", "[INST]"]),
        ("[INST] hi[/INST]", ["\u2581", "[INST]", "\u2581hi", "[/INST]"]),
        # Adjacent symbols, and one inside a word.
        ("[TOOL_CALLS][REFERENCE_DOC_10]", ["\u2581", "[TOOL_CALLS]", "[REFERENCE_DOC_10]"]),
        # A control name after a symbol is text, not the control id.
        ("[INST]</s>", None),
        ("[INST]<0x41>[/INST]", None),
    ],
)
def test_symbols_encode_as_sentencepiece_does(
    bpe_32k: SentencePieceModel, text: str, pieces: list[str] | None
) -> None:
    tokenizer = Converter(bpe_32k).build()
    expected = bpe_32k.processor.encode(text)
    if pieces is not None:
        assert [bpe_32k.pieces[i] for i in expected] == pieces
    got = tokenizer.encode(text, add_special_tokens=False).ids
    assert got == expected
    assert not set(got) & {1, 2}  # never bos or eos


def test_exact_on_100k_symbol_texts_probes_and_samples(bpe_32k: SentencePieceModel) -> None:
    converter = Converter(bpe_32k)
    assert converter.hazards.split
    assert not converter.hazards.residual
    texts = [
        *BUILTIN_PROBES,
        *hazard_texts(bpe_32k),
        *sample_texts(bpe_32k, 2000, seed=3),
        *symbol_texts(bpe_32k, SYMBOL_TEXTS, seed=3),
    ]
    tally = _judge(bpe_32k, texts, converter.build())
    assert tally.lines == len(texts) > SYMBOL_TEXTS
    _assert_exact(tally)


def test_exact_on_the_shared_corpora(bpe_32k: SentencePieceModel) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (the corpora live there)")
    lines: list[str] = []
    for name in ("botchan.txt", "wagahaiwa_nekodearu.txt"):
        lines += (SHARED / "corpora" / name).read_text(encoding="utf-8").splitlines()
    _assert_exact(_judge(bpe_32k, lines))


def test_variants_are_exact(variant: Path) -> None:
    model = SentencePieceModel.load(variant)
    texts = [
        *BUILTIN_PROBES,
        *hazard_texts(model),
        *sample_texts(model, 1000, seed=5),
        *symbol_texts(model, 10_000, seed=5),
    ]
    _assert_exact(_judge(model, texts))


def test_a_long_symbol_stands_beside_one_name_and_the_short_ones_beside_every_name(
    bpe_32k: SentencePieceModel, tmp_path: Path
) -> None:
    # A symbol of 5,000 characters beside each of the model's 959 hazards made 14 MB of lines
    # that took minutes to judge; beside one it still shows whether it is taken whole there.
    proto = pb.ModelProto()
    proto.CopyFrom(bpe_32k.proto)
    last = max(i for i, p in enumerate(proto.pieces) if p.type == NORMAL)
    proto.pieces[last].piece, proto.pieces[last].type = "x" * 5000, USER_DEFINED
    path = tmp_path / "long" / "tokenizer.model"
    path.parent.mkdir()
    path.write_bytes(proto.SerializeToString())
    model = SentencePieceModel.load(path)
    before, after = hazard_texts(bpe_32k), hazard_texts(model)
    assert set(before) <= set(after)
    assert [t for t in after if "x" * 5000 in t] == [
        "x" * 5000 + "<unk>",
        "<unk>" + "x" * 5000,
        "x" * 5000 + " <unk>\n",
    ]
    assert sum(map(len, after)) < sum(map(len, before)) + 20_000


def _with_unreachable_piece(model: SentencePieceModel) -> tuple[bytes, str]:
    """``model`` with its lowest-scoring normal piece renamed "a" + XY + "d", where XY is a
    two-character piece and no other piece joins a, XY and d: sentencepiece's merges stop at
    a, XY, d, so the piece is never produced from its own text."""
    vocab = set(model.pieces)
    singles = sorted(p for p in vocab if len(p) == 1 and p.isalpha())
    for pair in sorted(p for p in vocab if len(p) == 2 and p.isalpha()):
        for a in singles:
            for d in singles:
                name = a + pair + d
                parts = (a + pair, pair + d, a + pair[0], pair[1] + d, name, name[:3], name[1:])
                if not vocab.intersection(parts):
                    proto = pb.ModelProto()
                    proto.CopyFrom(model.proto)
                    last = max(i for i, p in enumerate(proto.pieces) if p.type == NORMAL)
                    proto.pieces[last].piece = name
                    return proto.SerializeToString(), name
    raise AssertionError("no unreachable name found")


def _with_spanned_control(model: SentencePieceModel) -> tuple[bytes, str]:
    """``model`` with a control piece ``abcd`` appended, where ``ab``, ``bc`` and ``cd`` are
    pieces and ``abcd`` is not."""
    vocab = set(model.pieces)
    pairs = sorted(p for p in vocab if len(p) == 2 and p.isascii() and p.isalpha())
    name = next(
        ab + cd for ab in pairs for cd in pairs if ab[1] + cd[0] in vocab and ab + cd not in vocab
    )
    proto = pb.ModelProto()
    proto.CopyFrom(model.proto)
    piece = proto.pieces.add()
    piece.piece, piece.type = name, 3
    return proto.SerializeToString(), name


@pytest.mark.parametrize("kind", ["normal", "control"])
def test_a_name_no_boundary_may_split_is_cut_where_it_is_a_whole_pre_token(
    bpe_32k: SentencePieceModel, tmp_path: Path, kind: str
) -> None:
    # A normal piece no merge forms, and a control piece every two adjacent characters of
    # which are a piece (refused before: no boundary may go inside either).
    data, name = _with_unreachable_piece(bpe_32k)
    if kind == "control":
        data, name = _with_spanned_control(bpe_32k)
    path = tmp_path / "unreachable" / "tokenizer.model"
    path.parent.mkdir()
    path.write_bytes(data)
    model = SentencePieceModel.load(path)
    converter = Converter(model)
    # Every pair of its characters is a piece: no boundary may go inside it anywhere, so it is
    # cut only where it is a whole pre-token, where sentencepiece cuts it.
    assert not converter.hazards.residual
    parts = dict(converter.hazards.whole)[name]
    assert "".join(parts) == name
    assert len(parts) > 1
    # Looked up whole, the name would be one id where sentencepiece has three (after the dummy
    # prefix and the symbol).
    tokenizer = converter.build()
    for text in (f"[INST]{name}", f"[INST]{name}[/INST]", f"[INST]{name}{name}", f"x{name}"):
        assert tokenizer.encode(text).ids == model.processor.encode(text), text
    assert len(model.processor.encode(f"[INST]{name}")) == 2 + len(parts)
    result = export(resolve(str(path)), model, tmp_path / "out", examples=10)
    assert result.verdict == "passed"


def test_a_name_cut_into_more_spans_than_the_bound_is_refused(
    bpe_32k: SentencePieceModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One pre-tokeniser step per span: a hostile name sentencepiece cuts into thousands of
    # pieces must not make thousands of steps. The bound lowered to 1 makes any name exceed it.
    from tokcheck.convert import bpe

    data, name = _with_spanned_control(bpe_32k)
    path = tmp_path / "spanned" / "tokenizer.model"
    path.parent.mkdir()
    path.write_bytes(data)
    monkeypatch.setattr(bpe, "MAX_CUTS", 1)
    with pytest.raises(TokcheckError, match=f"{name!r} .*more than 1 pieces"):
        Converter(SentencePieceModel.load(path)).build()


def _trained(tmp_path: Path, symbols: list[str], **flags: object) -> SentencePieceModel:
    lines = build.synthetic_lines(build.SEED + 6, 4000, 300, 0.6)
    data = build.train(
        lines,
        1000,
        {**build.BPE_FLAGS, **flags},
        **build.BPE_SPECIALS,
        user_defined_symbols=symbols,
    )
    path = tmp_path / "bpe.model"
    path.write_bytes(data)
    return SentencePieceModel.load(path)


def test_crlf_under_nmt_nfkc_is_two_characters(tmp_path: Path) -> None:
    # tokenizers' charsmap takes "\r\n" as one grapheme; sentencepiece maps each character.
    model = _trained(tmp_path, ["[INST]"], normalization_rule_name="nmt_nfkc")
    _assert_exact(_judge(model, ["a\r\nb", "\r\n", "x \r\n\r\n y", "[INST]\r\n"]))


def test_overlapping_symbols_the_charsmap_changes_are_matched_first_and_kept(
    tmp_path: Path,
) -> None:
    # sentencepiece's normaliser matches the longest user-defined symbol at each position
    # before its charsmap, and passes it through: full-width letters stay full-width there.
    symbols = ["\uff21\uff22", "\uff22\uff23\uff24"]
    model = _trained(tmp_path, symbols, normalization_rule_name="nmt_nfkc")
    lines = [
        "ＡＢＣＤ",
        "ＡＢＣＤＥ",
        "xＢＣＤＡＢ",
        "ＡＡＢＢＣＤ",
        "ＡＢ\u0301",
        "ＢＣＤ ＢＣ",
        "ｅ\u0301ＡＢ",
    ]
    lines += [
        "".join(p) for p in itertools.product(["Ａ", "Ｂ", "Ｃ", "Ｄ", " ", "\u0301"], repeat=4)
    ]
    _assert_exact(_judge(model, lines))


def test_a_symbol_named_like_a_byte_piece_decodes_as_text_without_byte_fallback(
    tmp_path: Path,
) -> None:
    model = _trained(tmp_path, ["<0x41>", "[INST]"], byte_fallback=False)
    tokenizer = Converter(model).build()
    ids = model.processor.encode("x<0x41>y")
    assert tokenizer.encode("x<0x41>y", add_special_tokens=False).ids == ids
    assert tokenizer.decode(ids, skip_special_tokens=False) == model.processor.decode(ids)
    assert "<0x41>" in model.processor.decode(ids)


def test_exported_directory_is_exact_through_transformers(
    bpe_32k: SentencePieceModel, tmp_path: Path
) -> None:
    """Both transformers lines load the export (CI runs this file under 4.57 too)."""
    result = export(resolve(str(BPE_32K)), bpe_32k, tmp_path / "out", examples=500)
    assert result.written
    assert result.status == "exact"
    with quiet_transformers() as transformers:
        loaded = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    texts = [*hazard_texts(bpe_32k), *symbol_texts(bpe_32k, 5000, seed=11)]
    candidate = from_transformers("transformers", loaded)
    (tally,) = judge_lines(bpe_32k, [candidate], numbered(texts))
    _assert_exact(tally)
    ids = loaded.convert_tokens_to_ids(["[INST]", "[REFERENCE_DOC_7]", "<NL>"])
    assert ids == [
        bpe_32k.processor.piece_to_id(p) for p in ("[INST]", "[REFERENCE_DOC_7]", "<NL>")
    ]


def _extended(tmp_path: Path) -> tuple[Path, str]:
    """A small trained BPE extended by hand, as vocabulary-extension scripts do it: two pieces
    appended at one score, above every trained one. Both are two trained single characters
    side by side, ``bc`` appended before ``ab``, so in ``abc`` the right pair is ranked first."""
    lines = build.synthetic_lines(build.SEED + 6, 3000, 60, 0.6)
    data = build.train(lines, 1000, {**build.BPE_FLAGS, "add_dummy_prefix": False})
    proto = pb.ModelProto()
    proto.ParseFromString(data)
    names = {p.piece for p in proto.pieces}
    singles = sorted(c for c in names if len(c) == 1 and c.isascii() and c.isalpha())
    a, b, c = next(
        (a, b, c)
        for a, b, c in itertools.permutations(singles, 3)
        if not {a + b, b + c, a + b + c} & names
    )
    for piece_text in (b + c, a + b):
        piece = proto.pieces.add()
        piece.piece, piece.type, piece.score = piece_text, NORMAL, 0.0
    path = tmp_path / "extended.model"
    path.write_bytes(proto.SerializeToString())
    return path, a + b + c


def test_equal_score_merges_are_verified_and_the_export_refused(tmp_path: Path) -> None:
    # sentencepiece merges the leftmost of two equal-score pairs; tokenizers the one ranked
    # first, whatever its position. The derived lines hold every such pair side by side, so
    # the export, which cannot rank by position, is refused instead of called exact.
    from tokcheck.inputs.derived import equal_score_texts

    path, text = _extended(tmp_path)
    model = SentencePieceModel.load(path)
    sp = model.processor
    assert sp.encode(text, out_type=str) == [text[:2], text[2]]
    assert Converter(model).build().encode(text).tokens == [text[0], text[1:]]
    assert text in equal_score_texts(model)
    with pytest.raises(ExportRefusedError, match="not exact"):
        export(resolve(str(path)), model, tmp_path / "out", examples=0)
    assert not (tmp_path / "out").exists()


def test_an_unused_bpe_piece_is_verified_and_the_export_refused(tmp_path: Path) -> None:
    # sentencepiece merges through an unused piece and resegments it only if it is left at the
    # end; tokenizers, which has no merge into it, cannot form what is merged from it. The
    # derived lines hold every unused piece's text, so the export is refused on them, not
    # left to a corpus that happens to hold the piece.
    from tokcheck.inputs.derived import unformed_texts

    lines = build.synthetic_lines(build.SEED + 6, 3000, 60, 0.6)
    data = build.train(lines, 1000, {**build.BPE_FLAGS, "add_dummy_prefix": False})
    proto = pb.ModelProto()
    proto.ParseFromString(data)
    names = {p.piece for p in proto.pieces if p.type == NORMAL}
    # A piece ``u`` that a longer piece ``u + c`` is merged from.
    unused = next(
        p
        for p in sorted(proto.pieces, key=lambda p: p.score)
        if p.type == NORMAL
        and len(p.piece) > 1
        and any(n.startswith(p.piece) and n[len(p.piece) :] in names for n in names - {p.piece})
    )
    unused.type = 5
    path = tmp_path / "unused.model"
    path.write_bytes(proto.SerializeToString())
    model = SentencePieceModel.load(path)
    assert unused.piece in unformed_texts(model)
    with pytest.raises(ExportRefusedError, match="not exact"):
        export(resolve(str(path)), model, tmp_path / "out", examples=0)
