"""Ctrl-C while tokcheck is still starting: one line and exit 130, never a traceback.

The command's modules take a few hundred milliseconds to import. Python's own SIGINT handler
raises KeyboardInterrupt inside whichever import is running then, and nothing of tokcheck's is
there yet to turn it into the one line the CLI prints later on, so the user got a traceback.
:func:`guard`, the first thing the program does (:mod:`tokcheck.__main__`), makes SIGINT end the
process at once with that line and code: nothing has been written or started by then, so there
is nothing to clean up. :func:`release` gives Ctrl-C back to KeyboardInterrupt once
:func:`tokcheck.cli.main` is inside the block that handles it (unwinding what runs, as the rest
of the run does). This module imports only what the interpreter has loaded already, so that the
guard is in place within a millisecond of tokcheck's first line.
"""

from __future__ import annotations

import contextlib
import os
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

LINE = b"tokcheck: interrupted\n"
# 128 + SIGINT, what a shell reports for a process Ctrl-C ended (the CLI's code for it too).
EXIT_INTERRUPTED = 130


def _interrupted(signum: int, frame: FrameType | None) -> None:
    with contextlib.suppress(OSError):  # no stderr to say it on: the exit code says it
        os.write(2, LINE)
    os._exit(EXIT_INTERRUPTED)


def guard() -> None:
    """Until :func:`release`, SIGINT ends the process with the one line and exit 130; where
    SIGINT is ignored (a background job of a shell without job control), it stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)


def release() -> None:
    """SIGINT raises KeyboardInterrupt again, if :func:`guard` had it end the process (in the
    program only: a caller of :func:`tokcheck.cli.main` keeps its own handler)."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)
