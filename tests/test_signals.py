"""SIGTERM and SIGHUP end compare and its workers as Ctrl-C does (exit 128 + signal), and the
workers end with a coordinator that is SIGKILLed: nothing of the run is left behind.

Each test runs a real ``tokcheck compare --jobs 2`` in a session of its own, on a corpus large
enough that it is mid-run when the signal comes, and looks for the session's processes in /proc.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from processes import big_corpus, processes

from tokcheck.system.signals import Terminated, terminating

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the session's processes from /proc"
)


def _session(sid: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of every live process in session ``sid``."""
    return [(p.pid, p.parent) for p in processes() if p.session == sid and not p.zombie]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts compare in a session of its own; whatever of it is left at the end is killed,
    whether the test passed or not."""
    started: list[subprocess.Popen[str]] = []

    def run(*extra: str, command: str = "compare") -> subprocess.Popen[str]:
        argv = [sys.executable, "-m", "tokcheck", command, str(FIXTURES / "tiny-neox")]
        argv += ["--corpus", str(big_corpus(tmp_path)), "--jobs", "2", "--json"]
        argv += ["--examples", "0"] if command == "compare" else ["--examples", "5", "--no-profile"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [*argv, *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        for pid, _ in _session(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.kill()
        process.communicate()


def _wait_for_workers(process: subprocess.Popen[str], workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [pid for pid, parent in _session(process.pid) if parent == process.pid]
        if len(children) >= workers:
            return
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.05)
    process.kill()
    pytest.fail("compare's workers did not start")


def _left(sid: int, within: float) -> list[tuple[int, int]]:
    """The session's processes still there after up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while (left := _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_terminating_signal_ends_compare_and_its_workers(
    start: Callable[..., subprocess.Popen[str]], signum: int, code: int
) -> None:
    process = start()
    _wait_for_workers(process, 2)
    time.sleep(0.5)  # judging now
    sent = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=15)
    assert process.returncode == code, err
    assert time.monotonic() - sent < 5
    assert _left(process.pid, within=3) == []
    assert err == f"tokcheck: terminated by {signal.Signals(signum).name}\n"


def test_workers_end_with_a_killed_coordinator(
    start: Callable[..., subprocess.Popen[str]],
) -> None:
    process = start()
    _wait_for_workers(process, 2)
    time.sleep(0.5)
    process.kill()
    process.communicate(timeout=15)
    assert _left(process.pid, within=3) == []


def test_sigterm_shuts_the_local_dask_cluster_down(
    start: Callable[..., subprocess.Popen[str]],
) -> None:
    pytest.importorskip("distributed")
    process = start("--engine", "dask")
    _wait_for_workers(process, 2)
    time.sleep(3)  # the Dask workers started and judging
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 143, err
    assert _left(process.pid, within=5) == []
    # One line: no resource_tracker warning of leaked semaphores, no Dask log.
    assert err == "tokcheck: terminated by SIGTERM\n"


def test_terminating_raises_and_restores_the_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as caught, terminating():
        signal.raise_signal(signal.SIGTERM)
    assert caught.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_in_a_gc_callback_is_raised_again_not_lost(signum: int) -> None:
    # Hypothesis registers a gc callback: a signal handled while it runs raises where nothing
    # can catch it, and the interpreter only prints "Exception ignored".
    fired: list[str] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and not fired:
            fired.append(phase)
            signal.raise_signal(signum)  # handled now, inside the callback

    expected = KeyboardInterrupt if signum == signal.SIGINT else Terminated
    before = signal.getsignal(signal.SIGTERM)
    gc.callbacks.append(callback)
    try:
        with pytest.raises(expected), terminating():
            _collect_then_wait(5)
    finally:
        gc.callbacks.remove(callback)
    assert fired
    assert signal.getsignal(signal.SIGTERM) == before


def _collect_then_wait(seconds: float) -> None:
    gc.collect()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


def test_ctrl_c_at_a_terminal_ends_the_gate_and_its_workers_in_one_line(
    start: Callable[..., subprocess.Popen[str]],
) -> None:
    # A terminal's Ctrl-C reaches the whole process group, workers too: only the coordinator
    # reports it, and the workers end without a "Process ForkProcess-1:" traceback. The fuzz
    # case 2:33 of the signal family (gate, SIGINT to the group once workers run) found it in
    # one replay of three; this test guards the outcome but passes on that code too: the race
    # that let a worker print first is not reproduced here.
    process = start(command="gate")
    _wait_for_workers(process, 2)
    time.sleep(6)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 130, err
    assert err == "tokcheck: interrupted\n"
    assert _left(process.pid, within=3) == []


def test_a_hangup_of_the_group_ends_the_dask_engine_in_one_line(
    start: Callable[..., subprocess.Popen[str]],
) -> None:
    # The resource tracker is in the group too: a hangup that ended it left the one started in
    # its place printing a KeyError traceback for every semaphore.
    pytest.importorskip("distributed")
    process = start("--engine", "dask")
    _wait_for_workers(process, 2)
    time.sleep(3)
    os.killpg(process.pid, signal.SIGHUP)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 129, err
    assert err == "tokcheck: terminated by SIGHUP\n"
    assert _left(process.pid, within=5) == []


def test_a_signal_that_code_caught_and_turned_into_another_error_is_still_the_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Hypothesis catches what a draw raises and retries it; a SIGTERM during generation came
    # out as "unexpected FlakyStrategyDefinition" (exit 2), where the signal was the cause.
    from tokcheck import cli

    def catches_everything(args: object) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            _collect_then_wait(1.0)
        except BaseException as e:
            raise RuntimeError("Inconsistent data generation!") from e
        return 0

    monkeypatch.setitem(cli._COMMANDS, "inspect", catches_everything)
    assert cli.main(["inspect", str(FIXTURES / "tiny-neox")]) == 143
    assert capsys.readouterr().err == "tokcheck: terminated by SIGTERM\n"
    # The next run in this process starts clean.
    monkeypatch.setitem(cli._COMMANDS, "inspect", lambda args: 0)
    assert cli.main(["inspect", str(FIXTURES / "tiny-neox")]) == 0


def test_ctrl_c_while_the_program_exits_is_the_default_action_not_a_traceback() -> None:
    # Ctrl-C after the verdict, while the interpreter ran its exit handlers (joining worker
    # pools), printed "Exception ignored in atexit callback" and a KeyboardInterrupt traceback.
    script = (
        "import atexit, os, signal, sys, time\n"
        "from tokcheck.cli import main\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(2)))\n"
        "sys.argv = ['tokcheck', '--version']\n"
        "sys.exit(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert run.returncode == -signal.SIGINT, run.stderr
    assert run.stderr == ""
    assert "tokcheck" in run.stdout
