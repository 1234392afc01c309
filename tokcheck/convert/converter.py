"""Convert a sentencepiece ModelProto into a ``tokenizers.Tokenizer`` that encodes like it.

:class:`Converter` builds the tokenizer one component at a time, each from the raw proto alone:
the model (Unigram or BPE pieces with sentencepiece's own scores, byte fallback), the
normaliser (its precompiled charsmap, then ``remove_extra_whitespaces``, ``add_dummy_prefix``
and ``escape_whitespaces`` in sentencepiece's order), the pre-tokeniser, the added tokens and a
decoder that undoes all of it.

Pieces that sentencepiece never matches in text (control, unknown, byte and unused pieces) sit
in the ``tokenizers`` vocabulary too, where its Unigram model would match them; they get a score
no segmentation can lose to, and characters that no matchable piece contains are split off
before the model so such a name cannot be matched through them. Special tokens are therefore
not extracted from text either (see :mod:`tokcheck.export.run` for the config that says so).

This module converts; it neither verifies (:mod:`tokcheck.judge.lines` does) nor writes files
(:mod:`tokcheck.export.run`). It refuses the model type ``word``,
``treat_whitespace_as_suffix`` and models with a denormaliser.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from tokcheck.convert import bpe
from tokcheck.convert.decoder import build_decoder
from tokcheck.convert.normalizer import build_normalizer, covered_chars, isolate_uncovered
from tokcheck.convert.patterns import char_class, literal
from tokcheck.convert.vocab import known_chars, vocabulary
from tokcheck.errors import TokcheckError
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import (
    BPE_MODEL,
    BYTE,
    CHAR_MODEL,
    CONTROL,
    MATCHABLE,
    MODEL_TYPES,
    NORMAL,
    PIECE_TYPES,
    UNIGRAM_MODEL,
    UNKNOWN,
    UNUSED,
    USER_DEFINED,
    max_score,
    user_defined_score,
)

if TYPE_CHECKING:
    from sentencepiece.sentencepiece_model_pb2 import ModelProto
    from tokenizers import Tokenizer

_TYPE_NAMES = {t: PIECE_TYPES[t] for t in (UNKNOWN, CONTROL, UNUSED, BYTE)}


class Converter:
    """One ModelProto's tokenizer, component by component.

    Raises TokcheckError for what cannot be expressed with tokenizers' components.
    """

    def __init__(self, model: SentencePieceModel) -> None:
        _refuse_unsupported(model)
        self.source = model
        # Piece types as sentencepiece treats them (see SentencePieceModel.runtime_proto).
        self.proto = model.runtime_proto
        self.unigram = self.proto.trainer_spec.model_type == UNIGRAM_MODEL
        self.char = self.proto.trainer_spec.model_type == CHAR_MODEL

    def build(self) -> Tokenizer:
        """The whole tokenizer; what sentencepiece accepts but tokenizers cannot hold (a
        charsmap it cannot parse, say) raises TokcheckError naming the component."""
        from tokenizers import Tokenizer

        self.source.processor  # noqa: B018  (a model sentencepiece refuses: one line, here)
        if residual := self.hazards.residual:
            raise TokcheckError(f"{self.source.path}: cannot export: {_residual_text(residual[0])}")
        if hazard := _matchable_name(self.proto):
            piece, why = self.proto.pieces[hazard[0]], hazard[1]
            name = vocabulary(self.proto)[hazard[0]]
            kind = _TYPE_NAMES.get(piece.type, "special")
            what = f"{kind} piece {hazard[0]}"
            if name != piece.piece:  # renamed: say which piece the user's model calls it
                what = (
                    f"one-character {kind} piece {piece.piece!r} (id {hazard[0]}, exported as "
                    "its character and a noncharacter)"
                )
            raise TokcheckError(
                f"{self.source.path}: cannot export: the exported tokenizer would take the text "
                f"{name!r} for the {what} ({why}); sentencepiece never does"
            )
        component = "model"
        try:
            tokenizer = Tokenizer(self.model())
            component = "normalizer"
            tokenizer.normalizer = self.normalizer()
            component = "pre-tokenizer"
            tokenizer.pre_tokenizer = self.pre_tokenizer()
            component = "decoder"
            tokenizer.decoder = self.decoder()
        except TokcheckError:
            raise
        except Exception as e:  # tokenizers raises plain Exception for what it cannot build
            raise TokcheckError(
                f"{self.source.path}: cannot export: tokenizers cannot build the {component} "
                f"({type(e).__name__}: {e})"
            ) from e
        return tokenizer

    def model(self) -> Any:
        if self.char:
            return _char_model(self.proto)
        return (
            _unigram(self.proto) if self.unigram else bpe.model(self.proto, vocabulary(self.proto))
        )

    def normalizer(self) -> Any:
        return build_normalizer(self.source, self.proto)

    def pre_tokenizer(self) -> Any:
        if self.char:
            return _char_split(self.proto)
        if self.unigram:
            return isolate_uncovered(self.proto)
        return bpe.pre_tokenizer(self.proto, self.hazards)

    @cached_property
    def hazards(self) -> bpe.Hazards:
        """For BPE: the names a whole pre-token could be looked up as wrongly (see
        :class:`tokcheck.convert.bpe.Hazards`); for unigram, none."""
        if self.unigram or self.char:
            return bpe.Hazards((), ())
        return bpe.hazards(self.proto, vocabulary(self.proto))

    def decoder(self) -> Any:
        return build_decoder(self.proto)


def build_tokenizer(model: SentencePieceModel) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that encodes and decodes like sentencepiece on ``model``."""
    return Converter(model).build()


