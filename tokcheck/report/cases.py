"""The gate's test cases, as pytest and JUnit show them: one per check (applied or skipped), per
candidate (with the verdict of the tokenizer it loaded), per GGUF finding, per property.

:func:`tokcheck.gate.cases` gathers a gate report's; the pytest plugin asks each step's as its
items run; :func:`junit_xml` writes them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokcheck import verdict
from tokcheck.checks.gguf import GGUFReport
from tokcheck.checks.roundtrip import RoundtripReport
from tokcheck.checks.rules import CheckReport
from tokcheck.compare.report import NOT_JUDGED, CompareReport, advice
from tokcheck.model.gguf_vocab import labels
from tokcheck.report import render

# What a test case is in pytest and JUnit: passed, failed, or skipped (with its reason).
PASS, FAIL, SKIP = "passed", "failed", "skipped"


@dataclass(frozen=True)
class Case:
    """One test case of the gate, as pytest and JUnit show it."""

    suite: str
    name: str
    outcome: str
    message: str = ""


def check_cases(check: CheckReport) -> list[Case]:
    out = [Case("check", c.name, PASS if c.passed else FAIL, c.message) for c in check.checks]
    return out + [Case("check", s.name, SKIP, s.reason) for s in check.skipped]


def compare_cases(compare: CompareReport, model: str) -> list[Case]:
    """One case per candidate, with its own verdict (a twin's is the tokenizer's it loaded; one
    that fails unjudged is skipped, saying so), and one for the corpora when there are any."""
    out = []
    for c in compare.candidates:
        outcome, why = compare.candidate_verdict(c)
        lines = [f"{c.name} ({c.cls}) {c.summary()}", *([why] if why else [])]
        lines += compare.tally_caveats(c)
        if outcome == verdict.FAILED:
            lines += [*render.counterexamples(c), f"next: {advice(compare, model)}"]
        state = SKIP if outcome == NOT_JUDGED else FAIL if outcome == verdict.FAILED else PASS
        out.append(Case("compare", c.name, state, "\n".join(lines)))
    for u in compare.unavailable:
        if u.failed:
            failed = u.name in compare.judged
            why = f"{u.name} {u.reason}" + (f"; next: {advice(compare, model)}" if failed else "")
            out.append(Case("compare", u.name, FAIL if failed else SKIP, why))
        else:
            out.append(Case("compare", u.name, SKIP, f"{u.name} does not apply here: {u.reason}"))
    if counts := compare.inputs.get("corpus_counts"):
        said = "; ".join(
            f"{c['path']}: {c['judged']} judged, {c['skipped']} skipped" for c in counts
        )
        too_many = compare.too_many_skipped
        out.append(Case("compare", "corpus", FAIL if too_many else PASS, too_many or said))
    return out + gguf_cases(compare.ggufs)


def gguf_cases(reports: Sequence[GGUFReport]) -> list[Case]:
    """One case per static finding on each GGUF, named by the check (and the file, where there
    are several)."""
    out = []
    for g, label in zip(reports, labels([Path(g.path) for g in reports]), strict=True):
        for c in g.checks:
            name = c.name if len(reports) == 1 else f"{c.name}:{label}"
            message = "" if c.passed else f"{g.path}: {c.message}"
            out.append(Case("compare", name, PASS if c.passed else FAIL, message))
    return out


def roundtrip_cases(roundtrip: RoundtripReport) -> list[Case]:
    return [
        Case(
            "roundtrip",
            p.name,
            PASS if p.passed else FAIL,
            f"{p.name}: {p.detail}; replay: {p.replay}" if not p.passed else "",
        )
        for p in roundtrip.properties
    ]


def junit_xml(cases: Sequence[Case], model: str) -> ET.ElementTree:
    """One testcase per case, named for ``model``; skipped ones carry their reason."""
    suites = ET.Element("testsuites", name="tokcheck")
    by_suite: dict[str, list[Case]] = {}
    for case in cases:
        by_suite.setdefault(case.suite, []).append(case)
    for suite_name, items in by_suite.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"tokcheck.{suite_name}",
            tests=str(len(items)),
            failures=str(sum(c.outcome == FAIL for c in items)),
            errors="0",
            skipped=str(sum(c.outcome == SKIP for c in items)),
        )
        for c in items:
            element = ET.SubElement(
                suite,
                "testcase",
                classname=f"tokcheck.{suite_name}",
                name=f"{c.name}[{model}]",
            )
            if c.outcome != PASS:
                first = c.message.splitlines()[0] if c.message else c.outcome
                tag = "failure" if c.outcome == FAIL else "skipped"
                ET.SubElement(element, tag, message=first).text = c.message
    ET.indent(suites)
    return ET.ElementTree(suites)
