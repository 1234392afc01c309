"""The raw-proto summary: known answers, and agreement with sentencepiece itself.

The reference here is independent of tokcheck's code path: SentencePieceProcessor's own answers
(piece table, special ids, how it normalises and encodes probe strings) and the pb2 enum
descriptors, compared field by field with :func:`tokcheck.model.proto.summarize`.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sentencepiece as spm

# The generated pb2 module defines its classes at run time, out of mypy's sight.
from sentencepiece.sentencepiece_model_pb2 import (
    ModelProto,
    TrainerSpec,
)

from tokcheck.errors import ModelFileError
from tokcheck.model.proto import ModelSummary, SentencePieceModel, parse_model_proto

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# A character no trained vocabulary holds (Supplementary Private Use Area-A).
UNSEEN = "\U000f0000"
UNSEEN_BYTES = [f"<0x{b:02X}>" for b in UNSEEN.encode()]


@cache
def _summary(path: Path) -> ModelSummary:
    return SentencePieceModel.load(path).summary()


def _model_path(request: pytest.FixtureRequest, where: str) -> Path:
    """``fixture:<dir>`` under fixtures/, or ``shared:<file>`` under ../shared/models (may skip)."""
    kind, _, name = where.partition(":")
    if kind == "fixture":
        return FIXTURES / name / "spiece.model"
    shared: Path = request.getfixturevalue("shared")
    path = shared / "models" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


# --- known answers -------------------------------------------------------------------------

NEOX_IDS = {
    "unk_id": 1,
    "bos_id": 2,
    "eos_id": 3,
    "pad_id": 0,
    "unk_piece": "[UNK]",
    "bos_piece": "<s>",
    "eos_piece": "</s>",
    "pad_piece": "[PAD]",
}
NEOX_FLAGS = {
    "model_type": "unigram",
    "byte_fallback": True,
    "byte_pieces": 256,
    "byte_pieces_exact": True,
    "add_dummy_prefix": False,
    "remove_extra_whitespaces": False,
    "normalization_rule_name": "identity",
    "precompiled_charsmap": False,
    "escape_whitespaces": True,
    "split_digits": True,
    "unknown_pieces": 1,
    "control_symbols": ("[PAD]", "<s>", "</s>"),
    "duplicate_pieces": (),
    "nonfinite_scores": (),
    "processor_error": None,
    "invalid_utf8_pieces": (),
    "unk_surface_invalid_utf8": False,
    **NEOX_IDS,
}
LEGACY_FLAGS = {
    "model_type": "unigram",
    "byte_fallback": False,
    "byte_pieces": 0,
    "byte_pieces_exact": False,
    "add_dummy_prefix": True,
    "remove_extra_whitespaces": True,
    "normalization_rule_name": "nmt_nfkc",
    "precompiled_charsmap": True,
    "split_digits": False,
    "unknown_pieces": 1,
    "user_defined_symbols": (),
    "processor_error": None,
    "invalid_utf8_pieces": (),
    "unk_surface_invalid_utf8": False,
    **NEOX_IDS,
}
GOOGLE_TEST_MODEL = {
    "model_type": "unigram",
    "byte_fallback": False,
    "byte_pieces": 0,
    "add_dummy_prefix": True,
    "remove_extra_whitespaces": True,
    "normalization_rule_name": "nfkc",
    "precompiled_charsmap": True,
    "unk_id": 0,
    "bos_id": 1,
    "eos_id": 2,
    "pad_id": -1,
    "unk_piece": "<unk>",
    "bos_piece": "<s>",
    "eos_piece": "</s>",
    "pad_piece": None,
    "control_symbols": ("<s>", "</s>"),
    "user_defined_symbols": (),
    "processor_error": None,
    "invalid_utf8_pieces": (),
    "unk_surface_invalid_utf8": False,
}

KNOWN: dict[str, dict[str, Any]] = {
    "fixture:neox-3.6b": {
        "vocab_size": 32_000,
        "user_defined_symbols": (),
        "piece_types": {"byte": 256, "control": 3, "normal": 31_740, "unknown": 1},
        **NEOX_FLAGS,
    },
    "fixture:bilingual-4b": {
        "vocab_size": 65_536,
        "user_defined_symbols": ("\n", "\t"),
        "piece_types": {
            "byte": 256,
            "control": 3,
            "normal": 65_274,
            "unknown": 1,
            "user_defined": 2,
        },
        **NEOX_FLAGS,
    },
    "fixture:legacy-1b": {"vocab_size": 32_000, **LEGACY_FLAGS},
    "fixture:tiny-neox": {"vocab_size": 1000, "user_defined_symbols": (), **NEOX_FLAGS},
    "fixture:tiny-bilingual": {
        "vocab_size": 1200,
        "user_defined_symbols": ("\n", "\t"),
        **NEOX_FLAGS,
    },
    "fixture:tiny-legacy": {"vocab_size": 1000, **LEGACY_FLAGS},
    "fixture:broken/dummy-prefix-on": {**NEOX_FLAGS, "add_dummy_prefix": True},
    "fixture:broken/whitespace-removal-on": {**NEOX_FLAGS, "remove_extra_whitespaces": True},
    "fixture:broken/wrong-vocab-size": {**NEOX_FLAGS, "vocab_size": 31_000},
    "shared:sentencepiece_test_ja_model.model": {"vocab_size": 8000, **GOOGLE_TEST_MODEL},
    "shared:sentencepiece_test_model.model": {"vocab_size": 1000, **GOOGLE_TEST_MODEL},
}


@pytest.mark.parametrize("where", list(KNOWN), ids=list(KNOWN))
def test_known_summary_values(request: pytest.FixtureRequest, where: str) -> None:
    summary = _summary(_model_path(request, where)).to_dict()
    expected = KNOWN[where]
    assert {k: summary[k] for k in expected} == expected


# --- agreement with sentencepiece itself -----------------------------------------------------


def _reference(path: Path) -> dict[str, Any]:
    """What sentencepiece says about a model, computed without tokcheck."""
    sp = spm.SentencePieceProcessor(model_file=str(path))
    proto = ModelProto()
    proto.ParseFromString(path.read_bytes())
    n = sp.get_piece_size()
    pieces = [sp.id_to_piece(i) for i in range(n)]
    byte_ids = [i for i in range(n) if sp.is_byte(i)]
    type_name = ModelProto.SentencePiece.Type.Name

    def piece(i: int) -> str | None:
        return pieces[i] if i >= 0 else None

    # Flags read from behaviour, not from the proto: how the normaliser treats probe strings.
    nfkc = sp.normalize("ｱ").endswith("ア")  # NFKC widens half-width katakana; identity keeps it
    if not nfkc:
        rule = "identity"
    elif "\t" in sp.normalize("a\tb"):
        rule = "nfkc"
    else:
        rule = "nmt_nfkc"  # NMT normalisation also turns tabs and newlines into spaces
    unseen_ids = sp.encode(UNSEEN)
    return {
        "vocab_size": n,
        "model_type": TrainerSpec.ModelType.Name(proto.trainer_spec.model_type).lower(),
        # Byte fallback spells the unseen character in its UTF-8 bytes instead of unk.
        "byte_fallback": [pieces[i] for i in unseen_ids if sp.is_byte(i)] == UNSEEN_BYTES
        and sp.unk_id() not in unseen_ids,
        "byte_pieces": len(byte_ids),
        "byte_pieces_exact": [pieces[i] for i in byte_ids] == [f"<0x{b:02X}>" for b in range(256)],
        "add_dummy_prefix": sp.normalize("a").startswith("▁"),
        "remove_extra_whitespaces": "▁▁" not in sp.normalize("a  b"),
        "escape_whitespaces": "▁" in sp.normalize("a b"),
        "normalization_rule_name": rule,
        "precompiled_charsmap": nfkc,
        "unk_id": sp.unk_id(),
        "bos_id": sp.bos_id(),
        "eos_id": sp.eos_id(),
        "pad_id": sp.pad_id(),
        "unk_piece": piece(sp.unk_id()),
        "bos_piece": piece(sp.bos_id()),
        "eos_piece": piece(sp.eos_id()),
        "pad_piece": piece(sp.pad_id()),
        "unknown_pieces": sum(sp.is_unknown(i) for i in range(n)),
        "control_symbols": tuple(pieces[i] for i in range(n) if sp.is_control(i)),
        "user_defined_symbols": tuple(
            p.piece for p in proto.pieces if type_name(p.type) == "USER_DEFINED"
        ),
        "piece_types": dict(
            sorted(Counter(type_name(p.type).lower() for p in proto.pieces).items())
        ),
        "duplicate_pieces": tuple(sorted(p for p, k in Counter(pieces).items() if k > 1)),
        "nonfinite_scores": tuple(i for i in range(n) if not math.isfinite(sp.get_score(i))),
        # By id: for an unknown character out_type=str would show the input, not the unk piece.
        "whitespace_encodings": {s: [pieces[i] for i in sp.encode(s)] for s in ("\n", "\t", "  ")},
        "processor_error": None,
    }


@pytest.mark.parametrize("where", list(KNOWN), ids=list(KNOWN))
def test_summary_agrees_with_sentencepiece(request: pytest.FixtureRequest, where: str) -> None:
    path = _model_path(request, where)
    reference = _reference(path)
    summary = _summary(path).to_dict()
    assert {k: summary[k] for k in reference} == reference


def test_trainer_spec_fields_read_as_written(neox_dir: Path) -> None:
    proto = ModelProto()
    proto.ParseFromString((neox_dir / "spiece.model").read_bytes())
    t = proto.trainer_spec
    s = _summary(neox_dir / "spiece.model")
    assert (s.split_by_whitespace, s.split_by_unicode_script, s.split_by_number) == (
        t.split_by_whitespace,
        t.split_by_unicode_script,
        t.split_by_number,
    )
    assert (s.split_digits, s.treat_whitespace_as_suffix) == (True, False)


# --- whitespace probes ------------------------------------------------------------------------

WHITESPACE: dict[str, dict[str, list[str]]] = {
    # Byte fallback: newline and tab survive as byte pieces, both spaces are kept.
    "neox-3.6b": {"\n": ["<0x0A>"], "\t": ["<0x09>"], "  ": ["▁", "▁"]},
    # User-defined "\n" and "\t" are pieces of their own.
    "bilingual-4b": {"\n": ["\n"], "\t": ["\t"], "  ": ["▁", "▁"]},
    # nmt_nfkc turns "\n" and "\t" into spaces, and whitespace removal then drops them all.
    "legacy-1b": {"\n": [], "\t": [], "  ": []},
    "broken/whitespace-removal-on": {"\n": ["<0x0A>"], "\t": ["<0x09>"], "  ": []},
}


@pytest.mark.parametrize("fixture", list(WHITESPACE), ids=list(WHITESPACE))
def test_whitespace_encodings(fixture: str) -> None:
    assert _summary(FIXTURES / fixture / "spiece.model").whitespace_encodings == WHITESPACE[fixture]


def test_whitespace_encodings_shared_ja(shared_ja_model: Path) -> None:
    # NFKC (not the NMT variant) keeps "\n" and "\t"; the dummy prefix adds "▁" in front; the
    # vocab has "\t" but no "\n".
    assert _summary(shared_ja_model).whitespace_encodings == {
        "\n": ["▁", "<unk>"],
        "\t": ["▁", "\t"],
        "  ": [],
    }


# --- models sentencepiece refuses --------------------------------------------------------------


def test_missing_byte_pieces_summarised_with_processor_error(broken_dir: Any) -> None:
    path: Path = broken_dir("missing-byte-pieces") / "spiece.model"
    s = _summary(path)
    assert (s.vocab_size, s.byte_fallback, s.byte_pieces, s.byte_pieces_exact) == (
        32_000,
        True,
        240,
        False,
    )
    assert s.whitespace_encodings is None
    assert s.processor_error is not None
    assert "256 byte pieces" in s.processor_error
    with pytest.raises(ModelFileError, match="sentencepiece refuses"):
        _ = SentencePieceModel.load(path).processor


def test_no_byte_fallback_keeps_its_byte_pieces(broken_dir: Any) -> None:
    s = _summary(broken_dir("no-byte-fallback") / "spiece.model")
    assert (s.byte_fallback, s.byte_pieces, s.byte_pieces_exact) == (False, 256, True)
    # sentencepiece will not load BYTE pieces without byte_fallback.
    assert s.processor_error is not None
    assert "byte_fallback" in s.processor_error


def test_summary_is_json_serialisable(bilingual_dir: Path) -> None:
    data = _summary(bilingual_dir / "spiece.model").to_dict()
    assert json.loads(json.dumps(data))["user_defined_symbols"] == ["\n", "\t"]


# --- not a model at all ------------------------------------------------------------------------


def _only_normalizer() -> bytes:
    proto = ModelProto()
    proto.normalizer_spec.name = "identity"
    data: bytes = proto.SerializeToString()
    return data


NOT_MODELS: dict[str, bytes] = {
    "empty": b"",
    "random-bytes": random.Random(0).randbytes(4096),
    "text": "これはテキストファイルです。\nnot a model\n".encode(),
    "truncated": (FIXTURES / "broken" / "truncated" / "spiece.model").read_bytes(),
    "corrupt": (FIXTURES / "broken" / "corrupt" / "spiece.model").read_bytes(),
    "half-of-neox": (FIXTURES / "neox-3.6b" / "spiece.model").read_bytes()[:1000],
    "valid-proto-no-pieces": _only_normalizer(),
}


@pytest.mark.parametrize("data", list(NOT_MODELS.values()), ids=list(NOT_MODELS))
def test_not_a_model(data: bytes) -> None:
    with pytest.raises(
        ModelFileError, match=r"^name\.model: (empty file|not a sentencepiece model)"
    ):
        parse_model_proto(data, "name.model")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        SentencePieceModel.load(tmp_path / "missing.model")
    with pytest.raises(ModelFileError, match="is a directory"):
        SentencePieceModel.load(tmp_path)


def test_load_keeps_bytes_and_pieces(tiny_neox_dir: Path) -> None:
    path = tiny_neox_dir / "spiece.model"
    model = SentencePieceModel.load(path)
    assert model.data == path.read_bytes()
    sp = spm.SentencePieceProcessor(model_file=str(path))
    assert model.pieces == [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
