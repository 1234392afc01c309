"""Differential testing: the sentencepiece reference against every candidate, line by line.

Inputs are streamed in batches and encoded with each library's batch API (sentencepiece's
``num_threads``, tokenizers' parallel ``encode_batch``), so memory stays flat however large the
corpus; only counters and the K shortest counterexamples per candidate are kept. Candidates
that load to the same tokenizer are encoded once and reported under every name.
"""

from __future__ import annotations

import heapq
import itertools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokcheck.candidates import Candidate, Unavailable, load_candidates, transformers_version
from tokcheck.errors import TokcheckError
from tokcheck.probes import (
    BUILTIN_PROBES,
    CorpusStats,
    check_corpora,
    generation_alphabet,
    hypothesis_strings,
    iter_corpus,
)
from tokcheck.proto import SentencePieceModel
from tokcheck.resolve import ResolvedModel

BATCH_LINES = 2000
_WINDOW = (4, 8)  # ids shown before and after the first divergence
_SPACES = re.compile(r"\s+")


def export_advice(model: str = "MODEL") -> str:
    """The fix for a Hugging Face path that fails compare, as every report words it."""
    return f"run `tokcheck export {model} OUTDIR` and load the exported directory instead"


@dataclass
class Example:
    text: str
    origin: str
    first_divergence: int
    offset: int
    reference_ids: list[int]
    candidate_ids: list[int]
    reference_pieces: list[str]
    candidate_pieces: list[str]
    reference_decoded: str
    candidate_decoded: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CandidateReport:
    name: str
    cls: str
    same_as: str | None = None
    lines: int = 0
    mismatched: int = 0
    unk_introduced: int = 0
    decode_mismatched: int = 0
    whitespace_collapsed: int = 0
    examples: list[Example] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        return bool(self.mismatched or self.decode_mismatched)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "examples"}
        data["class"] = data.pop("cls")
        data["diverged"] = self.diverged
        data["examples"] = [e.to_dict() for e in self.examples]
        return data


@dataclass
class CompareReport:
    judged: list[str]
    candidates: list[CandidateReport]
    unavailable: list[Unavailable]
    inputs: dict[str, Any]
    elapsed_s: float
    versions: dict[str, str | None]

    @property
    def load_failures(self) -> list[Unavailable]:
        """Judged candidates whose loading raised: their users get an exception, not ids."""
        return [u for u in self.unavailable if u.failed and u.name in self.judged]

    @property
    def passed(self) -> bool:
        diverged = any(c.diverged for c in self.candidates if c.name in self.judged)
        return not diverged and not self.load_failures

    @property
    def warnings(self) -> list[str]:
        return [
            f"candidate {c.name} ({c.cls}) diverges from sentencepiece on {c.mismatched} of "
            f"{c.lines} lines"
            for c in self.candidates
            if c.diverged and c.name not in self.judged
        ] + [
            f"candidate {u.name} {u.reason}"
            for u in self.unavailable
            if u.failed and u.name not in self.judged
        ]

    def to_dict(self) -> dict[str, Any]:
        mb = self.inputs["bytes"] / 1e6
        return {
            "passed": self.passed,
            "reference": "sentencepiece",
            "judged": self.judged,
            "versions": self.versions,
            "candidates": [c.to_dict() for c in self.candidates],
            "unavailable": [u.__dict__ for u in self.unavailable],
            "load_failures": [u.name for u in self.load_failures],
            "warnings": self.warnings,
            "inputs": self.inputs,
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.inputs["lines"] / self.elapsed_s, 1)
            if self.elapsed_s
            else None,
            "mb_per_s": round(mb / self.elapsed_s, 3) if self.elapsed_s else None,
        }


