"""Tie rates of the exported tokenizer: how often it parts from sentencepiece by a tie.

For each model (the unigram fixtures, and ../shared/models when present) it judges the exported
tokenizer (``tokcheck export``'s, built in memory) against sentencepiece with the one judge, on
two inputs: runs of one piece (each of the first 20,000 pieces repeated 3, 5 and 7 times, plus
runs of punctuation, spaces and kana), where ties are common, and the lines of ../shared/corpora
when that directory is present. It prints the tallies; it measures and never fails on a figure.

``--scores`` judges a variant of the written Unigram scores instead (see :data:`VARIANTS`), to
measure whether nudging them breaks ties as sentencepiece does. ``--context`` also counts the
tie runs whose segmentation by sentencepiece changes with the text before them.

Why ties remain (issue 13). sentencepiece 0.2's Unigram encoder (``EncodeOptimized``) and
tokenizers' (``encode_optimized``) are the same forward Viterbi: starts are visited left to right,
and a candidate replaces the best path ending at a position only if it scores strictly more, so
on equal scores the earliest start (the longest last piece) wins in both. They differ in one
thing: sentencepiece keeps the running path score in float32, tokenizers in float64. A float32
simulation of that loop reproduces sentencepiece on every tie line found here (and on 3,000
random runs per model), and a float64 one the exported tokenizer.

Every tie on the runs is a permutation: the same pieces in another order (``jjjjj`` is
``jj jj j`` to sentencepiece and ``j jj jj`` to tokenizers). The scores written are
sentencepiece's float32 values, so tokenizers' float64 sums over a line are exact, the two
orders score exactly the same, and the earliest start wins. sentencepiece rounds each running
sum to float32, and ``(-7.2378 + -9.6840) + -9.6840`` rounds below ``(-9.6840 + -9.6840) +
-7.2378``, so there the later start wins. No vocabulary can change this:

- a per-piece score adds the same amount to both orders of the same pieces, so in exact
  arithmetic it cannot separate them at all;
- a nudge that float64 cannot add exactly (``--scores per-char``, ``per-piece``, ``longer``,
  ``random``, each 1e-6) does separate them, by float64 rounding at 2**-52 of the path score,
  which has nothing to do with float32's rounding at 2**-23. Measured, with no new mismatch,
  runs ties rise from 139 / 207 / 71 (neox-3.6b / bilingual-4b / legacy-1b, as written) to
  206 / 352 / 151 (per-char), 167 / 269 / 142 (per-piece), 280 / 424 / 144 (longer) and
  188 / 321 / 147 (random), and from 6 / 59 on the ../shared models to 26 to 60 / 63 to 100
  (corpus ties there from 0 to up to 4); the one decrease anywhere is ``longer`` on
  tiny-legacy, 2 to 1;
- which order sentencepiece keeps depends on the path score before the run, not on the run:
  after ``""``, ``"。"`` and ``"吾輩は猫である。"``, bilingual-4b segments the same ``ごごごごご``
  as ``ごご ごご ご``, ``ご ごご ごご`` and ``ごご ご ごご``, while fixed scores in exact arithmetic
  give one answer for a run that starts at a piece boundary. ``--context`` finds this for every
  tie run measured (139, 207, 71, 0, 2, 2, 6 and 59 of as many): sentencepiece segments each
  in at least two ways after the six PREFIXES.

The one tie in the corpora is not a permutation: on a long line of wagahaiwa_nekodearu.txt,
``ゆ うよ`` scores 0.002 below ``ゆう よ`` and sentencepiece still keeps it, because after a path
score of -54,647 one float32 step is 0.004; alone, ``ゆうよ`` is ``ゆう よ`` to both. Moving the
scores to favour ``ゆ うよ`` would break the short line.

So the exporter writes the scores unchanged, and the judge reports these lines as ties.
Measured (tie lines / lines, exported tokenizer, written scores): runs: neox-3.6b 139 / 60,927,
bilingual-4b 207 / 60,927, legacy-1b 71 / 60,927, tiny-neox 0 / 3,927, tiny-bilingual 2 / 4,527,
tiny-legacy 2 / 3,927, sentencepiece_test_ja_model 6 / 24,927, sentencepiece_test_model
59 / 3,927, LLM-jp's 100k model 120 / 60,927; corpora (6,632 lines): 1 on bilingual-4b, 2 on
LLM-jp's, 0 elsewhere; structured text (1,000 chunks of code, JSON, tables, columns):
11 on sentencepiece_test_model, 0 elsewhere; mismatched: 0 everywhere.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokcheck.candidates.hf import from_tokenizers
from tokcheck.convert.converter import build_tokenizer
from tokcheck.inputs.probes import structured_texts
from tokcheck.judge.tally import Tally
from tokcheck.model.proto import SentencePieceModel
from tokcheck.parallel.runner import judge_lines

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_CORPORA = SHARED / "corpora"
FIXTURES = ("neox-3.6b", "bilingual-4b", "legacy-1b", "tiny-neox", "tiny-bilingual", "tiny-legacy")
_NORMAL = 1
NUDGE = 1e-6
# Score variants for --scores: each maps (piece, written score, a seeded generator) to a score
# for normal pieces; the others keep theirs.
VARIANTS: dict[str, Callable[[str, float, random.Random], float]] = {
    # What tokcheck export writes: sentencepiece's float32 scores.
    "written": lambda piece, score, rng: score,
    # The same on every segmentation of a text in exact arithmetic (it adds NUDGE per character).
    "per-char": lambda piece, score, rng: score + NUDGE * len(piece),
    # Favours fewer pieces.
    "per-piece": lambda piece, score, rng: score + NUDGE,
    # Favours long pieces, so the longest-last-piece order among equal ones.
    "longer": lambda piece, score, rng: score + NUDGE * (len(piece) - 1) ** 2,
    # A seeded random nudge per piece.
    "random": lambda piece, score, rng: score + rng.uniform(-NUDGE, NUDGE),
}
# Text put before each tie run by --context: path scores of different sizes before it.
PREFIXES = (
    "",
    "。",
    "吾輩は猫である。",
    "吾輩は猫である。" * 5,
    "吾輩は猫である。" * 40,
    "The end. ",
)


def models() -> list[tuple[str, Path]]:
    found = [(name, REPO / "fixtures" / name / "spiece.model") for name in FIXTURES]
    if SHARED.is_dir():
        found += [(p.stem, p) for p in sorted((SHARED / "models").glob("*.model"))]
        llm_jp = SHARED / "published-models" / "llm-jp-tokenizer-100k.ver3.1.model"
        found += [(llm_jp.stem, llm_jp)] if llm_jp.is_file() else []
    return found


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


def exported(model: SentencePieceModel, scores: str = "written") -> Any:
    """The exported tokenizer, with its normal pieces' scores rewritten by ``scores``."""
    from tokenizers import Tokenizer

    tokenizer = build_tokenizer(model)
    if scores == "written":
        return tokenizer
    data = json.loads(tokenizer.to_str())
    vocab, rng, change = data["model"]["vocab"], random.Random(0), VARIANTS[scores]
    for entry, piece in zip(vocab, model.proto.pieces, strict=True):
        if piece.type == _NORMAL:
            entry[1] = change(entry[0], entry[1], rng)
    return Tokenizer.from_str(json.dumps(data))


