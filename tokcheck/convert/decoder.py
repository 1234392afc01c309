"""The converter's decoder: ids back to sentencepiece's text.

Renamed tokens (:mod:`tokcheck.convert.vocab`) turn back into what sentencepiece decodes their
ids to, the unknown piece into its surface, byte pieces into bytes, and the space symbol into
spaces, with the leading space sentencepiece strips stripped as it does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokcheck.convert.patterns import literal
from tokcheck.convert.vocab import renamed_ids, vocabulary
from tokcheck.model.spm import (
    CONTROL,
    DEFAULT_UNK_SURFACE,
    SPACE_SYMBOL,
    UNKNOWN,
)

if TYPE_CHECKING:
    from sentencepiece.sentencepiece_model_pb2 import ModelProto


def build_decoder(proto: ModelProto) -> Any:
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
    the unknown piece to its surface, which :func:`build_decoder` writes for every such token.
    """
    unk = proto.trainer_spec.unk_id
    back: dict[str, list[str]] = {}
    for i in renamed_ids(proto):
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


# Stand-ins for the unknown surface while decoding: noncharacters, absent from real vocabularies.
_PLACEHOLDERS = ("\uffff", "\ufffe", "\U0010ffff", "\U0010fffe")


# Strip everything: more leading spaces than any text has.
_ALL = 1 << 30
