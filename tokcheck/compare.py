"""Differential testing: the sentencepiece reference against every candidate, line by line.

Inputs are streamed in batches and encoded with each library's batch API (sentencepiece's
``num_threads``, tokenizers' parallel ``encode_batch``), so memory stays flat however large the
corpus; only the judge's counters and the K shortest counterexamples per candidate are kept.
Candidates that load to the same tokenizer are encoded once and reported under every name.
Every line is classified by :mod:`tokcheck.judge`; :func:`judge_lines` is the one loop that
``compare``, ``export``'s verification and :mod:`tokcheck.testing` all run.

The lines come from the built-in probes, the cards' prompts on generated conversations
(:mod:`tokcheck.conversations`, which also checks the card's decode clean-up), Hypothesis
strings, the corpora and, on request, the exhaustive generators (:mod:`tokcheck.exhaustive`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokcheck.candidates import (
    Candidate,
    Unavailable,
    load_candidates,
    transformers_version,
    with_added,
    without_added,
)
from tokcheck.conversations import (
    DEFAULT_CONVERSATIONS,
    PromptCheck,
    check_cleanup,
    prompt_formats,
    prompt_lines,
)
from tokcheck.convert import unsupported
from tokcheck.corpus import DEFAULT_FIELD, CorpusStats, check_corpora, corpus_lines
from tokcheck.errors import TokcheckError
from tokcheck.exhaustive import exhaustive_lines
from tokcheck.inject import Remedy, injection_texts, verify_remedies
from tokcheck.judge import Judge, Tally
from tokcheck.probes import BUILTIN_PROBES, generation_alphabet, hypothesis_strings
from tokcheck.profiles import Profile
from tokcheck.proto import SentencePieceModel
from tokcheck.resolve import ResolvedModel
from tokcheck.stream import BUDGET, StreamCheck

BATCH_LINES = 2000
# Written by `tokcheck export` beside the tokenizer files (see tokcheck.export).
EXPORT_RECORD = "tokcheck_export.json"

Line = tuple[str, str]  # (text, origin)


@dataclass
class CompareReport:
    judged: list[str]
    candidates: list[Tally]
    unavailable: list[Unavailable]
    inputs: dict[str, Any]
    elapsed_s: float
    versions: dict[str, str | None]
    strict: bool = False
    # The directory was written by `tokcheck export`: advice never says to export it again.
    exported: bool = False
    # Why tokcheck export cannot convert the model (see tokcheck.convert.unsupported), if so.
    unexportable: str | None = None
    # The card's decode clean-up on the generated prompts, when there were any.
    prompts: PromptCheck | None = None
    # Injectable candidates' settings against it, verified (see tokcheck.inject).
    remedies: list[Remedy] = dataclasses.field(default_factory=list)

    @property
    def load_failures(self) -> list[Unavailable]:
        """Judged candidates whose loading raised: their users get an exception, not ids."""
        return [u for u in self.unavailable if u.failed and u.name in self.judged]

    @property
    def judged_tallies(self) -> list[Tally]:
        return [c for c in self.candidates if c.name in self.judged]

    def accepts(self, tally: Tally) -> bool:
        """Whether ``tally`` is no failure of this report: it passed, or was not judged."""
        return tally.passed(self.strict) or tally.name not in self.judged

    @property
    def passed(self) -> bool:
        return not self.load_failures and all(map(self.accepts, self.candidates))

    @property
    def warnings(self) -> list[str]:
        out = [
            f"candidate {c.name} ({c.cls}) diverges from sentencepiece: {c.summary()}"
            for c in _distinct(self.candidates)
            if c.diverged and c.name not in self.judged
        ]
        out += [
            f"candidate {u.name} {u.reason}"
            for u in self.unavailable
            if u.failed and u.name not in self.judged
        ]
        out += [w for c in _distinct(self.judged_tallies) if (w := c.tie_warning(self.strict))]
        if self.prompts and (ref := self.prompts.reference).differing:
            out.append(
                f"sentencepiece itself does not give back the conversation of {ref.differing} "
                f"of {self.prompts.prompts} prompts after the card's clean-up (the model, not "
                f"a loading path): e.g. {ref.example}"
            )
        out += [
            f"{c.name}: {c.stream_unchecked} lines holding byte, control or context-dependent "
            f"pieces were not streamed (the streaming budget, {BUDGET:,} ids, was spent; "
            f"{c.stream_checked} were)"
            for c in _distinct(self.candidates)
            if c.stream_unchecked
        ]
        return out

    @property
    def next_step(self) -> str | None:
        """What to do about a failure, worded for what was judged (see :func:`advice`)."""
        return None if self.passed else advice(self)

    def to_dict(self) -> dict[str, Any]:
        mb = self.inputs["bytes"] / 1e6
        return {
            "passed": self.passed,
            "strict": self.strict,
            "reference": "sentencepiece",
            "judged": self.judged,
            "exported_directory": self.exported,
            "unexportable": self.unexportable,
            "versions": self.versions,
            "candidates": [c.to_dict(self.strict) for c in self.candidates],
            "unavailable": [u.__dict__ for u in self.unavailable],
            "load_failures": [u.name for u in self.load_failures],
            "warnings": self.warnings,
            "remedies": [r.to_dict() for r in self.remedies],
            "next_step": self.next_step,
            "inputs": self.inputs,
            "prompts": self.prompts.to_dict() if self.prompts else None,
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.inputs["lines"] / self.elapsed_s, 1)
            if self.elapsed_s
            else None,
            "mb_per_s": round(mb / self.elapsed_s, 3) if self.elapsed_s else None,
        }


def export_advice(model: str = "MODEL") -> str:
    """The fix for a Hugging Face path that fails compare, as every report words it."""
    return f"run `tokcheck export {model} OUTDIR` and load the exported directory instead"


def advice(report: CompareReport, model: str = "MODEL") -> str:
    """The next step for a failed compare; export is advised only where it is the fix.

    It is not when the failure is tokcheck's own ``exported`` tokenizer, or the directory is
    already tokcheck's export (then the remaining differences are named), nor when tokcheck
    export cannot convert the model at all (then that is said).
    """
    own = [u for u in report.load_failures if u.name == "exported"]
    raised = [u for u in report.load_failures if u.name != "exported"]
    failed = [c for c in report.judged_tallies if not c.passed(report.strict)]
    hf_failed = [c for c in failed if c.name != "exported"]
    if own or (not raised and not hf_failed) or report.exported:
        found = "; ".join(
            [f"{u.name} {u.reason}" for u in [*own, *raised]]
            + [f"{c.name}: {c.summary()}" for c in _distinct(failed)]
        )
        only_ties = not own and not raised and all(not c.diverged for c in failed)
        what = "ties fail under --strict" if only_ties else "differences remain"
        return (
            f"tokcheck export's tokenizer is not exact here and {what} ({found}); the "
            "counterexamples show where; export itself refuses a tokenizer that diverges"
        )
    found = "; ".join(
        [f"{u.name} {u.reason}" for u in raised]
        + [f"{c.name}: {c.summary()}" for c in _distinct(hf_failed)]
    )
    verb = "raises" if raised else "diverges from sentencepiece"
    fix = (
        f"tokcheck export cannot fix it either: it cannot convert {report.unexportable}"
        if report.unexportable
        else export_advice(model)
    )
    return f"the Hugging Face loading path {verb} ({found}): {fix}"


def _distinct(tallies: Sequence[Tally]) -> list[Tally]:
    """Tallies without the twins of one already listed (same tokenizer, same findings)."""
    names = {t.name for t in tallies}
    return [t for t in tallies if t.same_as is None or t.same_as not in names]


def compare(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    *,
    corpora: Sequence[Path] = (),
    field: str = DEFAULT_FIELD,
    examples: int = 1000,
    seed: int = 0,
    candidates: Sequence[str] | None = None,
    probes: bool = True,
    prompts: int = DEFAULT_CONVERSATIONS,
    profile: Profile | None = None,
    exhaustive: bool = False,
    show: int = 5,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> CompareReport:
    """Compare every candidate with sentencepiece on probes, ``prompts`` generated
    conversations in the prompt format of ``profile`` (both formats without one), corpora,
    ``examples`` strings generated by Hypothesis and, with ``exhaustive``, every code point,
    piece and special name (:mod:`tokcheck.exhaustive`); ``show`` counterexamples are kept per
    candidate. The probes include every special token's name in text (:mod:`tokcheck.inject`),
    and each injectable candidate's safe setting is verified on those lines. ``field`` is the
    JSONL key or Parquet column of the corpora's text (see :mod:`tokcheck.corpus`).

    ``progress`` is called after each batch with the bytes read since the last call: of the
    corpus files as stored (compressed where they are) and of the exhaustive lines, the two
    that a progress bar's total counts.
    """
    model.require_text("compare tokenizers on it")
    corpora = check_corpora(corpora, field)
    loaded, unavailable = load_candidates(resolved, model, candidates)
    judged = list(candidates) if candidates else ["default"]
    if candidates and (absent := [u for u in unavailable if not u.failed]):
        raise TokcheckError(
            "; ".join(f"candidate {u.name} does not apply here: {u.reason}" for u in absent)
        )
    start = time.perf_counter()
    stats = CorpusStats()
    formats, formats_from = prompt_formats(profile)
    inputs: list[Iterable[Line]] = []
    if probes:
        inputs.append((t, f"probe[{i}]") for i, t in enumerate(BUILTIN_PROBES))
    inputs.append(prompt_lines(formats, prompts, seed))
    injection = [
        (t, f"inject[{i}]") for i, t in enumerate(injection_texts(model, loaded) if probes else ())
    ]
    inputs.append(injection)
    inputs.append(
        (t, f"hypothesis[{i}]")
        for i, t in enumerate(hypothesis_strings(examples, seed, generation_alphabet(model)))
    )
    inputs.append(corpus_lines(corpora, stats, field))
    generated = {"bytes": 0}
    if exhaustive:
        inputs.append(_metered(exhaustive_lines(model, resolved), generated))
    totals = {"lines": 0, "bytes": 0, "read": 0}

    def consumed(batch: list[Line]) -> None:
        totals["lines"] += len(batch)
        totals["bytes"] += sum(_size(t) for t, _ in batch)
        read = stats.bytes + generated["bytes"]
        if progress:
            progress(read - totals["read"])
        totals["read"] = read

    lines = itertools.chain.from_iterable(inputs)
    tallies = judge_lines(model, loaded, lines, show=show, on_batch=consumed)
    cleanup = (
        check_cleanup(model, loaded, formats, formats_from, prompts, seed) if prompts else None
    )
    remedies = verify_remedies(model, loaded, tallies, injection)
    return CompareReport(
        judged=judged,
        candidates=tallies,
        unavailable=unavailable,
        inputs={
            "lines": totals["lines"],
            "bytes": totals["bytes"],
            "probes": len(BUILTIN_PROBES) if probes else 0,
            "prompts": prompts * len(formats),
            "injection": len(injection),
            "examples": examples,
            "seed": seed,
            "corpora": [str(p) for p in corpora],
            "corpus_lines": stats.lines,
            "skipped_lines": [s.to_dict() for s in stats.skipped],
            # The Unicode database that chose the code points: it grows with Python releases.
            "exhaustive": {"unicode": unicodedata.unidata_version} if exhaustive else None,
        },
        elapsed_s=time.perf_counter() - start,
        versions={
            "transformers": transformers_version(),
            "sentencepiece": _version("sentencepiece"),
            "tokenizers": _version("tokenizers"),
        },
        strict=strict,
        exported=resolved.directory is not None and (resolved.directory / EXPORT_RECORD).is_file(),
        unexportable=unsupported(model),
        prompts=cleanup,
        remedies=remedies,
    )


def judge_lines(
    model: SentencePieceModel,
    candidates: Sequence[Candidate],
    lines: Iterable[Line],
    *,
    show: int = 5,
    on_batch: Callable[[list[Line]], None] | None = None,
) -> list[Tally]:
    """Encode and decode ``lines`` with sentencepiece and every candidate; judge each line.

    One tally per candidate, in the order given; candidates with the same ``key`` are run once.
    ``on_batch`` is called with each batch once it is judged.
    """
    model.require_text("judge a tokenizer against it")
    runner = _Runner(model, list(candidates), show)
    for batch in runner.run(_batches(lines, BATCH_LINES)):
        if on_batch:
            on_batch(batch)
    return runner.tallies()


def _special_names(
    model: SentencePieceModel, candidate: Candidate, control: frozenset[int]
) -> dict[int, str]:
    ids = sorted(candidate.special_ids | control)
    try:
        return dict(zip(ids, candidate.pieces(ids), strict=True))
    except Exception:  # an id the candidate cannot name: the judge falls back to the model's
        return {}


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def _size(text: str) -> int:
    """A line's bytes as compare counts them: UTF-8, plus one for its line end."""
    return len(text.encode("utf-8", "surrogatepass")) + 1


