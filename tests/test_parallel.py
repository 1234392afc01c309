"""compare on many processes and on a cluster: the report is the one a single process gives.

The corpus is cut into many small parts here (``MIN_PART`` lowered) and the streaming budget
made small, so that parts, deferred streams, a budget spent part-way and counterexamples from
several parts are all exercised on a corpus of a few hundred KB. The Dask test starts a local
cluster and skips when the ``cluster`` extra is absent.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tokcheck.cli import main
from tokcheck.compare import run as compare_module
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.run import compare
from tokcheck.inputs.corpus import CorpusStats, Location, records
from tokcheck.judge import stream_check
from tokcheck.judge.stream import Streamer
from tokcheck.judge.stream_check import StreamCheck
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.parallel.partition import Partition, count_lines, cut, numbered, to_count

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = FIXTURES / "bilingual-4b"
# Short lines every candidate path of the fixture gets wrong: counterexamples of equal length
# in many parts, where the first in the input must win.
SHORT = [" a", "  ", " b", "\t ", " c"]
WORDS = [
    "吾輩は",
    "猫",
    "である",
    "名前",
    "はまだ",
    "無い",
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "გამარჯობა",
    "😀",
    "①②",
    "ｱｲｳ",
]


def _docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 97 == 0:
            out.append(rng.choice(SHORT))
        else:
            out.append(" ".join(rng.choices(WORDS, k=rng.randint(1, 30))))
    return out


def _corpus(tmp_path: Path, name: str, docs: list[str]) -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        pa = pytest.importorskip("pyarrow")
        parquet = pytest.importorskip("pyarrow.parquet")
        parquet.write_table(pa.table({"text": docs}), path, row_group_size=500)
        return path
    if ".jsonl" in name:
        body = b"".join(json.dumps({"text": d}).encode() + b"\n" for d in docs)
        body += b"{broken\n\n" + body[:2000]  # a bad record, a blank line, and more after them
    else:
        # A line that is not UTF-8 and Windows line ends: positions must survive the cutting.
        body = "\r\n".join(docs).encode() + b"\r\n\xff\xfe bad\n" + "\n".join(docs[:50]).encode()
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    return path


@pytest.fixture(scope="module")
def model() -> tuple[Any, SentencePieceModel]:
    resolved = resolve(str(MODEL))
    return resolved, SentencePieceModel.load(resolved.model_file)


def _report(
    model: tuple[Any, SentencePieceModel], corpora: list[Location], **kwargs: Any
) -> dict[str, Any]:
    resolved, sp = model
    # No probes or generated strings: the shortest counterexamples are the corpus's.
    engine = kwargs.pop("engine", None)
    options = CompareOptions(
        corpora=corpora,
        examples=0,
        probes=False,
        prompts=2,
        show=4,
        candidates=["default", "exported"],
        **kwargs,
    )
    report = compare(resolved, sp, options, engine=engine).to_dict()
    for timing in ("elapsed_s", "lines_per_s", "mb_per_s", "engine"):
        report.pop(timing)
    return report


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of 20 KB and a streaming budget of 3,000 ids, lines of over 200 not streamed."""
    monkeypatch.setattr(compare_module, "MIN_PART", 20_000)
    monkeypatch.setattr(stream_check, "BUDGET", 3_000)
    monkeypatch.setattr(stream_check, "LINE_CAP", 200)