def _residual_text(name: str) -> str:
    """Why a residual hazard of :func:`tokcheck.convert.bpe.hazards` is refused."""
    if len(name) == 1:
        return (
            f"the one-character piece {name!r}, which sentencepiece never matches, has no "
            "exported token that text cannot spell: without byte fallback the character and "
            "the noncharacter appended to it are fused into one unknown piece, so no boundary "
            "can be put between them, and after a user-defined symbol the exported tokenizer "
            "would take that text for the piece; sentencepiece does not"
        )
    return (
        f"no two adjacent characters of the piece {name!r} are free of every other piece, and "
        "sentencepiece makes its text one unknown piece or more than "
        f"{bpe.MAX_CUTS} pieces (the most a whole pre-token is cut into), so after a "
        "user-defined symbol the exported tokenizer would take that text for the piece; "
        "sentencepiece does not"
    )


def unsupported(model: SentencePieceModel) -> str | None:
    """Why :class:`Converter` refuses ``model`` ("a char model", ...), or None if it does not."""
    proto = model.proto
    trainer = proto.trainer_spec
    if trainer.model_type not in (UNIGRAM_MODEL, BPE_MODEL, CHAR_MODEL):
        kind = MODEL_TYPES.get(trainer.model_type, f"type {trainer.model_type}")
        return f"a {kind} model; only unigram, bpe and char"
    if trainer.treat_whitespace_as_suffix:
        return "a model with treat_whitespace_as_suffix"
    if proto.HasField("denormalizer_spec") and proto.denormalizer_spec.precompiled_charsmap:
        return "a model with a denormalizer"
    if not 0 <= trainer.unk_id < len(proto.pieces):
        return f"a model whose unk_id {trainer.unk_id} names no piece"
    return None


def _refuse_unsupported(model: SentencePieceModel) -> None:
    if reason := unsupported(model):
        raise TokcheckError(f"{model.path}: cannot export {reason}")


def _unigram(proto: ModelProto) -> Any:
    """The Unigram model, normal pieces with sentencepiece's own float32 scores, unchanged.

    Both Viterbis keep the earliest start on equal path scores, but sentencepiece sums in
    float32 and tokenizers in float64, so segmentations that score the same (``jj jj j`` and
    ``j jj jj``) can go different ways: ties (see :mod:`tokcheck.judge.lines`). No score written here
    can reproduce sentencepiece's choice: a per-piece score adds the same to both orders of the
    same pieces, and which order float32 rounding favours depends on the path score before
    them. Nudged scores only add float64 rounding of their own; measured
    (``benchmarks/ties.py --scores``), they make ties more common, so none are written.
    """
    from tokenizers.models import Unigram

    pieces = proto.pieces
    normal = [p.score for p in pieces if p.type == NORMAL]
    # As sentencepiece computes it (spm.user_defined_score), with the length in bytes.
    highest = max_score(normal)
    floor = min([0.0, *normal])
    vocab: list[tuple[str, float]] = []
    for p, name in zip(pieces, vocabulary(proto), strict=True):
        if p.type == NORMAL:
            score = float(p.score)
        elif p.type == USER_DEFINED:
            score = user_defined_score(len(p.piece.encode()), highest)
        else:
            # Never matched by sentencepiece: a score below any segmentation of the same span
            # into matchable pieces (each scores at least `floor`), so the Viterbi never picks it.
            score = len(name) * floor - 1.0
        vocab.append((name, score))
    return Unigram(vocab, proto.trainer_spec.unk_id, proto.trainer_spec.byte_fallback)


