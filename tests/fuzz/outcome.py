"""What one run of a case did, as seen from outside, and how reports quote text.

``runner`` (in-process) and ``process`` (a real process) fill an :class:`Outcome`; ``contract``
judges it. Nothing here runs or judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Case

EXIT_CODES = (0, 1, 2)


@dataclass
class Outcome:
    """What one run of ``main`` did, as seen from outside: exit code, bytes on fds 1 and 2."""

    case: Case
    code: int | None
    stdout: bytes
    stderr: bytes
    elapsed_s: float
    exception: str | None = None  # "Type in tokcheck/module.py:function: message"
    traceback: str | None = None
    timed_out: bool = False
    outdir_left: list[str] = field(default_factory=list)
    staging_left: list[str] = field(default_factory=list)
    # What a process case records beyond that (see ``process``).
    allowed_codes: tuple[int, ...] = EXIT_CODES  # a signal adds 128 + signal and -signal
    signal_line: str | None = None  # the one line a run ended by its signal prints
    left: list[str] = field(default_factory=list)  # processes of its session left running
    lost: list[str] = field(default_factory=list)  # model files deleted or changed
    late: str | None = None  # a promised bound overrun, and by how much
    note: str = ""  # how the scenario was arranged, where it differs from the case
    ended: float | None = None  # time.monotonic() at the exit


def one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters: how violations and reports quote it."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
