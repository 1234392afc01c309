"""Export on every model here, then the exported directory judged on far more than export saw.

For each model (the fixtures, ../shared/models and ../shared/published-models when present) it
runs ``tokcheck export MODEL OUTDIR`` as a subprocess (timed: the whole verification included)
and, where export wrote a directory, judges it against sentencepiece with the one judge on:
the lines derived from the model, both ../shared corpora and ``--strings`` generated strings
(half samples of the model's own pieces, half rich in its user-defined symbols), through the
``tokenizers`` file and through ``AutoTokenizer`` on the directory. Run it under each
transformers line (the same script from another virtual environment) to cover both.

    python benchmarks/export_acceptance.py                     # 100,000 strings per model
    python benchmarks/export_acceptance.py --strings 20000 --model tiny-legacy
    python benchmarks/export_acceptance.py --target transformers.js   # judged there too

With ``--target transformers.js`` export writes for transformers.js (refusing charsmap models)
and the directory is judged in transformers.js as well (node and @huggingface/tokenizers
installed; see tokcheck.candidates.jsruntime).

It prints one row per model: export's verdict and time, then lines judged, differing lines and
ties per path. A model where export says exact and the larger judgement finds a mismatch is the
failure this exists to find. It measures and never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokcheck.candidates import jsruntime
from tokcheck.candidates.hf import from_tokenizers, from_transformers, quiet_transformers
from tokcheck.convert.target import EXPORT_TARGETS
from tokcheck.inputs.derived import model_texts
from tokcheck.inputs.probes import numbered, sample_texts, structured_texts, symbol_texts
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve
from tokcheck.parallel.runner import judge_lines

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = (
    "tiny-neox",
    "tiny-bilingual",
    "tiny-legacy",
    "neox-3.6b",
    "bilingual-4b",
    "legacy-1b",
    "bpe-32k",
    "bpe-32k-legacy",
)


def models() -> list[tuple[str, Path]]:
    found = [(name, REPO / "fixtures" / name) for name in FIXTURES]
    for folder in ("models", "published-models"):
        if (SHARED / folder).is_dir():
            found += [(p.stem, p) for p in sorted((SHARED / folder).glob("*.model"))]
    return found


def corpora() -> list[str]:
    lines: list[str] = []
    if (SHARED / "corpora").is_dir():
        for path in sorted((SHARED / "corpora").glob("*.txt")):
            lines += path.read_text(encoding="utf-8").splitlines()
    return lines


def run(name: str, source: Path, out: Path, strings: int, target: str) -> None:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tokcheck", "export", str(source), str(out), "--target", target],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    verdict = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["?"])[-1]
    print(f"{name:34} export exit {done.returncode} in {seconds:5.1f} s: {verdict[:140]}")
    if not (out / "tokenizer.json").is_file():
        return
    model = SentencePieceModel.load(resolve(str(source)).model_file)
    rich = symbol_texts(model, strings // 2, seed=101) or sample_texts(model, strings // 2, 102)
    texts = [
        *model_texts(model),
        *structured_texts(400, seed=1),
        *corpora(),
        *sample_texts(model, strings // 2, seed=101),
        *rich,
    ]
    from tokenizers import Tokenizer

    file = from_tokenizers(
        "tokenizer.json", Tokenizer.from_file(str(out / "tokenizer.json")), "file"
    )
    with quiet_transformers() as transformers:
        auto = transformers.AutoTokenizer.from_pretrained(str(out))
    candidates = [file, from_transformers("AutoTokenizer", auto)]
    if target == "transformers.js":
        written = (out / "tokenizer.json").read_text("utf-8")
        config = json.loads((out / "tokenizer_config.json").read_text("utf-8"))
        candidates.append(jsruntime.candidate("transformers.js", written, config))
    start = time.perf_counter()
    tallies = judge_lines(model, candidates, numbered(texts))
    seconds = time.perf_counter() - start
    for tally in tallies:
        print(f"{'':34}   {tally.name:16} {tally.summary()} ({seconds:.0f} s for all)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--strings", type=int, default=100_000, help="generated strings per model")
    parser.add_argument("--model", action="append", help="only this model (repeatable)")
    parser.add_argument("--target", choices=EXPORT_TARGETS, default=EXPORT_TARGETS[0])
    args = parser.parse_args(argv)
    with quiet_transformers() as transformers:
        print(f"transformers {transformers.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in models():
            if args.model and name not in args.model:
                continue
            run(name, source, Path(tmp) / name, args.strings, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
