"""A compare or gate report as one self-contained HTML page (``--html FILE``).

The page holds its own CSS and nothing else: no script, no font, no image, no address of any
kind, so it opens offline, from a CI artifact, as it was written. It shows the verdict, a
candidate x divergence-kind table, what was judged from each source, and each counterexample as
the two segmentations side by side, sentencepiece's above the candidate's, aligned on the id
where they part (ties marked as ties). Every text from a report is escaped: a line of a corpus is
anybody's text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from tokcheck import verdict
from tokcheck.compare.report import CompareReport
from tokcheck.judge.tally import KINDS, TIES, Counterexample, Tally
from tokcheck.report.view import View
from tokcheck.system import atomic

# Characters that would hide or reorder what is shown (controls, bidi overrides, zero-width
# marks, line and paragraph separators): shown as escapes instead.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)

_CLASSES = {
    verdict.PASSED: "passed",
    verdict.CAVEATS: "caveats",
    verdict.FAILED: "failed",
    verdict.ERROR: "failed",
}

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:24px 0 8px}h3{font-size:15px}
.verdict{display:inline-block;padding:4px 12px;border-radius:6px;font-weight:700;color:#fff}
.verdict.passed{background:#1a7f37}.verdict.caveats{background:#9a6700}
.verdict.failed{background:#cf222e}.verdict.not-judged{background:#6e7781}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d7de;padding:3px 8px}
th{background:#f6f8fa;text-align:left;font-size:12px}.cls{font-size:11px;word-break:break-all}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.zero{color:#8c959f}td.hit{background:#ffebe9;color:#82071e;font-weight:600}
td.tiehit{background:#fff8c5;color:#7d4e00;font-weight:600}
.example{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:10px 0}
.example.tie{border-color:#d4a72c;background:#fffdf0}
.kind{display:inline-block;border-radius:10px;padding:0 8px;margin-right:4px;font-size:12px;
background:#ffebe9;color:#82071e}.kind.tie{background:#fff8c5;color:#7d4e00}
code,.piece{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
code{background:#eaeef2;border-radius:3px;padding:0 2px}
.align td{border:none;padding:2px}.align th{background:none;border:none;font-weight:600;
white-space:nowrap;padding-right:10px}
.piece{display:inline-block;border-radius:4px;padding:1px 5px;min-width:1em;text-align:center}
.same{background:#ddf4ff;color:#0a3069}.ref{background:#dafbe1;color:#116329}
.cand{background:#ffebe9;color:#82071e}.tie .cand{background:#fff8c5;color:#7d4e00}
.first{outline:2px solid #cf222e}.tie .first{outline-color:#bf8700}
.muted{color:#57606a}.pos{color:#8c959f;font-size:11px;text-align:center}
"""


def page(view: View) -> str:
    """``view``'s report as a whole HTML page; a gate's shows its steps too."""
    report: Any = view.report
    shown = str(report.verdict)
    title = f"tokcheck {view.command}: {view.model}"
    # The text report's verdict line, less the verdict the badge shows.
    line = view.verdict_line.removeprefix(f"{shown}: ").removeprefix(shown)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p id="verdict">{_verdict(shown)} <span class="muted">{_e(line)}</span></p>',
    ]
    if view.steps:
        rows = "".join(
            f"<tr><td>{_e(s)}</td><td>{_verdict(v)}</td></tr>" for s, v in view.steps.items()
        )
        parts.append(
            f'<h2>Steps</h2><table id="steps"><tr><th>step</th><th>verdict</th></tr>{rows}</table>'
        )
    steps = list(view.next_steps) or [s for s in [getattr(report, "next_step", None)] if s]
    if steps:
        parts.append("<h2>Next step</h2>" + "".join(f"<p>{_e(s)}</p>" for s in steps))
    if (compare := view.compare) is not None:
        parts += [_candidates(compare), _sources(compare.inputs), _examples(compare)]
    caveats = list(getattr(report, "caveats", []))
    if caveats:
        parts.append(
            "<h2>Caveats</h2><ul>" + "".join(f"<li>{_e(c)}</li>" for c in caveats) + "</ul>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(view: View, path: Path) -> None:
    """Write :func:`page` to ``path`` atomically: a reader never sees half a page."""
    data = page(view).encode("utf-8", "backslashreplace")

    def put(handle: BinaryIO) -> None:
        handle.write(data)

    atomic.write_file(path, put)


def _e(text: object) -> str:
    """``text`` escaped for HTML, with what would hide or reorder it shown as escapes."""
    shown = _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))
    # A lone surrogate cannot be encoded: its escape instead.
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(shown, quote=True)


