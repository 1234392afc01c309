"""``--scheduler`` reaches a Dask scheduler within the promised 10 s whatever the peer at the
address does, and a peer that is not a scheduler is one line naming what answered (exit 2).

The peers are fake servers on 127.0.0.1 only: one that accepts and never answers, one that
answers HTTP, one that closes at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tokcheck.cli import main
from tokcheck.errors import TokcheckError
from tokcheck.parallel import cluster

pytest.importorskip("distributed")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[1]


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(60)


def _http(conn: socket.socket, stop: threading.Event) -> None:
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        conn.recv(4096)  # whatever the client sent first, as an HTTP server reads a request
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def _closes(conn: socket.socket, stop: threading.Event) -> None:
    pass


@contextlib.contextmanager
def _peer(behave: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A server on 127.0.0.1 that treats every connection as ``behave`` says; its address."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_handle, args=(conn,), daemon=True).start()

    def _handle(conn: socket.socket) -> None:
        with conn:
            behave(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "c.txt"
    path.write_text("one\ntwo\n", encoding="utf-8")
    return path


def _argv(corpus: Path, address: str) -> list[str]:
    model = str(FIXTURES / "tiny-neox")
    return ["compare", model, "--corpus", str(corpus), "--engine", "dask", "--scheduler", address]


@pytest.mark.parametrize(
    ("behave", "says"),
    [
        (_http, "answered but is not a Dask scheduler (it sent HTTP)"),
        (_closes, "closed the connection without answering: not a Dask scheduler"),
    ],
)
def test_a_peer_that_is_not_a_scheduler_is_one_line(
    corpus: Path,
    capsys: pytest.CaptureFixture[str],
    behave: Callable[[socket.socket, threading.Event], None],
    says: str,
) -> None:
    with _peer(behave) as address:
        started = time.monotonic()
        code = main(_argv(corpus, address))
        elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err == f"tokcheck: error: cannot start the Dask engine: {address} {says}\n"
    assert elapsed < 5


def test_a_peer_that_never_answers_is_given_up_on_in_10_s(corpus: Path) -> None:
    assert cluster.CONNECT_TIMEOUT == 10
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with _peer(_silent) as address:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "tokcheck", *_argv(corpus, address)],
            capture_output=True,
            text=True,
            env=env,
            timeout=40,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"tokcheck: error: cannot start the Dask engine: {address} accepted the connection "
        "but did not answer within 10 s (a Dask scheduler answers at once)\n"
    )
    assert elapsed < 12


def test_reach_is_bounded_by_its_timeout() -> None:
    with _peer(_silent) as address:
        started = time.monotonic()
        with pytest.raises(TokcheckError, match=r"did not answer within 0\.5 s"):
            cluster.reach(address, 0.5)
        assert time.monotonic() - started < 2


def test_a_task_the_stopped_scheduler_leaves_failed_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A scheduler stopped mid-request (SIGTERM during the job's scatter) leaves an asyncio task
    whose exception nobody retrieves; asyncio logs its traceback when the task is collected.
    The engine keeps that silent: tokcheck says in one line of its own why the run ended."""
    pytest.importorskip("distributed")
    import asyncio
    import gc

    engine = cluster.Dask(None, 1)
    engine.open()
    client = engine._client

    async def fail() -> None:
        raise KeyError("tcp://127.0.0.1:1")

    def leave_failed() -> None:
        asyncio.get_running_loop().create_task(fail())  # its exception never retrieved

    client.loop.add_callback(leave_failed)
    time.sleep(0.5)
    engine.close()
    gc.collect()
    logged = [r.getMessage() for r in caplog.records]
    assert not any("never retrieved" in message for message in logged), logged
