"""A report as the output formats see it: its text form, its test cases, and the parts that
annotations and summaries point into (the compare report, the gate's steps).

The formats themselves are :mod:`tokcheck.report.formats`'s; this module stays light to import,
so that ``tokcheck check`` loads nothing it does not need (its cases are built only when a
format asks for them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokcheck.checks.rules import CheckReport
    from tokcheck.compare.report import CompareReport
    from tokcheck.report.cases import Case

# What --format accepts: text as people read it, JSON, GitHub workflow commands, a Markdown
# summary, JUnit XML.
FORMATS = ("text", "json", "github", "markdown", "junit")


@dataclass(frozen=True)
class View:
    """A report of ``command`` on ``model`` (the MODEL argument), and what each format needs."""

    command: str
    # The report itself: to_dict(), verdict and caveats.
    report: Any
    text: Callable[[Any], str]
    model: str
    cases: Callable[[], list[Case]]
    compare: CompareReport | None = None
    # The gate's step verdicts, and the next steps it advises.
    steps: Mapping[str, str] = field(default_factory=dict)
    next_steps: Sequence[str] = ()

    @cached_property
    def rendered(self) -> str:
        """The text report, rendered once for every format that shows it or a line of it."""
        return self.text(self.report)

    @property
    def verdict_line(self) -> str:
        """The text report's last line: the verdict, what it rests on, and the releases."""
        lines = self.rendered.splitlines()
        return lines[-1] if lines else str(self.report.verdict)


def checked(report: CheckReport, model: str, text: Callable[[Any], str], seconds: float) -> View:
    """``tokcheck check``'s report, which took ``seconds``."""

    def cases() -> list[Case]:
        from tokcheck.report.cases import check_cases, timed

        return timed(check_cases(report), seconds)

    return View(command="check", report=report, text=text, model=model, cases=cases)


def compared(report: CompareReport, model: str, text: Callable[[Any], str]) -> View:
    """``tokcheck compare``'s report."""

    def cases() -> list[Case]:
        from tokcheck.report.cases import compare_cases, timed

        return timed(compare_cases(report, model), report.elapsed_s)

    return View("compare", report, text, model, cases, compare=report)
