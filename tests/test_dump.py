"""``--dump FILE.jsonl``: every diverging line, one JSON object a line, in input order, the
same file whatever the jobs; written atomically.

The corpus is cut into many small parts (``MIN_PART`` lowered) so that two jobs judge it in
many parts whose lines reach the coordinator out of step with one process's batches.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tokcheck.cli import main
from tokcheck.compare import run as compare_module
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.run import compare
from tokcheck.judge import stream_check
from tokcheck.judge.dump import Diverging
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Every Hugging Face path of this fixture gets some lines wrong: a diverging corpus.
MODEL = FIXTURES / "bilingual-4b"
WORDS = ["吾輩は", "猫", "である", "the", "cat", "გამარჯობა", "😀", "①②", "ｱｲｳ", " a", "\t "]
KEYS = {
    "candidate",
    "same_tokenizer",
    "origin",
    "text",
    "kinds",
    "first_divergence",
    "reference_ids",
    "candidate_ids",
    "reference_decoded",
    "candidate_decoded",
    "stream",
}


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """1,500 lines in parts of 20 KB, a small streaming budget (deferred streams, spent
    part-way)."""
    monkeypatch.setattr(compare_module, "MIN_PART", 20_000)
    monkeypatch.setattr(stream_check, "BUDGET", 3_000)
    rng = random.Random(0)
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for _ in range(1500)]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _dump(corpus: Path, out: Path, jobs: int, capsys: pytest.CaptureFixture[str]) -> Any:
    argv = ["compare", str(MODEL), "--corpus", str(corpus), "--jobs", str(jobs)]
    argv += ["--examples", "5", "--prompts", "1", "--json", "--dump", str(out)]
    code = main(argv)
    report = json.loads(capsys.readouterr().out)
    assert code == 1, "the fixture diverges"
    return report


def test_the_dump_is_every_diverging_line_whatever_the_jobs(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    report = _dump(corpus, one, 1, capsys)
    _dump(corpus, two, 2, capsys)
    assert one.read_bytes() == two.read_bytes()
    records = [json.loads(line) for line in one.read_text(encoding="utf-8").splitlines()]
    assert all(set(r) == KEYS and r["kinds"] for r in records)
    # One record a diverging line of each distinct candidate: its tally's differing lines.
    distinct = [c for c in report["candidates"] if c["same_as"] is None]
    for c in distinct:
        mine = [r for r in records if r["candidate"] == c["name"]]
        assert len(mine) == c["differing"] > 0
        twins = [t["name"] for t in report["candidates"] if t["same_as"] == c["name"]]
        assert all(r["same_tokenizer"] == twins for r in mine)
        # In input order: the generated lines, then the corpus's by line number.
        at = [int(r["origin"].rpartition(":")[2]) for r in mine if str(corpus) in r["origin"]]
        assert len(at) > 100
        assert at == sorted(at)
        first = next(i for i, r in enumerate(mine) if str(corpus) in r["origin"])
        assert all(str(corpus) in r["origin"] for r in mine[first:])
    assert len(records) == sum(c["differing"] for c in distinct)
    for r in records:
        ref, cand, at = r["reference_ids"], r["candidate_ids"], r["first_divergence"]
        assert ref[:at] == cand[:at]
        assert ref != cand or r["reference_decoded"] != r["candidate_decoded"] or r["stream"]


def test_the_library_sink_gets_the_lines_in_order(corpus: Path) -> None:
    resolved = resolve(str(MODEL))
    sp = SentencePieceModel.load(resolved.model_file)
    got: dict[int, list[Diverging]] = {}
    for jobs in (1, 2):
        got[jobs] = []
        options = CompareOptions(corpora=[corpus], examples=0, prompts=0, probes=False, jobs=jobs)
        report = compare(resolved, sp, options, diverging=got[jobs].extend)
    assert [r.to_dict() for r in got[1]] == [r.to_dict() for r in got[2]]
    serials = [(r.outcome.serial, r.candidate) for r in got[1]]
    assert [s for s, _ in serials] == sorted(s for s, _ in serials)
    distinct = [t for t in report.candidates if t.same_as is None]
    assert len(got[1]) == sum(t.differing for t in distinct)


def test_a_failed_run_leaves_no_dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.jsonl"
    out.write_text("before\n")
    code = main(
        ["compare", str(MODEL), "--corpus", str(tmp_path / "absent.txt"), "--dump", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert out.read_text() == "before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl"]
    code = main(["compare", str(MODEL), "--dump", str(tmp_path / "no" / "d.jsonl")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "does not exist" in err
