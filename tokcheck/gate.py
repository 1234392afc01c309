"""The pre-deployment gate: ``check``, ``compare`` and ``roundtrip`` (and optionally ``smoke``)
with one verdict, a summary, next steps, and JUnit XML for CI systems.

The gate adds no checks of its own; it runs the others and says what to do next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokcheck import verdict
from tokcheck.checks.roundtrip import RoundtripReport, roundtrip
from tokcheck.checks.rules import CheckReport, run_checks
from tokcheck.compare.options import CompareOptions
from tokcheck.compare.report import CompareReport
from tokcheck.compare.run import compare
from tokcheck.judge.dump import Sink
from tokcheck.model.profiles import Profile
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel
from tokcheck.parallel.engine import Engine
from tokcheck.report import output, render
from tokcheck.report.cases import (
    FAIL,
    PASS,
    SKIP,
    Case,
    check_cases,
    compare_cases,
    junit_xml,
    roundtrip_cases,
    timed,
)
from tokcheck.report.view import View
from tokcheck.system import atomic


@dataclass
class GateReport:
    # The MODEL argument as given.
    model: str
    check: CheckReport
    compare: CompareReport
    roundtrip: RoundtripReport
    smoke: Any = None
    next_steps: list[str] = field(default_factory=list)
    strict: bool = False
    # The seconds each step took, by step (check, compare, roundtrip, smoke).
    times: dict[str, float] = field(default_factory=dict)

    @property
    def steps(self) -> dict[str, str]:
        """Each step's verdict (see :mod:`tokcheck.verdict`)."""
        steps = {
            "check": self.check.verdict,
            "compare": self.compare.verdict,
            "roundtrip": verdict.PASSED if self.roundtrip.passed else verdict.FAILED,
        }
        if self.smoke is not None:
            steps["smoke"] = verdict.PASSED if self.smoke.passed else verdict.FAILED
        return steps

    @property
    def verdicts(self) -> dict[str, bool]:
        return {step: v != verdict.FAILED for step, v in self.steps.items()}

    @property
    def caveats(self) -> list[str]:
        return [*self.check.caveats, *self.compare.caveats]

    @property
    def verdict(self) -> str:
        failed = verdict.FAILED in self.steps.values()
        return verdict.decide(failed, self.caveats, self.strict)

    @property
    def passed(self) -> bool:
        return self.verdict != verdict.FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "verdict": self.verdict,
            "caveats": self.caveats,
            "model": self.model,
            "steps": self.steps,
            "verdicts": self.verdicts,
            "next_steps": self.next_steps,
            "check": self.check.to_dict(),
            "compare": self.compare.to_dict(),
            "roundtrip": self.roundtrip.to_dict(),
            "smoke": self.smoke.to_dict() if self.smoke is not None else None,
        }


def run_gate(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    profile: Profile | None,
    options: CompareOptions | None = None,
    *,
    profile_how: str | None = None,
    smoke: Callable[[], Any] | None = None,
    engine: Engine | None = None,
    progress: Callable[[int], None] | None = None,
    diverging: Sink | None = None,
    on_step: Callable[[str], None] | None = None,
) -> GateReport:
    """Run every part and collect one report; ``smoke`` runs the smoke test when given.

    ``options`` are compare's (:class:`~tokcheck.compare.options.CompareOptions`); their
    ``examples`` and ``seed`` are the round-trip properties' too, and ``strict`` fails every
    caveat (ties, unstreamed lines, skipped records, no profile: see :mod:`tokcheck.verdict`).
    ``profile_how`` says how ``profile`` was chosen; ``diverging`` gets compare's every
    diverging line (see :func:`tokcheck.compare.run.compare`). ``on_step`` is called with each
    step's name (``check``, ``compare``, ``roundtrip``, ``smoke``) as it starts, and
    ``progress`` with compare's bytes as in :func:`~tokcheck.compare.run.compare`.
    """
    o = options or CompareOptions()
    times: dict[str, float] = {}

    def step(name: str, run: Callable[[], Any]) -> Any:
        if on_step is not None:
            on_step(name)
        start = time.perf_counter()
        try:
            return run()
        finally:
            times[name] = time.perf_counter() - start

    report = GateReport(
        model=resolved.name,
        check=step(
            "check", lambda: run_checks(resolved, model, profile, how=profile_how, strict=o.strict)
        ),
        compare=step(
            "compare",
            lambda: compare(
                resolved,
                model,
                o,
                profile=profile,
                engine=engine,
                progress=progress,
                diverging=diverging,
            ),
        ),
        roundtrip=step(
            "roundtrip",
            lambda: roundtrip(
                model,
                examples=o.examples,
                seed=o.seed,
                replay_hint=f"tokcheck roundtrip {resolved.name}",
            ),
        ),
        smoke=step("smoke", smoke) if smoke is not None else None,
        strict=o.strict,
        times=times,
    )
    report.next_steps = list(_next_steps(report))
    return report


