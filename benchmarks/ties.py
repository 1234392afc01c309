"""Tie rates of the exported tokenizer: how often it parts from sentencepiece by a tie.

For each fixture it judges the exported tokenizer (``tokcheck export``'s, built in memory)
against sentencepiece with the one judge, on two inputs: runs of one piece (each of the first
20,000 pieces repeated 3, 5 and 7 times, plus runs of punctuation, spaces and kana), where ties
are common, and the lines of ../shared/corpora when that directory is present. It prints the
tallies; it measures and never fails on a figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tokcheck.candidates import from_tokenizers
from tokcheck.compare import judge_lines
from tokcheck.convert import build_tokenizer
from tokcheck.judge import Tally
from tokcheck.proto import SentencePieceModel

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
FIXTURES = ("neox-3.6b", "bilingual-4b", "legacy-1b", "tiny-neox", "tiny-bilingual", "tiny-legacy")


def runs(model: SentencePieceModel) -> list[str]:
    pieces = [p.replace("\u2581", " ") for p in model.pieces[:20_000]]
    lines = [p * k for p in pieces for k in (3, 5, 7)]
    lines += [c + " " * k for c in "-=*.~" for k in range(1, 60)]
    lines += [c * k for c in "-=*._~ あ" for k in range(1, 80)]
    return lines


def corpus_lines() -> list[str]:
    if not SHARED_CORPORA.is_dir():
        return []
    lines: list[str] = []
    for path in sorted(SHARED_CORPORA.glob("*.txt")):
        lines += path.read_text(encoding="utf-8").splitlines()
    return lines


def judge(model: SentencePieceModel, texts: list[str]) -> Tally:
    candidate = from_tokenizers("exported", build_tokenizer(model), "tokenizers.Tokenizer")
    (tally,) = judge_lines(model, [candidate], [(t, str(i)) for i, t in enumerate(texts)], show=3)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fixture", action="append", help="only this fixture (repeatable)")
    args = parser.parse_args(argv)
    corpus = corpus_lines()
    for name in args.fixture or FIXTURES:
        model = SentencePieceModel.load(REPO / "fixtures" / name / "spiece.model")
        for label, texts in (("runs", runs(model)), ("corpora", corpus)):
            if not texts:
                print(f"{name:15} {label:8} skipped: {SHARED_CORPORA} is absent")
                continue
            tally = judge(model, texts)
            shown = "; ".join(
                f"{e.text[:20]!r} {e.reference_pieces} vs {e.candidate_pieces}" for e in tally.ties
            )
            print(f"{name:15} {label:8} {tally.summary()}" + (f"  e.g. {shown}" if shown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