def judge(model: SentencePieceModel, tokenizer: Any, texts: list[str]) -> Tally:
    candidate = from_tokenizers("exported", tokenizer, "tokenizers.Tokenizer")
    (tally,) = judge_lines(model, [candidate], [(t, str(i)) for i, t in enumerate(texts)], show=3)
    return tally


def tie_texts(model: SentencePieceModel, tokenizer: Any, texts: list[str]) -> list[str]:
    """The texts whose ids differ (every one a tie on the measured models)."""
    reference = model.processor.encode(texts)
    candidate = tokenizer.encode_batch(texts, add_special_tokens=False)
    return [t for t, r, c in zip(texts, reference, candidate, strict=True) if r != c.ids]


def _run_pieces(model: SentencePieceModel, ids: list[int], length: int) -> tuple[str, ...] | None:
    """The pieces that spell the last ``length`` characters, or None if one crosses into them."""
    pieces: list[str] = []
    spelled = 0
    for i in reversed(ids):
        if spelled >= length:
            break
        pieces.append(model.pieces[i])
        spelled += len(model.pieces[i])
    return tuple(reversed(pieces)) if spelled == length else None


def context_dependent(model: SentencePieceModel, tokenizer: Any, ties: list[str]) -> int:
    """How many of ``ties`` sentencepiece segments in more than one way after the PREFIXES:
    the same normalised characters, starting at a piece boundary for both tokenizers."""
    normalize = model.processor.normalize
    count = 0
    for run in ties:
        seen: dict[str, set[tuple[str, ...]]] = {}
        for prefix in PREFIXES:
            length = len(normalize(prefix + run)) - len(normalize(prefix))
            reference = _run_pieces(model, model.processor.encode(prefix + run), length)
            ours = tokenizer.encode(prefix + run, add_special_tokens=False).ids
            if reference and _run_pieces(model, ours, length):
                seen.setdefault("".join(reference), set()).add(reference)
        count += any(len(ways) > 1 for ways in seen.values())
    return count


def report(name: str, label: str, tally: Tally) -> None:
    shown = "; ".join(
        f"{e.text[:20]!r} {e.reference_pieces} vs {e.candidate_pieces}" for e in tally.ties
    )
    print(f"{name:34} {label:10} {tally.summary()}" + (f"  e.g. {shown[:160]}" if shown else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fixture", action="append", help="only this model (repeatable)")
    parser.add_argument("--scores", choices=sorted(VARIANTS), default="written")
    parser.add_argument("--context", action="store_true", help="count prefix-dependent ties")
    args = parser.parse_args(argv)
    corpus = corpus_lines()
    structured = structured_texts(1000)
    for name, path in models():
        if args.fixture and name not in args.fixture:
            continue
        model = SentencePieceModel.load(path)
        tokenizer = exported(model, args.scores)
        lines = runs(model)
        for label, texts in (("runs", lines), ("corpora", corpus), ("structured", structured)):
            if not texts:
                print(f"{name:28} {label:8} skipped: {SHARED_CORPORA} is absent")
                continue
            report(name, label, judge(model, tokenizer, texts))
        if args.context:
            ties = tie_texts(model, tokenizer, lines)
            dependent = context_dependent(model, tokenizer, ties)
            print(f"{name:28} context  {dependent} of {len(ties)} tie runs depend on the prefix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
