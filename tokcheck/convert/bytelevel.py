"""Export's transformers.js target: a unigram tokenizer with byte fallback, in byte-level form.

transformers.js's Unigram model has no byte fallback: a character no piece holds becomes the
unknown piece, where sentencepiece writes its UTF-8 bytes as byte pieces (rinna's and LLM-jp's
models meet this on any character outside their vocabulary). Its ByteLevel pre-tokeniser and
decoder, though, are the ones GPT-2-style tokenizers use, and both runtimes implement them. So
this target runs the unigram model over bytes:

- a ByteLevel pre-tokeniser (no regex, no prefix space) after export's own pre-tokeniser turns
  each byte of the normalised text into one of 256 printable characters;
- every token is renamed into that alphabet (the byte-level form of its UTF-8), and each byte
  piece ``<0xNN>`` becomes the one character of its byte. A byte that starts a character (ASCII
  or a lead byte) scores what sentencepiece scores an unknown character (the lowest normal score
  less 10, in float32), a continuation byte 0. A pieces's bytes start only where a character
  starts (UTF-8 is self-synchronising), so bytes stand for whole characters, and every covered
  character's own piece outscores its bytes: the Viterbi takes bytes exactly where sentencepiece
  takes the unknown piece, which byte fallback then writes as the same bytes;
- a byte piece whose character is also a normal piece (``=`` and ``<0x3D>``) is never produced
  from text; its token is that character and a noncharacter no text holds in byte-level form;
- the decoder replaces the control and unknown tokens per token, then ByteLevel turns the bytes
  back into text and the space symbol becomes a space.

The tokens are byte-level strings (``convert_ids_to_tokens`` gives ``åĲ¾`` for ``吾``), the
ids are sentencepiece's. Only unigram models with byte fallback need it (whitespace kept); a BPE
export and a unigram export without byte fallback go to transformers.js as they are. No model
with a charsmap can be written for transformers.js (:func:`refusal`). Where bytes decode to invalid UTF-8,
ByteLevel writes one U+FFFD per maximal invalid sequence, sentencepiece one per byte.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from tokcheck.convert.decoder import named_back, whole_token
from tokcheck.convert.vocab import vocabulary
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import (
    BYTE,
    CONTROL,
    DEFAULT_UNK_SURFACE,
    NORMAL,
    SPACE_SYMBOL,
    UNIGRAM_MODEL,
    USER_DEFINED,
    unknown_score,
)

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Appended to a byte token no text can produce (see the module's docstring): not one of the
# 256 byte-level characters, so no byte-level text holds it.
UNREACHABLE = "\ufdd0"


@cache
def _alphabet() -> tuple[str, ...]:
    """The byte-level character of each byte, as GPT-2's ``bytes_to_unicode`` maps them (and
    tokenizers and transformers.js with it): printable Latin-1 bytes stand for themselves, the
    others for U+0100 onwards in byte order."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = {b: chr(b) for b in printable}
    extra = 0x100
    for b in range(256):
        if b not in chars:
            chars[b] = chr(extra)
            extra += 1
    return tuple(chars[b] for b in range(256))


def to_byte_level(text: str) -> str:
    alphabet = _alphabet()
    return "".join(alphabet[b] for b in text.encode("utf-8"))


def refusal(model: SentencePieceModel) -> str | None:
    """Why export cannot write this model for transformers.js, or None."""
    spec = model.proto.normalizer_spec
    if spec.precompiled_charsmap:
        return (
            "its charsmap cannot run there: transformers.js's Precompiled normaliser ignores the "
            "charsmap (it removes control characters and applies NFKC)"
        )
    if needed(model) and spec.remove_extra_whitespaces:
        return "the byte-level form a unigram model with byte fallback needs there does not cover whitespace removal"
    return None


def needed(model: SentencePieceModel) -> bool:
    trainer = model.proto.trainer_spec
    return bool(trainer.model_type == UNIGRAM_MODEL and trainer.byte_fallback)


def byte_level(tokenizer: Tokenizer, model: SentencePieceModel) -> Tokenizer:
    """``tokenizer`` (export's build of ``model``) in byte-level form; see the module."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers

    data = json.loads(tokenizer.to_str())
    data["model"]["vocab"] = _vocab(model, data["model"]["vocab"])
    data["model"]["byte_fallback"] = False
    out = Tokenizer.from_str(json.dumps(data))
    level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False, trim_offsets=False)
    before = out.pre_tokenizer
    out.pre_tokenizer = level if before is None else pre_tokenizers.Sequence([before, level])
    out.decoder = decoders.Sequence(build_decoder(model))
    return out


def _vocab(model: SentencePieceModel, vocab: list[list[Any]]) -> list[list[Any]]:
    proto = model.runtime_proto  # piece types as sentencepiece treats them, as export's
    alphabet = _alphabet()
    penalty = unknown_score([p.score for p in proto.pieces if p.type == NORMAL])
    matchable = (NORMAL, USER_DEFINED)
    taken = {
        to_byte_level(token)
        for piece, (token, _) in zip(proto.pieces, vocab, strict=True)
        if piece.type in matchable
    }
    out: list[list[Any]] = []
    for piece, (token, score) in zip(proto.pieces, vocab, strict=True):
        name = to_byte_level(token)
        if piece.type == BYTE:
            byte = int(piece.piece[3:5], 16)
            name = alphabet[byte]
            score = 0.0 if 0x80 <= byte < 0xC0 else penalty
            if name in taken:
                name, score = name + UNREACHABLE, penalty - 1.0
        elif piece.type not in matchable:
            # Never matched: below any segmentation of its span into byte-level tokens.
            score = len(name) * penalty - 1.0
        out.append([name, score])
    return out


def build_decoder(model: SentencePieceModel) -> list[Any]:
    from tokenizers import decoders

    proto = model.runtime_proto
    trainer = proto.trainer_spec
    tokens = vocabulary(proto)
    steps = [
        whole_token([to_byte_level(n) for n in names], to_byte_level(piece))
        for piece, names in named_back(proto, tokens)
    ]
    # Only the unreachable byte tokens end in it: every other token is byte-level text.
    steps.append(decoders.Strip(UNREACHABLE, 0, 1))
    controls = [to_byte_level(tokens[i]) for i, p in enumerate(proto.pieces) if p.type == CONTROL]
    if controls:
        steps.append(whole_token(controls, ""))
    surface = trainer.unk_surface if trainer.HasField("unk_surface") else DEFAULT_UNK_SURFACE
    steps.append(whole_token([to_byte_level(tokens[trainer.unk_id])], to_byte_level(surface)))
    steps += [decoders.ByteLevel(), decoders.Replace(SPACE_SYMBOL, " ")]
    if proto.normalizer_spec.add_dummy_prefix:
        steps.append(decoders.Strip(" ", 1, 0))
    return steps
