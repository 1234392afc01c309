"""`tokcheck export` end to end: the written directory loads with AutoTokenizer and is exact."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tokcheck.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CARD_TEXT = "  吾輩は  猫である   "


@pytest.mark.parametrize("fixture", ["tiny-neox", "tiny-bilingual", "tiny-legacy"])
def test_exported_directory_is_exact_under_auto_tokenizer(tmp_path: Path, fixture: str) -> None:
    import sentencepiece as spm
    from transformers import AutoTokenizer

    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / fixture), str(out), "--examples", "300"]) == 0
    tok = AutoTokenizer.from_pretrained(str(out))
    sp = spm.SentencePieceProcessor(model_file=str(FIXTURES / fixture / "spiece.model"))
    for text in (CARD_TEXT, "გამარჯობა", "a\tb\nc", " x ", ""):
        assert tok.encode(text) == sp.encode(text)
        assert tok.decode(tok.encode(text)) == sp.decode(sp.encode(text))


def test_card_answers_through_the_exported_directory(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / "tiny-neox"), str(out), "--examples", "50"]) == 0
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.decode(tok.encode(CARD_TEXT)) == CARD_TEXT
    assert tok.decode(tok.encode("გამარჯობა")) == "გამარჯობა"


def test_gate_passes_on_the_exported_directory(tmp_path: Path) -> None:
    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / "tiny-neox"), str(out), "--examples", "50"]) == 0
    assert main(["compare", str(FIXTURES / "tiny-neox"), "--examples", "50"]) == 1
    assert main(["gate", str(out), "--examples", "100", "--no-profile"]) == 0


def test_gate_on_an_exported_neox_model_with_the_dummy_prefix_on_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exact to its own model, but not what rinna's 3.6b family is: the gate infers the family
    from config.json (GPT-NeoX, 32,000 embeddings) and fails the flag, without --profile."""
    out = tmp_path / "exported"
    source = FIXTURES / "broken" / "dummy-prefix-on"
    assert main(["export", str(source), str(out), "--examples", "20"]) == 0
    capsys.readouterr()
    assert main(["gate", str(out), "--examples", "20", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["steps"]["check"] == "failed"
    assert report["check"]["profile_how"].startswith("inferred from config.json")
    assert "add_dummy_prefix" in {c["name"] for c in report["check"]["checks"] if not c["passed"]}


def test_export_and_gate_give_one_tie_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 65,536-piece rinna-flag model whose exported tokenizer ties on runs of one piece:
    the gate reports the ties as a pass with caveats, names their count, and --strict fails."""
    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / "bilingual-4b"), str(out), "--examples", "50"]) == 0
    corpus = tmp_path / "runs.txt"
    corpus.write_text("".join("ご" * k + "\n" for k in range(2, 40)), encoding="utf-8")
    argv = ["gate", str(out), "--examples", "20", "--corpus", str(corpus), "--jobs", "1"]
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "passed with caveats"
    ties = {c["name"]: c["tie"] for c in report["compare"]["candidates"]}
    assert ties["default"] > 0
    assert any(f"{ties['default']} of" in c and "ties" in c for c in report["caveats"])
    # The gate judged export's own verification lines: those export verified the directory on.
    record = json.loads((out / "tokcheck_export.json").read_text(encoding="utf-8"))
    from tokcheck.inputs.probes import verification_texts
    from tokcheck.model.proto import SentencePieceModel

    model = SentencePieceModel.load(out / "spiece.model")
    assert record["examples"] == 50
    assert report["compare"]["inputs"]["verification"] == len(verification_texts(model, 50, 0))
    assert main(argv) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    verdict = next(line for line in reversed(lines) if not line.startswith(" "))  # it may wrap
    assert verdict.startswith("gate passed with caveats")
    assert main([*argv, "--strict"]) == 1


def test_existing_outdir_is_refused_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exported"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["export", str(FIXTURES / "tiny-neox"), str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]


def test_refusal_prints_the_report_and_json_exit_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    precompiled_export: str,
) -> None:
    from tokcheck.inputs import probes

    monkeypatch.setattr(probes, "BUILTIN_PROBES", (precompiled_export,))
    out = tmp_path / "exported"
    argv = ["export", str(FIXTURES / "tiny-legacy"), str(out), "--examples", "0", "--json"]
    assert main(argv) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["passed"], report["written"], report["status"]) == (False, False, "diverged")
    examples = report["tallies"][0]["counterexamples"]
    example = next(e for e in examples if e["text"] == precompiled_export)
    assert example["reference_ids"] != example["candidate_ids"]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_refusal_table_shows_the_counterexample_side_by_side(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    precompiled_export: str,
) -> None:
    from tokcheck.inputs import probes

    monkeypatch.setattr(probes, "BUILTIN_PROBES", (precompiled_export,))
    out = tmp_path / "exported"
    argv = ["export", str(FIXTURES / "tiny-legacy"), str(out), "--examples", "0", "--show", "40"]
    assert main(argv) == 1
    text = capsys.readouterr().out
    assert re.search(r"tokenizers: the( [0-9]+)? shortest counterexamples?\b", text)
    assert "sentencepiece:" in text
    assert "first difference at token 1" in text
    assert "    tokenizers:    ▁ | »A«  (ids 4 902)" in text
    assert "refused: diverged; nothing written" in text
    assert not out.exists()


def test_stale_staging_from_a_killed_export_is_removed(tmp_path: Path) -> None:
    # What `kill -9` mid-export leaves: a staging directory of a process that no longer runs.
    from tokcheck.system.atomic import _host

    stale = tmp_path / f".exported.tokcheck-{_host()}-999999999-abcd.tmp"
    stale.mkdir()
    (stale / "tokenizer.json").write_text("{", encoding="utf-8")
    # Left alone: another OUTDIR's, another machine's, and one whose PID is not a PID.
    kept = [
        tmp_path / f".other.tokcheck-{_host()}-999999999-abcd.tmp",
        tmp_path / ".exported.tokcheck-elsewhere-999999999-abcd.tmp",
        tmp_path / f".exported.tokcheck-{_host()}-99999999999999999999-ab.tmp",
    ]
    for path in kept:
        path.mkdir()
    out = tmp_path / "exported"
    assert main(["export", str(FIXTURES / "tiny-neox"), str(out), "--examples", "5"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*(p.name for p in kept), "exported"]
    )


def test_export_never_replaces_the_directory_it_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    source = tmp_path / "parent" / "model"
    shutil.copytree(FIXTURES / "tiny-neox", source)
    (source / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "parent" / "other.txt").write_text("mine", encoding="utf-8")
    for outdir in (source, tmp_path / "parent"):
        for model in (source, source / "spiece.model"):
            code = main(["export", str(model), str(outdir), "--force", "--examples", "0"])
            err = capsys.readouterr().err
            assert code == 2
            assert "holds the model being exported" in err
            assert err.count("\n") == 1
    assert (source / "model.safetensors").read_bytes() == b"weights"
    assert (tmp_path / "parent" / "other.txt").is_file()


@pytest.mark.parametrize("fixture", ["bpe-32k", "bpe-32k-legacy"])
def test_exported_llama_directory_keeps_bos_and_pad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fixture: str
) -> None:
    import sentencepiece as spm
    from transformers import AutoTokenizer

    out = tmp_path / "exported"
    argv = ["export", str(FIXTURES / fixture), str(out), "--examples", "20", "--force", "--json"]
    # --force: how exact the BPE conversion is on this fixture is not what is tested here.
    assert main(argv) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert report["written"]
    config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert (config["add_bos_token"], config["add_eos_token"], config["pad_token"]) == (
        True,
        False,
        "<pad>",
    )
    tok = AutoTokenizer.from_pretrained(str(out))
    assert (tok.bos_token_id, tok.pad_token_id, len(tok)) == (1, 32000, 32001)
    sp = spm.SentencePieceProcessor(model_file=str(FIXTURES / fixture / "tokenizer.model"))
    text = "The <pad> token"
    assert tok.encode(text) == [1, *sp.encode(text)]
