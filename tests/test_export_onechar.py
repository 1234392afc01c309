"""Export of pieces sentencepiece never gives for their own text: one-character pieces it never
matches, a NUL piece, and BPE pieces its merges never form.

InternLM's published 103k BPE has a normal piece ``"\\x00"`` at index 354; with byte fallback
sentencepiece treats it as unused (text's NUL becomes ``<0x00>``, the id still decodes to NUL).
The models here are trained in the test from the fixture builder's seeded text, then edited:
a NUL piece (normal for BPE, user-defined for unigram) and a one-character control and unused
piece appended, so every id sentencepiece had stays where it was. The same 103k BPE has 40
normal pieces its merges never form (``"\u2581" + "-" * 64``: sentencepiece gives ``▁--`` and
two dash runs); after a user-defined symbol, the text that spells one is a whole pre-token.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fixturebuild import build
from sentencepiece import sentencepiece_model_pb2 as pb

from tokcheck.candidates.hf import from_tokenizers
from tokcheck.convert import bpe
from tokcheck.convert.converter import build_tokenizer
from tokcheck.convert.vocab import vocabulary
from tokcheck.errors import TokcheckError
from tokcheck.inputs.derived import unformed_texts
from tokcheck.inputs.probes import verification_texts
from tokcheck.judge.tally import Tally
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import CONTROL, NORMAL, UNUSED, USER_DEFINED
from tokcheck.parallel.runner import judge_lines

NUL = "\x00"
# One-character names for the control and unused pieces: characters the trained text lacks.
CONTROL_CHAR, UNUSED_CHAR = "\u2603", "\u00a7"


@cache
def _model(kind: str, byte_fallback: bool = True, nul_type: int = NORMAL) -> SentencePieceModel:
    lines = build.synthetic_lines(build.SEED + 9, 2000, 30, 0.6)
    flags: dict[str, Any] = {
        **build.BPE_FLAGS,
        "model_type": kind,
        "byte_fallback": byte_fallback,
        "add_dummy_prefix": False,
    }
    data = build.train(lines, 1000, flags, **build.BPE_SPECIALS, user_defined_symbols=["<eoh>"])
    proto = pb.ModelProto()
    proto.ParseFromString(data)
    assert not {c for p in proto.pieces for c in p.piece} & {CONTROL_CHAR, UNUSED_CHAR}
    lowest = min(p.score for p in proto.pieces if p.type == NORMAL)
    added = [(CONTROL_CHAR, CONTROL), (UNUSED_CHAR, UNUSED)]
    if byte_fallback:  # without it sentencepiece refuses a NUL piece
        added.insert(0, (NUL, nul_type))
    for name, kind_ in added:
        piece = proto.pieces.add()
        piece.piece, piece.type, piece.score = name, kind_, lowest - 1.0
    data = proto.SerializeToString()
    name = f"{kind}-bf{int(byte_fallback)}-nul{nul_type}"
    return SentencePieceModel(Path(name), data, proto)


def _texts(model: SentencePieceModel) -> list[str]:
    mark = "\ufdd0"
    chars = [NUL, CONTROL_CHAR, UNUSED_CHAR]
    texts = []
    for c in chars:
        texts += [
            c,
            c * 3,
            f"a{c}b",
            f"{c}start",
            f"end{c}",
            f"<eoh>{c}",
            f"{c}<eoh>",
            f"<eoh>{c}<eoh>",
            f"x <eoh> {c} y",
            c + mark,
            f"<eoh>{c}{mark}",
            f"<eoh>{c}{mark}<eoh>",
            f"{mark}{c}{mark}",
            f"\u3042{c}\u3044",
        ]
    return [*texts, *verification_texts(model, 300)]


def _judge(model: SentencePieceModel, texts: list[str]) -> Tally:
    candidate = from_tokenizers("exported", build_tokenizer(model), "tokenizers.Tokenizer")
    (tally,) = judge_lines(model, [candidate], [(t, f"line[{i}]") for i, t in enumerate(texts)])
    return tally


def _ids(model: SentencePieceModel) -> list[int]:
    return [model.pieces.index(c) for c in (NUL, CONTROL_CHAR, UNUSED_CHAR) if c in model.pieces]


@pytest.mark.parametrize(("kind", "nul_type"), [("bpe", NORMAL), ("unigram", USER_DEFINED)])
def test_nul_and_one_character_pieces_encode_and_decode_like_sentencepiece(
    kind: str, nul_type: int
) -> None:
    model = _model(kind, nul_type=nul_type)
    sp, tokenizer = model.processor, build_tokenizer(model)
    nul, control, unused = _ids(model)
    # sentencepiece treats the NUL piece as unused: NUL in text is the byte piece <0x00>.
    assert sp.is_unused(nul)
    assert model.runtime_proto.pieces[nul].type == UNUSED
    assert sp.encode(f"a{NUL}b")[1] == sp.piece_to_id("<0x00>")
    assert tokenizer.get_vocab_size() == len(model.pieces)
    for i in (nul, control, unused):
        assert tokenizer.token_to_id(vocabulary(model.runtime_proto)[i]) == i
    for text in _texts(model)[:42]:
        ids = sp.encode(text)
        assert tokenizer.encode(text).ids == ids, repr(text)
        assert tokenizer.decode(ids, skip_special_tokens=False) == sp.decode(ids), repr(text)
    for ids in ([nul], [control], [unused], [nul, nul], [5, nul, control, 6, unused, nul]):
        assert tokenizer.decode(ids, skip_special_tokens=False) == sp.decode(ids), ids
    tally = _judge(model, _texts(model))
    assert not tally.diverged, tally.summary() + "".join(
        f"\n{c.text!r}" for c in tally.counterexamples
    )


def test_bpe_one_character_control_piece_without_byte_fallback_is_refused() -> None:
    # Without byte fallback the character and the mark appended to it are both unknown, which
    # sentencepiece fuses into one piece: no boundary can go between them after a symbol.
    model = _model("bpe", byte_fallback=False)
    with pytest.raises(TokcheckError, match=f"the one-character piece {CONTROL_CHAR!r}"):
        build_tokenizer(model)


def _unformed_model() -> tuple[SentencePieceModel, str]:
    """The BPE fixture model with a normal piece ``abcd`` appended that no merge forms although
    every two adjacent characters of it are a piece: ``bc`` outscores ``ab`` and ``cd``, and
    neither ``abc`` nor ``bcd`` is a piece, so ``abcd`` ends as ``a bc d``. No pre-token
    boundary can go inside it, as in InternLM's dash runs."""
    source = _model("bpe")
    proto = pb.ModelProto()
    proto.CopyFrom(source.proto)
    score = {p.piece: p.score for p in proto.pieces if p.type == NORMAL}
    pairs = [t for t in score if len(t) == 2 and t.isascii() and t.isalpha()]
    text = next(
        ab[0] + bc + cd[1]
        for bc in pairs
        for ab in pairs
        if ab[1] == bc[0] and score[ab] < score[bc]
        for cd in pairs
        if cd[0] == bc[1]
        and score[cd] < score[bc]
        and not {ab[0] + bc, bc + cd[1], ab + cd} & set(score)
    )
    piece = proto.pieces.add()
    piece.piece, piece.type, piece.score = text, NORMAL, min(score.values()) - 1.0
    data = proto.SerializeToString()
    return SentencePieceModel(Path("bpe-unformed"), data, proto), text


def test_a_bpe_piece_no_merge_forms_is_not_taken_for_a_whole_pre_token() -> None:
    model, text = _unformed_model()
    sp, tokenizer = model.processor, build_tokenizer(model)
    piece = len(model.pieces) - 1
    assert piece in bpe.unreachable(model.runtime_proto)
    assert sp.encode(f"<eoh>{text}") != [sp.piece_to_id("<eoh>"), piece]
    lines = [text, f"<eoh>{text}", f"<eoh>{text}<eoh>", f"<eoh>{text}\ufdd0", f"a{text}b"]
    for line in lines:
        assert tokenizer.encode(line).ids == sp.encode(line), repr(line)
    assert tokenizer.decode([5, piece, 6], skip_special_tokens=False) == sp.decode([5, piece, 6])
    assert tokenizer.id_to_token(piece) == text  # split where it is a whole pre-token, not renamed
    # The derived verification lines hold the piece's text after a symbol, so an export that
    # kept the piece under its name (tokenizers emitting the whole pre-token) is caught.
    assert f"<eoh>{text}" in unformed_texts(model)