def _verdict(shown: str) -> str:
    kind = _CLASSES.get(shown, "not-judged")
    return f'<span class="verdict {kind}">{_e(shown)}</span>'


def _candidates(report: CompareReport) -> str:
    """The candidate x kind table: each candidate's verdict, lines, and count of each kind."""
    # Kind names break after their underscores: the table fits a page.
    head = "".join(f"<th>{_e(k).replace('_', '_<wbr>')}</th>" for k in KINDS)
    rows = []
    for tally in report.candidates:
        outcome, why = report.candidate_verdict(tally)
        cells = "".join(_count(k, n) for k, n in tally.counts().items())
        rows.append(
            f"<tr><td><b>{_e(tally.name)}</b><br><span class='muted cls'>{_e(tally.cls)}</span></td>"
            f"<td>{_verdict(outcome)}</td><td class=n>{tally.lines:,}</td>"
            f"<td class=n>{tally.differing:,}</td>{cells}"
            f"<td class=muted>{_e(why)}</td></tr>"
        )
    for u in report.unavailable:
        rows.append(
            f"<tr><td><b>{_e(u.name)}</b></td><td colspan={len(KINDS) + 4} class=muted>"
            f"{'FAIL' if u.failed else 'not compared'}: {_e(u.reason)}</td></tr>"
        )
    return (
        '<h2>Candidates</h2><table id="kinds"><tr><th>candidate</th><th>verdict</th>'
        f"<th>lines</th><th>differing</th>{head}<th>note</th></tr>{''.join(rows)}</table>"
        f"<p class=muted>tie: {_e(TIES)}.</p>"
    )


def _count(kind: str, n: int) -> str:
    if not n:
        return "<td class='n zero'>0</td>"
    return f"<td class='n {'tiehit' if kind == 'tie' else 'hit'}'>{n:,}</td>"


def _sources(inputs: dict[str, Any]) -> str:
    """Lines judged from each source: the generated ones, then each corpus file."""
    derived = int(inputs.get("derived", 0))
    rows: list[tuple[str, object, object]] = [
        ("probes", inputs.get("probes", 0), "built-in probe strings"),
        ("prompts", inputs.get("prompts", 0), "generated conversations in the prompt formats"),
        ("injection", inputs.get("injection", 0), "special tokens' names in text"),
        ("hypothesis", inputs.get("examples", 0), f"generated strings, seed {inputs.get('seed')}"),
        ("verification", int(inputs.get("verification", 0)) - derived, "export's samples"),
        ("derived", derived, "lines derived from the model's own pieces and charsmap"),
    ]
    for corpus in inputs.get("corpus_counts", []):
        skipped = corpus["skipped"]
        rows.append((f"corpus {corpus['path']}", corpus["judged"], f"{skipped} records skipped"))
    if inputs.get("exhaustive"):
        rows.append(("exhaustive", "", "every code point, piece and special name"))
    rows.append(("all lines", inputs.get("lines", 0), f"{inputs.get('bytes', 0):,} bytes"))
    body = "".join(
        f"<tr><td>{_e(name)}</td><td class=n>{_number(n)}</td><td class=muted>{_e(what)}</td></tr>"
        for name, n, what in rows
    )
    return (
        '<h2>Inputs</h2><table id="sources"><tr><th>source</th><th>lines</th><th></th></tr>'
        f"{body}</table>"
    )


