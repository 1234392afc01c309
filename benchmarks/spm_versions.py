"""Where sentencepiece releases disagree: the same lines encoded by 0.1.99 and by 0.2.x.

Models trained in 2023 (rinna's among them) were trained and published with sentencepiece
0.1.99; tokcheck's reference is whichever release is installed (0.2.x today), and every verdict
names it. This script installs each release in a virtual environment of its own (never in
tokcheck's), encodes the same lines there with each model (the fixtures, and ../shared's models
when present), and counts the lines whose ids differ, and how many of those are ties (the same
pieces in another order, or the same text cut another way).

    python benchmarks/spm_versions.py                      # 0.1.99 against the installed one
    python benchmarks/spm_versions.py --versions 0.1.99 0.2.0 --venvs /tmp/spm-venvs

The lines: both ../shared corpora, the structured-text set and the lines derived from each model
(what export verifies). It measures and never fails on a figure.

Measured here (0.1.99 against 0.2.3; corpora, 400 structured chunks, derived lines): neox-3.6b 11 of
8,053 lines differ, bilingual-4b 13 of 8,055, legacy-1b 14 of 16,701, tiny-legacy 2 of 16,460,
sentencepiece_test_ja_model 16 of 16,743, sentencepiece_test_model 41 of 16,417, LLM-jp's 100k
model 46 of 9,309; every one of them a tie. No release disagrees on anything but ties here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tokcheck.inputs.derived import model_texts
from tokcheck.inputs.probes import structured_texts
from tokcheck.model.proto import SentencePieceModel

REPO = Path(__file__).resolve().parents[1]
# The environments see only their own packages, never this checkout's.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
SHARED = REPO.parent / "shared"
FIXTURES = ("neox-3.6b", "bilingual-4b", "legacy-1b", "tiny-legacy")

# Runs inside each release's virtual environment: encode every model's lines, write the ids.
_WORKER = """
import json, sys
import sentencepiece as spm
task = json.load(open(sys.argv[1], encoding="utf-8"))
out = {"version": spm.__version__, "ids": {}}
for path, lines in task.items():
    sp = spm.SentencePieceProcessor(model_file=path)
    out["ids"][path] = [sp.encode(line) for line in lines]
json.dump(out, open(sys.argv[2], "w", encoding="utf-8"))
"""


def models() -> list[Path]:
    found = [REPO / "fixtures" / name / "spiece.model" for name in FIXTURES]
    if SHARED.is_dir():
        found += sorted((SHARED / "models").glob("*.model"))
        found += sorted((SHARED / "published-models").glob("llm-jp*.model"))
    return found


def lines_for(model: Path) -> list[str]:
    corpora = []
    if (SHARED / "corpora").is_dir():
        for path in sorted((SHARED / "corpora").glob("*.txt")):
            corpora += path.read_text(encoding="utf-8").splitlines()
    return [*corpora, *structured_texts(400), *model_texts(SentencePieceModel.load(model))]


def venv(root: Path, version: str | None) -> Path:
    """The interpreter of a virtual environment holding ``version`` (None: this one's)."""
    if version is None:
        return Path(sys.executable)
    where = root / f"sentencepiece-{version}"
    python = where / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, env=_ENV)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"sentencepiece=={version}"],
            check=True,
            env=_ENV,
        )
    return python


def encode(python: Path, task: Path, work: Path) -> dict[str, object]:
    out = work / f"ids-{abs(hash(str(python)))}.json"
    subprocess.run([str(python), "-c", _WORKER, str(task), str(out)], check=True, env=_ENV)
    result: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--versions", nargs="+", default=["0.1.99"], help="releases to compare")
    parser.add_argument("--venvs", type=Path, help="where the environments live (kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = args.venvs or work
        task = {str(m): lines_for(m) for m in models()}
        task_file = work / "task.json"
        task_file.write_text(json.dumps(task, ensure_ascii=False), encoding="utf-8")
        base = encode(venv(root, None), task_file, work)
        for version in args.versions:
            other = encode(venv(root, version), task_file, work)
            print(f"sentencepiece {other['version']} against {base['version']}")
            for path, lines in task.items():
                report(path, lines, base["ids"][path], other["ids"][path])  # type: ignore[index]
    return 0


def report(path: str, lines: list[str], ours: list[list[int]], theirs: list[list[int]]) -> None:
    sp = SentencePieceModel.load(Path(path)).processor
    differ = [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b]
    ties = sum(
        "".join(sp.id_to_piece(i) for i in a) == "".join(sp.id_to_piece(i) for i in b)
        for a, b in differ
    )
    name = Path(path).parent.name if Path(path).name == "spiece.model" else Path(path).stem
    print(f"  {name:34} {len(differ):6} of {len(lines):7} lines differ, {ties} of them ties")


if __name__ == "__main__":
    sys.exit(main())