def compare(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    *,
    corpora: Sequence[Path] = (),
    examples: int = 1000,
    seed: int = 0,
    candidates: Sequence[str] | None = None,
    probes: bool = True,
    max_examples_shown: int = 5,
    progress: Callable[[int], None] | None = None,
) -> CompareReport:
    """Compare every candidate with sentencepiece on probes, corpora and Hypothesis strings.

    ``progress`` is called with the number of input bytes consumed after each batch.
    """
    corpora = check_corpora(corpora)
    loaded, unavailable = load_candidates(resolved, model, candidates)
    judged = ["default"] if candidates is None or "default" in candidates else list(candidates)
    if candidates and (absent := [u for u in unavailable if not u.failed]):
        raise TokcheckError(
            "; ".join(f"candidate {u.name} does not apply here: {u.reason}" for u in absent)
        )
    start = time.perf_counter()
    stats = CorpusStats()
    inputs: list[Iterable[tuple[str, str]]] = []
    if probes:
        inputs.append((t, f"probe[{i}]") for i, t in enumerate(BUILTIN_PROBES))
    inputs.append(
        (t, f"hypothesis[{i}]")
        for i, t in enumerate(hypothesis_strings(examples, seed, generation_alphabet(model)))
    )
    inputs.append(_numbered(corpora, stats))
    runner = _Runner(model, loaded, max_examples_shown)
    total_lines = total_bytes = 0
    for batch in runner.run(_batches(itertools.chain.from_iterable(inputs), BATCH_LINES)):
        total_lines += len(batch)
        consumed = sum(len(t.encode("utf-8", "surrogatepass")) + 1 for t, _ in batch)
        total_bytes += consumed
        if progress:
            progress(consumed)
    elapsed = time.perf_counter() - start
    return CompareReport(
        judged=judged,
        candidates=runner.reports(),
        unavailable=unavailable,
        inputs={
            "lines": total_lines,
            "bytes": total_bytes,
            "probes": len(BUILTIN_PROBES) if probes else 0,
            "hypothesis_examples": examples,
            "seed": seed,
            "corpora": [str(p) for p in corpora],
            "corpus_lines": stats.lines,
            "skipped_lines": [{"path": p, "line": n} for p, n in stats.skipped],
        },
        elapsed_s=elapsed,
        versions={
            "transformers": transformers_version(),
            "sentencepiece": _version("sentencepiece"),
            "tokenizers": _version("tokenizers"),
        },
    )


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def _numbered(corpora: Sequence[Path], stats: CorpusStats) -> Iterator[tuple[str, str]]:
    for path in corpora:
        before = stats.lines + len(stats.skipped)
        for text in iter_corpus([path], stats):
            yield text, f"{path}:{stats.lines + len(stats.skipped) - before}"


