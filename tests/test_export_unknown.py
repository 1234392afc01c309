"""Unknown characters and the names sentencepiece never matches, in the exported tokenizer.

sentencepiece gives one unknown piece per run of unknown characters, whatever lies around the
run; tokenizers fuses unknown characters only within a pre-token. A one-character control piece
is never produced from text by sentencepiece; tokenizers would look its character up as it.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from tokcheck.cli import main
from tokcheck.convert import converter as convert
from tokcheck.convert import patterns
from tokcheck.convert.converter import build_tokenizer
from tokcheck.errors import ExportRefusedError, ModelFileError, TokcheckError
from tokcheck.export.run import export
from tokcheck.inputs.probes import unknown_texts
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

UNKNOWN = "\ua66e\u16a0"  # in no piece of the models below


def _train(
    model_type: str, byte_fallback: bool = False, alphabet: str = "abcdefghijs"
) -> pb.ModelProto:
    """A small seeded model; with "s" in the alphabet, "<s>" and "</s>" have a boundary."""
    rng = random.Random(7)
    words = ["".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(200)]
    lines = [" ".join(rng.choices(words, k=8)) for _ in range(2000)]
    spm.set_random_generator_seed(7)
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=out,
        model_type=model_type,
        vocab_size=400 if byte_fallback else 150,
        byte_fallback=byte_fallback,
        num_threads=1,
        minloglevel=2,
    )
    proto = pb.ModelProto()
    proto.ParseFromString(out.getvalue())
    return proto


def _save(proto: pb.ModelProto, directory: Path) -> SentencePieceModel:
    directory.mkdir(exist_ok=True)
    path = directory / "spiece.model"
    path.write_bytes(proto.SerializeToString())
    return SentencePieceModel.load(path)


def _hidden_char(proto: pb.ModelProto) -> str:
    """A one-character normal piece that longer pieces contain, renamed to 300 "▁": its
    character is then covered by the vocabulary but has no piece of its own."""
    names = [p.piece for p in proto.pieces]
    for p in proto.pieces:
        if p.type != 1 or p.piece == "\u2581":
            continue
        if len(p.piece) == 1 and sum(p.piece in n for n in names) > 2:
            char: str = p.piece
            p.piece = "\u2581" * 300
            return char
    raise AssertionError("no such piece")


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> tuple[SentencePieceModel, str]:
    proto = _train("unigram")
    char = _hidden_char(proto)
    return _save(proto, tmp_path_factory.mktemp("hidden")), char


def test_an_unknown_run_is_one_unknown_piece_beside_a_char_without_its_own_piece(
    hidden: tuple[SentencePieceModel, str],
) -> None:
    model, c = hidden
    sp, tok = model.processor, build_tokenizer(model)
    unk = sp.unk_id()
    for text in (f"ab{c}{UNKNOWN}", f"ab{UNKNOWN}{c}", f"{c}{UNKNOWN}{c} x", f"a{c}{UNKNOWN}"):
        assert tok.encode(text).ids == sp.encode(text), text
    # The fuzz's case: the character between unknown ones is unknown too, one run, one piece.
    text = f"ab {UNKNOWN[0]}{c}{UNKNOWN[1]}"
    assert sp.encode(text).count(unk) == 1
    assert tok.encode(text).ids == sp.encode(text)
    texts = unknown_texts(model)
    assert len(texts) > 20
    assert [tok.encode(t).ids for t in texts] == [sp.encode(t) for t in texts]


def test_export_is_exact_there_and_verification_catches_split_runs(
    hidden: tuple[SentencePieceModel, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = hidden
    resolved = resolve(str(model.path.parent))
    result = export(resolved, model, tmp_path / "out", examples=0)
    assert result.status == "exact"

    # The pre-tokeniser before the fix: every run of uncovered characters split off, one unknown
    # piece each side of a character with no piece of its own. Verification must refuse it.
    def split_runs(proto: Any) -> Any:
        from tokenizers import Regex, pre_tokenizers

        covered = {ch for p in proto.pieces if p.type == 1 for ch in p.piece}
        char_class = patterns.char_class(covered)
        return pre_tokenizers.Split(Regex(f"[^{char_class}]+"), behavior="isolated")

    monkeypatch.setattr(convert, "isolate_uncovered", split_runs)
    with pytest.raises(ExportRefusedError, match="not exact"):
        export(resolved, model, tmp_path / "again", examples=0)
    assert not (tmp_path / "again").exists()


@pytest.mark.parametrize(
    ("model_type", "byte_fallback"),
    [("unigram", False), ("unigram", True), ("bpe", False), ("bpe", True)],
)
def test_a_one_character_control_piece_exports_or_is_refused_at_build_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_type: str, byte_fallback: bool
) -> None:
    # The piece is exported under its character and a noncharacter (convert.vocabulary), so
    # tokenizers never looks its character up as it. Without byte fallback, a character no
    # piece has and that noncharacter are both unknown: no pre-token boundary may go between
    # them, and tokenizers' unigram would take the pair for the piece (it outscores unknowns).
    proto = _train(model_type, byte_fallback)
    for char in (UNKNOWN[0], "a"):  # a character no piece has, and one that pieces contain
        edited = pb.ModelProto()
        edited.CopyFrom(proto)
        piece = edited.pieces.add()
        piece.piece, piece.type = char, 3
        model = _save(edited, tmp_path / "model")
        try:
            model.processor  # noqa: B018
        except ModelFileError:
            assert char == "a"  # a second "a": sentencepiece's BPE refuses it already
            continue
        if model_type == "unigram" and not byte_fallback and char == UNKNOWN[0]:
            with pytest.raises(TokcheckError, match=rf"one-character control piece {char!r}"):
                build_tokenizer(model)
            out = tmp_path / "out"
            argv = ["export", str(tmp_path / "model"), str(out), "--examples", "0"]
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith("tokcheck: error: ")
            assert err.count("\n") == 1
            assert not out.exists()
            continue
        sp, tokenizer = model.processor, build_tokenizer(model)
        control = len(edited.pieces) - 1
        for text in (char, char * 3, f"x{char}y", f"{char}\ufdd0", f"{UNKNOWN}{char}b"):
            assert tokenizer.encode(text).ids == sp.encode(text), (char, text)
        for ids in ([control], [5, control, 6]):
            assert tokenizer.decode(ids, skip_special_tokens=False) == sp.decode(ids), ids


def test_a_name_no_boundary_splits_is_refused(tmp_path: Path) -> None:
    # Without "s" in the vocabulary, "<s>" is three unknown characters: no boundary may split
    # them (sentencepiece makes them one unknown piece), and tokenizers would match the name.
    model = _save(_train("unigram", alphabet="abcdefghij"), tmp_path / "model")
    assert model.processor.encode("<s>") == [model.processor.piece_to_id("\u2581"), 0]
    with pytest.raises(TokcheckError, match=r"'<s>' for the control piece 1 \(no boundary"):
        build_tokenizer(model)
