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

from tokcheck.convert import bpe, charsmap
from tokcheck.convert.patterns import char_class, literal
from tokcheck.errors import TokcheckError
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import (
    BPE_MODEL,
    BYTE,
    CHAR_MODEL,
    CONTROL,
    DEFAULT_UNK_SURFACE,
    MATCHABLE,
    NORMAL,
    PIECE_TYPES,
    SPACE_SYMBOL,
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
# Stand-ins for the unknown surface while decoding: noncharacters, absent from real vocabularies.
_PLACEHOLDERS = ("\uffff", "\ufffe", "\U0010ffff", "\U0010fffe")
# Strip everything: more leading spaces than any text has.
_ALL = 1 << 30


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
            component = "added tokens"
            tokenizer.add_tokens(self.added_tokens())
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
        return _normalizer(self.source, self.proto)

    def pre_tokenizer(self) -> Any:
        if self.char:
            return _char_split(self.proto)
        if self.unigram:
            return _isolate_uncovered(self.proto)
        return bpe.pre_tokenizer(self.proto, self.hazards)

    def added_tokens(self) -> list[Any]:
        return []

    @cached_property
    def hazards(self) -> bpe.Hazards:
        """For BPE: the names a whole pre-token could be looked up as wrongly (see
        :class:`tokcheck.convert.bpe.Hazards`); for unigram, none."""
        if self.unigram or self.char:
            return bpe.Hazards((), ())
        return bpe.hazards(self.proto, vocabulary(self.proto))

    def decoder(self) -> Any:
        return _decoder(self.proto)


def build_tokenizer(model: SentencePieceModel) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that encodes and decodes like sentencepiece on ``model``."""
    return Converter(model).build()


def vocabulary(proto: ModelProto) -> list[str]:
    """Each id's token in the exported vocabulary: its piece's name, except for a one-character
    piece sentencepiece never matches in text (a control, unused or byte piece, or the unknown
    piece with byte fallback), whose token is that character followed by a noncharacter no piece
    contains (:func:`rename_mark`).

    Under its own name such a piece would be the tokenizers model's piece for its character,
    which sentencepiece makes bytes or the unknown piece; renamed, no character is its token,
    ids stay as they are, and the decoder turns the token back into what sentencepiece decodes
    the id to. Whether text can still spell the renamed token is the pre-tokeniser's to prevent
    (the BPE hazard split, :func:`_isolate_uncovered`) or :func:`_matchable_name`'s to refuse.
    ``proto`` is the runtime proto (see :attr:`SentencePieceModel.runtime_proto`).
    """
    names = [p.piece for p in proto.pieces]
    renamed = _renamed(proto)
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


def _renamed(proto: ModelProto) -> list[int]:
    """The ids :func:`vocabulary` renames: one-character pieces sentencepiece never matches."""
    trainer = proto.trainer_spec
    return [
        i
        for i, p in enumerate(proto.pieces)
        if len(p.piece) == 1
        and p.type not in MATCHABLE
        and not (i == trainer.unk_id and not trainer.byte_fallback)
    ]


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
        kind = {3: "word"}.get(trainer.model_type, f"type {trainer.model_type}")
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
        units.insert(0, f"(?:{guard}[^{char_class(_known(proto))}])+")
    if alternatives:
        units.insert(0, alternatives)
    return pre_tokenizers.Split(Regex("|".join(units)), behavior="isolated")


def _normalizer(model: SentencePieceModel, proto: ModelProto) -> Any:
    """``model``'s normaliser, its user-defined symbols those of ``proto``, the runtime proto."""
    from tokenizers import Regex, normalizers

    spec = proto.normalizer_spec
    # Without whitespace removal, sentencepiece adds the dummy prefix to any text that is not
    # empty before normalisation, even one its charsmap maps to nothing ("\x07" under nmt_nfkc).
    early = spec.add_dummy_prefix and not spec.remove_extra_whitespaces
    steps: list[Any] = _charsmap(model, proto, early) if spec.precompiled_charsmap else []
    if spec.remove_extra_whitespaces:
        # Collapse runs of spaces, drop leading ones; trailing ones go after escaping, as
        # sentencepiece strips trailing space symbols (a literal U+2581 among them).
        steps.append(normalizers.Replace(Regex(" {2,}"), " "))
        steps.append(normalizers.Replace(Regex(r"\A "), ""))
    if spec.add_dummy_prefix and not (early and spec.precompiled_charsmap):
        # Prepend adds nothing to an empty string, as sentencepiece adds no prefix to empty text.
        steps.append(normalizers.Prepend(" "))
    if spec.escape_whitespaces:
        steps.append(normalizers.Replace(" ", SPACE_SYMBOL))
    if spec.remove_extra_whitespaces:
        trailing = SPACE_SYMBOL if spec.escape_whitespaces else " "
        steps.append(normalizers.Replace(Regex(f"{trailing}+\\z"), ""))
    return normalizers.Sequence(steps)


def _charsmap(model: SentencePieceModel, proto: ModelProto, prefix: bool = False) -> list[Any]:
    """The proto's precompiled charsmap as tokenizers normalisers (see :mod:`tokcheck.convert.charsmap`),
    which pass the user-defined symbols through unnormalised, as sentencepiece does.

    With ``prefix``, the dummy prefix is added before the charsmap, as a noncharacter that
    becomes a space after it (only the first, so a user's own noncharacter stays).
    """
    from tokenizers import Regex, normalizers

    symbols = [p.piece for p in proto.pieces if p.type == USER_DEFINED]
    covered = {c for piece in model.pieces for c in piece}
    lead = [c for c in charsmap.NONCHARACTERS if c not in covered][-1:] if prefix else []
    try:
        steps = charsmap.normalizers(
            model.proto.normalizer_spec.precompiled_charsmap, symbols, covered | set(lead)
        )
    except charsmap.CharsmapError as e:
        raise TokcheckError(f"{model.path}: cannot export: {e}") from e
    return [
        *(normalizers.Prepend(c) for c in lead),
        *steps,
        *(normalizers.Replace(Regex(rf"\A{literal(c)}"), " ") for c in lead),
    ]


def _isolate_uncovered(proto: ModelProto) -> Any:
    """Split off characters no normal piece contains, if an unmatchable name has one.

    Every segmentation has a boundary around such a character anyway (sentencepiece covers it
    with the unknown piece), so splitting there changes nothing, except that a name like
    ``<0x41>`` can no longer be matched across it. A multi-character user-defined symbol that
    has such a character is split off whole first, so the split cannot cut it. The others stay
    in the lattice, as in sentencepiece's Unigram, which scores a user-defined symbol
    by its length there (:func:`tokcheck.judge.lines.user_defined_score`) rather than taking it
    first: ``"  x"`` can be ``▁ ▁x`` beside a symbol ``▁▁``. With byte fallback only the
    characters of those names need splitting off; without it, whole runs of uncovered
    characters are, since sentencepiece fuses adjacent unknown pieces into one and tokenizers
    fuses them only within a pre-token. For the same reason a run is not split off beside a
    character that has no one-character piece of its own (a hand-edited vocabulary's), which
    may be unknown too: both sides of every boundary here have a piece or a symbol.
    """
    from tokenizers import Regex, pre_tokenizers

    covered, in_names = _covered(proto)
    if not in_names:
        return None
    cut = [s for s in bpe.user_symbols(proto) if not set(s) <= covered]
    alternatives = "|".join(map(literal, cut))
    if proto.trainer_spec.byte_fallback:
        char = f"[{char_class(in_names)}]"
    else:
        char = f"[^{char_class(covered)}]"
    if alternatives:
        char = f"(?!{alternatives}){char}"
    pattern = char if proto.trainer_spec.byte_fallback else f"(?:{char})+"
    known, maybe = _known(proto), covered - _known(proto)
    if not proto.trainer_spec.byte_fallback and maybe:
        # A boundary only between an uncovered character and one with a piece of its own.
        guard = f"(?!{alternatives})" if alternatives else ""
        x, k, m = (
            f"[{c}]" for c in ("^" + char_class(covered), char_class(known), char_class(maybe))
        )
        k = k if known else "(?!)"
        one = f"{guard}(?:{m}|{x}(?!{k})|{k}(?!{x}))"
        pattern = f"(?:{one})*{guard}(?:{x}|{k}|{m})"
    if alternatives:
        pattern = f"{alternatives}|{pattern}"
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


def _covered(proto: ModelProto) -> tuple[set[str], set[str]]:
    """The characters some normal piece or one-character symbol holds, and the characters of
    exported names sentencepiece never matches (:func:`vocabulary`) that none of those holds."""
    covered = {c for p in proto.pieces if p.type == NORMAL for c in p.piece}
    covered |= {p.piece for p in proto.pieces if p.type == USER_DEFINED and len(p.piece) == 1}
    names = vocabulary(proto)
    in_names = {
        c
        for p, name in zip(proto.pieces, names, strict=True)
        if p.type not in MATCHABLE
        for c in name
    }
    return covered, in_names - covered


def _matchable_name(proto: ModelProto) -> tuple[int, str] | None:
    """The id of a piece that sentencepiece never matches in text but the exported tokenizer would, and
    why; None if there is none.

    Names are the exported tokens (:func:`vocabulary`): a one-character name would be matched
    wherever its character occurs (tokenizers would look it up as that character's piece;
    sentencepiece makes it unknown or bytes), so it is renamed and judged as the longer name it
    becomes; only the unknown piece without byte fallback keeps its one character, whose id is
    what sentencepiece gives there too. For unigram, a longer name is safe when every character has a one-character piece (they outscore it) or
    when the pre-tokeniser puts a boundary inside it (see :func:`_isolate_uncovered`). For a
    char model, which only ever emits one-character pieces and user-defined symbols, any other
    longer name (a normal one too) is safe unless, without byte fallback, none of its
    characters has a piece: then it lies inside one pre-token, a run of unknowns.
    """
    trainer = proto.trainer_spec
    unigram = trainer.model_type == UNIGRAM_MODEL
    char = trainer.model_type == CHAR_MODEL
    covered, in_names = _covered(proto)
    known = _known(proto)
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


def _known(proto: ModelProto) -> set[str]:
    """The characters that are never unknown: those with a one-character piece."""
    return {p.piece for p in proto.pieces if p.type in MATCHABLE and len(p.piece) == 1}


def _decoder(proto: ModelProto) -> Any:
    from tokenizers import Regex, decoders

    pieces = [p.piece for p in proto.pieces]
    tokens = vocabulary(proto)
    trainer, spec = proto.trainer_spec, proto.normalizer_spec
    steps: list[Any] = []

    steps += [whole_token(names, piece) for piece, names in named_back(proto, tokens)]
    controls = [tokens[i] for i, p in enumerate(proto.pieces) if p.type == CONTROL]
    if controls:
        steps.append(whole_token(controls, ""))
    unk = tokens[trainer.unk_id]
    surface = trainer.unk_surface if trainer.HasField("unk_surface") else DEFAULT_UNK_SURFACE
    # sentencepiece never strips the leading space of the unknown surface: without byte
    # fallback (the only case where encoding yields the unknown piece) it becomes a
    # character no piece contains, and the surface only after the leading spaces are stripped.
    placeholder = None
    if not trainer.byte_fallback:
        covered = {c for piece in pieces for c in piece}
        placeholder = next((c for c in _PLACEHOLDERS if c not in covered), None)
    steps.append(whole_token([unk], placeholder or surface))
    blank, lead = _leading_marks(proto, placeholder)
    if blank:
        steps.append(whole_token([SPACE_SYMBOL], blank))
        steps.append(decoders.Replace(Regex(f"\\A{SPACE_SYMBOL}"), lead))
    steps.append(decoders.Replace(SPACE_SYMBOL, " "))
    if trainer.byte_fallback:
        # Without it a piece named like "<0x41>" is text, and decodes as such.
        steps.append(decoders.ByteFallback())
    steps.append(decoders.Fuse())
    if blank:
        steps.append(decoders.Replace(Regex(f"\\A(?:{blank})*(?:{lead})?"), ""))
        steps.append(decoders.Replace(blank, " "))
        steps.append(decoders.Replace(lead, " "))
    elif spec.remove_extra_whitespaces:
        # Without free marks: every leading space of an encoding (exact unless a piece holds
        # more than one leading space symbol).
        steps.append(decoders.Strip(" ", _ALL, 0))
    elif spec.add_dummy_prefix:
        steps.append(decoders.Strip(" ", 1, 0))
    if placeholder:
        steps.append(decoders.Replace(placeholder, surface))
    return decoders.Sequence(steps)


def whole_token(names: list[str], content: str) -> Any:
    """A decoder step that writes ``content`` for every token that is one of ``names``.

    Replace applies per token: anchored, it replaces only tokens that are one of ``names``
    (longest first, then by name, so the written pattern is the same on every run).
    """
    from tokenizers import Regex, decoders

    names = sorted(set(names), key=lambda name: (-len(name), name))
    return decoders.Replace(Regex(rf"\A(?:{'|'.join(map(literal, names))})\z"), content)


def named_back(proto: ModelProto, tokens: list[str]) -> list[tuple[str, list[str]]]:
    """(piece name, its renamed tokens) for the renamed pieces that decode to their name.

    A renamed token (see :func:`vocabulary`) decodes as sentencepiece decodes its id: an unused
    piece (the NUL piece too) as its name, like a normal one; a control piece to nothing and
    the unknown piece to its surface, which :func:`_decoder` writes for every such token.
    """
    unk = proto.trainer_spec.unk_id
    back: dict[str, list[str]] = {}
    for i in _renamed(proto):
        p = proto.pieces[i]
        if p.type not in (CONTROL, UNKNOWN) and i != unk:
            back.setdefault(p.piece, []).append(tokens[i])
    return sorted(back.items())


def _leading_marks(proto: ModelProto, placeholder: str | None) -> tuple[str, str]:
    """Marks for the leading space symbols the decoder must drop, or two empty strings.

    After whitespace removal, sentencepiece drops one leading space symbol of every piece for as
    long as the decoded text is empty: a piece that is one space symbol leaves it empty, so
    ``▁ ▁ x`` decodes to ``x`` but the symbol ``▁▁`` then ``x`` to `` x``. The decoder marks a
    lone space symbol (``blank``) and the first of a longer piece's (``lead``), drops the marks
    at the start of the fused text and turns the rest into spaces. With byte fallback any
    character can come from bytes, so each mark is a pair of noncharacters.
    """
    if not proto.normalizer_spec.remove_extra_whitespaces:
        return "", ""
    covered = {c for p in proto.pieces for c in p.piece}
    free = [c for c in _PLACEHOLDERS if c not in covered and c != placeholder]
    width = 2 if proto.trainer_spec.byte_fallback else 1
    if len(free) < 2 * width:
        return "", ""
    return "".join(free[:width]), "".join(free[width : 2 * width])
