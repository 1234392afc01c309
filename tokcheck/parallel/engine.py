"""Where compare's parts are judged: in this process, in local worker processes, or on a cluster.

An engine maps a function over parts (:mod:`tokcheck.parallel.partition`) and yields the results in
input order, with a bounded number in flight, so that memory stays flat however large the
corpus. Every worker judges with the same :class:`~tokcheck.parallel.runner.Runner`, built once per
worker from a :class:`Job` (the model, the candidates that loaded in the coordinator, and the
streaming rule's outcome there); :func:`judge_partition` is the one function a worker runs.

:class:`Local` runs ``jobs`` worker processes (``compare --jobs N``), or with one job judges in
this process. On Linux the workers are forked once the coordinator has loaded the model and
the candidates, so they start with them loaded; elsewhere they are spawned and load them once
each. Each worker's encoders get ``cores // jobs`` threads. The Dask engine is in
:mod:`tokcheck.parallel.cluster`.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import InvalidStateError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tokcheck.candidates.base import Candidate
from tokcheck.candidates.registry import load_candidates
from tokcheck.errors import TokcheckError
from tokcheck.inputs.corpus import CorpusStats
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import HUB_ALLOW_PATTERNS, ResolvedModel
from tokcheck.parallel.partition import Partition, line_size
from tokcheck.parallel.runner import Part, Runner, batches
from tokcheck.system.signals import bind_to_parent, default_signals

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class Job:
    """What a worker needs to judge parts as the coordinator would."""

    resolved: ResolvedModel
    # The candidates that loaded in the coordinator, in its order.
    candidates: tuple[str, ...]
    field: str
    show: int
    # sentencepiece's threads per worker.
    threads: int
    # Candidates whose streaming rule failed on the coordinator's first batch.
    every_line: tuple[str, ...] = ()
    # The run's streaming budget (None: tokcheck.judge.stream_check.BUDGET), for each line's cap.
    stream_budget: int | None = None
    # The GGUFs whose llama.cpp candidates are among ``candidates`` (workers open the paths).
    ggufs: tuple[Path, ...] = ()
    # Each part carries every line that differs (for the coordinator's sink: --dump).
    keep: bool = False
    # The model's tokenizer files by name, for workers that may not see its paths (a cluster).
    files: tuple[tuple[str, bytes], ...] = ()
    token: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)

    def with_files(self) -> Job:
        """This job carrying the model file and the tokenizer files beside it."""
        sources = [self.resolved.model_file]
        if (directory := self.resolved.directory) is not None:
            sources += [directory / name for name in HUB_ALLOW_PATTERNS]
        files = {p.name: p.read_bytes() for p in sources if p.is_file()}
        return dataclasses.replace(self, files=tuple(files.items()))


@dataclass
class Judgement:
    """What a worker found on one part."""

    part: Part
    stats: CorpusStats
    lines: int
    bytes: int
    # The part's bytes for a progress bar, less those reported while it was judged.
    size: int


class Engine(Protocol):
    """Runs functions over parts, the results in input order."""

    name: str
    # Processes that judge parts at once, and sentencepiece's threads in each.
    workers: int
    threads: int
    in_process: bool

    def open(self) -> None:
        """Reach the workers (a cluster), so that a bad address fails before any long work."""

    def start(self, job: Job, model: SentencePieceModel, loaded: Sequence[Candidate]) -> None:
        """Get ready to judge ``job``; ``model`` and ``loaded`` are the coordinator's own."""

    def map(self, fn: Callable[..., R], args: Iterable[tuple[Any, ...]]) -> Iterator[R]:
        """``fn(*a)`` for each ``a``, in order; ``args`` is drawn only as work is sent."""
        ...

    def close(self, abort: bool = False) -> None:
        """Release the workers; ``abort`` on an error, without waiting for running parts."""


def judge_partition(
    job: Job, partition: Partition, defer: int, progress: Callable[[int], None] | None = None
) -> Judgement:
    """Judge one part, with ``defer`` ids of streaming budget that may be left at its start.

    ``progress`` (in this process only) is called after each batch with the bytes read since
    the last call; what is left of the part's size is in :attr:`Judgement.size`.
    """
    runner = _worker(job).runner
    runner.begin(defer)
    stats = CorpusStats()
    lines = size = told = 0
    for batch in runner.run(batches(partition.read(stats, job.field))):
        lines += len(batch)
        size += sum(line_size(t) for t, _ in batch)
        if progress is not None and (read := min(stats.bytes, partition.size)) > told:
            progress(read - told)
            told = read
    return Judgement(runner.part(), stats, lines, size, partition.size - told)