@pytest.mark.parametrize("name", ["c.txt", "c.jsonl", "c.jsonl.gz", "c.parquet"])
def test_jobs_give_the_report_of_one_process(
    model: tuple[Any, SentencePieceModel],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    path = _corpus(tmp_path, name, _docs(4000))
    monkeypatch.setattr(stream_check, "BUDGET", 3_000)
    monkeypatch.setattr(stream_check, "LINE_CAP", 200)
    whole = _report(model, [path], jobs=1)  # in this process: one part per file
    monkeypatch.setattr(compare_module, "MIN_PART", 20_000)
    assert _report(model, [path], jobs=2) == whole
    default, backend = whole["candidates"]
    # Not vacuous: corpus lines among the counterexamples, the budget spent part-way.
    # Each source keeps its own 4 shortest: the corpus's are not hidden by the prompts.
    examples = [e for e in default["counterexamples"] if e["source"] == str(path)]
    assert len(examples) == 4
    assert all(str(path) in e["origin"] and len(e["text"]) <= 2 for e in examples)
    assert {e["source"] for e in default["counterexamples"]} <= {str(path), "prompt"}
    assert backend["stream_checked"] > 0
    assert backend["stream_unchecked"] > 0
    if name != "c.parquet":
        assert whole["inputs"]["skipped_lines"], "the bad record is reported"


def test_every_candidate_and_several_corpora(
    model: tuple[Any, SentencePieceModel], tmp_path: Path, small: None
) -> None:
    corpora: list[Location] = [
        _corpus(tmp_path, "a.txt", _docs(1500, seed=1)),
        _corpus(tmp_path, "b.jsonl.gz", _docs(1500, seed=2)),
    ]
    resolved, sp = model
    one, two = (
        compare(
            resolved, sp, CompareOptions(corpora=corpora, examples=10, prompts=1, jobs=j)
        ).to_dict()
        for j in (1, 2)
    )
    assert one["engine"] == "local"
    assert two["engine"] == "local, 2 processes"
    for report in (one, two):
        for timing in ("elapsed_s", "lines_per_s", "mb_per_s", "engine"):
            report.pop(timing)
    assert one == two
    assert one["inputs"]["corpus_lines"] > 3000
    # Candidates that load to one tokenizer are judged once and reported under each name.
    assert len(one["candidates"]) > 2


def test_exhaustive_lines_are_judged_in_parts_too(
    model: tuple[Any, SentencePieceModel], small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokcheck.parallel import partition

    monkeypatch.setattr(partition, "INLINE_LINES", 5_000)
    resolved, sp = model
    kwargs: dict[str, Any] = {
        "examples": 0,
        "prompts": 0,
        "exhaustive": True,
        "candidates": ["exported"],
    }
    one = compare(resolved, sp, CompareOptions(jobs=1, **kwargs)).to_dict()
    two = compare(resolved, sp, CompareOptions(jobs=2, **kwargs)).to_dict()
    assert one["inputs"]["lines"] > 100_000
    assert one["inputs"]["corpus_lines"] == 0  # generated lines are not the corpus's
    for report in (one, two):
        for timing in ("elapsed_s", "lines_per_s", "mb_per_s", "engine"):
            report.pop(timing)
    assert one == two


def _read_parts(parts: list[Partition]) -> tuple[list[Any], CorpusStats]:
    stats = CorpusStats()
    return [item for p in parts for item in p.read(stats, "text")], stats


@pytest.mark.parametrize("target", [1, 7, 64, 5000, 1 << 30])
def test_parts_read_what_the_whole_file_reads(tmp_path: Path, target: int) -> None:
    body = (
        b"first\r\n\n"
        + b"x" * 300
        + b"\nnot \xff utf-8\n"
        + b"\n".join(b"%d" % i for i in range(99))
    )
    path = tmp_path / "c.txt"
    path.write_bytes(body)
    whole_stats = CorpusStats()
    whole = list(records(path, whole_stats))
    parts = cut([path], target)
    assert sum(p.size for p in parts) == len(body)
    parts = numbered(parts, [count_lines(p) for p in to_count(parts)])
    got, stats = _read_parts(parts)
    assert [(t, o) for (t, o), _ in got] == [(t, o) for t, o, _ in whole]
    serials = [s for _, s in got]
    assert serials == sorted(serials)
    assert len(set(serials)) == len(serials)
    assert stats.skipped == whole_stats.skipped
    assert stats.skipped[0].position == 4
    if target < 100:
        assert len(parts) > 5


def test_parquet_parts_are_runs_of_row_groups(tmp_path: Path) -> None:
    path = _corpus(tmp_path, "c.parquet", _docs(3000))
    parts = cut([path], 1)
    assert len(parts) == 6  # row groups of 500
    assert [p.span.first for p in parts] == [0, 500, 1000, 1500, 2000, 2500]
    got, _ = _read_parts(parts)
    assert [o for (_, o), _ in got] == [o for _, o, _ in records(path, CorpusStats())]


def test_corpus_urls_are_read_with_fsspec(
    model: tuple[Any, SentencePieceModel], tmp_path: Path, small: None
) -> None:
    path = _corpus(tmp_path, "c.jsonl", _docs(1000))
    url = path.as_uri()
    report = _report(model, [url], jobs=2)
    assert report["inputs"]["corpora"] == [url]
    assert report["inputs"]["skipped_lines"][0]["path"] == url
    local = _report(model, [path], jobs=1)
    assert report["inputs"]["corpus_lines"] == local["inputs"]["corpus_lines"]
    code = main(["compare", str(MODEL), "--corpus", url + ".missing", "--jobs", "1"])
    assert code == 2


def test_streaming_stops_at_the_first_line_that_does_not_fit(
    model: tuple[Any, SentencePieceModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, sp = model
    monkeypatch.setattr(stream_check, "BUDGET", 100)
    monkeypatch.setattr(stream_check, "LINE_CAP", 60)
    processor = sp.processor
    streamer = Streamer(
        decode=lambda ids: str(processor.decode(ids)),
        decode_batch=lambda batch: list(processor.decode(batch)),
    )
    check = StreamCheck(sp, streamer)
    piece = processor.encode("猫")[-1]

    def line(n: int) -> tuple[list[int], str]:
        return [piece] * n, str(processor.decode([piece] * n))

    assert check.stream(*line(50)) is None  # within the budget: streamed, and right
    assert (check.checked, check.unchecked, check.budget) == (1, 0, 50)
    check.stream(*line(61))  # over LINE_CAP: not streamed, and streaming goes on
    assert (check.checked, check.unchecked, check.spent) == (1, 1, False)
    check.stream(*line(51))  # does not fit what is left: streaming ends here
    assert check.spent
    check.stream(*line(1))  # would fit, but streaming has ended
    assert (check.checked, check.unchecked) == (1, 3)


def test_cli_jobs_and_engine_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    assert "--jobs" in out
    assert "dask" in out.lower()
    with pytest.raises(SystemExit) as usage:
        main(["compare", str(MODEL), "--jobs", "0"])
    assert usage.value.code == 2
    assert "--jobs: must be >= 1" in capsys.readouterr().err
    assert main(["compare", str(MODEL), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "--engine dask" in err
    assert err.count("\n") == 1


def test_dask_missing_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    corpus = _corpus(tmp_path, "c.txt", _docs(10))
    code = main(["compare", str(MODEL), "--corpus", str(corpus), "--engine", "dask"])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'tokcheck[cluster]'" in err
    assert err.count("\n") == 1


def test_the_local_dask_cluster_does_not_warn_of_a_port_in_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Two runs at once (CI jobs, the fuzz test's workers): the scheduler's HTTP server took
    # port 8787 unless told otherwise, and the second printed "Port 8787 is already in use".
    pytest.importorskip("distributed")
    import socket
    import warnings

    taken = socket.socket()
    with contextlib.suppress(OSError):  # taken by someone else already: as good
        taken.bind(("127.0.0.1", 8787))
        taken.listen()
    corpus = _corpus(tmp_path, "c.txt", _docs(50))
    argv = ["compare", str(MODEL), "--corpus", str(corpus), "--engine", "dask", "--jobs", "1"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main([*argv, "--examples", "5"])
    finally:
        taken.close()
    assert code in (0, 1), capsys.readouterr().err
    assert [str(w.message) for w in caught if "in use" in str(w.message)] == []


def test_dask_cluster_gives_the_report_of_one_process(
    model: tuple[Any, SentencePieceModel], tmp_path: Path, small: None
) -> None:
    distributed = pytest.importorskip("distributed")
    from tokcheck.parallel.cluster import Dask

    corpora: list[Location] = [
        _corpus(tmp_path, "a.txt", _docs(1500)).as_uri(),
        str(_corpus(tmp_path, "b.jsonl.gz", _docs(1000, seed=3))),
    ]
    expected = _report(model, corpora, jobs=1)
    # Two threads in one worker process: each judges with a worker of its own.
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        got = _report(model, corpora, engine=Dask(cluster.scheduler_address, 2))
    assert got == expected


def test_generated_strings_do_not_depend_on_the_modules_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hypothesis draws string constants from the program's own modules: without tokcheck's
    guard, importing the Dask engine (or any module) changed what a seed drew."""
    from tokcheck.inputs.probes import hypothesis_strings

    before = hypothesis_strings(1000, 7)
    module = tmp_path / "tokcheck_test_constants.py"
    module.write_text("".join(f'C{i} = "k{i} x"\n' for i in range(200)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("tokcheck_test_constants")
    assert hypothesis_strings(1000, 7) == before


def test_a_corpus_that_changes_while_read_is_an_error(tmp_path: Path) -> None:
    from tokcheck.errors import CorpusError

    path = tmp_path / "c.txt"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(2000)))
    ranges = cut([path], 4000)
    ranges = numbered(ranges, [count_lines(p) for p in to_count(ranges)])
    whole = cut([path], 1 << 30)
    with path.open("r+b") as handle:
        handle.truncate(6000)
    with pytest.raises(CorpusError, match="changed while being read"):
        _read_parts(ranges[1:2])
    with pytest.raises(CorpusError, match="changed while being read"):
        _read_parts(whole)


def test_user_set_tokenizers_parallelism_does_not_hang_forked_workers(tmp_path: Path) -> None:
    """A forked worker inherits tokenizers' thread pool without its threads: with parallelism
    on it would wait for them forever."""
    corpus = _corpus(tmp_path, "c.txt", _docs(300))
    argv = [sys.executable, "-m", "tokcheck", "compare", str(FIXTURES / "tiny-neox")]
    argv += ["--corpus", str(corpus), "--jobs", "2", "--examples", "5", "--json"]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "true"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["engine"] == "local, 2 processes"


@pytest.mark.parametrize("change", ["grown", "shrunk"])
def test_a_corpus_that_changes_size_is_caught_by_the_range_that_ends_it(
    tmp_path: Path, change: str
) -> None:
    """Split in byte ranges (as --jobs N splits a big file), a corpus appended to or cut while
    the parts are read is an error, as it is read whole: never a quietly different run."""
    from tokcheck.errors import CorpusError
    from tokcheck.inputs.corpus import CorpusStats
    from tokcheck.parallel.partition import count_lines, cut, numbered, to_count

    corpus = tmp_path / "lines.txt"
    corpus.write_text("".join(f"line {k} 吾輩は猫である\n" for k in range(3000)), encoding="utf-8")
    parts = cut([corpus], 8_000)
    parts = numbered(parts, [count_lines(p) for p in to_count(parts)])
    assert len(parts) > 2
    assert [p.ends for p in parts[:-1]] == [None] * (len(parts) - 1)
    if change == "grown":
        with corpus.open("a", encoding="utf-8") as handle:
            handle.write("appended\n")
    else:
        with corpus.open("r+b") as handle:
            handle.truncate(corpus.stat().st_size - 1)
    lines = [line for p in parts[:-1] for line in p.read(CorpusStats(), "text")]
    assert len(lines) > 100  # the ranges before the end read as they were cut
    with pytest.raises(CorpusError, match="changed while being read"):
        list(parts[-1].read(CorpusStats(), "text"))
