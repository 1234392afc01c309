"""The converter's normaliser and the unigram pre-tokeniser that keeps uncovered characters apart.

The normaliser is sentencepiece's normalizer spec as ``tokenizers`` normalisers: the charsmap
(:mod:`tokcheck.convert.charsmap`), the dummy prefix, whitespace escaping and removal.
:func:`isolate_uncovered` splits text where sentencepiece would fall back to bytes or the
unknown piece, so the Unigram model never sees a run it would merge differently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokcheck.convert import bpe, charsmap
from tokcheck.convert.patterns import char_class, literal
from tokcheck.convert.vocab import known_chars, vocabulary
from tokcheck.errors import TokcheckError
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import (
    MATCHABLE,
    NORMAL,
    SPACE_SYMBOL,
    USER_DEFINED,
)

if TYPE_CHECKING:
    from sentencepiece.sentencepiece_model_pb2 import ModelProto


def build_normalizer(model: SentencePieceModel, proto: ModelProto) -> Any:
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


def isolate_uncovered(proto: ModelProto) -> Any:
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

    covered, in_names = covered_chars(proto)
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
    known, maybe = known_chars(proto), covered - known_chars(proto)
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


def covered_chars(proto: ModelProto) -> tuple[set[str], set[str]]:
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