def _next_steps(report: GateReport) -> Iterator[str]:
    ref = report.model
    if report.check.failed:
        yield (
            f"fix the failed checks ({', '.join(report.check.failed)}): "
            f"`tokcheck check {ref} --profile {report.check.profile or 'NAME'}` explains each"
        )
    if step := report.compare.advise(ref):
        yield step
    if not report.roundtrip.passed:
        failed = [p.name for p in report.roundtrip.properties if not p.passed]
        yield (
            f"the model itself loses text ({', '.join(failed)}): "
            f"`tokcheck roundtrip {ref}` shows the minimal counterexample"
        )
    if report.smoke is not None and not report.smoke.passed:
        yield f"the generation smoke test failed: `tokcheck smoke {ref}` shows which check"


def cases(report: GateReport) -> list[Case]:
    """One case per check (applied or skipped), per candidate (with the verdict of the
    tokenizer it loaded), per property, and per smoke check; each with its share of the time
    its step took."""
    times = report.times.get
    out = timed(check_cases(report.check), times("check"))
    out += timed(compare_cases(report.compare, report.model), times("compare"))
    out += timed(roundtrip_cases(report.roundtrip), times("roundtrip"))
    if report.smoke is not None:
        smoke = [
            Case("smoke", c.name, PASS if c.passed else FAIL, c.message)
            for c in report.smoke.checks
        ]
        smoke += [Case("smoke", s.name, SKIP, s.reason) for s in report.smoke.skipped]
        out += timed(smoke, times("smoke"))
    return out


def view(report: GateReport) -> View:
    """The gate's report as every output format sees it (see :mod:`tokcheck.report.formats`)."""
    return View(
        command="gate",
        report=report,
        text=text,
        model=report.model,
        cases=lambda: cases(report),
        compare=report.compare,
        steps=report.steps,
        next_steps=report.next_steps,
    )


def write_junit(report: GateReport, path: Path) -> None:
    """Write the JUnit XML atomically: a reader never sees a half-written file."""
    atomic.write_file(
        path,
        lambda handle: junit_xml(cases(report), report.model).write(
            handle, encoding="utf-8", xml_declaration=True
        ),
    )


def text(report: GateReport) -> str:
    """The gate's report as people read it."""
    compare = report.compare
    details = {
        "check": f"profile {report.check.profile or 'none'}; failed: {', '.join(report.check.failed) or '-'}",
        "compare": "; ".join(
            [f"{t.name}: {t.summary()}" for t in compare.candidates if not t.same_as]
            + [
                f"{u.name}: {'its runtime died' if u.crashed else 'failed to load'}"
                for u in compare.unavailable
                if u.failed
            ]
            + [
                f"{Path(g.path).name}: {', '.join(g.failed)} failed"
                for g in compare.ggufs
                if g.failed
            ]
        )
        or "no candidates",
        "roundtrip": ", ".join(
            f"{p.name} {'ok' if p.passed else 'FAILED'}" for p in report.roundtrip.properties
        ),
    }
    if report.smoke is not None:
        details["smoke"] = ", ".join(c.name for c in report.smoke.checks if not c.passed) or "ok"
    marks = {verdict.PASSED: "PASS", verdict.CAVEATS: "PASS*", verdict.FAILED: "FAIL"}
    rows = [(marks[v], step, details[step]) for step, v in report.steps.items()]
    out = [output.table(("", "step", "detail"), rows, title=f"tokcheck gate {report.model}")]
    out.append(f"profile: {report.check.profile or 'none'} ({report.check.profile_how or 'given'})")
    out += [f"{t.name}: {why}" for t in compare.candidates if (why := compare.same_reason(t))]
    for t in compare.judged_tallies:
        if not compare.accepts(t) and not t.same_as:
            out += render.counterexamples(t)
    out += [
        f"FAIL {c.name} ({g.path}): {c.message}"
        for g in compare.ggufs
        for c in g.checks
        if not c.passed
    ]
    out += [f"warning: {w}" for w in compare.warnings]
    out += render.serving(compare.serving)
    out += [f"caveat: {c}" for c in report.caveats]
    # The compare step's kinds are the fix's: counted here, named in the fix block below.
    full, brief = compare.advise(report.model), compare.advise(report.model, brief=True)
    out += [f"next: {brief if step == full else step}" for step in report.next_steps]
    out += render.fix(found) if (found := compare.fix) else []
    failed = ", ".join(step for step, v in report.steps.items() if v == verdict.FAILED)
    detail = failed or f"{len(report.caveats)} caveat(s) above" if report.caveats or failed else ""
    out.append("gate " + verdict.line(report.verdict, detail))
    return output.Text("\n".join(out))
