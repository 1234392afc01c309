"""Running one process case: a real ``python -m tokcheck`` in a session of its own, and what the
scenario does to it (see :mod:`process_cases`).

It arranges the scenario (a bind mount or link, a fake scheduler on 127.0.0.1, modes and an
unprivileged user), starts the process, signals it where the scenario says, waits within the
case timeout, and records what the contract needs beyond the exit code and the output: the
exit codes the scenario allows, the one line a signal exit must print, processes of the session
left behind, model files lost or changed, and a promised bound overrun. It judges nothing:
``contract`` does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .base import FIXTURES, Case
from .outcome import EXIT_CODES, Outcome, one_line

ROOT = Path(__file__).resolve().parents[2]
# How long a signalled run may take to exit (the Dask engine shuts a local cluster down), and
# how long its session's processes may outlive it.
SIGNAL_BOUND_S = {"local": 10.0, "dask": 20.0}
LEFT_GRACE_S = 5.0
# The README's promise for --scheduler, from the first connection to the exit, with slack for
# a loaded machine.
SCHEDULER_BOUND_S = 10.0 + 3.0
UNPRIVILEGED_UID = 65534


def run_process_case(case: Case, tmp: Path, *, timeout: float | None) -> Outcome:
    """Run the process case ``case`` with the empty directory ``tmp`` (or, for an unprivileged
    run, a directory that user can reach) as its working space."""
    limit = timeout or 600.0
    if case.family == "unprivileged":
        with _reachable_dir() as work:
            return _run(case, work, limit)
    return _run(case, tmp, limit)


def _run(case: Case, tmp: Path, limit: float) -> Outcome:
    argv = case.materialise(tmp)
    params = case.params
    for name in (".tmp", "home"):  # the run's TMPDIR and HOME, before any modes are set
        (tmp / name).mkdir(exist_ok=True)
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        if case.family == "mount":
            notes.append(stack.enter_context(_alias(tmp, params["alias"])))
            before = _digest(tmp / params["model"])
        elif case.family == "scheduler":
            peer = stack.enter_context(_peer(params["peer"]))
            argv = [a.replace("{scheduler}", peer.address) for a in argv]
        elif case.family == "unprivileged":
            _denied(tmp, params)
            if not _user_runs_tokcheck():
                notes.append("(tokcheck cannot run as an unprivileged user here: as this user)")
        outcome = _drive(case, argv, tmp, limit, params)
        if case.family == "mount":
            outcome.lost = _compare(before, _digest(tmp / params["model"]))
        elif case.family == "scheduler" and peer.first is not None and outcome.ended is not None:
            took = outcome.ended - peer.first
            if took > SCHEDULER_BOUND_S:
                outcome.late = f"{took:.1f} s from the first connection to the exit"
    if notes and notes[0]:
        outcome.note = notes[0]
    return outcome


def _drive(
    case: Case,
    argv: list[str],
    tmp: Path,
    limit: float,
    params: dict[str, str],
) -> Outcome:
    out_path, err_path = tmp / ".stdout", tmp / ".stderr"
    env = _environment(tmp)
    cwd = tmp / params["cwd"] if "cwd" in params else tmp
    start = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        prefix = ["-m", "tokcheck"]
        if case.family == "unprivileged" and _user_runs_tokcheck():
            prefix = ["-c", _AS_USER, str(UNPRIVILEGED_UID)]
        process = subprocess.Popen(
            [sys.executable, *prefix, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    signalled: list[int] = []
    sent_at = None
    timed_out = False
    try:
        if case.family == "signal":
            sent_at = _signal(process, params, signalled, start + limit)
        remaining = start + limit - time.monotonic()
        code: int | None = process.wait(timeout=max(0.1, remaining))
    except subprocess.TimeoutExpired:
        timed_out, code = True, None
    ended = time.monotonic()
    left = _left(process.pid, LEFT_GRACE_S)
    _kill_session(process)
    outcome = Outcome(
        case, code, out_path.read_bytes(), err_path.read_bytes(), ended - start, timed_out=timed_out
    )
    if timed_out:
        outcome.exception = f"process: no exit after {limit:.0f} s"
    outcome.ended = ended
    outcome.left = [f"pid {pid} ({cmd})" for pid, cmd in left]
    if signalled:
        number = signalled[0]
        outcome.allowed_codes = (*EXIT_CODES, 128 + number, -number)
        name = signal.Signals(number).name
        line = "tokcheck: interrupted" if name == "SIGINT" else f"tokcheck: terminated by {name}"
        outcome.signal_line = line
        bound = SIGNAL_BOUND_S[params["engine"]]
        if sent_at is not None and code is not None and ended - sent_at > bound:
            outcome.late = (
                f"{ended - sent_at:.1f} s from the signal to the exit (bound {bound:.0f})"
            )
    _outdir(outcome, tmp)
    return outcome


def _environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKCHECK_", "PYTEST_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(tmp / ".hf-home"),
            "HF_HUB_CACHE": str(tmp / ".hub-cache"),
            "TMPDIR": str(tmp / ".tmp"),
            "HOME": str(tmp / "home"),
            "XDG_CACHE_HOME": str(tmp / "home" / ".cache"),
        }
    )
    return env


# --- signal --------------------------------------------------------------------------------------


def _signal(
    process: subprocess.Popen[bytes], params: dict[str, str], sent: list[int], deadline: float
) -> float | None:
    """Send the scenario's signal(s) unless the process ended first; when it was sent."""
    number = int(getattr(signal, params["signal"]))
    if params["when"] == "workers":
        while time.monotonic() < deadline and process.poll() is None:
            if sum(parent == process.pid for _, parent, _ in _session(process.pid)) >= 2:
                break
            time.sleep(0.05)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=float(params["delay"]) if params["when"] == "delay" else 0.3)
        return None  # it ended before the signal: an ordinary run
    if process.poll() is not None:
        return None
    times = 2 if params["twice"] == "yes" else 1
    for i in range(times):
        with contextlib.suppress(ProcessLookupError):
            if params["target"] == "group":
                os.killpg(process.pid, number)
            else:
                os.kill(process.pid, number)
        sent.append(number)
        at = time.monotonic()
        if i + 1 < times:
            time.sleep(random.Random(process.pid).uniform(0.05, 0.5))
    return at


