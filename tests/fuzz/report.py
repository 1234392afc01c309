"""The report of a batch: results per command, and violations grouped by class, each class
with its smallest case as the reproducer and the command that replays it.

Formats only; it runs and judges nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .contract import violation_class
from .outcome import one_line
from .pool import Result


@dataclass
class ViolationClass:
    kind: str
    count: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    example: Result | None = None
    detail: str = ""


def group(results: Sequence[Result]) -> dict[str, ViolationClass]:
    """Violations grouped by class, each with its smallest case as the reproducer."""
    classes: dict[str, ViolationClass] = {}
    for r in results:
        for v in r.violations:
            kind = violation_class(v)
            c = classes.setdefault(kind, ViolationClass(kind))
            c.count += 1
            c.commands[r.command] += 1
            if c.example is None or (r.size, r.key) < (c.example.size, c.example.key):
                c.example, c.detail = r, v
    return dict(sorted(classes.items(), key=lambda kv: -kv[1].count))


def format_report(
    results: Sequence[Result],
    elapsed_s: float | None = None,
    families: Sequence[str] | None = None,
) -> str:
    """The batch's summary; ``families``, when the batch was restricted to them, goes into
    each replay command (a case depends on the families it was drawn from)."""
    out = []
    per_command: dict[str, list[Result]] = {}
    for r in results:
        per_command.setdefault(r.command, []).append(r)
    failing = sum(bool(r.violations) for r in results)
    head = f"{len(results)} cases, {failing} with violations"
    out.append(head + (f", {elapsed_s:.1f} s wall" if elapsed_s is not None else ""))
    for command, rs in sorted(per_command.items()):
        busy = sum(r.elapsed_s for r in rs)
        rate = len(rs) / busy if busy else float("inf")
        codes = Counter(r.code for r in rs)
        bad = sum(bool(r.violations) for r in rs)
        out.append(
            f"  {command:10} {len(rs):5} cases  {rate:7.1f} cases/s per worker  "
            f"exit codes {dict(sorted(codes.items(), key=str))}  {bad} with violations"
        )
    for c in group(results).values():
        e = c.example
        assert e is not None
        out.append(
            f"\n[{c.count}x] {c.kind}  ({', '.join(f'{k} {n}' for k, n in c.commands.items())})"
        )
        out.append(f"  smallest: {e.key} ({e.size} bytes) {e.description}")
        out.append(f"  argv: tokcheck {' '.join(e.argv)}")
        restricted = f" --families {','.join(families)}" if families else ""
        out.append(f"  replay: python -m tests.fuzz --replay {e.key}{restricted}")
        out.append(f"  {one_line(c.detail, 300)}")
    return "\n".join(out)
