"""Differential testing: the sentencepiece reference against every candidate, line by line.

Inputs are streamed in batches and encoded with each library's batch API (sentencepiece's
``num_threads``, tokenizers' parallel ``encode_batch``), so memory stays flat however large the
corpus; only the judge's counters and the K shortest counterexamples per candidate are kept.
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
from pathlib import Path
from typing import Any

from tokcheck import verdict
from tokcheck.candidates.base import Candidate, Unavailable, special_names
from tokcheck.candidates.hf import transformers_version
from tokcheck.candidates.llamacpp import candidate_names, is_llama
from tokcheck.candidates.registry import DEFAULT_CANDIDATES, RUNTIMES, load_candidates
from tokcheck.checks.gguf import GGUFReport, check_gguf
from tokcheck.compare.injection import Remedy, verify_remedies
from tokcheck.compare.prompts import PromptCheck, check_cleanup
from tokcheck.convert.converter import unsupported
from tokcheck.convert.target import EXPORT_RECORD
from tokcheck.errors import CorpusError, TokcheckError
from tokcheck.inputs.conversations import DEFAULT_CONVERSATIONS, prompt_formats, prompt_lines
from tokcheck.inputs.corpus import DEFAULT_FIELD, CorpusStats, Location, check_corpora, corpus_size
from tokcheck.inputs.exhaustive import exhaustive_lines
from tokcheck.inputs.inject import injection_texts
from tokcheck.inputs.probes import (
    BUILTIN_PROBES,
    generation_alphabet,
    hypothesis_strings,
    verification_lines,
)
from tokcheck.judge import stream
from tokcheck.judge.lines import Tally
from tokcheck.judge.stream import BUDGET, UNLIMITED
from tokcheck.model.gguf_vocab import read_gguf
from tokcheck.model.profiles import Profile
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel
from tokcheck.parallel.engine import Engine, Job, Judgement, Local, judge_partition, opened
from tokcheck.parallel.partition import (
    STRIDE,
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
    # Why tokcheck export cannot convert the model (see tokcheck.convert.converter.unsupported), if so.
    unexportable: str | None = None
    # The card's decode clean-up on the generated prompts, when there were any.
    prompts: PromptCheck | None = None
    # Injectable candidates' settings against it, verified (see tokcheck.inputs.inject).
    remedies: list[Remedy] = dataclasses.field(default_factory=list)
    # Where the corpora and exhaustive lines were judged (see tokcheck.parallel.engine), None without
    # them; the findings do not depend on it.
    engine: str | None = None
    # Ids streamed per candidate at most (tokcheck.judge.stream.UNLIMITED: every line the rule picks).
    stream_budget: int = BUDGET
    # The largest share of corpus records that may be skipped before compare fails.
    max_skipped: float | None = None
    # The static findings on each GGUF given (see tokcheck.checks.gguf).
    ggufs: list[GGUFReport] = dataclasses.field(default_factory=list)
    # What the serving algorithms themselves lose on this model (tokcheck.judge.stream.serving_notes).
    serving: list[str] = dataclasses.field(default_factory=list)

    @property
    def load_failures(self) -> list[Unavailable]:
        """Judged candidates whose loading raised: their users get an exception, not ids."""
        return [u for u in self.unavailable if u.failed and u.name in self.judged]

    @property
    def judged_tallies(self) -> list[Tally]:
        """The candidates judged: those asked for, and those that loaded the same tokenizer as
        one of them (its verdict is theirs)."""
        return [c for c in self.candidates if self.is_judged(c)]

    def is_judged(self, tally: Tally) -> bool:
        return tally.name in self.judged or tally.same_as in self.judged

    def tally_caveats(self, tally: Tally) -> list[str]:
        """What weakens a candidate's pass: its ties, and the lines it left unstreamed."""
        out = [w] if (w := tally.tie_warning(self.strict)) else []
        if tally.stream_unchecked:
            budget = "all" if self.stream_budget == UNLIMITED else f"{self.stream_budget:,} ids"
            out.append(
                f"{tally.name}: {tally.stream_unchecked} lines holding byte, control or "
                f"context-dependent pieces were not streamed (the streaming budget, {budget}, "
                f"was spent; {tally.stream_checked} were; --stream-budget all streams them)"
            )
        return out

    def candidate_verdict(self, tally: Tally) -> tuple[str, str]:
        """A candidate's own verdict and why, the same in every output: ``not judged`` for one
        that fails but was neither asked for nor the same tokenizer as one that was."""
        outcome = verdict.decide(tally.diverged, self.tally_caveats(tally), self.strict)
        why = self.same_reason(tally) or ""
        if outcome == verdict.FAILED and not self.is_judged(tally):
            return NOT_JUDGED, (
                f"{tally.name} was not judged (this run judges {', '.join(self.judged)}) and "
                f"differs from sentencepiece: {tally.summary()}; `tokcheck compare MODEL "
                f"--candidate {tally.name}` judges it"
            )
        return outcome, why

    def same_reason(self, tally: Tally) -> str | None:
        """Why a candidate has another's findings: it loaded the very same tokenizer."""
        if tally.same_as is None:
            return None
        release = self.versions.get("transformers") or "?"
        how = {
            "slow": f"transformers {release} ignores use_fast=False",
            "fast": "use_fast=True loads it too",
            "sentencepiece-backend": f'transformers {release} loads it for backend="sentencepiece" too',
            "tokenizer.json": "the directory's tokenizer.json is the tokenizer it loads",
        }.get(tally.name, "it loads the same tokenizer")
        return f"same tokenizer as {tally.same_as}: {how}"

    @property
    def corpus_records(self) -> tuple[int, int]:
        """Corpus records judged and skipped."""
        counts = self.inputs.get("corpus_counts", [])
        return sum(c["judged"] for c in counts), sum(c["skipped"] for c in counts)

    @property
    def too_many_skipped(self) -> str | None:
        judged, skipped = self.corpus_records
        if self.max_skipped is None or not skipped:
            return None
        share = skipped / (judged + skipped)
        if share <= self.max_skipped:
            return None
        return (
            f"{skipped} of {judged + skipped} corpus records were skipped ({share:.1%}), more "
            f"than --max-skipped allows ({self.max_skipped:.1%})"
        )

    @property
    def caveats(self) -> list[str]:
        out = [w for c in _distinct(self.judged_tallies) for w in self.tally_caveats(c)]
        out += [
            f"{u.name} was not run: {u.reason}"
            for u in self.unavailable
            if u.name in self.judged and not u.failed
        ]
        out += [c for g in self.ggufs for c in g.caveats]
        if skipped := self.corpus_records[1]:
            out.append(
                f"{skipped} corpus records could not be judged and were skipped "
                "(inputs.skipped_lines lists them; --max-skipped bounds their share)"
            )
        return out

    @property
    def verdict(self) -> str:
        failed = bool(self.load_failures or self.too_many_skipped) or any(
            c.diverged for c in self.judged_tallies
        )
        failed = failed or any(g.failed for g in self.ggufs)
        return verdict.decide(failed, self.caveats, self.strict)

    @property
    def passed(self) -> bool:
        return self.verdict != verdict.FAILED

    def accepts(self, tally: Tally) -> bool:
        """Whether ``tally`` is no failure of this report: it passed, or was not judged."""
        return self.candidate_verdict(tally)[0] != verdict.FAILED

    @property
    def warnings(self) -> list[str]:
        out = [
            f"candidate {c.name} ({c.cls}) diverges from sentencepiece: {c.summary()}"
            for c in _distinct(self.candidates)
            if c.diverged and not self.is_judged(c)
        ]
        out += [
            f"candidate {u.name} {u.reason}"
            for u in self.unavailable
            if u.failed and u.name not in self.judged
        ]
        if self.prompts and (ref := self.prompts.reference).differing:
            out.append(
                f"sentencepiece itself does not give back the conversation of {ref.differing} "
                f"of {self.prompts.prompts} prompts after the card's clean-up (the model, not "
                f"a loading path): e.g. {ref.example}"
            )
        return out

    @property
    def next_step(self) -> str | None:
        return self.advise()

    def advise(self, model: str = "MODEL") -> str | None:
        """What to do about a failure, worded for what failed: a candidate (see
        :func:`advice`), or only the corpus records or the caveats ``--strict`` fails."""
        if self.passed:
            return None
        if self.load_failures or any(
            c.diverged or (self.strict and c.tie) for c in self.judged_tallies
        ):
            return advice(self, model)
        if any(g.failed for g in self.ggufs):
            return gguf_advice(self.ggufs)
        return self.too_many_skipped or f"--strict fails the caveats: {'; '.join(self.caveats)}"

    def to_dict(self) -> dict[str, Any]:
        mb = self.inputs["bytes"] / 1e6
        return {
            "passed": self.passed,
            "verdict": self.verdict,
            "caveats": self.caveats,
            "strict": self.strict,
            "reference": "sentencepiece",
            "judged": self.judged,
            "exported_directory": self.exported,
            "unexportable": self.unexportable,
            "versions": self.versions,
            "candidates": [self._candidate(c) for c in self.candidates],
            "unavailable": [u.__dict__ for u in self.unavailable],
            "load_failures": [u.name for u in self.load_failures],
            "warnings": self.warnings,
            "remedies": [r.to_dict() for r in self.remedies],
            "gguf": [g.to_dict() for g in self.ggufs],
            "serving_notes": self.serving,
            "next_step": self.next_step,
            "inputs": self.inputs,
            "prompts": self.prompts.to_dict() if self.prompts else None,
            "engine": self.engine,
            "stream_budget": "all" if self.stream_budget == UNLIMITED else self.stream_budget,
            "max_skipped": self.max_skipped,
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.inputs["lines"] / self.elapsed_s, 1)
            if self.elapsed_s
            else None,
            "mb_per_s": round(mb / self.elapsed_s, 3) if self.elapsed_s else None,
        }

    def _candidate(self, tally: Tally) -> dict[str, Any]:
        outcome, why = self.candidate_verdict(tally)
        data = tally.to_dict(self.strict)
        data.update(verdict=outcome, judged=self.is_judged(tally), reason=why or None)
        data["passed"] = outcome in (verdict.PASSED, verdict.CAVEATS)
        return data


