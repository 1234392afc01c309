"""Read a sentencepiece model file as a raw ModelProto and summarise what it says.

The proto is parsed with protobuf (the ``sentencepiece_model_pb2`` module shipped in the
sentencepiece wheel), not through ``SentencePieceProcessor``, so that every flag is read as
written in the file. The processor is used only for what only it can tell: how a few strings
actually encode. This module does not judge the values; :mod:`tokcheck.checks` does.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokcheck.errors import ModelFileError

if TYPE_CHECKING:
    import sentencepiece
    from sentencepiece.sentencepiece_model_pb2 import ModelProto

BYTE_PIECES = tuple(f"<0x{b:02X}>" for b in range(256))
# Strings whose encoding tells at a glance how whitespace is treated.
WHITESPACE_PROBES = ("\n", "\t", "  ")

_PIECE_TYPES = {1: "normal", 2: "unknown", 3: "control", 4: "user_defined", 5: "unused", 6: "byte"}
_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


@dataclass(frozen=True)
class ModelSummary:
    """Everything tokcheck reads from one ModelProto, as plain values."""

    source: str
    vocab_size: int
    model_type: str
    byte_fallback: bool
    byte_pieces: int
    byte_pieces_exact: bool
    add_dummy_prefix: bool
    remove_extra_whitespaces: bool
    escape_whitespaces: bool
    normalization_rule_name: str
    precompiled_charsmap: bool
    split_by_whitespace: bool
    split_by_unicode_script: bool
    split_by_number: bool
    split_digits: bool
    treat_whitespace_as_suffix: bool
    unk_id: int
    bos_id: int
    eos_id: int
    pad_id: int
    unk_piece: str | None
    bos_piece: str | None
    eos_piece: str | None
    pad_piece: str | None
    unknown_pieces: int
    control_symbols: tuple[str, ...]
    user_defined_symbols: tuple[str, ...]
    piece_types: dict[str, int]
    duplicate_pieces: tuple[str, ...]
    nonfinite_scores: tuple[int, ...]
    # None when sentencepiece itself refuses the model; processor_error then says why.
    whitespace_encodings: dict[str, list[str]] | None
    processor_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SentencePieceModel:
    """One sentencepiece model file: its bytes, its parsed proto, and a processor on demand."""

    def __init__(self, path: Path, data: bytes, proto: ModelProto) -> None:
        self.path = path
        self.data = data
        self.proto = proto

    @classmethod
    def load(cls, path: Path) -> SentencePieceModel:
        try:
            data = path.read_bytes()
        except FileNotFoundError as e:
            raise ModelFileError(f"{path}: no such file") from e
        except IsADirectoryError as e:
            raise ModelFileError(f"{path}: is a directory, not a .model file") from e
        except OSError as e:
            raise ModelFileError(f"{path}: cannot read: {e.strerror}") from e
        return cls(path, data, parse_model_proto(data, str(path)))

    @cached_property
    def processor(self) -> sentencepiece.SentencePieceProcessor:
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor()
        try:
            sp.LoadFromSerializedProto(self.data)
        except (RuntimeError, OSError) as e:
            raise ModelFileError(
                f"{self.path}: sentencepiece refuses to load the model: {str(e).strip()}"
            ) from e
        return sp

    @cached_property
    def pieces(self) -> list[str]:
        return [p.piece for p in self.proto.pieces]

    def summary(self) -> ModelSummary:
        return summarize(self)


def parse_model_proto(data: bytes, name: str) -> ModelProto:
    """Parse serialized bytes into a ModelProto, or raise ModelFileError saying why not."""
    from google.protobuf.message import DecodeError
    from sentencepiece.sentencepiece_model_pb2 import ModelProto

    if not data:
        raise ModelFileError(f"{name}: empty file, not a sentencepiece model")
    proto = ModelProto()
    try:
        proto.ParseFromString(data)
    except DecodeError as e:
        raise ModelFileError(
            f"{name}: not a sentencepiece model (protobuf parse failed: {e}); "
            "the file may be truncated or corrupt"
        ) from e
    # Protobuf happily parses many byte strings as unknown fields: insist on the shape of a model.
    if not proto.pieces or not proto.HasField("trainer_spec"):
        raise ModelFileError(
            f"{name}: not a sentencepiece model (no pieces or no trainer_spec in the protobuf)"
        )
    return proto


def _special(pieces: list[str], index: int) -> str | None:
    return pieces[index] if 0 <= index < len(pieces) else None


def summarize(model: SentencePieceModel) -> ModelSummary:
    proto = model.proto
    trainer = proto.trainer_spec
    norm = proto.normalizer_spec
    pieces = model.pieces
    types = [p.type for p in proto.pieces]
    type_counts = Counter(_PIECE_TYPES.get(t, f"type_{t}") for t in types)
    byte_pieces = [p for p, t in zip(pieces, types, strict=True) if t == 6]
    counts = Counter(pieces)
    try:
        sp = model.processor
        encodings: dict[str, list[str]] | None = {
            s: sp.encode(s, out_type=str) for s in WHITESPACE_PROBES
        }
        processor_error = None
    except ModelFileError as e:
        encodings, processor_error = None, str(e)
    return ModelSummary(
        source=str(model.path),
        vocab_size=len(pieces),
        model_type=_MODEL_TYPES.get(trainer.model_type, f"type_{trainer.model_type}"),
        byte_fallback=trainer.byte_fallback,
        byte_pieces=len(byte_pieces),
        byte_pieces_exact=tuple(byte_pieces) == BYTE_PIECES,
        add_dummy_prefix=norm.add_dummy_prefix,
        remove_extra_whitespaces=norm.remove_extra_whitespaces,
        escape_whitespaces=norm.escape_whitespaces,
        normalization_rule_name=norm.name,
        precompiled_charsmap=bool(norm.precompiled_charsmap),
        split_by_whitespace=trainer.split_by_whitespace,
        split_by_unicode_script=trainer.split_by_unicode_script,
        split_by_number=trainer.split_by_number,
        split_digits=trainer.split_digits,
        treat_whitespace_as_suffix=trainer.treat_whitespace_as_suffix,
        unk_id=trainer.unk_id,
        bos_id=trainer.bos_id,
        eos_id=trainer.eos_id,
        pad_id=trainer.pad_id,
        unk_piece=_special(pieces, trainer.unk_id),
        bos_piece=_special(pieces, trainer.bos_id),
        eos_piece=_special(pieces, trainer.eos_id),
        pad_piece=_special(pieces, trainer.pad_id),
        unknown_pieces=type_counts.get("unknown", 0),
        control_symbols=tuple(p for p, t in zip(pieces, types, strict=True) if t == 3),
        user_defined_symbols=tuple(p for p, t in zip(pieces, types, strict=True) if t == 4),
        piece_types=dict(sorted(type_counts.items())),
        duplicate_pieces=tuple(sorted(p for p, n in counts.items() if n > 1)),
        nonfinite_scores=tuple(i for i, p in enumerate(proto.pieces) if not math.isfinite(p.score)),
        whitespace_encodings=encodings,
        processor_error=processor_error,
    )
