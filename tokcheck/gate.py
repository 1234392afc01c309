"""The pre-deployment gate: ``check``, ``compare`` and ``roundtrip`` (and optionally ``smoke``)
with one verdict, a summary, next steps, and JUnit XML for CI systems.

The gate adds no checks of its own; it runs the others and says what to do next.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokcheck import atomic, render
from tokcheck.checks import CheckReport, run_checks
from tokcheck.compare import CompareReport, advice, compare
from tokcheck.corpus import DEFAULT_FIELD, Location
from tokcheck.profiles import Profile
from tokcheck.proto import SentencePieceModel
from tokcheck.resolve import ResolvedModel
from tokcheck.roundtrip import RoundtripReport, roundtrip


@dataclass
class GateReport:
    # The MODEL argument as given.
    model: str
    check: CheckReport
    compare: CompareReport
    roundtrip: RoundtripReport
    smoke: Any = None
    next_steps: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> dict[str, bool]:
        verdicts = {
            "check": self.check.passed,
            "compare": self.compare.passed,
            "roundtrip": self.roundtrip.passed,
        }
        if self.smoke is not None:
            verdicts["smoke"] = bool(self.smoke.passed)
        return verdicts

    @property
    def passed(self) -> bool:
        return all(self.verdicts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "model": self.model,
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
    *,
    corpora: Sequence[Location] = (),
    field: str = DEFAULT_FIELD,
    examples: int = 1000,
    seed: int = 0,
    strict: bool = False,
    jobs: int = 1,
    smoke: Callable[[], Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> GateReport:
    """Run every part and collect one report; ``smoke`` runs the smoke test when given.

    ``strict`` fails compare on ties too (see :mod:`tokcheck.judge`).
    """
    report = GateReport(
        model=resolved.name,
        check=run_checks(resolved, model, profile),
        compare=compare(
            resolved,
            model,
            corpora=corpora,
            field=field,
            examples=examples,
            seed=seed,
            profile=profile,
            strict=strict,
            jobs=jobs,
            progress=progress,
        ),
        roundtrip=roundtrip(
            model,
            examples=examples,
            seed=seed,
            replay_hint=f"tokcheck roundtrip {resolved.name}",
        ),
        smoke=smoke() if smoke is not None else None,
    )
    report.next_steps = list(_next_steps(report))
    return report


def _next_steps(report: GateReport) -> Iterator[str]:
    ref = report.model
    if not report.check.passed:
        yield (
            f"fix the failed checks ({', '.join(report.check.failed)}): "
            f"`tokcheck check {ref} --profile {report.check.profile or 'NAME'}` explains each"
        )
    if not report.compare.passed:
        yield advice(report.compare, ref)
    if not report.roundtrip.passed:
        failed = [p.name for p in report.roundtrip.properties if not p.passed]
        yield (
            f"the model itself loses text ({', '.join(failed)}): "
            f"`tokcheck roundtrip {ref}` shows the minimal counterexample"
        )
    if report.smoke is not None and not report.smoke.passed:
        yield f"the generation smoke test failed: `tokcheck smoke {ref}` shows which check"


def junit_xml(report: GateReport) -> ET.ElementTree:
    """One testcase per check, per candidate, per property (and per smoke check)."""
    suites = ET.Element("testsuites", name="tokcheck")
    cases: dict[str, list[tuple[str, bool, str]]] = {
        "check": [(c.name, c.passed, c.message) for c in report.check.checks],
        "compare": [
            (
                c.name,
                report.compare.accepts(c),
                "\n".join([f"{c.cls}: {c.summary()}", *render.counterexamples(c)]),
            )
            for c in report.compare.candidates
        ]
        + [(u.name, False, u.reason) for u in report.compare.load_failures],
        "roundtrip": [
            (p.name, p.passed, f"{p.detail}; replay: {p.replay}" if not p.passed else "")
            for p in report.roundtrip.properties
        ],
    }
    if report.smoke is not None:
        cases["smoke"] = [(c.name, c.passed, c.message) for c in report.smoke.checks]
    for suite_name, items in cases.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"tokcheck.{suite_name}",
            tests=str(len(items)),
            failures=str(sum(not ok for _, ok, _ in items)),
            errors="0",
            skipped="0",
        )
        for name, ok, message in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"tokcheck.{suite_name}",
                name=f"{name}[{report.model}]",
            )
            if not ok:
                ET.SubElement(
                    case, "failure", message=message.splitlines()[0] if message else "failed"
                ).text = message
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(report: GateReport, path: Path) -> None:
    """Write the JUnit XML atomically: a reader never sees a half-written file."""
    atomic.write_file(
        path, lambda handle: junit_xml(report).write(handle, encoding="utf-8", xml_declaration=True)
    )