def _session(sid: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command) of every live process in session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append((int(entry.name), int(fields[1]), one_line(cmd, 80)))
    return found


def _left(sid: int, within: float) -> list[tuple[int, str]]:
    """The session's processes still there after up to ``within`` seconds."""
    if not Path("/proc/self/stat").exists():
        return []
    deadline = time.monotonic() + within
    while (left := _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [(pid, cmd) for pid, _, cmd in left]


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


def _outdir(outcome: Outcome, tmp: Path) -> None:
    case = outcome.case
    if case.outdir is None:
        return
    outdir = tmp / case.outdir
    if outdir.is_dir():
        outcome.outdir_left = sorted(os.listdir(outdir))
    elif outdir.exists():
        outcome.outdir_left = ["(not a directory)"]
    with contextlib.suppress(OSError):
        outcome.staging_left = sorted(
            n
            for n in os.listdir(outdir.parent)
            if n.startswith(f".{outdir.name}.") and n.endswith((".tmp", ".old"))
        )


# --- mount ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _alias(tmp: Path, kind: str) -> Iterator[str]:
    """Make ``{tmp}/alias`` (or the hard link) for ``kind``; yields a note when a bind mount
    was not permitted and a symlink stands in for it."""
    alias, parent = tmp / "alias", tmp / "parent"
    if kind == "hardlink":
        (tmp / "out" / "deep").mkdir(parents=True)
        os.link(parent / "model" / "spiece.model", tmp / "out" / "deep" / "spiece.model")
        yield ""
        return
    if kind == "symlink":
        alias.symlink_to(parent, target_is_directory=True)
        yield ""
        return
    source = parent if kind == "bind-parent" else parent / "model"
    alias.mkdir()
    if not _mount(["--bind", str(source)], alias):
        alias.rmdir()
        alias.symlink_to(source, target_is_directory=True)
        yield "(bind mount not permitted here: a symlink instead)"
        return
    try:
        yield ""
    finally:
        subprocess.run(["umount", "-l", str(alias)], capture_output=True, check=False)


def _mount(args: list[str], target: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, check=False)
    return done.returncode == 0


def _digest(directory: Path) -> dict[str, str]:
    found = {}
    for path in sorted(directory.rglob("*")) if directory.is_dir() else []:
        if path.is_file():
            found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _compare(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The model files that are gone or changed."""
    lost = [f"{name} deleted" for name in before if name not in after]
    lost += [f"{name} changed" for name in before if name in after and after[name] != before[name]]
    return lost


# --- scheduler -----------------------------------------------------------------------------------


class _Peer:
    """A fake peer on 127.0.0.1 and when it first saw a connection."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.first: float | None = None


def _behave(kind: str, conn: socket.socket, stop: threading.Event) -> None:
    conn.settimeout(1.0)
    if kind == "silent":
        stop.wait(120)
    elif kind == "http":
        with contextlib.suppress(OSError):
            conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    elif kind == "garbage":
        conn.sendall(random.Random(0).randbytes(4096))
        stop.wait(2)
    elif kind == "drip":
        while not stop.is_set():
            try:
                conn.sendall(b"\xff")
            except OSError:
                return
            stop.wait(0.5)


@contextlib.contextmanager
def _peer(kind: str) -> Iterator[_Peer]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    if kind == "not-listening":
        server.close()  # the port is free again: a connection is refused
        yield _Peer(f"tcp://127.0.0.1:{port}")
        return
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()
    peer = _Peer(f"tcp://127.0.0.1:{port}")

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            _behave(kind, conn, stop)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if peer.first is None:
                peer.first = time.monotonic()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        stop.set()
        thread.join(5)
        server.close()


# --- unprivileged --------------------------------------------------------------------------------


@contextlib.contextmanager
def _reachable_dir() -> Iterator[Path]:
    """A fresh directory an unprivileged user can reach (the case root may be 0700)."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    work = Path(tempfile.mkdtemp(prefix="tokcheck-fuzz-user-", dir=base))
    work.chmod(0o755)
    try:
        yield work
    finally:
        for path in [work, *work.rglob("*")]:
            with contextlib.suppress(OSError):
                if not path.is_symlink():
                    path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(work, ignore_errors=True)


@functools.cache
def _user_runs_tokcheck() -> bool:
    """Whether tokcheck's commands run at all as the unprivileged user here: where the
    interpreter or its packages are out of that user's reach (under /root, say), a module
    imported late fails, and the family runs as this user instead."""
    if os.geteuid() != 0:
        return False
    with _reachable_dir() as work:
        shutil.copytree(FIXTURES / "tiny-neox", work / "model")
        for path in [work, *work.rglob("*")]:
            os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        env = _environment(work)
        for name in (".tmp", "home"):
            (work / name).mkdir()
            os.chown(work / name, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        for argv in (
            ["compare", str(work / "model"), "--examples", "3", "--candidate", "default"],
            ["export", str(work / "model"), str(work / "out"), "--examples", "3"],
        ):
            done = subprocess.run(
                [sys.executable, "-c", _AS_USER, str(UNPRIVILEGED_UID), *argv],
                cwd=work,
                env=env,
                capture_output=True,
                timeout=300,
                check=False,
            )
            if done.returncode not in (0, 1):
                return False
    return True


def _denied(tmp: Path, params: dict[str, str]) -> None:
    """Give the case's files to the unprivileged user (when this is root), then apply the
    scenario's modes, which bind their owner."""
    for path in [tmp, *tmp.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if _user_runs_tokcheck():
        for path in [tmp, *tmp.rglob("*")]:
            os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    for item in params["modes"].split():
        rel, _, mode = item.partition("=")
        (tmp / rel).chmod(int(mode, 8))


# Run as the unprivileged user: become it after importing, as root, what tokcheck's commands
# import (this interpreter may live where that user cannot read, under /root say).
_AS_USER = """
import importlib, os, pkgutil, sys
import tokcheck
for module in pkgutil.walk_packages(tokcheck.__path__, "tokcheck."):
    if module.name not in ("__main__", "pytest_plugin"):
        importlib.import_module(module.name)
for name in ("transformers", "tokenizers", "sentencepiece", "hypothesis", "numpy"):
    importlib.import_module(name)
import transformers
transformers.AutoTokenizer, transformers.PreTrainedTokenizerFast
import encodings
for module in pkgutil.iter_modules(encodings.__path__):
    try:
        importlib.import_module("encodings." + module.name)
    except ImportError:  # another platform's codec (mbcs)
        pass
# The rest of the standard library the commands may import lazily, less what acts on import.
skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "ensurepip", "lib2to3"}
skip |= {"__main__"}
for name in sorted(sys.stdlib_module_names - skip):
    try:
        package = importlib.import_module(name)
    except Exception:
        continue
    for sub in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
        if not any(part in skip or part.startswith("test") for part in sub.name.split(".")):
            try:
                importlib.import_module(sub.name)
            except Exception:
                pass
uid = int(sys.argv[1])
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
from tokcheck.cli import main
sys.exit(main(sys.argv[2:]))
"""
