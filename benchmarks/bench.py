"""Benchmarks for tokcheck's performance targets, measured in one run on this machine.

Builds a corpus of ``--mb`` megabytes by repeating and mutating the lines of ../shared/corpora
(seeded synthetic Japanese/English text where that directory is absent) in a temporary
directory, never inside the repository, then measures:

- raw sentencepiece and raw tokenizers batch encoding of the corpus, in process, streaming in
  the batches ``tokcheck compare`` uses: the floor compare cannot beat;
- ``tokcheck compare`` as a subprocess on the first 10 MB and on the whole corpus: wall time
  and peak RSS, each child's own, read with ``os.wait4``;
- ``tokcheck inspect`` and ``check`` as whole processes against a bare ``import sentencepiece``;
- ``tokcheck roundtrip`` examples per second and ``tokcheck gate`` wall time on two fixtures;
- ``compare --jobs N`` for N = 1, 2, 4, ... cores against the raw encodes at the same
  parallelism, and ``--engine dask`` on a local cluster (see ``benchmarks/scaling.py``; alone
  with ``--scaling``);

and prints a table of the figures and the targets they are held to, and optionally JSON.
It does not fail on a missed target: it measures and reports; the exit code is 0 unless a
command it runs cannot run at all.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import scaling

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
FIXTURES = REPO / "fixtures"
BATCH_LINES = 2000  # the batch size tokcheck.compare streams with
MB = 1_000_000
SMALL_MB = 10
STARTUP_RUNS = 10

# Characters the mutations splice in: what real Japanese/English web text mixes into lines.
_NOISE = "ａｂｃ１２３ＡＢＣｱｲｳ　、。「」・…—–éüß€©😀🍣👍🏽\t  ①②㈱髙﨑"
_EN_TEXT = (
    "the cat sat on a mat while tokenizers split every word into pieces and bytes that "
    "models read one token at a time from the corpus of Botchan and other novels"
)
_JA_TEXT = (
    "吾輩 は 猫 で ある 名前 は まだ 無い どこ で 生れた か とんと 見当 が つかぬ 何 でも "
    "薄暗い じめじめ した 所 で ニャーニャー 泣いて いた 事 だけ は 記憶 して いる 東京 "
    "トークナイザー の 検査 を 行う"
)


@dataclass(frozen=True)
class Run:
    """One finished subprocess: its own wall time and peak resident memory."""

    argv: list[str]
    returncode: int
    wall_s: float
    max_rss_mb: float
    stdout: str
    stderr: str

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as e:
            raise SystemExit(
                f"bench: {' '.join(self.argv)} exited {self.returncode} without JSON output:\n"
                f"{self.stderr[-2000:]}"
            ) from e


@dataclass(frozen=True)
class Target:
    name: str
    measured: float
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.measured <= self.limit


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fixture = Path(args.fixture).resolve()
    if args.out:
        out_dir = Path(args.out).resolve()
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="tokcheck-bench-"))
    if out_dir.is_relative_to(REPO):
        print(
            f"bench: --out {out_dir} is inside the repository; choose a directory outside it",
            file=sys.stderr,
        )
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        results = _run_all(args, fixture, out_dir)
    finally:
        if not args.out and not args.keep:
            shutil.rmtree(out_dir, ignore_errors=True)
    print(_render(results))
    if args.json == "-":
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        Path(args.json).write_text(
            json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--mb", type=float, default=100, help="corpus size in MB (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed for the corpus mutations")
    p.add_argument(
        "--fixture",
        default=str(FIXTURES / "bilingual-4b"),
        help="model directory for the encode and compare benchmarks "
        "(default: fixtures/bilingual-4b)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="write the corpus here (default: a temporary directory)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary corpus directory")
    p.add_argument(
        "--json", metavar="FILE", help="also write the results as JSON here ('-': stdout)"
    )
    p.add_argument(
        "--scaling",
        action="store_true",
        help="only the --jobs scaling and the Dask engine's overhead, on the whole corpus",
    )
    p.add_argument(
        "--jobs",
        type=lambda text: [int(n) for n in text.split(",")],
        default=scaling.jobs_ladder(os.cpu_count() or 1),
        metavar="N,N,...",
        help="the --jobs to measure (default: 1, 2, 4, ... cores)",
    )
    return p


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _run_all(args: argparse.Namespace, fixture: Path, out_dir: Path) -> dict[str, Any]:
    full_bytes = int(args.mb * MB)
    small_bytes = min(SMALL_MB * MB, full_bytes)
    full, small = out_dir / "corpus.txt", out_dir / f"corpus-{SMALL_MB}mb.txt"
    _log(f"building a {args.mb:g} MB corpus in {out_dir}")
    start = time.perf_counter()
    corpus = _build_corpus(full, small, full_bytes, small_bytes, args.seed)
    corpus["build_s"] = round(time.perf_counter() - start, 2)
    _log(f"compare --jobs {', '.join(map(str, args.jobs))} against the raw encodes")
    dask = importlib.util.find_spec("distributed") is not None
    jobs = scaling.scaling(fixture, full, args.jobs, dask)
    if args.scaling:
        return {"machine": _machine(), "fixture": str(fixture), "corpus": corpus, "scaling": jobs}

    _log("raw sentencepiece encode")
    raw_sp = _raw_sentencepiece(fixture / "spiece.model", full)
    _log("raw tokenizers encode")
    raw_hf = _raw_tokenizers(fixture, full)

    compare_runs = {}
    for label, path in (("small", small), ("full", full)):
        _log(f"tokcheck compare on {path.stat().st_size / MB:.1f} MB")
        run = _run(
            [
                *_tokcheck(),
                "compare",
                str(fixture),
                "--candidate",
                "default",
                "--corpus",
                str(path),
                "--examples",
                "0",
                "--json",
            ]
        )
        report = run.json()
        compare_runs[label] = {
            "mb": round(path.stat().st_size / MB, 1),
            "returncode": run.returncode,
            "wall_s": round(run.wall_s, 2),
            "elapsed_s": report["elapsed_s"],
            "mb_per_s": report["mb_per_s"],
            "max_rss_mb": round(run.max_rss_mb, 1),
            "lines": report["inputs"]["lines"],
            "mismatched": sum(c["mismatched"] for c in report["candidates"]),
        }

    _log(f"startup: {STARTUP_RUNS} runs each of import sentencepiece, inspect, check")
    bilingual = str(FIXTURES / "bilingual-4b")
    startup = {
        "import_sentencepiece_s": _median_wall([sys.executable, "-c", "import sentencepiece"]),
        # The floor for any command that asks sentencepiece itself about the model: load it.
        "load_model_s": _median_wall(
            [
                sys.executable,
                "-c",
                "import sentencepiece, sys; sentencepiece.SentencePieceProcessor(model_file=sys.argv[1])",
                str(FIXTURES / "bilingual-4b" / "spiece.model"),
            ]
        ),
        "inspect_s": _median_wall([*_tokcheck(), "inspect", bilingual, "--json"]),
        "check_s": _median_wall([*_tokcheck(), "check", bilingual, "--json"]),
    }

    _log("roundtrip")
    neox = str(FIXTURES / "neox-3.6b")
    run = _run([*_tokcheck(), "roundtrip", neox, "--examples", "2000", "--json"])
    roundtrip = {
        "examples_per_s": run.json()["examples_per_s"],
        "wall_s": round(run.wall_s, 2),
        "returncode": run.returncode,
    }

    gate = {}
    for name in ("neox-3.6b", "bilingual-4b"):
        _log(f"gate {name}")
        run = _run([*_tokcheck(), "gate", str(FIXTURES / name), "--json"])
        gate[name] = {
            "wall_s": round(run.wall_s, 2),
            "passed": run.json()["passed"],
            "returncode": run.returncode,
            "max_rss_mb": round(run.max_rss_mb, 1),
        }

    raw_total = raw_sp["elapsed_s"] + raw_hf["elapsed_s"]
    targets = [
        Target(
            "compare wall / (raw sentencepiece + raw tokenizers)",
            compare_runs["full"]["wall_s"] / raw_total,
            1.25,
            "x",
        ),
        Target(
            f"compare peak RSS growth {compare_runs['small']['mb']:g} MB -> "
            f"{compare_runs['full']['mb']:g} MB",
            100 * (compare_runs["full"]["max_rss_mb"] / compare_runs["small"]["max_rss_mb"] - 1),
            20.0,
            "%",
        ),
        Target(
            "inspect / bare import sentencepiece",
            startup["inspect_s"] / startup["import_sentencepiece_s"],
            2.0,
            "x",
        ),
        Target(
            "check / bare import sentencepiece",
            startup["check_s"] / startup["import_sentencepiece_s"],
            2.0,
            "x",
        ),
        Target("gate neox-3.6b + bilingual-4b", sum(g["wall_s"] for g in gate.values()), 20.0, "s"),
        Target(
            f"compare --jobs {jobs['jobs'][-1]['jobs']} wall / raw encodes at that parallelism",
            jobs["jobs"][-1]["ratio"],
            1.25,
            "x",
        ),
    ]
    return {
        "machine": _machine(),
        "fixture": str(fixture.relative_to(REPO) if fixture.is_relative_to(REPO) else fixture),
        "corpus": corpus,
        "scaling": jobs,
        "raw_sentencepiece": raw_sp,
        "raw_tokenizers": raw_hf,
        "compare": compare_runs,
        "compare_loop_ratio": round(compare_runs["full"]["elapsed_s"] / raw_total, 3),
        "startup": {k: round(v, 4) for k, v in startup.items()},
        "roundtrip": roundtrip,
        "gate": gate,
        "targets": [
            {
                "name": t.name,
                "measured": round(t.measured, 3),
                "limit": t.limit,
                "unit": t.unit,
                "met": t.met,
            }
            for t in targets
        ],
    }


# Corpus ------------------------------------------------------------------------------------


def _build_corpus(
    full: Path, small: Path, full_bytes: int, small_bytes: int, seed: int
) -> dict[str, Any]:
    """Write ``full`` (``full_bytes``) and ``small``, its first ``small_bytes``, in one pass."""
    rng = random.Random(seed)
    sources = _source_lines(rng)
    written = lines = 0
    with full.open("wb") as big, small.open("wb") as little:
        while written < full_bytes:
            chunk = "".join(_mutate(rng, sources) + "\n" for _ in range(1000)).encode("utf-8")
            big.write(chunk)
            if written < small_bytes:
                little.write(chunk)
            written += len(chunk)
            lines += 1000
    return {
        "source": str(SHARED_CORPORA) if SHARED_CORPORA.is_dir() else "synthetic",
        "bytes": written,
        "lines": lines,
        "seed": seed,
    }


def _source_lines(rng: random.Random) -> list[str]:
    paths = sorted(SHARED_CORPORA.glob("*.txt")) if SHARED_CORPORA.is_dir() else []
    found = [
        line.rstrip("\r\n")
        for p in paths
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return found or [_synthetic_line(rng) for _ in range(5000)]


def _synthetic_line(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return " ".join(rng.choices(_EN_TEXT.split(), k=rng.randint(3, 30))).capitalize() + "."
    return "".join(rng.choices(_JA_TEXT.split(), k=rng.randint(3, 40))) + "。"


def _mutate(rng: random.Random, sources: list[str]) -> str:
    """A source line, as is or mutated the ways real corpora differ: mixed, noisy, spaced."""
    line = rng.choice(sources)
    kind = rng.randrange(8)
    if kind == 1:
        other = rng.choice(sources)
        return line[: len(line) // 2] + " " + other[len(other) // 2 :]
    if kind == 2:
        at = rng.randrange(len(line) + 1)
        return f"{line[:at]}{rng.randrange(10**6)}{line[at:]}"
    if kind == 3:
        return line.swapcase()
    if kind == 4:
        words = line.split(" ")
        rng.shuffle(words)
        return " ".join(words)
    if kind == 5:
        return " " * rng.randrange(3) + line.replace(" ", "  ", 2) + " " * rng.randrange(3)
    if kind == 6:
        chars = list(line)
        for _ in range(1 + len(chars) // 40):
            chars[rng.randrange(len(chars))] = rng.choice(_NOISE)
        return "".join(chars)
    if kind == 7:
        return line[: rng.randrange(1, len(line) + 1)]
    return line


def _batches(path: Path) -> Iterator[list[str]]:
    """The corpus's lines in compare's batches, read the way tokcheck.inputs.corpus reads a text corpus."""
    with path.open("rb") as handle:
        lines = (raw.decode("utf-8").removesuffix("\n").removesuffix("\r") for raw in handle)
        while batch := list(itertools.islice(lines, BATCH_LINES)):
            yield batch


# Raw encoders, in process --------------------------------------------------------------------


def _raw_sentencepiece(model_file: Path, corpus: Path) -> dict[str, Any]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    threads = os.cpu_count() or 1
    start = time.perf_counter()
    tokens = 0
    for batch in _batches(corpus):
        tokens += sum(map(len, sp.encode(batch, num_threads=threads)))
    return _throughput(time.perf_counter() - start, tokens, corpus)


def _raw_tokenizers(fixture: Path, corpus: Path) -> dict[str, Any]:
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoTokenizer

    backend = AutoTokenizer.from_pretrained(str(fixture)).backend_tokenizer
    start = time.perf_counter()
    tokens = 0
    for batch in _batches(corpus):
        tokens += sum(len(e.ids) for e in backend.encode_batch(batch, add_special_tokens=False))
    return _throughput(time.perf_counter() - start, tokens, corpus)


def _throughput(elapsed: float, tokens: int, corpus: Path) -> dict[str, Any]:
    return {
        "elapsed_s": round(elapsed, 2),
        "tokens": tokens,
        "mb_per_s": round(corpus.stat().st_size / MB / elapsed, 2),
    }


# Subprocesses --------------------------------------------------------------------------------


def _tokcheck() -> list[str]:
    """The tokcheck entry point of the interpreter running this script."""
    script = Path(sys.executable).parent / "tokcheck"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "tokcheck"]


def _run(argv: list[str]) -> Run:
    """Run ``argv`` from the repository root; its own peak RSS comes from wait4, not the sum
    over every child this process has had, which RUSAGE_CHILDREN would give."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in KiB on Linux, bytes on macOS.
        rss = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
        return Run(
            argv,
            proc.returncode,
            wall,
            rss,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


def _median_wall(argv: list[str]) -> float:
    _run(argv)  # warm the page cache; not counted
    runs = [_run(argv) for _ in range(STARTUP_RUNS)]
    if failed := [r for r in runs if r.returncode not in (0, 1)]:
        first = failed[0]
        raise SystemExit(f"bench: {' '.join(argv)} exited {first.returncode}:\n{first.stderr}")
    return statistics.median(r.wall_s for r in runs)


# Report --------------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for package in ("tokcheck", "sentencepiece", "tokenizers", "transformers"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _render(r: dict[str, Any]) -> str:
    c = r["corpus"]
    rows: list[tuple[str, str, str]] = [
        (
            "corpus",
            f"{c['bytes'] / MB:.1f} MB, {c['lines']} lines, built in {c['build_s']} s",
            c["source"],
        ),
        *scaling.render(r["scaling"]),
    ]
    title = f"tokcheck benchmarks: fixture {r['fixture']}, {r['machine']['cpus']} CPUs"
    if "startup" not in r:  # --scaling
        return _table(("benchmark", "figure", "detail"), rows, title)
    s = r["startup"]
    for name in ("raw_sentencepiece", "raw_tokenizers"):
        raw = r[name]
        rows.append(
            (
                name.replace("_", " ") + " encode",
                f"{raw['elapsed_s']} s",
                f"{raw['mb_per_s']} MB/s, {raw['tokens']} tokens",
            )
        )
    for run in r["compare"].values():
        rows.append(
            (
                f"compare {run['mb']:g} MB",
                f"{run['wall_s']} s wall, {run['elapsed_s']} s loop",
                f"peak RSS {run['max_rss_mb']} MB; {run['mismatched']}/{run['lines']} differ",
            )
        )
    rows.append(("compare loop / raw", f"{r['compare_loop_ratio']}x", "process startup excluded"))
    median = f"median of {STARTUP_RUNS}"
    rows += [
        ("python -c 'import sentencepiece'", f"{s['import_sentencepiece_s']} s", median),
        ("python: load bilingual-4b in sentencepiece", f"{s['load_model_s']} s", median),
        ("tokcheck inspect bilingual-4b", f"{s['inspect_s']} s", median),
        ("tokcheck check bilingual-4b", f"{s['check_s']} s", median),
        (
            "roundtrip neox-3.6b --examples 2000",
            f"{r['roundtrip']['examples_per_s']} examples/s",
            f"{r['roundtrip']['wall_s']} s wall",
        ),
    ]
    rows += [
        (f"gate {name}", f"{g['wall_s']} s", f"passed: {g['passed']}, RSS {g['max_rss_mb']} MB")
        for name, g in r["gate"].items()
    ]
    verdicts = [
        (
            "MET" if t["met"] else "MISSED",
            t["name"],
            f"{t['measured']}{t['unit']}",
            f"<= {t['limit']}{t['unit']}",
        )
        for t in r["targets"]
    ]
    return "\n\n".join(
        [
            _table(("benchmark", "figure", "detail"), rows, title),
            _table(("", "target", "measured", "limit"), verdicts, "targets"),
        ]
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str) -> str:
    # Plain ASCII labels and figures only, so len() is the display width.
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join(
        [title, line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]
    )


if __name__ == "__main__":
    sys.exit(main())
