"""Nothing judged is an error, skipped records are a caveat or a failure, and the streaming
budget's leftovers are a caveat that --stream-budget all removes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokcheck.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = str(FIXTURES / "tiny-neox")


@pytest.mark.parametrize("command", ["compare", "gate"])
@pytest.mark.parametrize(
    ("name", "body"),
    [("empty.txt", b""), ("skipped.jsonl", b'{"content": "x"}\n{"content": "y"}\n')],
    ids=["empty", "every-record-skipped"],
)
def test_a_corpus_of_no_judged_line_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str, body: bytes
) -> None:
    corpus = tmp_path / name
    corpus.write_bytes(body)
    argv = [command, MODEL, "--corpus", str(corpus), "--examples", "2", "--jobs", "1"]
    argv += ["--no-profile"] if command == "gate" else []
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "no line of this corpus was judged" in captured.err


def test_skipped_records_are_a_caveat_and_max_skipped_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(b'{"text": "ok"}\n{"other": 1}\n{"text": "fine"}\n{broken\n')
    argv = ["compare", MODEL, "--corpus", str(corpus), "--examples", "2", "--jobs", "1"]
    argv += ["--candidate", "exported", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "passed with caveats"
    assert report["inputs"]["corpus_counts"] == [{"path": str(corpus), "judged": 2, "skipped": 2}]
    assert any("2 corpus records could not be judged" in c for c in report["caveats"])
    assert main([*argv, "--max-skipped", "0.6"]) == 0
    capsys.readouterr()
    assert main([*argv, "--max-skipped", "0.4"]) == 1
    failed = json.loads(capsys.readouterr().out)
    assert failed["verdict"] == "failed"
    assert main([*argv, "--strict"]) == 1  # a caveat fails under --strict
    capsys.readouterr()
    with pytest.raises(SystemExit) as usage:
        main([*argv, "--max-skipped", "2"])
    assert usage.value.code == 2


def test_unstreamed_lines_are_a_caveat_that_stream_budget_all_lifts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "bytes.txt"  # byte pieces on every line: each needs streaming
    corpus.write_text("".join(f"გამარჯობა {i} مرحبا\n" for i in range(300)), encoding="utf-8")
    argv = ["compare", MODEL, "--corpus", str(corpus), "--examples", "0", "--jobs", "1"]
    argv += ["--candidate", "exported", "--json"]
    assert main([*argv, "--stream-budget", "500"]) == 0
    small = json.loads(capsys.readouterr().out)
    (tally,) = small["candidates"]
    assert tally["stream_unchecked"] > 0
    assert small["verdict"] == "passed with caveats"
    assert any("were not streamed" in c for c in small["caveats"])
    assert main([*argv, "--stream-budget", "500", "--strict"]) == 1
    capsys.readouterr()
    assert main([*argv, "--stream-budget", "all"]) == 0
    full = json.loads(capsys.readouterr().out)
    (tally,) = full["candidates"]
    assert tally["stream_unchecked"] == 0
    assert tally["stream_checked"] > small["candidates"][0]["stream_checked"]
    assert full["stream_budget"] == "all"
    assert full["verdict"] == "passed"


def test_the_loading_paths_not_asked_for_are_named_as_not_judged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--candidate exported judges tokcheck's export only: the verdict may pass, but it says
    which of the directory's own loading paths it leaves unjudged."""
    argv = ["--no-profile", "--examples", "5", "--prompts", "1", "--jobs", "1"]
    code = main(["gate", MODEL, *argv, "--candidate", "exported", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    said = [w for w in report["compare"]["warnings"] if w.startswith("not judged: ")]
    assert said == [
        "not judged: default, slow, fast, sentencepiece-backend, tokenizer.json (--candidate "
        "asked for exported): this verdict says nothing of them"
    ]
    # Asked for, a path is judged and named no more.
    main(
        ["compare", MODEL, *argv[1:], "--candidate", "exported", "--candidate", "default", "--json"]
    )
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert not any(w.startswith("not judged: default,") for w in warnings)
