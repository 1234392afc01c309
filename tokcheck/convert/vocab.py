"""The exported vocabulary: each id's token, and the one-character pieces renamed so that text
never spells them.

sentencepiece never matches a control, unused or byte piece (or, with byte fallback, the
unknown piece) in text; under its own name such a one-character piece would be the tokenizers
model's piece for its character. :func:`vocabulary` renames those with a noncharacter
(:func:`rename_mark`); the decoder turns them back (:mod:`tokcheck.convert.decoder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokcheck.convert import charsmap
from tokcheck.errors import TokcheckError
from tokcheck.model.spm import (
    MATCHABLE,
)

if TYPE_CHECKING:
    from sentencepiece.sentencepiece_model_pb2 import ModelProto


def vocabulary(proto: ModelProto) -> list[str]:
    """Each id's token in the exported vocabulary: its piece's name, except for a one-character
    piece sentencepiece never matches in text (a control, unused or byte piece, or the unknown
    piece with byte fallback), whose token is that character followed by a noncharacter no piece
    contains (:func:`rename_mark`).

    Under its own name such a piece would be the tokenizers model's piece for its character,
    which sentencepiece makes bytes or the unknown piece; renamed, no character is its token,
    ids stay as they are, and the decoder turns the token back into what sentencepiece decodes
    the id to. Whether text can still spell the renamed token is the pre-tokeniser's to prevent
    (the BPE hazard split, :func:`isolate_uncovered`) or :func:`_matchable_name`'s to refuse.
    ``proto`` is the runtime proto (see :attr:`SentencePieceModel.runtime_proto`).
    """
    names = [p.piece for p in proto.pieces]
    renamed = renamed_ids(proto)
    if renamed:
        mark = rename_mark(proto)
        for i in renamed:
            names[i] += mark
    return names


def rename_mark(proto: ModelProto) -> str:
    """The noncharacter :func:`vocabulary` appends to a renamed one-character piece: the first of
    :data:`tokcheck.convert.charsmap.NONCHARACTERS` that no piece contains (U+FDD0 in any real
    vocabulary), so no renamed token is another piece's name and the decoder's own stand-ins
    (:data:`_PLACEHOLDERS`, at the end of that list) stay apart from it."""
    used = {c for p in proto.pieces for c in p.piece}
    mark = next((c for c in charsmap.NONCHARACTERS if c not in used), None)
    if mark is None:
        raise TokcheckError("cannot export: the pieces hold every noncharacter")
    return mark


def renamed_ids(proto: ModelProto) -> list[int]:
    """The ids :func:`vocabulary` renames: one-character pieces sentencepiece never matches."""
    trainer = proto.trainer_spec
    return [
        i
        for i, p in enumerate(proto.pieces)
        if len(p.piece) == 1
        and p.type not in MATCHABLE
        and not (i == trainer.unk_id and not trainer.byte_fallback)
    ]


def known_chars(proto: ModelProto) -> set[str]:
    """The characters that are never unknown: those with a one-character piece."""
    return {p.piece for p in proto.pieces if p.type in MATCHABLE and len(p.piece) == 1}
