"""SIGTERM and SIGHUP end tokcheck as Ctrl-C does, and worker processes end with their parent.

Within :func:`terminating`, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread, so
that what is running unwinds as on Ctrl-C: an engine stops its workers (abandoning the parts
they are judging) and a local Dask cluster is shut down, leaving no process or semaphore behind.
The CLI exits with ``128 + signal`` (143 for SIGTERM, 129 for SIGHUP), as a shell reports a
process the signal ended. A second such signal while the first unwinds ends the process at once.
An interrupt (these or Ctrl-C) raised where it cannot propagate, in a garbage collector callback,
is raised again rather than lost (see :func:`_rescue`).

:func:`bind_to_parent` makes a worker process die with the process that started it, however
that one ends (SIGKILL included): on Linux through ``prctl(PR_SET_PDEATHSIG)``, elsewhere by a
thread that watches the parent's pid.
"""

from __future__ import annotations

import _thread
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

# The signals that end tokcheck as Ctrl-C does, where this platform has them.
SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
# linux/prctl.h
_PR_SET_PDEATHSIG = 1
# Seconds between looks at the parent's pid, where prctl is not available.
_WATCH = 0.5
# Seconds before an interrupt that was raised where it could not propagate is raised again.
_AGAIN = 0.01


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: not an error, so ``except Exception`` lets it through."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """``128 + signal``, what a shell reports for a process the signal ended."""
        return 128 + self.signum


# The signals :func:`_raise` raised for in the current :func:`terminating` block.
_received: list[int] = []


def _raise(signum: int, frame: FrameType | None) -> None:
    # Once: a second signal during the unwinding is the default action, and ends the process.
    for number in SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    _received.append(signum)
    raise Terminated(signum)


def received() -> Terminated | None:
    """The termination a signal raised in the last :func:`terminating` block, whatever became of
    it: code that catches every exception (Hypothesis retrying a draw, and then raising
    ``FlakyStrategyDefinition``) may turn it into another error, which the signal caused."""
    return Terminated(_received[0]) if _received else None


@contextmanager
def terminating() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` during the block; outside the main thread
    (where Python cannot handle signals) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous: dict[int, Any] = {number: signal.signal(number, _raise) for number in SIGNALS}
    hook, sys.unraisablehook = sys.unraisablehook, _rescue(sys.unraisablehook)
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for number, handler in previous.items():
            signal.signal(number, handler)


def _rescue(hook: Any) -> Any:
    """An unraisable-exception hook that delivers an interrupt again instead of losing it.

    Python runs a signal's handler in whatever Python code the main thread is in, a garbage
    collector callback too (Hypothesis registers one); an exception raised there cannot
    propagate, so the interpreter prints "Exception ignored" and the run goes on as if the
    signal had never come. Here the signal is raised again a moment later, from a thread, so
    that it is handled once the callback has returned, where it can unwind.
    """

    def rescue(unraisable: Any) -> None:
        error = unraisable.exc_value
        if isinstance(error, KeyboardInterrupt):
            _later(_thread.interrupt_main)
        elif isinstance(error, Terminated):
            if threading.current_thread() is threading.main_thread():
                for number in SIGNALS:  # armed again, once, as before it was raised
                    signal.signal(number, _raise)
            # Elsewhere no handler can be set: the signal's default action ends the process.
            _later(os.kill, os.getpid(), error.signum)
        else:
            hook(unraisable)

    return rescue


def _later(call: Any, *args: Any) -> None:
    timer = threading.Timer(_AGAIN, call, args)
    timer.daemon = True
    timer.start()


def default_signals() -> None:
    """A worker's signals: the default action for SIGTERM and SIGHUP (a forked worker inherits
    the coordinator's handlers, and must end when told to, not raise in the part it judges),
    and SIGINT ignored: Ctrl-C at a terminal reaches the whole process group, and the
    coordinator, not each worker, handles it (it ends the workers and says so in one line)."""
    for number in SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker now, ignoring SIGHUP as it ignores SIGINT and
    SIGTERM itself: a hangup of the process group would otherwise end it, and the one started
    in its place prints a traceback for each semaphore the first one knew of."""
    from multiprocessing import resource_tracker

    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None or threading.current_thread() is not threading.main_thread():
        resource_tracker.ensure_running()
        return
    previous = signal.signal(hangup, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()  # its process inherits the ignored disposition
    finally:
        signal.signal(hangup, previous)


def bind_to_parent(parent: int) -> None:
    """End this process when its parent, ``parent``, ends."""
    if sys.platform == "linux" and _pdeathsig():
        if os.getppid() != parent:  # it ended before prctl took effect
            os._exit(1)
        return
    threading.Thread(target=_watch, args=(parent,), name="tokcheck-parent", daemon=True).start()


def _pdeathsig() -> bool:
    """Whether the kernel now sends this process SIGKILL when its parent ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH)
    os._exit(1)
