"""What a compare run found: the report, its verdict per candidate, and the next step it advises.

:class:`CompareReport` holds every candidate's tally, the GGUFs' findings, the prompt and
injection checks, the inputs and the caveats; :func:`advice` turns a failing report into the one
step to take (export the model, load the export, or what a runtime needs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokcheck import verdict
from tokcheck.candidates.base import Unavailable
from tokcheck.candidates.llamacpp import is_llama
from tokcheck.candidates.registry import DEFAULT_CANDIDATES, RUNTIMES
from tokcheck.checks.gguf import GGUFReport
from tokcheck.compare.fix import Fix, export_command
from tokcheck.compare.fix import fix as build_fix
from tokcheck.compare.injection import Remedy
from tokcheck.compare.prompts import PromptCheck
from tokcheck.judge.serving import ServingNote
from tokcheck.judge.stream_check import BUDGET, UNLIMITED
from tokcheck.judge.tally import Tally
from tokcheck.system.paths import shell_word


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
    # Ids streamed per candidate at most (tokcheck.judge.stream_check.UNLIMITED: every line the rule picks).
    stream_budget: int = BUDGET
    # The largest share of corpus records that may be skipped before compare fails.
    max_skipped: float | None = None
    # The static findings on each GGUF given (see tokcheck.checks.gguf).
    ggufs: list[GGUFReport] = dataclasses.field(default_factory=list)
    # What the serving algorithms themselves lose on this model (tokcheck.judge.serving.serving_notes).
    serving: list[ServingNote] = dataclasses.field(default_factory=list)
    # The MODEL argument as given, the .model file export writes beside tokenizer.json and
    # whether the model has byte fallback: the fix's command and wording (tokcheck.compare.fix).
    model: str = "MODEL"
    model_file: str = "tokenizer.model"
    byte_fallback: bool = False

    @property
    def load_failures(self) -> list[Unavailable]:
        """Judged candidates whose loading raised, or whose runtime's process died while it ran
        (``crashed``): their users get an exception or a dead process, not ids."""
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
                f"differs from sentencepiece: {tally.summary()}; `tokcheck compare "
                f"{shell_word(self.model)} --candidate {tally.name}` judges it"
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
        seen = {
            *self.judged,
            *(c.name for c in self.candidates),
            *(u.name for u in self.unavailable),
        }
        if unasked := [n for n in DEFAULT_CANDIDATES if n not in seen]:
            out.append(
                f"not judged: {', '.join(unasked)} (--candidate asked for "
                f"{', '.join(self.judged) or 'none'}): this verdict says nothing of them"
            )
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

    def advise(self, model: str | None = None, *, brief: bool = False) -> str | None:
        """What to do about a failure, worded for what failed: a candidate (see
        :func:`advice`), or only the corpus records or the caveats ``--strict`` fails.
        ``model`` is the MODEL argument (the report's own by default); ``brief`` counts each
        failing Hugging Face path's lines without their kinds, where :attr:`fix` has them."""
        if self.passed:
            return None
        if self.load_failures or any(
            c.diverged or (self.strict and c.tie) for c in self.judged_tallies
        ):
            return advice(self, self.model if model is None else model, brief=brief)
        if any(g.failed for g in self.ggufs):
            return gguf_advice(self.ggufs)
        return self.too_many_skipped or f"--strict fails the caveats: {'; '.join(self.caveats)}"

    @property
    def fix(self) -> Fix | None:
        """The fix where a Hugging Face path diverges or raises and tokcheck export is it (see
        :mod:`tokcheck.compare.fix`), else None."""
        if self.passed or not _exports(self):
            return None
        _, raised, failed = _hf_failures(self)
        release = self.versions.get("transformers") or "?"
        hf = [c for c in failed if c.name != "exported"]
        return build_fix(
            self.model, self.model_file, release, hf, raised, byte_fallback=self.byte_fallback
        )

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
            "serving_notes": [str(note) for note in self.serving],
            "next_step": self.next_step,
            "fix": found.to_dict() if (found := self.fix) else None,
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
    """The fix for a Hugging Face path that fails compare, as every report words it: for the
    MODEL given, with the OUTDIR :func:`~tokcheck.compare.fix.suggested_outdir` suggests."""
    return f"run `{_export(model)}` and load the exported directory instead"


def _export(model: str, *flags: str) -> str:
    """The export command for ``model``; the placeholders where it is the placeholder MODEL."""
    said = "tokcheck export MODEL OUTDIR" if model == "MODEL" else export_command(model)
    return " ".join([said, *flags])


def advice(report: CompareReport, model: str = "MODEL", *, brief: bool = False) -> str:
    """The next step for a failed compare; export is advised only where it is the fix.

    It is not when the failure is tokcheck's own ``exported`` tokenizer, or the directory is
    already tokcheck's export (then the remaining differences are named), nor when tokcheck
    export cannot convert the model at all (then that is said). A runtime that fails
    (transformers.js) gets advice of its own: export's fix is for the Hugging Face paths.
    """
    runtime = "; and ".join(a for a in (_runtime_advice(report, model), _llama_advice(report)) if a)
    own, raised, failed = _hf_failures(report)
    if runtime and not (own or raised or failed):
        return runtime
    hf = _hf_advice(report, model, own, raised, failed, brief)
    return f"{hf}; and {runtime}" if runtime else hf


def _hf_failures(report: CompareReport) -> tuple[list[Unavailable], list[Unavailable], list[Tally]]:
    """tokcheck's own ``exported`` candidate that raised, the Hugging Face paths that raised,
    and the judged candidates but the runtimes' that fail."""
    own = [u for u in report.load_failures if u.name == "exported"]
    raised = [u for u in report.load_failures if u.name != "exported" and not _is_runtime(u.name)]
    failed = [
        c for c in report.judged_tallies if not c.passed(report.strict) and not _is_runtime(c.name)
    ]
    return own, raised, failed


def _exports(report: CompareReport) -> bool:
    """Whether the advice is tokcheck export: a Hugging Face path fails, the failure is not
    tokcheck's own, and export can convert the model."""
    own, raised, failed = _hf_failures(report)
    hf_failed = [c for c in failed if c.name != "exported"]
    mine = own or (not raised and not hf_failed) or report.exported
    return not mine and not report.unexportable


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
        f"transformers.js does not tokenize as sentencepiece here ({found}): run "
        f"`{_export(model, '--target', 'transformers.js')}`, which writes a tokenizer it runs "
        "exactly and verifies it there, or refuses with the reason"
    )


def _hf_advice(
    report: CompareReport,
    model: str,
    own: list[Unavailable],
    raised: list[Unavailable],
    failed: list[Tally],
    brief: bool = False,
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
        + [
            f"{c.name}: {c.differing} of {c.lines} lines differ"
            if brief
            else f"{c.name}: {c.summary()}"
            for c in _distinct(hf_failed)
        ]
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
