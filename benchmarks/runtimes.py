"""Every runtime on every fixture: the table the README's "Runtimes" section shows.

For each model it runs ``compare`` with the Hugging Face paths, tokcheck's export, transformers.js
(on the ``tokenizer.json`` the installed transformers writes for the directory, as a user who
converts for the browser gets it, and on export's transformers.js target) and llama.cpp on GGUFs
written as llama.cpp's converter writes them (as Llama and as T5) and faithfully, on the probes,
``--examples`` generated strings and both ../shared corpora when present. Each cell is
``exact``, ``ties T`` or ``diverged D`` of the lines judged, or why it did not run. Run it under
each transformers line (the same script from another virtual environment) for both columns.

    python benchmarks/runtimes.py                      # every fixture, 300 strings each
    python benchmarks/runtimes.py --model tiny-neox --examples 50

It measures and never fails on a figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from tokcheck.candidates.hf import quiet_transformers
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.run import compare
from tokcheck.errors import TokcheckError
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = ("tiny-neox", "neox-3.6b", "bilingual-4b", "legacy-1b", "bpe-32k")
PATHS = ("default", "slow", "exported", "transformers.js", "exported-transformers.js")
GGUF_WAYS = ("llama", "t5", "faithful")


def _fixture_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fixture_build", REPO / "fixtures" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_tokenizer_json(source: Path, out: Path) -> Path:
    """A copy of ``source`` with the tokenizer.json the installed transformers writes for it."""
    shutil.copytree(source, out)
    with quiet_transformers() as transformers:
        tok = transformers.AutoTokenizer.from_pretrained(str(out))
        backend = getattr(tok, "backend_tokenizer", None)
        if backend is not None:
            backend.save(str(out / "tokenizer.json"))
    return out


def _cell(report: Any, name: str) -> str:
    tally = next((t for t in report.candidates if t.name == name), None)
    if tally is None:
        gone = next((u for u in report.unavailable if u.name == name), None)
        return f"not run ({gone.reason[:60]})" if gone else "not run"
    if tally.diverged:
        return f"diverged {tally.differing:,} of {tally.lines:,}"
    if tally.tie:
        return f"ties {tally.tie:,} of {tally.lines:,}"
    return f"exact ({tally.lines:,})"


def run(name: str, examples: int, work: Path) -> dict[str, str]:
    build = _fixture_builder()
    source = REPO / "fixtures" / name
    directory = _with_tokenizer_json(source, work / name)
    resolved = resolve(str(directory))
    model = SentencePieceModel.load(resolved.model_file)
    ggufs = []
    for way in GGUF_WAYS:
        path = work / f"{name}-{way}.gguf"
        build.write_gguf(path, resolved.model_file.read_bytes(), way=way, directory=source)
        ggufs.append(path)
    corpora = sorted((SHARED / "corpora").glob("*.txt")) if SHARED.is_dir() else []
    paths, absent = list(PATHS), {}
    while True:
        try:
            report = compare(resolved, model, CompareOptions(candidates=paths, examples=examples, corpora=corpora, ggufs=ggufs, jobs=1))  # fmt: skip
            break
        except TokcheckError as e:  # a candidate that does not apply to this model: named
            gone = next((p for p in paths if f"candidate {p} does not apply" in str(e)), None)
            if gone is None:
                raise
            paths.remove(gone)
            absent[gone] = "refused (" + str(e).split(": ")[-1][:50] + ")"
    row = {p: absent.get(p) or _cell(report, p) for p in PATHS}
    for way, path in zip(GGUF_WAYS, ggufs, strict=True):
        for kind in ("llama.cpp", "llama-cpp-python"):
            row[f"{kind} ({way})"] = _cell(report, f"{kind}:{path.name}")
    row["transformers"] = str(report.versions["transformers"])
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", action="append", choices=FIXTURES, help="only this fixture")
    parser.add_argument("--examples", type=int, default=300, help="generated strings per model")
    args = parser.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.model or FIXTURES:
            rows[name] = run(name, args.examples, Path(tmp))
            print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
    columns = list(next(iter(rows.values())))
    print("| runtime | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for column in columns:
        print(f"| {column} | " + " | ".join(rows[n][column] for n in rows) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
