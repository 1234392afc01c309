"""Differential testing: the sentencepiece reference against every candidate, line by line.

Inputs are streamed in batches and encoded with each library's batch API (sentencepiece's
``num_threads``, tokenizers' parallel ``encode_batch``), so memory stays flat however large the
corpus; only the judge's counters and, per candidate, the K shortest counterexamples of each
source of input (the probes, each corpus file...) are kept.
Candidates that load to the same tokenizer are encoded once and reported under every name.
Every line is classified by :mod:`tokcheck.judge.lines`, in the loop of :mod:`tokcheck.parallel.runner`.
The corpora are cut into parts (:mod:`tokcheck.parallel.partition`) judged on an engine
(:mod:`tokcheck.parallel.engine`: local processes, or a Dask cluster with :mod:`tokcheck.parallel.cluster`).

The lines come from the built-in probes, the cards' prompts on generated conversations
(:mod:`tokcheck.inputs.conversations`, which also checks the card's decode clean-up), Hypothesis
strings, the corpora and, on request, the exhaustive generators (:mod:`tokcheck.inputs.exhaustive`).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tokcheck.candidates.base import Candidate, Unavailable
from tokcheck.candidates.hf import transformers_version
from tokcheck.candidates.llamacpp import candidate_names, is_llama
from tokcheck.candidates.registry import DEFAULT_CANDIDATES, load_candidates
from tokcheck.checks.gguf import check_gguf
from tokcheck.compare.injection import verify_remedies
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.prompts import check_cleanup
from tokcheck.compare.report import CompareReport
from tokcheck.convert.converter import unsupported
from tokcheck.convert.target import EXPORT_RECORD
from tokcheck.errors import CorpusError, RuntimeDied, TokcheckError
from tokcheck.inputs.conversations import prompt_formats, prompt_lines
from tokcheck.inputs.corpus import CorpusStats, Location, check_corpora, corpus_size
from tokcheck.inputs.derived import ORIGIN as DERIVED
from tokcheck.inputs.exhaustive import exhaustive_lines
from tokcheck.inputs.inject import injection_texts
from tokcheck.inputs.probes import (
    BUILTIN_PROBES,
    generation_alphabet,
    hypothesis_strings,
    verification_lines,
)
from tokcheck.judge.dump import Sink
from tokcheck.judge.outcome import EXHAUSTIVE
from tokcheck.judge.serving import serving_notes
from tokcheck.judge.stream_check import BUDGET
from tokcheck.model.gguf_vocab import read_gguf
from tokcheck.model.profiles import Profile
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import MODEL_FILENAMES, ResolvedModel
from tokcheck.parallel.engine import Engine, Job, Judgement, Local, judge_partition, opened
from tokcheck.parallel.partition import (
    count_lines,
    cut,
    generated,
    line_size,
    numbered,
    to_count,
)
from tokcheck.parallel.runner import Line, Runner, numbered_batches

# Bytes of a corpus part: a quarter of each worker's share, within these bounds.
MIN_PART = 1 << 20
MAX_PART = 64 << 20


def compare(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    options: CompareOptions | None = None,
    *,
    profile: Profile | None = None,
    engine: Engine | None = None,
    progress: Callable[[int], None] | None = None,
    diverging: Sink | None = None,
) -> CompareReport:
    """Compare every candidate with sentencepiece on what ``options`` name (the defaults of
    :class:`~tokcheck.compare.options.CompareOptions` without): probes, generated conversations
    in the prompt format of ``profile`` (both formats without one), corpora, generated strings
    and, with ``exhaustive``, every code point, piece and special name. The probes include every
    special token's name in text (:mod:`tokcheck.inputs.inject`), and each injectable
    candidate's safe setting is verified on those lines.

    The generated lines are judged in this process; the corpora and the exhaustive lines on
    ``engine`` (:mod:`tokcheck.parallel.engine`), by default ``jobs`` local processes. The report is
    the same whatever the engine and the jobs.

    ``progress`` is called as parts are judged with the bytes they hold: of the corpus files
    as stored (compressed where they are) and of the exhaustive lines, the two that a progress
    bar's total counts.

    ``stream_budget`` bounds the ids streamed per candidate (see :mod:`tokcheck.judge.stream`; None:
    its ``BUDGET``; ``UNLIMITED`` streams every line the rule picks); lines left over are
    a caveat. A corpus that yields no judged line is an error (:class:`CorpusError`): nothing
    was judged of it. Skipped records are a caveat, and more than ``max_skipped`` of them (a
    share of the corpus records) a failure.

    Each of ``ggufs`` gets the static findings of :mod:`tokcheck.checks.gguf` and, with
    llama-cpp-python installed, the candidates of :mod:`tokcheck.candidates.llamacpp`, judged with the
    others (without it they are a caveat: not run).

    A candidate whose runtime process dies while it runs (llama.cpp, node) fails, with why and
    the line it died on where known, as one that failed to load does; the others are judged.

    ``diverging`` gets every line that differs, not only the K shortest, in input order (see
    :mod:`tokcheck.judge.dump`): the same lines in the same order whatever the engine.
    """
    o = options or CompareOptions()
    model.require_text("compare tokenizers on it")
    corpora = check_corpora(o.corpora, o.field)
    # The corpora and the exhaustive lines go to the engine, reached now: a cluster that
    # cannot be reached fails before any long work.
    engine = (engine or Local(o.jobs)) if corpora or o.exhaustive else None
    with opened(engine):
        return _compare(resolved, model, corpora, engine, o, profile, progress, diverging)


def _compare(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    corpora: Sequence[Location],
    engine: Engine | None,
    o: CompareOptions,
    profile: Profile | None,
    progress: Callable[[int], None] | None,
    diverging: Sink | None = None,
) -> CompareReport:
    static = [check_gguf(read_gguf(path), model) for path in o.ggufs]
    asked = list(o.candidates or ())
    runs = [n for n in candidate_names(o.ggufs) if n not in asked]
    loaded, unavailable = load_candidates(
        resolved, model, [*(asked or DEFAULT_CANDIDATES), *runs], o.ggufs
    )
    judged = [*(asked or ["default"]), *runs]
    named = [u for u in unavailable if not u.failed and not is_llama(u.name)]
    if o.candidates and (absent := named):
        raise TokcheckError(
            "; ".join(f"candidate {u.name} does not apply here: {u.reason}" for u in absent)
        )
    start = time.perf_counter()
    formats, formats_from = prompt_formats(profile)
    runner = Runner(model, loaded, o.show, budget=o.stream_budget, sink=diverging, survive=True)
    specials = _special_names(runner, loaded) if o.probes else []
    injection = [
        (t, f"inject[{i}]")
        for i, t in enumerate(injection_texts(model, specials) if o.probes else ())
    ]
    totals = {"lines": 0, "bytes": 0}
    verification = _verification(model, resolved, o) if o.probes else []
    generated = _generated(model, o, formats, injection, verification)
    for batch in runner.run(numbered_batches(generated)):
        totals["lines"] += len(batch)
        totals["bytes"] += sum(line_size(t) for t, _ in batch)
    stats = CorpusStats()
    counts = {str(c): [0, 0] for c in corpora}  # judged and skipped records per corpus
    if engine is not None:
        names = tuple(c.name for c in runner.alive(loaded))
        job = Job(
            resolved,
            names,
            o.field,
            o.show,
            engine.threads,
            tuple(runner.every_line()),
            stream_budget=o.stream_budget,
            ggufs=tuple(o.ggufs),
            keep=diverging is not None,
        )
        more = exhaustive_lines(model, resolved) if o.exhaustive else ()
        work = _Work(engine, job, runner, stats, totals, progress, counts)
        work.run(model, runner.alive(loaded), corpora, more)
    _require_judged(counts)
    cleanup = (
        check_cleanup(
            model,
            runner.alive(loaded),
            formats,
            formats_from,
            o.prompts,
            o.seed,
            on_crash=lambda c, e: runner.crash(c, e, "checking the prompts' clean-up"),
        )
        if o.prompts
        else None
    )
    tallies = runner.tallies()
    if cleanup is not None:  # a runtime that died there has no verdict on the prompts either
        cleanup.candidates = [c for c in cleanup.candidates if c.name not in runner.crashed]
    remedies = verify_remedies(model, runner.alive(loaded), tallies, injection)
    crashed = [Unavailable(n, why, failed=True, crashed=True) for n, why in runner.crashed.items()]
    return CompareReport(
        judged=judged,
        candidates=tallies,
        unavailable=[*unavailable, *crashed],
        inputs={
            "lines": totals["lines"],
            "bytes": totals["bytes"],
            "probes": len(BUILTIN_PROBES) if o.probes else 0,
            "prompts": o.prompts * len(formats),
            "injection": len(injection),
            "verification": len(verification),
            # Those of them derived from the model (see tokcheck.inputs.derived).
            "derived": sum(origin.startswith(f"{DERIVED}[") for _, origin in verification),
            "examples": o.examples,
            "seed": o.seed,
            "corpora": [str(p) for p in corpora],
            "corpus_counts": [
                {"path": path, "judged": judged, "skipped": skipped}
                for path, (judged, skipped) in counts.items()
            ],
            "corpus_lines": stats.lines,
            "skipped_lines": [s.to_dict() for s in stats.skipped],
            # The Unicode database that chose the code points: it grows with Python releases.
            "exhaustive": {"unicode": unicodedata.unidata_version} if o.exhaustive else None,
        },
        elapsed_s=time.perf_counter() - start,
        versions={
            "transformers": transformers_version(),
            "sentencepiece": _version("sentencepiece"),
            "tokenizers": _version("tokenizers"),
        },
        strict=o.strict,
        exported=resolved.directory is not None and (resolved.directory / EXPORT_RECORD).is_file(),
        unexportable=unsupported(model),
        prompts=cleanup,
        remedies=remedies,
        engine=engine.name if engine else None,
        stream_budget=BUDGET if o.stream_budget is None else o.stream_budget,
        max_skipped=o.max_skipped,
        ggufs=static,
        serving=serving_notes(model, runner.alive(loaded), BUILTIN_PROBES) if o.probes else [],
        model=resolved.name,
        # The name tokcheck export gives the .model file it writes.
        model_file=model.path.name if model.path.name in MODEL_FILENAMES else "tokenizer.model",
        byte_fallback=model.proto.trainer_spec.byte_fallback,
    )


def _special_names(runner: Runner, loaded: Sequence[Candidate]) -> list[str]:
    """The special tokens the candidates name, as their pieces, each once (a candidate whose
    runtime dies naming them is the runner's crash)."""
    names: list[str] = []
    for candidate in runner.alive(loaded):
        try:
            names += candidate.pieces(sorted(candidate.special_ids))
        except RuntimeDied as e:
            runner.crash(candidate, e, "naming its special tokens")
    return list(dict.fromkeys(names))


def _require_judged(counts: dict[str, list[int]]) -> None:
    """A corpus of which no line was judged passes nothing: an error, naming why."""
    for path, (judged, skipped) in counts.items():
        if not judged:
            why = f"all {skipped} records were skipped" if skipped else "it holds no records"
            raise CorpusError(
                f"{path}: no line of this corpus was judged ({why}); check the file"
                + (" and --field" if skipped else "")
            )


def _verification(
    model: SentencePieceModel, resolved: ResolvedModel, o: CompareOptions
) -> list[Line]:
    """Export's verification lines (:func:`tokcheck.inputs.probes.verification_texts`): on a
    directory tokcheck exported, those it was verified on; otherwise ``examples`` of each."""
    examples, seed = o.examples, o.seed
    if resolved.directory is not None and (record := resolved.directory / EXPORT_RECORD).is_file():
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            examples, seed = int(data["examples"]), int(data["seed"])
        except (OSError, ValueError, TypeError, KeyError):
            pass  # a record of an older export, or not ours: the run's own numbers
    return verification_lines(model, examples, seed)


def _generated(
    model: SentencePieceModel,
    o: CompareOptions,
    formats: Sequence[str],
    injection: list[Line],
    verification: list[Line],
) -> Iterator[Line]:
    """The lines compare generates, judged in this process first: probes, prompts, the
    injection lines, Hypothesis strings and export's verification lines."""
    if o.probes:
        yield from ((t, f"probe[{i}]") for i, t in enumerate(BUILTIN_PROBES))
    yield from prompt_lines(formats, o.prompts, o.seed)
    yield from injection
    strings = hypothesis_strings(o.examples, o.seed, generation_alphabet(model))
    yield from ((t, f"hypothesis[{i}]") for i, t in enumerate(strings))
    yield from verification


@dataclass
class _Work:
    """The corpora and the exhaustive lines, cut into parts, judged on an engine and absorbed
    by the coordinator's runner in input order."""

    engine: Engine
    job: Job
    runner: Runner
    stats: CorpusStats
    totals: dict[str, int]
    progress: Callable[[int], None] | None
    # Judged and skipped records per corpus, by its name.
    counts: dict[str, list[int]]
    # The corpus of each part sent, in order: results come back in that order.
    sent: collections.deque[str | None] = dataclasses.field(default_factory=collections.deque)

    def run(
        self,
        model: SentencePieceModel,
        loaded: Sequence[Candidate],
        corpora: Sequence[Location],
        more: Iterable[Line],
    ) -> None:
        engine = self.engine
        engine.start(self.job, model, loaded)
        size = sum(map(corpus_size, corpora))
        # In one process a file is one part: nothing to spread, and no newlines to count.
        workers = engine.workers
        target = (
            size + 1 if engine.in_process else min(max(size // (4 * workers), MIN_PART), MAX_PART)
        )
        parts = cut(corpora, target)
        counts = engine.map(count_lines, ((p,) for p in to_count(parts)))
        parts = numbered(parts, list(counts))
        after = generated(more, EXHAUSTIVE)
        told = self.progress if engine.in_process else None
        args = (
            self._sent(self.job, p, self.runner.budget_left(), told)
            for p in itertools.chain(parts, after)
        )
        for judgement in engine.map(judge_partition, args):
            self._absorb(judgement)

    def _sent(self, *args: Any) -> tuple[Any, ...]:
        location = args[1].location
        self.sent.append(None if location is None else str(location))
        return args

    def _absorb(self, judgement: Judgement) -> None:
        if (corpus := self.sent.popleft()) is not None:
            self.counts[corpus][0] += judgement.stats.lines
        for skipped in judgement.stats.skipped:
            self.counts.setdefault(skipped.path, [0, 0])[1] += 1
        self.runner.absorb(judgement.part)
        self.stats.lines += judgement.stats.lines
        self.stats.skipped += judgement.stats.skipped
        self.totals["lines"] += judgement.lines
        self.totals["bytes"] += judgement.bytes
        if self.progress:
            self.progress(judgement.size)


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None