# A candidate compared but not judged, that fails: a warning, and skipped in pytest and JUnit.
NOT_JUDGED = "not judged"


def export_advice(model: str = "MODEL") -> str:
    """The fix for a Hugging Face path that fails compare, as every report words it."""
    return f"run `tokcheck export {model} OUTDIR` and load the exported directory instead"


def advice(report: CompareReport, model: str = "MODEL") -> str:
    """The next step for a failed compare; export is advised only where it is the fix.

    It is not when the failure is tokcheck's own ``exported`` tokenizer, or the directory is
    already tokcheck's export (then the remaining differences are named), nor when tokcheck
    export cannot convert the model at all (then that is said). A runtime that fails
    (transformers.js) gets advice of its own: export's fix is for the Hugging Face paths.
    """
    runtime = "; and ".join(a for a in (_runtime_advice(report, model), _llama_advice(report)) if a)
    own = [u for u in report.load_failures if u.name == "exported"]
    raised = [u for u in report.load_failures if u.name != "exported" and not _is_runtime(u.name)]
    failed = [
        c for c in report.judged_tallies if not c.passed(report.strict) and not _is_runtime(c.name)
    ]
    if runtime and not (own or raised or failed):
        return runtime
    hf = _hf_advice(report, model, own, raised, failed)
    return f"{hf}; and {runtime}" if runtime else hf


