"""The cluster engine: compare's parts judged on a Dask distributed cluster.

``compare --engine dask`` starts a local cluster of ``--jobs`` worker processes, or with
``--scheduler tcp://HOST:8786`` connects to a running one. The job (the model's tokenizer files,
a few MB, and the candidate names) is sent to every worker once; each worker process loads the
model and the candidates once (:mod:`tokcheck.engine`) and reads its parts of the corpora
itself, from local paths it can see or from fsspec URLs (``s3://``, ``gs://``, ``hdfs://``, with
that filesystem's package installed on the workers). Results come back in input order, at most
two per worker thread in flight, and the coordinator merges them as :mod:`tokcheck.runner`
says: the report is the one ``--jobs 1`` gives.

Needs the ``cluster`` extra (``pip install 'tokcheck[cluster]'``, which is Dask distributed),
imported only when the engine is chosen; workers need tokcheck installed in the same version.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any, TypeVar

from tokcheck.candidates import Candidate
from tokcheck.engine import Job, forget, ordered
from tokcheck.errors import MissingDependencyError, TokcheckError, one_line
from tokcheck.proto import SentencePieceModel

EXTRA = "cluster"
# Seconds to wait for a scheduler to answer.
CONNECT_TIMEOUT = 10
R = TypeVar("R")


class Dask:
    """Parts judged by the workers of a Dask cluster: a local one of ``workers`` processes, or
    the one whose scheduler is at ``scheduler``."""

    def __init__(self, scheduler: str | None, workers: int) -> None:
        self.distributed = _distributed()
        self.scheduler = scheduler
        self.workers = workers
        self.threads = 1
        self.in_process = False
        where = scheduler or f"a local cluster of {workers} processes"
        self.name = f"dask ({where})"
        self._client: Any = None
        self._cluster: Any = None
        self._job: Job | None = None
        self._shared: Any = None
        self._quiet: _Quiet | None = None

    def open(self) -> None:
        """Start the local cluster or connect to the scheduler, before any long work."""
        distributed = self.distributed
        # Workers log a failed task's traceback, and the scheduler lost workers, as ERROR
        # records: tokcheck says what failed in one line of its own.
        self._quiet = _Quiet("distributed")
        try:
            if self.scheduler is None:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.CRITICAL,
                )
                self._client = distributed.Client(self._cluster)
            else:
                self._client = distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError, RuntimeError) as e:
            self.close(abort=True)
            where = self.scheduler or "a local cluster"
            raise TokcheckError(
                f"cannot start the Dask engine on {where}: {one_line(str(e))}"
            ) from e
        self.workers = max(1, sum(self._client.nthreads().values()))

    def start(self, job: Job, model: SentencePieceModel, loaded: Sequence[Candidate]) -> None:
        if self._client is None:
            self.open()
        self._job = job
        try:
            self._shared = self._client.scatter(job.with_files(), broadcast=True)
        except (OSError, TimeoutError) as e:  # no workers, say
            raise TokcheckError(
                f"cannot send the job to the Dask workers: {one_line(str(e))}"
            ) from e

    def map(self, fn: Callable[..., R], args: Iterable[tuple[Any, ...]]) -> Iterator[R]:
        client = self._client

        def submit(a: tuple[Any, ...]) -> Any:
            shared = tuple(self._shared if x is self._job else x for x in a)
            return client.submit(fn, *shared, pure=False)

        # A worker that died, or a task the cluster cancelled: the cluster's failure, in one
        # line. A task's own error (a corrupt corpus) comes back as itself.
        lost = (self.distributed.KilledWorker, CancelledError)
        try:
            yield from ordered(submit, args, 2 * self.workers)
        except lost as e:
            raise TokcheckError(f"the Dask cluster lost a part: {type(e).__name__}: {e}") from e

    def close(self, abort: bool = False) -> None:
        """Let the workers forget the job, and disconnect (a local cluster is stopped). The
        scheduler drops the tasks still queued either way, so ``abort`` changes nothing."""
        if self._client is not None and self._shared is not None:
            with contextlib.suppress(Exception):  # a cluster already gone
                self._client.run(forget)
        for thing in (self._client, self._cluster):
            if thing is not None:
                thing.close()
        self._client = self._cluster = self._shared = None
        if self._quiet is not None:
            self._quiet.restore()
            self._quiet = None


class _Quiet:
    """A logger and its children silenced below CRITICAL until :meth:`restore`."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def restore(self) -> None:
        self.logger.setLevel(self.level)


def _distributed() -> Any:
    try:
        return importlib.import_module("distributed")
    except ImportError as e:
        raise MissingDependencyError(
            f"the Dask engine needs Dask distributed: pip install 'tokcheck[{EXTRA}]'"
        ) from e
