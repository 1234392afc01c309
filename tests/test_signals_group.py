"""A signal to the whole process group (Ctrl-C at a terminal, a CI runner cancelling a job) ends
``--jobs 2`` runs at once, however the workers were ending when it came.

Workers that end while they send a part's result leave half a message in the executor's result
pipe; the coordinator, ending its workers on the signal, then waited for the rest of it forever
(about one run in four of ``gate --jobs 2 --dump`` interrupted by a group's SIGINT).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from processes import big_corpus, processes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="forks workers and reads /proc"
)

# A worker that has sent the header of a result and half of its body, and goes no further: as
# one ended mid-send by a signal leaves the pipe. The engine must still close, at once.
_HALF_SENT = textwrap.dedent(
    """
    import multiprocessing, struct, time
    from concurrent.futures import ProcessPoolExecutor
    from tokcheck.parallel.engine import Local

    engine = Local(2)
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
    writer = pool._result_queue._writer  # the workers forked at the first submit inherit it

    def half_sent():
        writer._send(struct.pack("!i", 1 << 20) + b"x" * 1000)
        time.sleep(600)

    engine._pool = pool
    future = pool.submit(half_sent)
    time.sleep(1)  # the executor's thread is reading the result by now
    engine.close(abort=True)
    print("closed", flush=True)
    """
)


def test_closing_the_engine_does_not_wait_for_a_result_a_worker_half_sent() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _HALF_SENT],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("Local.close(abort=True) waited forever for a half-sent result")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "closed\n"


def _group(pgid: int) -> list[int]:
    """Every process of group ``pgid`` that has not ended (zombies included: unreaped)."""
    return [p.pid for p in processes() if p.group == pgid]


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_group_ends_a_parallel_gate_at_once(
    tmp_path: Path, signum: int, code: int
) -> None:
    argv = [sys.executable, "-m", "tokcheck", "gate", str(FIXTURES / "tiny-neox"), "--no-profile"]
    argv += [
        "--examples",
        "10",
        "--prompts",
        "1",
        "--jobs",
        "2",
        "--corpus",
        str(big_corpus(tmp_path)),
    ]
    argv += ["--dump", str(tmp_path / "dump.jsonl")]  # each part's result carries its lines
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_children(process.pid)) < 2:  # the workers (and the resource tracker)
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        time.sleep(2)  # judging parts, and sending their results
        os.killpg(process.pid, signum)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit 30 s after {signal.Signals(signum).name} to the group")
        assert process.returncode == code, err
        assert "Traceback" not in err
        assert err.count("\n") == 1, err
        deadline = time.monotonic() + 5
        while (left := _group(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == []
    finally:
        for pid in _group(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.kill()
        process.communicate()
