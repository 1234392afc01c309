"""The cluster engine: compare's parts judged on a Dask distributed cluster.

``compare --engine dask`` starts a local cluster of ``--jobs`` worker processes, or with
``--scheduler tcp://HOST:8786`` connects to a running one. The job (the model's tokenizer files,
a few MB, and the candidate names) is sent to every worker once; each worker process loads the
model and the candidates once (:mod:`tokcheck.parallel.engine`) and reads its parts of the corpora
itself, from local paths it can see or from fsspec URLs (``s3://``, ``gs://``, ``hdfs://``, with
that filesystem's package installed on the workers). Results come back in input order, at most
two per worker thread in flight, and the coordinator merges them as :mod:`tokcheck.parallel.runner`
says: the report is the one ``--jobs 1`` gives.

Needs the ``cluster`` extra (``pip install 'tokcheck[cluster]'``, which is Dask distributed),
imported only when the engine is chosen; workers need tokcheck installed in the same version.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any, TypeVar

from tokcheck.candidates.base import Candidate
from tokcheck.errors import MissingDependencyError, TokcheckError, one_line
from tokcheck.model.proto import SentencePieceModel
from tokcheck.parallel.engine import Job, forget, ordered
from tokcheck.system.signals import start_resource_tracker

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
        # records; a scheduler stopped mid-request (a scatter when SIGTERM comes) leaves an
        # asyncio task whose exception asyncio logs when the task is collected. tokcheck says
        # what failed in one line of its own.
        self._quiet = _Quiet("distributed", "asyncio")
        try:
            if self.scheduler is None:
                start_resource_tracker()
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # Its HTTP server starts without a dashboard too, on 8787 unless told: on
                    # loopback, any free port, so that a second run does not warn of the port.
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.CRITICAL,
                )
                self._client = distributed.Client(self._cluster)
            else:
                left = reach(self.scheduler, CONNECT_TIMEOUT)
                self._client = distributed.Client(self.scheduler, timeout=max(left, 1.0))
        except TokcheckError:
            self.close(abort=True)
            raise
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
            gc.collect()  # the stopped scheduler's tasks, logged now while silenced
            self._quiet.restore()
            self._quiet = None


def reach(address: str, timeout: float) -> float:
    """Check that a Dask scheduler answers at ``address`` (a ``tcp://`` one) within ``timeout``
    seconds, whatever the peer does, and return the seconds left.

    Dask distributed's own connect waits for the peer's handshake without a bound, and reads
    whatever the peer sends as the length of a message: a peer that accepts and stays silent
    stalls it, one that answers HTTP makes it allocate exabytes. Here the connection and the
    first answer are bounded by one deadline, and the first bytes must be what a scheduler's
    greeting starts with, or the error names what answered. Other schemes (``tls://``,
    ``inproc://``) are left to Dask.
    """
    deadline = time.monotonic() + timeout
    scheme, location = _address(address)
    if scheme != "tcp":
        return timeout
    host, port = location
    sock = _connect(address, host, port, deadline, timeout)
    with sock:
        with contextlib.suppress(OSError):  # a peer that closed at once: read below says so
            sock.sendall(_handshake())
        first = _first_bytes(sock, deadline)
    if first is None:
        raise TokcheckError(
            f"cannot start the Dask engine: {address} accepted the connection but did not "
            f"answer within {timeout:g} s (a Dask scheduler answers at once)"
        )
    if not first:
        raise TokcheckError(
            f"cannot start the Dask engine: {address} closed the connection without answering: "
            "not a Dask scheduler"
        )
    if len(first) < _PRELUDE or not 0 < struct.unpack("<Q", first[:_PRELUDE])[0] <= _GREETING:
        what = "HTTP" if first.startswith(b"HTTP/") else repr(first[:24])
        raise TokcheckError(
            f"cannot start the Dask engine: {address} answered but is not a Dask scheduler "
            f"(it sent {what})"
        )
    return max(0.0, deadline - time.monotonic())


# A Dask message starts with its length, 8 bytes little-endian; a scheduler's greeting is small.
_PRELUDE = 8
_GREETING = 1 << 20


def _address(address: str) -> tuple[str, tuple[str, int]]:
    """(scheme, (host, port)) of a scheduler address; the location only for ``tcp``."""
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme != "tcp":
        return scheme, ("", 0)
    host, port = parse_host_port(location)
    if not port:
        raise ValueError(f"{address}: no port")
    return scheme, (str(host), int(port))


def _connect(address: str, host: str, port: int, deadline: float, timeout: float) -> socket.socket:
    """A connection to ``host:port`` by ``deadline``; refused ones are retried until then, as
    Dask does (a scheduler that is starting)."""
    wait = 0.05
    while True:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            return socket.create_connection((host, port), timeout=left)
        except TimeoutError as e:
            raise TokcheckError(
                f"cannot start the Dask engine: no Dask scheduler reached at {address} "
                f"within {timeout:g} s"
            ) from e
        except ConnectionRefusedError as e:
            if deadline - time.monotonic() <= wait:
                raise TokcheckError(
                    f"cannot start the Dask engine: {address} refused the connection"
                ) from e
            time.sleep(wait)
            wait = min(2 * wait, 1.0)
        except OSError as e:
            raise TokcheckError(
                f"cannot start the Dask engine: cannot reach {address}: {e.strerror or e}"
            ) from e


def _first_bytes(sock: socket.socket, deadline: float) -> bytes | None:
    """The peer's first bytes (up to a message's length prefix, or what it sent before closing),
    b"" if it closed without a word, None if it said nothing by ``deadline``."""
    got = b""
    while len(got) < _PRELUDE:
        left = deadline - time.monotonic()
        if left <= 0:
            return got or None
        sock.settimeout(left)
        try:
            chunk = sock.recv(_PRELUDE - len(got))
        except TimeoutError:
            return got or None
        except OSError:  # reset
            return got
        if not chunk:
            return got
        got += chunk
    return got


def _handshake() -> bytes:
    """The greeting Dask's client sends on connecting, so that a peer that waits for a request
    (an HTTP server, say) answers it; empty where this Dask's wire format is not the one known
    here, and then only the peer's own greeting is read."""
    try:
        import pickle

        from distributed import protocol
        from distributed.comm.tcp import _add_frames_header

        info = {
            "compression": None,
            "python": tuple(sys.version_info)[:3],
            "pickle-protocol": pickle.HIGHEST_PROTOCOL,
        }
        frames, _, _ = _add_frames_header(list(protocol.dumps(info)))
        return b"".join(bytes(f) for f in frames)
    except Exception:  # a Dask release that framed messages otherwise
        return b""


class _Quiet:
    """Loggers and their children silenced below CRITICAL until :meth:`restore`."""

    def __init__(self, *names: str) -> None:
        self.levels = {logging.getLogger(name): logging.getLogger(name).level for name in names}
        for logger in self.levels:
            logger.setLevel(logging.CRITICAL)

    def restore(self) -> None:
        for logger, level in self.levels.items():
            logger.setLevel(level)


def _distributed() -> Any:
    try:
        return importlib.import_module("distributed")
    except ImportError as e:
        raise MissingDependencyError(
            f"the Dask engine needs Dask distributed: pip install 'tokcheck[{EXTRA}]'"
        ) from e
