"""GitHub Actions: a report as workflow commands, and the step summary.

``--format github`` prints one annotation per finding, then the plain verdict line: an
``::error file=PATH,line=N::`` on each corpus line where a judged candidate diverges (a
``::warning`` for a tie that only weakens the pass), an ``::error::`` for every other failure
(with ``file=`` and ``line=`` where a failed check is about a file: the model file, the line of
a key in a Hugging Face JSON file, a GGUF), and a ``::warning::`` for every caveat and warning.
Data and properties are escaped as GitHub's workflow-command parser expects, so no text of a
model or a corpus can end an annotation or start a command of its own.

:func:`append_step_summary` adds the Markdown summary to the file ``GITHUB_STEP_SUMMARY`` names,
as GitHub's own steps do; a summary that cannot be written is a warning, never a failed run.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from tokcheck import verdict
from tokcheck.compare.report import CompareReport
from tokcheck.errors import one_line
from tokcheck.inputs.corpus import corpus_format, is_url
from tokcheck.judge.tally import Counterexample, Tally
from tokcheck.report import render
from tokcheck.report.cases import ERROR, FAIL, Case, workspace_path
from tokcheck.report.terminal import inert
from tokcheck.report.view import View
from tokcheck.system.paths import kind, shown


def escape_data(text: str) -> str:
    """A command's message as the runner reads it back: ``%``, CR and LF percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value (file, title): the message's escapes, and ``:`` and ``,``, which end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **properties: str | int) -> str:
    """``::level key=value,...::message``, escaped."""
    said = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items())
    return f"::{level}{' ' + said if said else ''}::{escape_data(message)}"


def workflow_commands(view: View) -> str:
    """The annotations of ``view``'s report, then its plain verdict line."""
    return "\n".join([*annotated(view), inert(view.verdict_line)])


def annotated(view: View) -> list[str]:
    """The annotations of ``view``'s report: corpus lines, failures, then caveats and warnings."""
    out = list(_corpus_lines(view.compare)) if view.compare is not None else []
    # A twin's findings are another candidate's: its annotation says so, without repeating them.
    twins = {t.name for t in view.compare.candidates if t.same_as} if view.compare else set()
    for case in view.cases():
        if case.outcome in (FAIL, ERROR):
            message = case.message or case.outcome
            if case.suite == "compare" and case.name in twins:
                message = "\n".join(message.splitlines()[:2])
            title = f"tokcheck {case.suite}: {case.name}"
            out.append(command("error", message, **_place(case), title=title))
    warnings = [*view.report.caveats, *(view.compare.warnings if view.compare else [])]
    out += [
        command("warning", w, title=f"tokcheck {view.command}") for w in dict.fromkeys(warnings)
    ]
    return out


def _corpus_lines(compare: CompareReport) -> Iterator[str]:
    """An annotation on each corpus line where a judged candidate (not a twin: its lines are the
    other's) diverges or ties; elsewhere (probes, generated text) the failed case says it."""
    corpora = [c for c in compare.inputs.get("corpora", []) if _annotatable(c)]
    for tally in compare.judged_tallies:
        if tally.same_as is not None:
            continue
        failed = compare.candidate_verdict(tally)[0] == verdict.FAILED
        for example in tally.counterexamples:
            if where := _file_line(example.origin, corpora):
                level = "error" if failed else "warning"
                yield _annotation(level, "diverges from sentencepiece", tally, example, *where)
        for example in tally.ties:
            if where := _file_line(example.origin, corpora):
                level = "error" if failed and compare.strict else "warning"
                yield _annotation(level, "ties with sentencepiece", tally, example, *where)


def _annotation(
    level: str, what: str, tally: Tally, example: Counterexample, file: str, line: int
) -> str:
    lines = render.counterexample(example, tally.name)
    message = "\n".join([f"{tally.name} ({tally.cls}) {what} on this line", *lines])
    title = f"tokcheck: {tally.name} {what} ({', '.join(example.kinds)})"
    return command(level, message, file=file, line=line, title=title)


def _annotatable(corpus: str) -> bool:
    """A corpus whose line numbers are lines of a file in the workspace: local, uncompressed,
    text or JSONL (a Parquet record is a row, which an annotation cannot point at)."""
    if is_url(corpus):
        return False
    fmt = corpus_format(corpus)
    return fmt.kind != "parquet" and fmt.compression is None


def _file_line(origin: str, corpora: Sequence[str]) -> tuple[str, int] | None:
    """(file, line) where ``origin`` is ``CORPUS:LINE`` of one of ``corpora``, else None."""
    for corpus in corpora:
        number = origin.removeprefix(f"{corpus}:")
        if number != origin and number.isdigit():
            return _workspace_path(corpus), int(number)
    return None


def _workspace_path(path: str) -> str:
    """``path`` as annotations name files: relative to the workspace (GITHUB_WORKSPACE, else the
    current directory) when it lies under it, else as given."""
    return workspace_path(path) or path


def _place(case: Case) -> dict[str, str | int]:
    """The ``file`` and ``line`` of a failed check's annotation, where it is about a file."""
    if case.file is None:
        return {}
    place: dict[str, str | int] = {"file": _workspace_path(case.file)}
    return place if case.line is None else {**place, "line": case.line}


def append_step_summary(path: str, markdown: str) -> bool:
    """Append ``markdown`` to the step summary file ``path``; say why on stderr, in one warning
    line, if it cannot be written (it is not a regular file, say), and return whether it was."""
    try:
        if kind(Path(path)) not in (None, "file"):
            raise IsADirectoryError(errno.EISDIR, "not a regular file")
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as summary:
            summary.write(markdown.rstrip("\n") + "\n")
    except OSError as e:
        why = one_line(e.strerror or str(e))
        print(
            f"tokcheck: warning: cannot append to GITHUB_STEP_SUMMARY ({shown(path)}): {why}",
            file=sys.stderr,
        )
        return False
    return True
