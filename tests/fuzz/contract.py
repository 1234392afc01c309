"""The CLI contract: the ways one run's outcome breaks it, each a "KIND: detail" string.

Judges exit codes, escaped exceptions and hangs, stderr's one-line error rule, tracebacks and
last-resort messages, strict JSON on stdout, and what a failed export leaves behind. It judges
only the contract, never whether a verdict is right, and runs nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .outcome import EXIT_CODES, Outcome, one_line

# A last-resort handler's words in tokcheck's own lines: the CLI's ("unexpected ValueError: …
# (a tokcheck bug: please report it)") and any "internal error". A precise message about the
# input may quote a library's reason that uses the word ("a charsmap entry is not UTF-8
# (unexpected end of data)", json's "Unexpected UTF-8 BOM"): that is not one.
# The exception's name is matched case-sensitively: it is capitalised, the quoted reason is not.
_INTERNAL = re.compile(r"(?i:unexpected) [A-Z]\w*:|(?i:a tokcheck bug|internal error)")


def check_contract(outcome: Outcome) -> list[str]:
    """The ways ``outcome`` breaks the CLI contract, each "KIND: detail"; empty when it keeps it.

    KIND (before the first ": ") names the class a violation is grouped under.
    """
    stderr = outcome.stderr.decode("utf-8", "backslashreplace")
    lines = stderr.splitlines()
    violations = _ending_violations(outcome)
    if outcome.signal_line and outcome.code not in EXIT_CODES:
        violations += _signal_violations(outcome, stderr, lines)
    else:
        violations += _stderr_violations(outcome.code, stderr, lines)
    violations += _json_violations(outcome)
    violations += _export_violations(outcome)
    violations += _process_violations(outcome)
    return violations


def _ending_violations(outcome: Outcome) -> list[str]:
    """How the run ended, when it did not end with an exit code of the contract."""
    if outcome.timed_out:
        return [f"hang: {outcome.exception}"]
    if outcome.exception is not None:
        kind, _, message = outcome.exception.partition(": ")
        return [f"exception {kind}: {message}"]
    if outcome.code not in outcome.allowed_codes:
        allowed = "/".join(map(str, outcome.allowed_codes))
        return [f"exit code not {allowed}: {outcome.code}"]
    return []


def _stderr_violations(code: int | None, stderr: str, lines: list[str]) -> list[str]:
    """Exit 2's one prefixed line, no traceback, and no last-resort message on stderr."""
    violations = []
    if code == 2 and len(lines) != 1:
        extra = next((ln for ln in lines if not ln.startswith("tokcheck: error: ")), "")
        violations.append(
            f"exit 2 with {'no' if not lines else 'more than one'} line on stderr: "
            f"{len(lines)} lines, e.g. {one_line(extra or stderr, 120)!r}"
        )
    elif code == 2 and not lines[0].startswith("tokcheck: error: "):
        violations.append(
            f"exit 2 line without tokcheck's error prefix: {one_line(lines[0], 120)!r}"
        )
    if "Traceback" in stderr:
        violations.append("traceback on stderr: " + one_line(stderr[-200:]))
    if internal := _internal_error_line(lines):
        violations.append(f"internal-error line on stderr: {one_line(internal, 120)!r}")
    return violations


def _signal_violations(outcome: Outcome, stderr: str, lines: list[str]) -> list[str]:
    """A run its signal ended says so in one line (128 + signal), or nothing at all when the
    signal's default action ended it (-signal: before the handlers, or a second signal)."""
    if "Traceback" in stderr:
        return ["traceback on stderr: " + one_line(stderr[-200:])]
    code = outcome.code
    if code is not None and code < 0:
        return []
    if lines != [outcome.signal_line]:
        shown = one_line(stderr, 120) if stderr else "nothing"
        return [f"signal exit {code} without its one line {outcome.signal_line!r}: {shown!r}"]
    return []


def _process_violations(outcome: Outcome) -> list[str]:
    """What a process case found beyond the exit: processes left, data lost, a bound overrun."""
    violations = []
    if outcome.left:
        violations.append(f"processes left running: {len(outcome.left)}, e.g. {outcome.left[0]}")
    if outcome.lost:
        violations.append(f"model data lost: {', '.join(outcome.lost)}")
    if outcome.late:
        violations.append(f"bound overrun: {outcome.late}")
    return violations


def _internal_error_line(lines: list[str]) -> str | None:
    """The first of tokcheck's own lines that reads like a last-resort handler's, if any."""
    for line in lines:
        if not line.startswith("tokcheck"):
            continue
        if _INTERNAL.search(line):
            return line
    return None


def _json_violations(outcome: Outcome) -> list[str]:
    # An escaped exception or an exit 2 is judged on its own; neither promises JSON.
    json_expected = outcome.case.json and outcome.code in (0, 1) and outcome.exception is None
    if json_expected and (problem := _json_problem(outcome.stdout)):
        return [problem]
    return []


def _export_violations(outcome: Outcome) -> list[str]:
    """What an export that did not succeed left behind."""
    code = outcome.code
    if outcome.case.outdir is None or code == 0:
        return []
    violations = []
    # A signal that came after the rename: the export is whole, its exit the signal's.
    whole = outcome.signal_line is not None and "tokcheck_export.json" in outcome.outdir_left
    if outcome.outdir_left and not whole:
        violations.append(f"export left a partial OUTDIR on exit {code}: {outcome.outdir_left}")
    # A process its signal's default action ended (-signal) could not clean up after itself.
    killed = code is not None and code < 0
    if outcome.staging_left and not killed:
        violations.append(f"export left staging directories on exit {code}: {outcome.staging_left}")
    return violations


def _json_problem(stdout: bytes) -> str | None:
    """Why ``stdout`` is not one strict RFC 8259 JSON document, or None when it is."""
    if not stdout.strip():
        return "--json printed no JSON: stdout is empty"
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"--json output not UTF-8: {e.reason} at byte {e.start}"

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard constant {constant}")

    try:
        data = json.loads(text, parse_constant=refuse)
    except ValueError as e:  # JSONDecodeError included
        kind = "NaN/Infinity" if "constant" in str(e) else "invalid JSON"
        return f"--json output {kind}: {one_line(str(e), 120)}"
    except RecursionError:
        return "--json output invalid JSON: nested too deeply to parse"
    if surrogate := _lone_surrogate(data):
        return f"--json output has a lone surrogate: {surrogate!r}"
    return None


def _lone_surrogate(data: Any) -> str | None:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= c <= "\udfff" for c in item):
                return item[:40]
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def violation_class(violation: str) -> str:
    return violation.split(": ", 1)[0]