def _metered(lines: Iterable[Line], read: dict[str, int]) -> Iterator[Line]:
    """``lines``, adding each one's size to ``read["bytes"]`` as it is drawn."""
    for line in lines:
        read["bytes"] += _size(line[0])
        yield line


def _batches(items: Iterable[Line], size: int) -> Iterator[list[Line]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


class _Runner:
    """Encodes each batch once per distinct candidate and hands the outputs to the judge."""

    def __init__(self, model: SentencePieceModel, candidates: list[Candidate], show: int) -> None:
        self.sp = model.processor
        self.threads = os.cpu_count() or 1
        self.judge = Judge(model, show=show)
        self.distinct: dict[str, Candidate] = {}
        self.names: dict[str, list[Candidate]] = {}
        for c in candidates:
            self.distinct.setdefault(c.key, c)
            self.names.setdefault(c.key, []).append(c)
        self.judged = {key: self.judge.tally(c.name, c.cls) for key, c in self.distinct.items()}
        self.streams = {
            key: StreamCheck(model, c.streamer)
            for key, c in self.distinct.items()
            if c.streamer is not None
        }
        # What each candidate calls its special ids and the model's control pieces.
        self.special_names = {
            key: _special_names(model, c, self.judge.control) for key, c in self.distinct.items()
        }

    def run(self, batches: Iterable[list[Line]]) -> Iterator[list[Line]]:
        """Judge each batch, yielding it once judged.

        The candidates encode and decode on a worker thread, one batch ahead: their Rust code
        releases the GIL, so it runs while this thread encodes the reference and judges.
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
                    judged = self.judged[key]
                    stream = self.streams.get(key)
                    self.judge.judge_batch(
                        judged,
                        batch,
                        with_added(ref_ids, self.distinct[key].added),
                        ref_decoded,
                        cand_ids,
                        cand_decoded,
                        self.distinct[key].special_ids,
                        names=self.special_names[key],
                        streams=stream.check(ref_ids, ref_decoded, cand_ids, cand_decoded)
                        if stream
                        else None,
                    )
                    if stream:
                        judged.tally.stream_checked = stream.checked
                        judged.tally.stream_unchecked = stream.unchecked
                yield batch
                batch = following

    def _candidates(self, batch: list[Line]) -> dict[str, tuple[list[list[int]], list[str]]]:
        texts = [t for t, _ in batch]
        out = {}
        for key, cand in self.distinct.items():
            ids = cand.encode_batch(texts)
            out[key] = (ids, cand.decode_batch(without_added(ids, cand.added)))
        return out

    def tallies(self) -> list[Tally]:
        out = []
        for key, judged in self.judged.items():
            base = self.judge.finish(judged, self.distinct[key].pieces)
            out.append(base)
            out += [base.renamed(c.name, c.cls) for c in self.names[key][1:]]
        order = {name: i for i, name in enumerate(c.name for cs in self.names.values() for c in cs)}
        return sorted(out, key=lambda r: order[r.name])
