"""compare on 1, 2, ... cores against the raw encodes at the same parallelism, and the Dask
engine's overhead on a local cluster; run by ``benchmarks/bench.py`` (``--scaling``).

At parallelism N the raw floor is N processes, each encoding 1/N of the corpus (cut at line
starts) with sentencepiece and then with the default candidate's tokenizers backend, each with
``cores // N`` threads, as compare's workers have them. Its wall time runs from when every
process has loaded the models to when the last one is done. compare runs as a subprocess with ``--jobs N``; its
process wall time (start-up, loading and all) and its loop time (``elapsed_s``) are both kept.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

MB = 1_000_000
BATCH_LINES = 2000
_STATE: dict[str, Any] = {}


def jobs_ladder(cores: int) -> list[int]:
    """1, 2, 4, ... up to ``cores``, and ``cores`` itself."""
    out, n = [], 1
    while n < cores:
        out.append(n)
        n *= 2
    return [*out, cores]


def scaling(fixture: Path, corpus: Path, jobs: list[int], dask: bool) -> dict[str, Any]:
    """The figures for each N in ``jobs``, and the Dask engine's at the largest N."""
    rows = []
    for n in jobs:
        raw = raw_parallel(fixture, corpus, n)
        run = _compare(fixture, corpus, ["--jobs", str(n)])
        rows.append({"jobs": n, "raw_s": raw, **run, "ratio": round(run["wall_s"] / raw, 3)})
    out: dict[str, Any] = {"mb": round(corpus.stat().st_size / MB, 1), "jobs": rows}
    if dask:
        n = max(jobs)
        run = _compare(fixture, corpus, ["--jobs", str(n), "--engine", "dask"])
        local = next(r for r in rows if r["jobs"] == n)
        out["dask"] = {
            "jobs": n,
            **run,
            "overhead_s": round(run["wall_s"] - local["wall_s"], 2),
            "same_report": run["report"] == local["report"],
        }
    for row in [*rows, out.get("dask", {})]:
        row.pop("report", None)
    return out


def raw_parallel(fixture: Path, corpus: Path, n: int) -> float:
    """Seconds for ``n`` processes to encode their shares of ``corpus``, models loaded first."""
    threads = max(1, (os.cpu_count() or 1) // n)
    shares = _shares(corpus, n)
    context = multiprocessing.get_context("spawn")
    with (
        multiprocessing.Manager() as manager,
        ProcessPoolExecutor(
            n, mp_context=context, initializer=_load, initargs=(str(fixture), threads)
        ) as pool,
    ):
        # Every worker loads before any encodes: n tasks that each wait for all n to start.
        barrier = manager.Barrier(n)
        list(pool.map(_ready, [barrier] * n))
        began = time.perf_counter()
        list(pool.map(_encode, [str(corpus)] * n, *zip(*shares, strict=True)))
        return round(time.perf_counter() - began, 2)


def _shares(corpus: Path, n: int) -> list[tuple[int, int]]:
    size = corpus.stat().st_size
    starts = [0]
    with corpus.open("rb") as handle:
        for k in range(1, n):
            handle.seek(size * k // n)
            handle.readline()
            starts.append(handle.tell())
    return list(zip(starts, [*starts[1:], size], strict=True))


def _load(fixture: str, threads: int) -> None:
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = str(threads > 1).lower()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import sentencepiece as spm
    from transformers import AutoTokenizer

    _STATE["sp"] = spm.SentencePieceProcessor(model_file=str(Path(fixture) / "spiece.model"))
    _STATE["hf"] = AutoTokenizer.from_pretrained(fixture).backend_tokenizer
    _STATE["threads"] = threads


def _ready(barrier: Any) -> None:
    barrier.wait()


def _encode(corpus: str, start: int, stop: int) -> None:
    sp, hf, threads = _STATE["sp"], _STATE["hf"], _STATE["threads"]
    with open(corpus, "rb") as handle:
        handle.seek(start)
        lines = handle.read(stop - start).decode("utf-8").split("\n")
    batches = [lines[i : i + BATCH_LINES] for i in range(0, len(lines), BATCH_LINES)]
    for batch in batches:
        sp.encode(batch, num_threads=threads)
    for batch in batches:
        hf.encode_batch(batch, add_special_tokens=False)


def _compare(fixture: Path, corpus: Path, extra: list[str]) -> dict[str, Any]:
    script = Path(sys.executable).parent / "tokcheck"
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "tokcheck"]
    argv += ["compare", str(fixture), "--candidate", "default", "--corpus", str(corpus)]
    argv += ["--examples", "0", "--json", *extra]
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - began
        out.seek(0)
        try:
            report = json.loads(out.read())
        except json.JSONDecodeError as e:
            raise SystemExit(f"bench: {' '.join(argv)}: {done.stderr.decode()[-2000:]}") from e
    loop = report.pop("elapsed_s")
    for timing in ("lines_per_s", "mb_per_s", "engine"):
        report.pop(timing)
    return {"wall_s": round(wall, 2), "loop_s": loop, "report": report}


def render(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows for bench.py's table."""
    rows = [
        (
            f"compare --jobs {r['jobs']}, {figures['mb']:g} MB",
            f"{r['wall_s']} s wall, {r['loop_s']} s loop",
            f"raw encodes at {r['jobs']} processes {r['raw_s']} s: {r['ratio']}x",
        )
        for r in figures["jobs"]
    ]
    if dask := figures.get("dask"):
        rows.append(
            (
                f"compare --engine dask --jobs {dask['jobs']}",
                f"{dask['wall_s']} s wall, {dask['loop_s']} s loop",
                f"+{dask['overhead_s']} s over local; same report: {dask['same_report']}",
            )
        )
    return rows