def _is_runtime(name: str) -> bool:
    """Whether ``name`` is a runtime's candidate (transformers.js, llama.cpp), not a Hugging
    Face path: export's fix is for the latter."""
    return name in RUNTIMES or is_llama(name)


def _llama_advice(report: CompareReport) -> str:
    """What to do about llama.cpp candidates or GGUF findings that fail, or "" if none does."""
    raised = [u for u in report.load_failures if is_llama(u.name)]
    failed = [c for c in report.judged_tallies if not c.passed(report.strict) and is_llama(c.name)]
    if not raised and not failed and not any(g.failed for g in report.ggufs):
        return ""
    found = "; ".join(
        [f"{u.name} {u.reason}" for u in raised]
        + [f"{c.name}: {c.summary()}" for c in _distinct(failed)]
    )
    static = gguf_advice(report.ggufs) if any(g.failed for g in report.ggufs) else ""
    run = f"llama.cpp does not tokenize as sentencepiece here ({found})" if found else ""
    return "; ".join(a for a in (run, static) if a)


def gguf_advice(reports: Sequence[GGUFReport]) -> str:
    """The static findings' next step: the keys to write, or why no GGUF can be exact."""
    failed = "; ".join(f"{g.path}: {', '.join(g.failed)}" for g in reports if g.failed)
    never = next((g.unexact for g in reports if g.unexact), None)
    fix = (
        f"no GGUF of this model tokenizes exactly in llama.cpp: {never}"
        if never
        else "rewrite the keys each finding names (tokcheck compare --json lists them)"
    )
    return f"the GGUF's tokenizer differs from the model ({failed}): {fix}"