def _batches(items: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _whitespace(text: str) -> tuple[Any, ...]:
    return (text[:1].isspace(), text[-1:].isspace(), *_SPACES.findall(text))


class _Runner:
    """Encodes each batch once per distinct candidate and accumulates the counters."""

    def __init__(self, model: SentencePieceModel, candidates: list[Candidate], k: int) -> None:
        self.sp = model.processor
        self.threads = os.cpu_count() or 1
        self.k = k
        self.reference_special = {model.proto.trainer_spec.unk_id} | {
            i for i, p in enumerate(model.proto.pieces) if p.type == 3
        }
        self.distinct: dict[str, Candidate] = {}
        self.names: dict[str, list[Candidate]] = {}
        for c in candidates:
            self.distinct.setdefault(c.key, c)
            self.names.setdefault(c.key, []).append(c)
        self.counts = {key: CandidateReport(c.name, c.cls) for key, c in self.distinct.items()}
        self.heaps: dict[str, list[tuple[int, int, Example]]] = {k: [] for k in self.distinct}
        self.serial = itertools.count()

    def run(self, batches: Iterable[list[tuple[str, str]]]) -> Iterator[list[tuple[str, str]]]:
        """Judge each batch, yielding it once judged.

        The candidates encode and decode on a worker thread, one batch ahead: their Rust code
        releases the GIL, so it runs while this thread encodes the reference and compares.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokcheck-candidates") as pool:
            it = iter(batches)
            batch = next(it, None)
            ahead = pool.submit(self._candidates, batch) if batch else None
            while batch is not None and ahead is not None:
                texts = [t for t, _ in batch]
                ref_ids: list[list[int]] = self.sp.encode(texts, num_threads=self.threads)
                ref_decoded: list[str] = self.sp.decode(ref_ids, num_threads=self.threads)
                outputs = ahead.result()
                following = next(it, None)
                if following is not None:
                    ahead = pool.submit(self._candidates, following)
                for key, (cand_ids, cand_decoded) in outputs.items():
                    self._judge(key, batch, ref_ids, ref_decoded, cand_ids, cand_decoded)
                yield batch
                batch = following

    def _candidates(
        self, batch: list[tuple[str, str]]
    ) -> dict[str, tuple[list[list[int]], list[str]]]:
        texts = [t for t, _ in batch]
        out = {}
        for key, cand in self.distinct.items():
            ids = cand.encode_batch(texts)
            out[key] = (ids, cand.decode_batch(ids))
        return out

    def _judge(
        self,
        key: str,
        batch: list[tuple[str, str]],
        ref_ids: list[list[int]],
        ref_decoded: list[str],
        cand_ids: list[list[int]],
        cand_decoded: list[str],
    ) -> None:
        cand = self.distinct[key]
        special = self.reference_special | cand.special_ids
        report = self.counts[key]
        report.lines += len(batch)
        heap = self.heaps[key]
        # The loop runs once per line, so it keeps to C-level operations where it can.
        for r, c, rd, cd, (text, origin) in zip(
            ref_ids, cand_ids, ref_decoded, cand_decoded, batch, strict=True
        ):
            same_ids = r == c
            if same_ids and rd == cd:
                continue
            if not same_ids:
                report.mismatched += 1
                if not special.isdisjoint(c) and any(
                    c.count(x) > r.count(x) for x in special.intersection(c)
                ):
                    report.unk_introduced += 1
            if rd != cd:
                report.decode_mismatched += 1
                if _whitespace(rd) != _whitespace(cd):
                    report.whitespace_collapsed += 1
            # A full heap whose longest example is no longer than this text keeps it out.
            if self.k and (len(heap) < self.k or -heap[0][0] > len(text)):
                self._keep(heap, text, origin, r, c, rd, cd)

    def _keep(
        self,
        heap: list[tuple[int, int, Example]],
        text: str,
        origin: str,
        r: list[int],
        c: list[int],
        rd: str,
        cd: str,
    ) -> None:
        first = next(
            (i for i, (a, b) in enumerate(zip(r, c, strict=False)) if a != b), min(len(r), len(c))
        )
        lo, hi = max(0, first - _WINDOW[0]), first + _WINDOW[1]
        example = Example(
            text=text,
            origin=origin,
            first_divergence=first,
            offset=lo,
            reference_ids=r[lo:hi],
            candidate_ids=c[lo:hi],
            reference_pieces=[self.sp.id_to_piece(i) for i in r[lo:hi]],
            # Filled in by reports(): the worker thread may be using the candidate now.
            candidate_pieces=[],
            reference_decoded=rd,
            candidate_decoded=cd,
        )
        item = (-len(text), next(self.serial), example)
        if len(heap) < self.k:
            heapq.heappush(heap, item)
        else:
            heapq.heapreplace(heap, item)

    def reports(self) -> list[CandidateReport]:
        out = []
        for key, base in self.counts.items():
            base.examples = [e for _, _, e in sorted(self.heaps[key], key=lambda x: (-x[0], x[1]))]
            for e in base.examples:
                e.candidate_pieces = self.distinct[key].pieces(e.candidate_ids)
            for n, cand in enumerate(self.names[key]):
                if n == 0:
                    out.append(base)
                else:
                    twin = CandidateReport(**{**base.__dict__, "name": cand.name, "cls": cand.cls})
                    twin.same_as = base.name
                    out.append(twin)
        order = {name: i for i, name in enumerate(c.name for cs in self.names.values() for c in cs)}
        return sorted(out, key=lambda r: order[r.name])