# More worker processes than any machine tokcheck runs on has cores.
MAX_JOBS = 1024


class Local:
    """``jobs`` worker processes on this machine; one job judges in this process."""

    def __init__(self, jobs: int) -> None:
        if not 1 <= jobs <= MAX_JOBS:
            raise TokcheckError(f"jobs must be between 1 and {MAX_JOBS}, got {jobs}")
        self._size(jobs)
        self.name = "local" if jobs == 1 else f"local, {jobs} processes"
        self._pool: ProcessPoolExecutor | None = None

    def open(self) -> None:
        pass

    def start(self, job: Job, model: SentencePieceModel, loaded: Sequence[Candidate]) -> None:
        if self.jobs > 1 and multiprocessing.current_process().daemon:
            # A daemonic process (a multiprocessing pool's worker) may not start processes.
            self._size(1)
            self.name = "local (in this process: a daemonic process cannot start workers)"
            job = dataclasses.replace(job, threads=self.threads)
        fork = sys.platform == "linux"
        if self.jobs == 1 or fork:  # this process's worker, or the one forked workers inherit
            _seed_worker(_Worker(job, model, list(loaded)))
        if self.jobs == 1:
            return
        context = multiprocessing.get_context("fork" if fork else "spawn")
        self._pool = ProcessPoolExecutor(
            self.jobs, mp_context=context, initializer=_initialise, initargs=(job, os.getpid())
        )
        # Start the workers now. A forked child inherits tokenizers' thread pool without its
        # threads: parallelism there waits for them forever, so it is off in every forked
        # worker, whatever the user set (spawned ones get cores // jobs threads).
        parallel = "false" if fork else str(job.threads > 1).lower()
        try:
            with _environment("TOKENIZERS_PARALLELISM", parallel):
                self._pool.submit(int).result()
        except BrokenProcessPool as e:
            raise TokcheckError(f"compare's worker processes could not start: {e}") from e

    def _size(self, jobs: int) -> None:
        self.jobs = self.workers = jobs
        cores = os.cpu_count() or 1
        self.threads = cores if jobs == 1 else max(1, cores // jobs)
        # One job judges in this process, where a progress bar can follow each batch.
        self.in_process = jobs == 1

    def map(self, fn: Callable[..., R], args: Iterable[tuple[Any, ...]]) -> Iterator[R]:
        if self._pool is None:
            yield from (fn(*a) for a in args)
            return
        pool = self._pool
        try:
            yield from ordered(lambda a: pool.submit(fn, *a), args, 2 * self.jobs)
        except BrokenProcessPool as e:
            raise TokcheckError(f"a compare worker process died: {e}") from e

    def close(self, abort: bool = False) -> None:
        """Stop the workers; with ``abort`` (an error or Ctrl-C), without waiting for the parts
        they are judging."""
        if self._pool is not None:
            with _quiet_when_broken() if abort else nullcontext():
                if abort:
                    _end_workers(self._pool)
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        forget()


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s processes now, abandoning the parts they judge.

    The executor has no public way to stop a running task before Python 3.14
    (terminate_workers): its processes are ended where this Python names them. A worker that
    ends while it sends a result (so ended, or by a signal to the whole process group) leaves
    half a message in the result pipe, and the executor's thread that reads it waits for the
    rest forever, and the shutdown that joins that thread with it: this process holds the
    pipe's writing end too, so the read never sees its end. Closing that end here lets the read
    end once the workers have: the executor then finds itself broken, and shuts down."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        writer.close()


@contextmanager
def _quiet_when_broken() -> Iterator[None]:
    """While an aborted pool shuts down: pass over the InvalidStateError its thread may die of.

    Ended workers make the executor broken, and Python 3.11's executor then sets an error on
    every pending future, those shutdown has cancelled too, which raises in its thread: a
    traceback on stderr, after the one line an interrupted run prints. Any other error of any
    thread is reported as before."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.exc_value, InvalidStateError):
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


class Pending(Protocol[R_co]):
    """A result on its way: a concurrent.futures or a Dask future."""

    def result(self) -> R_co: ...

    def cancel(self) -> Any: ...


def ordered(
    submit: Callable[[tuple[Any, ...]], Pending[R]], args: Iterable[tuple[Any, ...]], window: int
) -> Iterator[R]:
    """Results of ``submit(a)`` for each ``a``, in order, with at most ``window`` in flight;
    ``args`` is drawn when a slot frees, so what it computes then is as fresh as it can be."""
    pending: deque[Pending[R]] = deque()
    try:
        for a in args:
            pending.append(submit(a))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


@contextmanager
def opened(engine: Engine | None) -> Iterator[None]:
    """``engine`` opened for the block (see :meth:`Engine.open`) and closed after it: at once,
    running parts abandoned, when the block raises."""
    if engine is None:
        yield
        return
    engine.open()
    try:
        yield
    except BaseException:
        engine.close(abort=True)
        raise
    engine.close()


class _Worker:
    """A worker's model, candidates and runner, built once per job; ``files`` is the directory
    holding the job's tokenizer files, removed with the worker."""

    def __init__(
        self,
        job: Job,
        model: SentencePieceModel,
        candidates: list[Candidate] | None = None,
        files: tempfile.TemporaryDirectory[str] | None = None,
    ) -> None:
        self.token = job.token
        self.files = files
        if candidates is None:
            candidates = []
            if job.candidates:  # none at all loaded in the coordinator: none here either
                candidates, failed = load_candidates(job.resolved, model, job.candidates, job.ggufs)
                if failed:
                    reasons = "; ".join(f"{u.name} {u.reason}" for u in failed)
                    raise TokcheckError(f"a compare worker could not load a candidate: {reasons}")
        # defer=0: a worker's runner defers the lines to stream; each part's begin() says
        # how much budget may be left.
        self.runner = Runner(
            model,
            candidates,
            job.show,
            threads=job.threads,
            every_line=job.every_line,
            defer=0,
            budget=job.stream_budget,
            keep=job.keep,
            survive=True,
        )


# One worker per thread: a Dask worker process may run tasks on several threads at once.
_LOCAL = threading.local()
# Loading imports transformers' tokenizer classes, which two threads at once cannot.
_LOADING = threading.Lock()


def _worker(job: Job) -> _Worker:
    worker: _Worker | None = getattr(_LOCAL, "worker", None)
    if worker is None or worker.token != job.token:
        _LOCAL.worker = None
        with _LOADING:
            _LOCAL.worker = worker = _load(job)
    return worker


def _seed_worker(worker: _Worker) -> None:
    """This thread's worker, as the coordinator built it."""
    _LOCAL.worker = worker


def forget() -> None:
    """Drop this thread's worker: its model, candidates and files."""
    _LOCAL.worker = None


def _load(job: Job) -> _Worker:
    """A worker for ``job`` loaded here: from its files when it carries them."""
    if job.threads == 1:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # a worker process's own
    if not job.files:
        return _Worker(job, SentencePieceModel.load(job.resolved.model_file))
    files = tempfile.TemporaryDirectory(prefix="tokcheck-worker-")
    root = Path(files.name)
    for name, data in job.files:
        (root / name).write_bytes(data)
    resolved = dataclasses.replace(
        job.resolved,
        model_file=root / job.resolved.model_file.name,
        directory=root if job.resolved.directory is not None else None,
    )
    model = SentencePieceModel.load(resolved.model_file)
    return _Worker(dataclasses.replace(job, resolved=resolved), model, files=files)


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``name`` set to ``value`` for the block only."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _initialise(job: Job, coordinator: int) -> None:
    """Load the worker as the process starts; a failure is raised by its first part instead,
    as a one-line error, rather than breaking the pool with a traceback.

    The worker ends with the ``coordinator`` process, however that ends, and on SIGTERM or
    SIGHUP (a forked one inherits the coordinator's handlers, which would raise in its part)."""
    default_signals()
    bind_to_parent(coordinator)
    try:
        _worker(job)
    except Exception:
        forget()
