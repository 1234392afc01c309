"""Round-trip properties (Hypothesis, example count from TOKCHECK_HYPOTHESIS_EXAMPLES) and the
model cards' known answers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokcheck.checks.roundtrip import _run, expected_roundtrip, roundtrip
from tokcheck.cli import main
from tokcheck.compare.options import CompareOptions
from tokcheck.model.proto import SentencePieceModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = int(os.environ.get("TOKCHECK_HYPOTHESIS_EXAMPLES", "200"))
NEOX = SentencePieceModel.load(FIXTURES / "neox-3.6b" / "spiece.model")
BILINGUAL = SentencePieceModel.load(FIXTURES / "tiny-bilingual" / "spiece.model")
LEGACY = SentencePieceModel.load(FIXTURES / "legacy-1b" / "spiece.model")
CARD_TEXT = "  吾輩は  猫である   "


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\u2581")))
def test_rinna_flags_are_lossless(text: str) -> None:
    sp = NEOX.processor
    ids = sp.encode(text)
    assert sp.unk_id() not in ids
    assert sp.decode(ids) == text


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(st.sampled_from("abc 吾輩猫\t\n")))
def test_bilingual_newlines_and_tabs_are_single_pieces(text: str) -> None:
    sp = BILINGUAL.processor
    pieces = sp.encode(text, out_type=str)
    assert pieces.count("\n") == text.count("\n")
    assert pieces.count("\t") == text.count("\t")
    assert sp.decode(sp.encode(text)) == text


def test_card_whitespace_survives_on_a_conformant_model() -> None:
    sp = NEOX.processor
    pieces = sp.encode(CARD_TEXT, out_type=str)
    assert sp.decode(sp.encode(CARD_TEXT)) == CARD_TEXT
    assert "".join(pieces).count("▁") == 7


def test_georgian_survives_through_byte_pieces() -> None:
    sp = NEOX.processor
    pieces = sp.encode("გამარჯობა", out_type=str)
    assert all(p.startswith("<0x") for p in pieces)
    assert len(pieces) == len("გამარჯობა".encode())
    assert sp.decode(sp.encode("გამარჯობა")) == "გამარჯობა"


def test_legacy_model_shows_dummy_prefix_and_collapsed_spaces() -> None:
    sp = LEGACY.processor
    pieces = sp.encode(CARD_TEXT, out_type=str)
    assert pieces[0].startswith("▁")  # the dummy prefix shows
    assert expected_roundtrip(LEGACY, CARD_TEXT) == "吾輩は 猫である"  # spaces collapse
    # Without byte fallback, kanji the synthetic vocab lacks come back as the unk surface.
    assert sp.decode(sp.encode(CARD_TEXT)) == " ⁇ は  ⁇ である"
    assert sp.decode(sp.encode("は  で")) == "は で"


WITH_BYTE_FALLBACK = ["decode_encode", "no_unk", "lossless", "id_piece_bijection"]
# Without byte fallback unk is expected and characters can be lost: those properties do not apply.
WITHOUT_BYTE_FALLBACK = ["decode_encode", "id_piece_bijection"]


@pytest.mark.parametrize(
    ("fixture", "properties"),
    [
        ("tiny-neox", WITH_BYTE_FALLBACK),
        ("tiny-bilingual", WITH_BYTE_FALLBACK),
        ("tiny-legacy", WITHOUT_BYTE_FALLBACK),
        ("neox-3.6b", WITH_BYTE_FALLBACK),
    ],
    ids=["tiny-neox", "tiny-bilingual", "tiny-legacy", "neox-3.6b"],
)
def test_roundtrip_passes_on_fixtures(fixture: str, properties: list[str]) -> None:
    model = SentencePieceModel.load(FIXTURES / fixture / "spiece.model")
    report = roundtrip(model, examples=EXAMPLES)
    assert report.passed, report.to_dict()
    assert [p.name for p in report.properties] == properties


def test_real_models_roundtrip(shared: Path) -> None:
    for name in ("sentencepiece_test_model.model", "sentencepiece_test_ja_model.model"):
        report = roundtrip(SentencePieceModel.load(shared / "models" / name), examples=EXAMPLES)
        assert report.passed, report.to_dict()


def test_failure_reports_shrunk_counterexample_and_replay() -> None:
    result = _run(
        "demo", lambda s: "has x" if "x" in s else None, 300, 0, "abxyz", "tokcheck roundtrip M"
    )
    assert not result.passed
    assert result.counterexample == "x"  # shrunk to the minimal failing string
    assert result.replay is not None
    assert "--seed 0" in result.replay
    assert "U+0078" in result.replay


def test_duplicate_piece_is_refused_by_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString((FIXTURES / "tiny-neox" / "spiece.model").read_bytes())
    proto.pieces[500].piece = proto.pieces[501].piece
    path = tmp_path / "dup.model"
    path.write_bytes(proto.SerializeToString())
    # sentencepiece itself refuses a vocab with a duplicate piece: check fails, roundtrip cannot run.
    assert main(["check", str(path), "--no-profile", "--json"]) == 1
    assert "duplicate_pieces" in capsys.readouterr().out
    assert main(["roundtrip", str(path), "--examples", "20"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "already defined" in err


def test_strings_drawn_do_not_depend_on_the_modules_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay command runs in another program than the gate that printed it: what a seed
    draws must not depend on the string constants of the modules each has imported."""

    def drawn() -> list[str]:
        seen: list[str] = []

        def record(text: str) -> None:
            seen.append(text)

        _run("record", record, 300, 3, None, "")
        return seen

    before = drawn()
    module = tmp_path / "tokcheck_roundtrip_constants.py"
    module.write_text("".join(f'C{i} = "k{i} x"\n' for i in range(200)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("tokcheck_roundtrip_constants")
    assert drawn() == before


def test_the_replay_command_the_gate_prints_replays(tmp_path: Path) -> None:
    """A model that loses text: the gate's replay command, run as printed, finds the same
    minimal counterexample."""
    import json
    import shlex
    import subprocess
    import sys

    from sentencepiece import sentencepiece_model_pb2 as pb

    from tokcheck.gate import run_gate
    from tokcheck.model.resolve import resolve

    proto = pb.ModelProto()
    proto.ParseFromString((FIXTURES / "tiny-legacy" / "spiece.model").read_bytes())
    # Characters only longer pieces spell: alone they are unknown, and come back as " ⁇ ".
    proto.pieces[600].piece, proto.pieces[601].piece = "ΩЖ", "ЖΩ"
    path = tmp_path / "lossy.model"
    path.write_bytes(proto.SerializeToString())
    resolved = resolve(str(path))
    report = run_gate(resolved, SentencePieceModel.load(path), None, CompareOptions(examples=200))
    (failed,) = [p for p in report.roundtrip.properties if not p.passed]
    assert failed.replay is not None
    command = shlex.split(failed.replay.split("  #")[0])
    assert command[:2] == ["tokcheck", "roundtrip"]
    done = subprocess.run(
        [sys.executable, "-m", "tokcheck", *command[1:], "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    replayed = {p["name"]: p for p in json.loads(done.stdout)["properties"]}[failed.name]
    assert replayed["counterexample"] == failed.counterexample
    assert replayed["examples"] == failed.examples