def _number(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) else _e(n)


def _examples(report: CompareReport) -> str:
    """Each distinct candidate's counterexamples, then its ties: every one kept, the K
    shortest of each source of input, shortest first."""
    names = {t.name for t in report.candidates}
    out = ["<h2>Counterexamples</h2>"]
    if any(t.counterexamples or t.ties for t in report.candidates):
        k = max(t.show for t in report.candidates)
        out.append(
            f"<p class=muted>Kept per candidate: the {k} shortest diverging lines and the {k} "
            "shortest ties of each source of input (the probes, each corpus file…), shortest "
            "first.</p>"
        )
    shown = 0
    for tally in report.candidates:
        if tally.same_as is not None and tally.same_as in names:
            continue
        twins = [t.name for t in report.candidates if t.same_as == tally.name]
        examples = [
            *_each(tally, tally.counterexamples, tie=False),
            *_each(tally, tally.ties, tie=True),
        ]
        if not examples:
            continue
        also = (
            f" <span class=muted>(same tokenizer: {_e(', '.join(twins))})</span>" if twins else ""
        )
        out.append(f"<h3>{_e(tally.name)}{also}</h3>{_kept(tally)}")
        out += examples
        shown += len(examples)
    if not shown:
        out.append("<p>None: every candidate gave sentencepiece's ids and text.</p>")
    return "\n".join(out)


def _kept(tally: Tally) -> str:
    """How many lines are kept from each source, in the order sources first appear."""
    sources: dict[str, int] = {}
    for e in [*tally.counterexamples, *tally.ties]:
        sources[e.source] = sources.get(e.source, 0) + 1
    said = ", ".join(f"{_e(s or 'input')} {n}" for s, n in sources.items())
    return f"<p class='muted sources'>kept from each source: {said}</p>"


def _each(tally: Tally, examples: Iterable[Counterexample], *, tie: bool) -> list[str]:
    return [_example(tally.name, e, tie) for e in examples]


def _example(name: str, e: Counterexample, tie: bool) -> str:
    """One line: its text and origin, its kinds, and the two segmentations aligned."""
    kinds = "".join(
        f"<span class='kind{' tie' if k == 'tie' else ''}'>{_e(k)}</span>" for k in e.kinds
    )
    label = "<b>tie</b> (passes; --strict fails it) " if tie else ""
    width = max(len(e.reference_pieces), len(e.candidate_pieces))
    at = e.first_divergence - e.offset
    positions = "".join(f"<td class=pos>{e.offset + i}</td>" for i in range(width))
    rows = [f"<tr><th></th>{positions}</tr>"]
    for side, pieces, ids, own in (
        ("sentencepiece", e.reference_pieces, e.reference_ids, "ref"),
        (name, e.candidate_pieces, e.candidate_ids, "cand"),
    ):
        cells = []
        for i in range(width):
            if i >= len(pieces):
                cells.append("<td></td>")
                continue
            cls = "same" if i < at else own
            first = " first" if i == at else ""
            cells.append(
                f"<td><span class='piece {cls}{first}' title='id {ids[i]}'>{_e(pieces[i])}</span></td>"
            )
        rows.append(f"<tr><th>{_e(side)}</th>{''.join(cells)}</tr>")
    decoded = ""
    if e.reference_decoded != e.candidate_decoded:
        decoded = (
            f"<p>decoded: sentencepiece <code>{_e(e.reference_decoded)}</code>, {_e(name)} "
            f"<code>{_e(e.candidate_decoded)}</code></p>"
        )
    cut = " (ids from the first shown)" if e.offset else ""
    return (
        f"<div class='example{' tie' if tie else ''}' data-first-divergence='{e.first_divergence}'>"
        f"<p>{label}{kinds} <span class=muted>{_e(e.origin)}, first difference at id "
        f"{e.first_divergence}{cut}</span></p>"
        f"<p>text: <code>{_e(e.text)}</code></p>"
        f"<table class=align>{''.join(rows)}</table>{decoded}</div>"
    )
