"""sentencepiece's constants and arithmetic, written once.

The piece and model types of its ModelProto, the surfaces it decodes to, and the float32
arithmetic of its Unigram Viterbi: how it scores an unknown character and a user-defined piece.
The proto reader names types with these, the converter writes scores with them and the judge
scores paths with them, so that an exported tokenizer and a tie are computed as sentencepiece
computes them, from one definition.
"""

from __future__ import annotations

import functools
import struct

# ModelProto.SentencePiece.Type; the matchable ones are those sentencepiece ever selects for text.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
MATCHABLE = (NORMAL, USER_DEFINED)
PIECE_TYPES = {
    NORMAL: "normal",
    UNKNOWN: "unknown",
    CONTROL: "control",
    USER_DEFINED: "user_defined",
    UNUSED: "unused",
    BYTE: "byte",
}
# ModelProto.TrainerSpec.ModelType.
UNIGRAM_MODEL, BPE_MODEL, WORD_MODEL, CHAR_MODEL = 1, 2, 3, 4
MODEL_TYPES = {UNIGRAM_MODEL: "unigram", BPE_MODEL: "bpe", WORD_MODEL: "word", CHAR_MODEL: "char"}

# The byte pieces, in byte order, as sentencepiece names them.
BYTE_PIECES = tuple(f"<0x{b:02X}>" for b in range(256))
# What sentencepiece writes for a space in pieces (U+2581).
SPACE_SYMBOL = "\u2581"
# What sentencepiece decodes the unknown piece to unless the trainer spec sets unk_surface.
DEFAULT_UNK_SURFACE = " \u2047 "

# The unknown piece scores the lowest normal score minus this penalty.
UNK_PENALTY = 10.0
# The Unigram starts its maximum score at FLT_MIN, the smallest positive normal float32.
FLT_MIN = 1.1754943508222875e-38


def f32(value: float) -> float:
    """``value`` rounded to float32, as sentencepiece stores and adds scores."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def max_score(normal: list[float]) -> float:
    """The maximum over the normal pieces' scores, starting at FLT_MIN, as the Unigram takes it."""
    return max([f32(FLT_MIN), *normal])


def unknown_score(normal: list[float]) -> float:
    """What the Unigram scores an unknown character: the lowest of the ``normal`` pieces'
    scores less the penalty, in float32."""
    return f32(min(normal, default=0.0) - UNK_PENALTY)


def user_defined_score(length: int, max_score: float) -> float:
    """What the Unigram Viterbi adds for a user-defined piece ``length`` bytes long (float32):
    in the installed sentencepiece either ``0.1 * length - 0.1`` (0.2.3 does, so a longer symbol
    outscores a shorter one and ``"  S"`` can be ``▁▁ S`` over ``▁ ▁S``) or, as its 0.2.0
    sources read, ``length * max_score - 0.1``, which is -0.1 whenever every normal score is
    negative. Which one is measured once (:func:`_scores_by_length`)."""
    if _scores_by_length():
        return f32(f32(length * f32(0.1)) - f32(0.1))
    return f32(f32(length * max_score) - 0.1)


@functools.cache
def _scores_by_length() -> bool:
    """Whether the installed sentencepiece scores user-defined pieces by length alone: on
    ``xya`` with the symbol ``xy`` and normal pieces ``x`` -1, ``ya`` -4.05, ``a`` -5, it picks
    ``xy a`` (0.1 - 5 beats -5.05) by length and ``x ya`` (-0.1 - 5 loses) by maximum score."""
    import sentencepiece
    from sentencepiece.sentencepiece_model_pb2 import ModelProto

    proto = ModelProto()
    proto.trainer_spec.model_type = UNIGRAM_MODEL
    proto.trainer_spec.unk_id = 0
    spec = proto.normalizer_spec
    spec.name = "identity"
    spec.add_dummy_prefix = spec.remove_extra_whitespaces = spec.escape_whitespaces = False
    for piece, kind, score in [
        ("<unk>", UNKNOWN, 0.0),
        ("xy", USER_DEFINED, 0.0),
        ("x", NORMAL, -1.0),
        ("y", NORMAL, -5.0),
        ("a", NORMAL, -5.0),
        ("ya", NORMAL, -4.05),
    ]:
        entry = proto.pieces.add()
        entry.piece, entry.type, entry.score = piece, kind, score
    processor = sentencepiece.SentencePieceProcessor(model_proto=proto.SerializeToString())
    return bool(processor.encode("xya", out_type=str) == ["xy", "a"])