def _runtime_advice(report: CompareReport, model: str) -> str:
    """What to do about a runtime candidate (transformers.js) that fails, or "" if none does."""
    raised = [u for u in report.load_failures if u.name in RUNTIMES]
    failed = [
        c for c in report.judged_tallies if not c.passed(report.strict) and c.name in RUNTIMES
    ]
    if not raised and not failed:
        return ""
    found = "; ".join(
        [f"{u.name} {u.reason}" for u in raised]
        + [f"{c.name}: {c.summary()}" for c in _distinct(failed)]
    )
    return (
        f"transformers.js does not tokenize as sentencepiece here ({found}): run `tokcheck "
        f"export {model} OUTDIR --target transformers.js`, which writes a tokenizer it runs "
        "exactly and verifies it there, or refuses with the reason"
    )


def _hf_advice(
    report: CompareReport,
    model: str,
    own: list[Unavailable],
    raised: list[Unavailable],
    failed: list[Tally],
) -> str:
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
    corpora: Sequence[Location] = (),
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
    jobs: int = 1,
    engine: Engine | None = None,
    progress: Callable[[int], None] | None = None,
    stream_budget: int | None = None,
    max_skipped: float | None = None,
    ggufs: Sequence[Path] = (),
) -> CompareReport:
    """Compare every candidate with sentencepiece on probes, ``prompts`` generated
    conversations in the prompt format of ``profile`` (both formats without one), corpora,
    ``examples`` strings generated by Hypothesis and, with ``exhaustive``, every code point,
    piece and special name (:mod:`tokcheck.inputs.exhaustive`); ``show`` counterexamples are kept per
    candidate. The probes include every special token's name in text (:mod:`tokcheck.inputs.inject`),
    and each injectable candidate's safe setting is verified on those lines. ``field`` is the
    JSONL key or Parquet column of the corpora's text (see :mod:`tokcheck.inputs.corpus`).

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
    """
    if stream_budget is not None and stream_budget < 1:
        raise TokcheckError(f"the streaming budget must be at least 1 id, got {stream_budget}")
    if max_skipped is not None and not 0 <= max_skipped <= 1:
        raise TokcheckError(f"max_skipped must be a share between 0 and 1, got {max_skipped}")
    model.require_text("compare tokenizers on it")
    corpora = check_corpora(corpora, field)
    # The corpora and the exhaustive lines go to the engine, reached now: a cluster that
    # cannot be reached fails before any long work.
    engine = (engine or Local(jobs)) if corpora or exhaustive else None
    with opened(engine):
        return _compare(
            resolved,
            model,
            corpora,
            engine,
            _Options(
                field=field,
                examples=examples,
                seed=seed,
                candidates=candidates,
                probes=probes,
                prompts=prompts,
                profile=profile,
                exhaustive=exhaustive,
                stream_budget=stream_budget,
                max_skipped=max_skipped,
                ggufs=tuple(ggufs),
            ),
            show=show,
            strict=strict,
            progress=progress,
        )


