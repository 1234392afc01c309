"""Running one case in-process: ``tokcheck.cli.main`` on the materialised case, as the console
script would run it.

Captures fds 1 and 2 (so sentencepiece's C++ log lines are caught), isolates the environment
(offline hub, temporary files under the case directory, a plain interpreter's warning
filters), bounds the case with an alarm, and records what it left in an export's OUTDIR.
It records an escaped exception rather than raising it, and judges nothing: ``contract`` does.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from .base import Case
from .outcome import Outcome, one_line
from .process import run_process_case

DEFAULT_TIMEOUT_S = 120.0


class CaseTimeout(BaseException):
    """Raised by the alarm inside a case that runs too long; a BaseException so that no
    ``except Exception`` in the code under test swallows it."""


_STREAMS: tuple[io.TextIOWrapper, io.TextIOWrapper] | None = None


def _fd_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    """Text streams over fds 1 and 2 as a console script on a UTF-8 locale has them: created
    once, so anything that kept a reference to sys.stderr in an earlier case still writes to
    whatever fd 2 is now."""
    global _STREAMS
    if _STREAMS is None:
        out = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        err = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
        )
        _STREAMS = out, err
    return _STREAMS


@contextmanager
def _captured(out_path: Path, err_path: Path) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    with out_path.open("wb") as out, err_path.open("wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout, sys.stderr = _fd_streams()
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                # What cannot be flushed never reached the user; the exit code is judged instead.
                with suppress(OSError, ValueError, UnicodeError):
                    stream.flush()
            sys.stdout, sys.stderr = streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextmanager
def _isolated(tmp: Path) -> Iterator[None]:
    """Offline, temporary files under ``tmp``, and the warning filters of a plain interpreter
    (pytest turns warnings into errors, which the console script never does)."""
    env = {
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp / ".hf-home"),
        "HF_HUB_CACHE": str(tmp / ".hub-cache"),
        "TMPDIR": str(tmp / ".tmp"),
    }
    (tmp / ".tmp").mkdir(exist_ok=True)
    before = {k: os.environ.get(k) for k in env}
    tempdir = tempfile.tempdir
    os.environ.update(env)
    tempfile.tempdir = env["TMPDIR"]
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
                warnings.filterwarnings("ignore", category=category)
            warnings.filterwarnings("ignore", category=ResourceWarning)
            yield
    finally:
        tempfile.tempdir = tempdir
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _alarm(timeout: float | None) -> Iterator[None]:
    import threading

    if not timeout or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise CaseTimeout(f"no exit after {timeout:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(case: Case, tmp: Path, *, timeout: float | None = DEFAULT_TIMEOUT_S) -> Outcome:
    """Materialise ``case`` in the empty directory ``tmp`` and run ``tokcheck.cli.main`` on it
    in-process, capturing fds 1 and 2; an exception escaping ``main`` is recorded, not raised.
    A process case (``case.scenario``) runs as a real process instead (see ``process``)."""
    if case.scenario:
        return run_process_case(case, tmp, timeout=timeout)
    from tokcheck.cli import main

    argv = case.materialise(tmp)
    out_path, err_path = tmp / ".stdout", tmp / ".stderr"
    code: int | None = None
    exception = trace = None
    timed_out = False
    start = time.perf_counter()
    with _isolated(tmp), _captured(out_path, err_path):
        try:
            with _alarm(timeout):
                returned: object = main(argv)
            code = returned if isinstance(returned, int) else -1
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                sys.stderr.write(e.code + "\n")  # what the interpreter would print
        except CaseTimeout as e:
            timed_out, trace = True, traceback.format_exc()
            exception = f"{_where(e)}: {e}"
        except Exception as e:
            trace = traceback.format_exc()
            exception = f"{type(e).__name__} in {_where(e)}: {one_line(str(e))}"
    elapsed = time.perf_counter() - start
    outcome = Outcome(
        case, code, out_path.read_bytes(), err_path.read_bytes(), elapsed, exception, trace
    )
    outcome.timed_out = timed_out
    if case.outdir is not None:
        outdir = tmp / case.outdir
        if outdir.is_dir():
            outcome.outdir_left = sorted(os.listdir(outdir))
        elif outdir.exists():
            outcome.outdir_left = ["(not a directory)"]
        parent = outdir.parent
        outcome.staging_left = sorted(
            n
            for n in os.listdir(parent)
            if n.startswith(f".{outdir.name}.") and n.endswith((".tmp", ".old"))
        )
    return outcome


def _where(e: BaseException) -> str:
    """The innermost frame of tokcheck's own code in the traceback: the bug's address."""
    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if f"{os.sep}tokcheck{os.sep}" in f.filename]
    if not frames:
        return "?"
    frame = (mine or frames)[-1]
    path = Path(frame.filename)
    short = f"{path.parent.name}/{path.name}" if mine else path.name
    return f"{short}:{frame.name}"
