"""Running many cases in worker processes, each case in-process inside a worker.

A worker generates, runs and judges a case and sends back a small ``Result``; the parent
replaces a worker that dies (a crash in C++ code) or outlives the case timeout by a grace
period, and reports that case as a "crash" or "hang". It does not group or format results:
``report`` does.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .base import Case
from .cases import FAMILIES, make_case
from .contract import check_contract
from .outcome import Outcome
from .runner import DEFAULT_TIMEOUT_S, run_case

# Grace the parent gives a worker past the case timeout before killing it: the worker's own
# alarm normally ends the case first, and reports where it hung.
_KILL_GRACE_S = 30.0


@dataclass(frozen=True)
class Result:
    """One case's verdict, small enough to send between processes."""

    key: str
    command: str
    family: str
    json: bool
    description: str
    size: int
    argv: tuple[str, ...]
    code: int | None
    elapsed_s: float
    violations: tuple[str, ...]
    stderr_head: str
    traceback: str | None


def _result(case: Case, outcome: Outcome | None, violations: list[str], elapsed: float) -> Result:
    return Result(
        key=case.key,
        command=case.command,
        family=case.family,
        json=case.json,
        description=case.description,
        size=case.size,
        argv=case.argv,
        code=outcome.code if outcome else None,
        elapsed_s=elapsed,
        violations=tuple(violations),
        stderr_head=outcome.stderr[:2000].decode("utf-8", "backslashreplace") if outcome else "",
        traceback=outcome.traceback[-4000:] if outcome and outcome.traceback else None,
    )


def run_one(
    seed: int,
    index: int,
    root: Path,
    timeout: float | None,
    families: tuple[str, ...] = FAMILIES,
) -> Result:
    """Generate, run and judge one case in a fresh directory under ``root``, then remove it."""
    case = make_case(seed, index, families)
    tmp = root / f"case-{index}"
    tmp.mkdir(parents=True)
    try:
        outcome = run_case(case, tmp, timeout=timeout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _result(case, outcome, check_contract(outcome), outcome.elapsed_s)


def _worker(conn: Connection, root: str, timeout: float) -> None:
    # Keep each worker to one core's worth of threads: the machines this runs on are small.
    for name in ("OMP_NUM_THREADS", "RAYON_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        os.environ[name] = "false" if name == "TOKENIZERS_PARALLELISM" else "1"
    while True:
        job = conn.recv()
        if job is None:
            return
        seed, index, families = job
        conn.send(run_one(seed, index, Path(root), timeout, families))


@dataclass
class _Slot:
    process: Any
    conn: Connection
    job: tuple[int, int, tuple[str, ...]] | None = None
    started: float = 0.0


def run_cases(
    seed: int,
    indices: Iterable[int],
    root: Path,
    *,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
    families: tuple[str, ...] = FAMILIES,
) -> Iterator[Result]:
    """Run the cases in ``jobs`` worker processes, each case in-process inside a worker.

    A worker that dies (a crash in C++ code) or outlives the timeout by the grace period is
    replaced, and its case reported as a "crash" or "hang" violation.
    """
    pending = deque((seed, i, families) for i in indices)
    pool = _Pool(root, timeout)
    try:
        pool.start(max(1, jobs))
        while pending or pool.busy():
            pool.dispatch(pending)
            yield from pool.collect()
    finally:
        pool.close()


class _Pool:
    """The worker processes of one ``run_cases`` call, one case in flight per worker."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.root = root
        self.timeout = timeout
        self.slots: list[_Slot] = []

    @property
    def limit(self) -> float:
        """How long a case may run before its worker is killed."""
        return self.timeout + _KILL_GRACE_S

    def start(self, jobs: int) -> None:
        for _ in range(jobs):
            self.slots.append(self._spawn())

    def busy(self) -> list[_Slot]:
        return [s for s in self.slots if s.job]

    def dispatch(self, pending: deque[tuple[int, int, tuple[str, ...]]]) -> None:
        """Give each idle worker the next pending case."""
        for slot in self.slots:
            if slot.job is None and pending:
                slot.job, slot.started = pending.popleft(), time.monotonic()
                slot.conn.send(slot.job)

    def collect(self) -> Iterator[Result]:
        """Wait until a worker answers or the oldest case reaches the limit, then yield what
        came back, and a "crash" or "hang" result for each worker lost (replacing it)."""
        busy = self.busy()
        deadline = min(s.started for s in busy) + self.limit
        ready = wait([s.conn for s in busy], timeout=max(0.0, deadline - time.monotonic()))
        for i, slot in enumerate(self.slots):
            if slot.job is None:
                continue
            if slot.conn in ready:
                result = self._receive(slot)
                if result is not None:
                    yield result
                    continue
                violation = f"crash: worker died with exit code {slot.process.exitcode}"
            elif time.monotonic() - slot.started > self.limit:
                slot.process.kill()
                slot.process.join(5)
                violation = f"hang: killed after {self.limit:.0f} s"
            else:
                continue
            yield self._lost(slot, violation)
            self.slots[i] = self._spawn()

    def close(self) -> None:
        for slot in self.slots:
            if slot.process.is_alive() and slot.job is None:
                slot.conn.send(None)
            slot.process.join(5)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(5)

    def _spawn(self) -> _Slot:
        parent, child = self.ctx.Pipe()
        process = self.ctx.Process(
            target=_worker, args=(child, str(self.root), self.timeout), daemon=True
        )
        process.start()
        child.close()
        return _Slot(process, parent)

    def _receive(self, slot: _Slot) -> Result | None:
        """The worker's result, freeing the slot; None when the worker died instead."""
        try:
            result: Result = slot.conn.recv()
        except (EOFError, OSError):
            slot.process.join(5)
            return None
        slot.job = None
        return result

    def _lost(self, slot: _Slot, violation: str) -> Result:
        """The result of the case a lost worker had, its directory removed."""
        assert slot.job is not None
        case = make_case(*slot.job)
        shutil.rmtree(self.root / f"case-{case.index}", ignore_errors=True)
        return _result(case, None, [violation], time.monotonic() - slot.started)
