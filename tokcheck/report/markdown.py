"""A report as a Markdown summary, for a pull request or GitHub's step summary.

The verdict first, then a table of the gate's steps, a candidate x verdict table, the failures,
each failing candidate's counterexamples in fenced blocks, the caveats and the next steps, and
last the plain verdict line. Text from the model or a corpus is escaped so that it stays text:
it cannot close a table cell, a code fence or start HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tokcheck import verdict
from tokcheck.compare.fix import Fix
from tokcheck.compare.report import CompareReport
from tokcheck.report import render
from tokcheck.report.cases import ERROR, FAIL, SKIP, shown_name
from tokcheck.report.view import View

_MARK = {verdict.PASSED: "✅", verdict.CAVEATS: "⚠️", verdict.FAILED: "❌", SKIP: "⏭️"}
# What Markdown would read as markup in a table cell or a line of text.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~#])")


def summary(view: View) -> str:
    """The Markdown summary of ``view``'s report."""
    outcome = view.report.verdict
    heading = f"tokcheck {view.command} {shown_name(view.model)}: {outcome}"
    out = [" ".join(filter(None, ("##", _MARK.get(outcome), text(heading)))), ""]
    if view.steps:
        out += table(("step", "verdict"), [(s, _verdict(v)) for s, v in view.steps.items()])
    cases = view.cases()
    if view.compare is not None:
        out += candidates(view.compare)
    elif not view.steps:  # tokcheck check: its checks
        out += table(("check", "verdict"), [(c.name, _verdict(c.outcome)) for c in cases])
    # The candidates' verdicts are in their table; the other failures are listed.
    tabled = {t.name for t in view.compare.candidates} if view.compare else set()
    tabled |= {u.name for u in view.compare.unavailable} if view.compare else set()
    failed = [
        c
        for c in cases
        if c.outcome in (FAIL, ERROR) and not (c.suite == "compare" and c.name in tabled)
    ]
    if failed:
        out += ["**Failed**", ""]
        out += [f"- {text(f'{c.suite} {c.name}')}: {text(_first(c.message))}" for c in failed]
        out.append("")
    if view.compare is not None:
        out += counterexamples(view.compare)
    out += _bullets("Caveats", view.report.caveats)
    out += _bullets("Warnings", view.compare.warnings if view.compare else [])
    out += _bullets("Next steps", view.next_steps)
    if view.compare is not None and (found := view.compare.fix) is not None:
        out += fix(found)
    out.append(text(view.verdict_line))
    return "\n".join(out)


def candidates(compare: CompareReport) -> list[str]:
    """The candidate x verdict table: each candidate compared, and each that did not load."""
    rows = []
    for t in compare.candidates:
        outcome, why = compare.candidate_verdict(t)
        rows.append((t.name, t.cls, t.summary() + (f" ({why})" if why else ""), _verdict(outcome)))
    for u in compare.unavailable:
        failed = u.failed and u.name in compare.judged
        rows.append((u.name, "-", u.reason, _verdict(verdict.FAILED) if failed else "not run"))
    if not rows:
        return []
    return table(("candidate", "class", "result", "verdict"), rows)


def counterexamples(compare: CompareReport) -> list[str]:
    """Each failing judged candidate's shortest counterexamples (and ties), in a fenced block."""
    out = []
    for t in compare.judged_tallies:
        if compare.accepts(t) or t.same_as:
            continue
        lines = render.counterexamples(t)
        if lines:
            out += [f"**{text(t.name)}**: counterexamples", "", *fenced(lines), ""]
    return out


def fix(found: Fix) -> list[str]:
    """The fix block (see :func:`tokcheck.report.render.fix`): the export command and the
    loading lines in code blocks, and the files to ship."""
    files = ", ".join(f"`{f}`" for f in found.files)
    return [
        f"**Fix**: {text(found.said)}",
        "",
        "Export an exact tokenizer.json, verified against sentencepiece:",
        "",
        *fenced([found.command], "sh"),
        "",
        "Then load it:",
        "",
        *fenced(found.load, "python"),
        "",
        f"And ship these files beside the weights: {files}",
        "",
    ]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table, each cell escaped; then a blank line."""
    out = [_row(headers), "|" + "|".join("---" for _ in headers) + "|"]
    return [*out, *(_row(r) for r in rows), ""]


def fenced(lines: Sequence[str], lang: str = "text") -> list[str]:
    """``lines`` in a code block whose fence is longer than any run of backticks in them."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", *lines, fence]


def text(value: str) -> str:
    """``value`` as one line of Markdown text that shows as written."""
    return _MARKUP.sub(r"\\\1", " ".join(value.split())).replace("&", "&amp;")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(text(c) for c in cells) + " |"


def _verdict(outcome: str) -> str:
    return f"{_MARK[outcome]} {outcome}" if outcome in _MARK else outcome


def _first(message: str) -> str:
    return message.splitlines()[0] if message else ""


def _bullets(title: str, items: Sequence[str]) -> list[str]:
    if not items:
        return []
    return [f"**{title}**", "", *(f"- {text(i)}" for i in dict.fromkeys(items)), ""]