@dataclass(frozen=True)
class _Options:
    """What to judge, as :func:`compare` was asked."""

    field: str
    examples: int
    seed: int
    candidates: Sequence[str] | None
    probes: bool
    prompts: int
    profile: Profile | None
    exhaustive: bool
    stream_budget: int | None = None
    max_skipped: float | None = None
    ggufs: tuple[Path, ...] = ()


def _compare(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    corpora: Sequence[Location],
    engine: Engine | None,
    o: _Options,
    *,
    show: int,
    strict: bool,
    progress: Callable[[int], None] | None,
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
    formats, formats_from = prompt_formats(o.profile)
    injection = [
        (t, f"inject[{i}]")
        for i, t in enumerate(injection_texts(model, special_names(loaded)) if o.probes else ())
    ]
    runner = Runner(model, loaded, show, budget=o.stream_budget)
    totals = {"lines": 0, "bytes": 0}
    verification = _verification(model, resolved, o) if o.probes else []
    generated = _generated(model, o, formats, injection, verification)
    for batch in runner.run(numbered_batches(generated)):
        totals["lines"] += len(batch)
        totals["bytes"] += sum(line_size(t) for t, _ in batch)
    stats = CorpusStats()
    counts = {str(c): [0, 0] for c in corpora}  # judged and skipped records per corpus
    if engine is not None:
        names = tuple(c.name for c in loaded)
        job = Job(
            resolved,
            names,
            o.field,
            show,
            engine.threads,
            tuple(runner.every_line()),
            stream_budget=o.stream_budget,
            ggufs=o.ggufs,
        )
        more = exhaustive_lines(model, resolved) if o.exhaustive else ()
        work = _Work(engine, job, runner, stats, totals, progress, counts)
        work.run(model, loaded, corpora, more)
    _require_judged(counts)
    tallies = runner.tallies()
    cleanup = (
        check_cleanup(model, loaded, formats, formats_from, o.prompts, o.seed)
        if o.prompts
        else None
    )
    remedies = verify_remedies(model, loaded, tallies, injection)
    return CompareReport(
        judged=judged,
        candidates=tallies,
        unavailable=unavailable,
        inputs={
            "lines": totals["lines"],
            "bytes": totals["bytes"],
            "probes": len(BUILTIN_PROBES) if o.probes else 0,
            "prompts": o.prompts * len(formats),
            "injection": len(injection),
            "verification": len(verification),
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
        strict=strict,
        exported=resolved.directory is not None and (resolved.directory / EXPORT_RECORD).is_file(),
        unexportable=unsupported(model),
        prompts=cleanup,
        remedies=remedies,
        engine=engine.name if engine else None,
        stream_budget=stream.BUDGET if o.stream_budget is None else o.stream_budget,
        max_skipped=o.max_skipped,
        ggufs=static,
        serving=stream.serving_notes(model, loaded, BUILTIN_PROBES) if o.probes else [],
    )


def _require_judged(counts: dict[str, list[int]]) -> None:
    """A corpus of which no line was judged passes nothing: an error, naming why."""
    for path, (judged, skipped) in counts.items():
        if not judged:
            why = f"all {skipped} records were skipped" if skipped else "it holds no records"
            raise CorpusError(
                f"{path}: no line of this corpus was judged ({why}); check the file"
                + (" and --field" if skipped else "")
            )


def _verification(model: SentencePieceModel, resolved: ResolvedModel, o: _Options) -> list[Line]:
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
    o: _Options,
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
        after = generated(more, (len(corpora) + 1) * STRIDE)
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
