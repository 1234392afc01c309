"""Read a sentencepiece model file as a raw ModelProto and summarise what it says.

The proto is parsed with protobuf (the ``sentencepiece_model_pb2`` module shipped in the
sentencepiece wheel), not through ``SentencePieceProcessor``, so that every flag is read as
written in the file. The processor is used only for what only it can tell: how a few strings
actually encode. This module does not judge the values; :mod:`tokcheck.checks.rules` does.

Piece names are text only by convention: sentencepiece loads a model whose pieces (or
``unk_surface``) are not valid UTF-8, and for such a string field protobuf (upb) returns
``bytes`` instead of ``str``. Every proto string tokcheck reads goes through
:func:`proto_text`, which shows each byte that is not part of valid UTF-8 as ``\\xNN`` (Python's
``backslashreplace``): ``b"Q\\xffQ"`` reads as the 6 characters ``Q\\xffQ``. The escape is for
display only and can collide with a piece literally spelled that way, so the ids of such pieces
are listed in :attr:`ModelSummary.invalid_utf8_pieces`.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from functools import cached_property
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tokcheck.errors import ModelFileError, one_line
from tokcheck.model.spm import (
    BYTE,
    BYTE_PIECES,
    CONTROL,
    MODEL_TYPES,
    PIECE_TYPES,
    UNKNOWN,
    UNUSED,
    USER_DEFINED,
)

if TYPE_CHECKING:
    import sentencepiece
    from sentencepiece.sentencepiece_model_pb2 import ModelProto

# Strings whose encoding tells at a glance how whitespace is treated.
WHITESPACE_PROBES = ("\n", "\t", "  ")

# sentencepiece's log lines would precede tokcheck's own one-line error on stderr; what they say
# also reaches us as the load's error status. 3 is absl's FATAL, which aborts anyway.
_SPM_MIN_LOG_LEVEL = 3

# The types sentencepiece's processor reports, in the order of its is_unused, is_control,
# is_unknown and is_byte (normal and user-defined pieces it does not tell apart).
_FLAGGED = (UNUSED, CONTROL, UNKNOWN, BYTE)


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
    # Ids of pieces whose name is not valid UTF-8 (shown escaped, see proto_text).
    invalid_utf8_pieces: tuple[int, ...]
    # Whether trainer_spec.unk_surface, what unk decodes to, is not valid UTF-8.
    unk_surface_invalid_utf8: bool
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
        self._loader: _ProcessorLoader | None = None

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

    def start_processor(self) -> None:
        """Begin loading the processor on a worker thread; ``processor`` then waits for it.

        sentencepiece builds its tries without holding the GIL, so Python work on the proto can
        run meanwhile (for a 65,536-piece model the load takes about as long as that work).
        """
        if self._loader is None and "processor" not in self.__dict__:
            self._loader = _ProcessorLoader(self.data)

    @cached_property
    def processor(self) -> sentencepiece.SentencePieceProcessor:
        loader, self._loader = self._loader, None
        try:
            return loader.result() if loader else _load_processor(self.data)
        except Exception as e:
            # Not only RuntimeError: see _load_error_text.
            raise ModelFileError(
                f"{self.path}: sentencepiece refuses to load the model: {_load_error_text(e)}"
            ) from e

    @cached_property
    def runtime_proto(self) -> ModelProto:
        """The proto with each piece's type as the loaded sentencepiece treats it; the proto
        itself where that is the type written in it, as it is for every piece without a NUL.

        sentencepiece (0.2.3, as measured), with byte fallback, treats a piece named ``"\\0"`` of any
        type as UNUSED ("Piece at index 354 is a null character (\\0) and byte_fallback is
        enabled. Treating it as an UNUSED piece."): text's NUL becomes the byte piece
        ``<0x00>``, and the id still decodes to its name. The types of the pieces with a NUL are
        read back from the processor, so that whatever the installed version does is what the
        converter and its hazard analysis see; a model without such a piece needs no processor
        here, and one sentencepiece refuses keeps its written types (the refusal comes later).
        """
        nul = [i for i, name in enumerate(self.pieces) if "\0" in name]
        if not nul:
            return self.proto
        try:
            sp = self.processor
        except ModelFileError:
            return self.proto
        changed = {}
        for i in nul:
            flags = (sp.is_unused(i), sp.is_control(i), sp.is_unknown(i), sp.is_byte(i))
            kind = next((t for t, f in zip(_FLAGGED, flags, strict=True) if f), None)
            if kind is not None and kind != self.proto.pieces[i].type:
                changed[i] = kind
        if not changed:
            return self.proto
        from sentencepiece.sentencepiece_model_pb2 import ModelProto

        proto = ModelProto()
        proto.CopyFrom(self.proto)
        for i, kind in changed.items():
            proto.pieces[i].type = kind
        return proto

    @cached_property
    def pieces(self) -> list[str]:
        """Every piece name by id, as text (see :func:`proto_text`)."""
        names = self._raw_pieces
        if not self.invalid_utf8_pieces:
            return cast(list[str], names)
        return list(map(proto_text, names))

    @cached_property
    def _raw_pieces(self) -> list[str | bytes]:
        return list(map(attrgetter("piece"), self.proto.pieces))

    @cached_property
    def invalid_utf8_pieces(self) -> tuple[int, ...]:
        """Ids of the pieces whose name is not valid UTF-8."""
        names = self._raw_pieces
        # One C-level pass in the usual case, where every name is a str.
        if set(map(type, names)) == {str}:
            return ()
        return tuple(i for i, name in enumerate(names) if isinstance(name, bytes))

    @cached_property
    def special_names(self) -> list[str]:
        """The names of the pieces special in text one way or another (control, unknown and
        user-defined), in id order, each once; none that is not valid UTF-8, or empty."""
        bad = set(self.invalid_utf8_pieces)
        kinds = (CONTROL, UNKNOWN, USER_DEFINED)
        names = [
            self.pieces[i]
            for i, p in enumerate(self.proto.pieces)
            if p.type in kinds and i not in bad
        ]
        return [name for name in dict.fromkeys(names) if name]

    @property
    def unk_surface_invalid_utf8(self) -> bool:
        surface: str | bytes = self.proto.trainer_spec.unk_surface
        return isinstance(surface, bytes)

    def require_text(self, purpose: str) -> None:
        """Raise ModelFileError unless sentencepiece can return every piece and unk as text.

        ``purpose`` completes "cannot <purpose>" in the message, e.g. "compare tokenizers".
        sentencepiece's Python API raises UnicodeDecodeError when asked for such a piece as text
        (``id_to_piece``, ``decode``), and Hugging Face converters cannot hold it either.
        """
        bad = self.invalid_utf8_pieces
        if bad:
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            raise ModelFileError(
                f"{self.path}: cannot {purpose}: {len(bad)} piece(s) are not valid UTF-8 "
                f"(ids {shown}); sentencepiece's Python API and Hugging Face cannot return them "
                "as text"
            )
        if self.unk_surface_invalid_utf8:
            raise ModelFileError(
                f"{self.path}: cannot {purpose}: trainer_spec.unk_surface is not valid UTF-8; "
                "sentencepiece's Python API cannot decode unknown text"
            )

    def summary(self) -> ModelSummary:
        return summarize(self)


def proto_text(value: str | bytes) -> str:
    """A proto string field as text: bytes that are not valid UTF-8 become ``\\xNN``.

    upb returns ``bytes`` for a string field that is not valid UTF-8 and ``str`` otherwise.
    """
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


def _load_error_text(error: Exception) -> str:
    """sentencepiece's load error as one line.

    When its message quotes a piece that is not UTF-8, sentencepiece raises UnicodeDecodeError
    while turning the message into str; the message itself is the error's ``object``.
    """
    if isinstance(error, UnicodeDecodeError) and isinstance(error.object, bytes):
        text = proto_text(error.object)
    else:
        text = str(error)
    return one_line(text) or type(error).__name__


def _load_processor(data: bytes) -> sentencepiece.SentencePieceProcessor:
    import sentencepiece

    sentencepiece.set_min_log_level(_SPM_MIN_LOG_LEVEL)
    sp = sentencepiece.SentencePieceProcessor()
    sp.LoadFromSerializedProto(data)
    return sp


class _ProcessorLoader:
    """``_load_processor`` running on its own thread."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._value: sentencepiece.SentencePieceProcessor | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tokcheck-spm-load", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = _load_processor(self._data)
        except BaseException as e:  # handed to the caller of result()
            self._error = e

    def result(self) -> sentencepiece.SentencePieceProcessor:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


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
    except UnicodeDecodeError as e:
        # Only protobuf's pure-Python implementation refuses to parse such a string; upb
        # returns it as bytes, which proto_text escapes.
        raise ModelFileError(
            f"{name}: a string in the model is not valid UTF-8 and this protobuf implementation "
            f"cannot read it ({one_line(str(e))}); use protobuf's default (upb) implementation"
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
    model.start_processor()
    proto = model.proto
    trainer = proto.trainer_spec
    norm = proto.normalizer_spec
    # One C-level pass per field over the repeated pieces: a Python loop over 65,536 protobuf
    # messages costs several times more.
    pieces = model.pieces
    types = list(map(attrgetter("type"), proto.pieces))
    type_counts = {PIECE_TYPES.get(t, f"type_{t}"): types.count(t) for t in set(types)}
    unusual = [i for i, t in enumerate(types) if t != 1]
    byte_pieces = [pieces[i] for i in unusual if types[i] == 6]
    # Sums are finite exactly when every score is (short of overflow, which the scan then sorts).
    scores_finite = math.isfinite(sum(map(attrgetter("score"), proto.pieces)))
    nonfinite = (
        ()
        if scores_finite
        else tuple(i for i, p in enumerate(proto.pieces) if not math.isfinite(p.score))
    )
    duplicates: tuple[str, ...] = ()
    # Counted on the names as stored, so that an escaped name never equals a literal one.
    raw = model._raw_pieces
    if len(set(raw)) != len(raw):
        duplicates = tuple(sorted(proto_text(p) for p, n in Counter(raw).items() if n > 1))
    try:
        sp = model.processor
        # Ids, not out_type=str: that raises on a piece that is not UTF-8, and for an unknown
        # character it shows the input text rather than the unk piece.
        encodings: dict[str, list[str]] | None = {
            s: [pieces[i] for i in sp.encode(s)] for s in WHITESPACE_PROBES
        }
        processor_error = None
    except ModelFileError as e:
        encodings, processor_error = None, str(e)
    return ModelSummary(
        source=str(model.path),
        vocab_size=len(pieces),
        model_type=MODEL_TYPES.get(trainer.model_type, f"type_{trainer.model_type}"),
        byte_fallback=trainer.byte_fallback,
        byte_pieces=len(byte_pieces),
        byte_pieces_exact=tuple(byte_pieces) == BYTE_PIECES,
        add_dummy_prefix=norm.add_dummy_prefix,
        remove_extra_whitespaces=norm.remove_extra_whitespaces,
        escape_whitespaces=norm.escape_whitespaces,
        normalization_rule_name=proto_text(norm.name),
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
        control_symbols=tuple(pieces[i] for i in unusual if types[i] == 3),
        user_defined_symbols=tuple(pieces[i] for i in unusual if types[i] == 4),
        piece_types=dict(sorted(type_counts.items())),
        duplicate_pieces=duplicates,
        nonfinite_scores=nonfinite,
        invalid_utf8_pieces=model.invalid_utf8_pieces,
        unk_surface_invalid_utf8=model.unk_surface_invalid_utf8,
        whitespace_encodings=encodings,
        processor_error=processor_error,
    )
