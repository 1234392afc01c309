"""The gate's test cases, as pytest and JUnit show them: one per check (applied or skipped), per
candidate (with the verdict of the tokenizer it loaded), per GGUF finding, per property.

:func:`tokcheck.gate.cases` gathers a gate report's; the pytest plugin asks each step's as its
items run; :func:`junit_xml` writes them, each named for the model as :func:`shown_name` words
it (never an absolute path), with the seconds its step took.
"""

from __future__ import annotations

import dataclasses
import os
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

# What a test case is in pytest and JUnit: passed, failed, or skipped (with its reason); an
# error is a run that ended in exit 2 (unusable input), so judged nothing.
PASS, FAIL, SKIP, ERROR = "passed", "failed", "skipped", "error"


@dataclass(frozen=True)
class Case:
    """One test case of the gate, as pytest and JUnit show it."""

    suite: str
    name: str
    outcome: str
    message: str = ""
    # Seconds: the case's share of its step's time (None: not measured).
    time: float | None = None
    # Where a check's finding lives (see CheckResult): the file, and the line in a JSON file.
    file: str | None = None
    line: int | None = None


def timed(cases: Sequence[Case], seconds: float | None) -> list[Case]:
    """``cases`` of one step that took ``seconds``, shared evenly: they were judged together,
    so the step's time is what is known, and the cases' times add up to it."""
    if seconds is None or not cases:
        return list(cases)
    return [dataclasses.replace(c, time=seconds / len(cases)) for c in cases]


def shown_name(model: str) -> str:
    """``model`` (a MODEL argument) as test names show it, never an absolute path: a path under
    the current directory relative to it, any other path by its name; a hub id as it is."""
    path = Path(model)
    if not path.is_absolute() and ".." not in path.parts:
        return model
    try:
        absolute, here = Path(os.path.abspath(path)), Path.cwd()
    except OSError:  # the current directory was removed
        return path.name or model
    if absolute != here and absolute.is_relative_to(here):
        return absolute.relative_to(here).as_posix()
    return absolute.name or model


def workspace_path(path: str) -> str | None:
    """``path`` relative to the workspace (``GITHUB_WORKSPACE``, else the current directory)
    when it lies under it, else None: how annotations and JUnit name a file."""
    try:
        base = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd()).absolute()
        absolute = Path(os.path.abspath(path))
    except OSError:  # the current directory was removed
        return None
    return absolute.relative_to(base).as_posix() if absolute.is_relative_to(base) else None


def check_cases(check: CheckReport) -> list[Case]:
    out = [
        Case("check", c.name, PASS if c.passed else FAIL, c.message, file=c.file, line=c.line)
        for c in check.checks
    ]
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
            out.append(Case("compare", name, PASS if c.passed else FAIL, message, file=c.file))
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
    """One testcase per case, named for ``model`` (see :func:`shown_name`); skipped ones carry
    their reason, errors the one-line error. Times are in seconds, where measured. A check's
    case carries ``file`` (relative to the workspace, and only where the file lies under it)
    and ``line`` (1-based, where known)."""
    name = shown_name(model)
    suites = ET.Element("testsuites", {"name": "tokcheck", **_counts(cases)})
    by_suite: dict[str, list[Case]] = {}
    for case in cases:
        by_suite.setdefault(case.suite, []).append(case)
    for suite_name, items in by_suite.items():
        suite = ET.SubElement(
            suites, "testsuite", {"name": f"tokcheck.{suite_name}", **_counts(items)}
        )
        for c in items:
            attributes = {"classname": f"tokcheck.{suite_name}", "name": f"{c.name}[{name}]"}
            if c.time is not None:
                attributes["time"] = _seconds(c.time)
            if c.file is not None and (file := workspace_path(c.file)) is not None:
                attributes["file"] = file
                if c.line is not None:
                    attributes["line"] = str(c.line)
            element = ET.SubElement(suite, "testcase", attributes)
            if c.outcome != PASS:
                first = c.message.splitlines()[0] if c.message else c.outcome
                tag = {FAIL: "failure", ERROR: "error"}.get(c.outcome, "skipped")
                ET.SubElement(element, tag, message=first).text = c.message
    ET.indent(suites)
    return ET.ElementTree(suites)


def _counts(cases: Sequence[Case]) -> dict[str, str]:
    """A testsuite's (or the testsuites') attributes: the counts, and the time where known."""
    out = {
        "tests": str(len(cases)),
        "failures": str(sum(c.outcome == FAIL for c in cases)),
        "errors": str(sum(c.outcome == ERROR for c in cases)),
        "skipped": str(sum(c.outcome == SKIP for c in cases)),
    }
    times = [c.time for c in cases if c.time is not None]
    return {**out, "time": _seconds(sum(times))} if times else out


def _seconds(value: float) -> str:
    return f"{value:.3f}"