def _char_model(proto: ModelProto) -> Any:
    """sentencepiece's char model as a Unigram over the pre-tokens of :func:`_char_split`.

    sentencepiece splits the normalised text into user-defined symbols (longest first) and
    single characters, and looks each up: a piece, or the unknown piece (one per run of
    unknown characters without byte fallback, bytes with it). Each pre-token here is one such
    unit or one run of unknown characters, so the Unigram only has to take a unit whole:
    matchable pieces score -1 each, so one piece beats any split into two or more; the pieces
    sentencepiece never matches score lower still.
    """
    from tokenizers.models import Unigram

    vocab = [
        (name, -1.0 if p.type in MATCHABLE else -1.0 - len(name))
        for p, name in zip(proto.pieces, vocabulary(proto), strict=True)
    ]
    return Unigram(vocab, proto.trainer_spec.unk_id, proto.trainer_spec.byte_fallback)


def _char_split(proto: ModelProto) -> Any:
    """The char model's units as pre-tokens: each multi-character user-defined symbol
    (leftmost-longest, as sentencepiece's prefix matcher takes them), each character, and
    without byte fallback each run of characters without a piece of their own, which
    sentencepiece makes one unknown piece (the Unigram fuses unknowns within a pre-token)."""
    from tokenizers import Regex, pre_tokenizers

    alternatives = "|".join(map(literal, bpe.user_symbols(proto)))
    guard = f"(?!{alternatives})" if alternatives else ""
    units = [r"[\s\S]"]
    if not proto.trainer_spec.byte_fallback:
        units.insert(0, f"(?:{guard}[^{char_class(known_chars(proto))}])+")
    if alternatives:
        units.insert(0, alternatives)
    return pre_tokenizers.Split(Regex("|".join(units)), behavior="isolated")


def _matchable_name(proto: ModelProto) -> tuple[int, str] | None:
    """The id of a piece that sentencepiece never matches in text but the exported tokenizer would, and
    why; None if there is none.

    Names are the exported tokens (:func:`vocabulary`): a one-character name would be matched
    wherever its character occurs (tokenizers would look it up as that character's piece;
    sentencepiece makes it unknown or bytes), so it is renamed and judged as the longer name it
    becomes; only the unknown piece without byte fallback keeps its one character, whose id is
    what sentencepiece gives there too. For unigram, a longer name is safe when every character has a one-character piece (they outscore it) or
    when the pre-tokeniser puts a boundary inside it (see :func:`isolate_uncovered`). For a
    char model, which only ever emits one-character pieces and user-defined symbols, any other
    longer name (a normal one too) is safe unless, without byte fallback, none of its
    characters has a piece: then it lies inside one pre-token, a run of unknowns.
    """
    trainer = proto.trainer_spec
    unigram = trainer.model_type == UNIGRAM_MODEL
    char = trainer.model_type == CHAR_MODEL
    covered, in_names = covered_chars(proto)
    known = known_chars(proto)
    names = vocabulary(proto)

    def split(a: str, b: str) -> bool:
        if trainer.byte_fallback:
            return a in in_names or b in in_names
        return (a not in covered and b in known) or (a in known and b not in covered)

    def hazardous_run(name: str) -> bool:
        return not trainer.byte_fallback and not set(name) & known

    for i, (p, name) in enumerate(zip(proto.pieces, names, strict=True)):
        if char and p.type == NORMAL and len(name) > 1 and hazardous_run(name):
            return i, "a char model never emits it, and none of its characters has a piece"
        if p.type in MATCHABLE or (i == trainer.unk_id and not trainer.byte_fallback):
            continue
        if unigram and not set(name) <= known and not any(map(split, name, name[1:])):
            return i, "no boundary splits it and a character of it has no piece of its own"
        if char and hazardous_run(name):
            return i, "none of its characters has a piece, so it is one run of unknowns"
    return None
