"""A tokenizer run in a child process of tokcheck's, spoken to in JSON lines.

A runtime tokcheck judges but must not share a process with runs behind a :class:`Bridge`:
transformers.js in node (:mod:`tokcheck.candidates.jsruntime`), and llama.cpp (:mod:`tokcheck.candidates.llamacpp`),
whose native code aborts the whole process on some GGUFs. The child reads one JSON request per
line and writes one JSON answer per line; the first request loads the tokenizer and is answered
``{"ready": ...}``, an answer ``{"error": message}`` raises, and a child that dies, hangs or floods
is one error naming what happened, never a crash or a hang of tokcheck. A child that dies once it
has loaded raises :class:`~tokcheck.errors.RuntimeDied`, naming the item it died on: compare
reports that candidate as failed and judges the others.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from tokcheck.errors import RuntimeDied, TokcheckError, one_line

# What each request is answered with, and what the child was doing when it died on one.
ANSWERS = {"encode": "ids", "decode": "texts", "pieces": "pieces", "stream": "chunks"}
DOING = {"encode": "encoding", "decode": "decoding", "pieces": "naming", "stream": "streaming"}
# Seconds of silence from the child, while a request is pending, before it is taken for hung;
# the longest any one answer may take (compare's batches are 2,000 lines); its largest size.
SILENCE = 120.0
ANSWER_SECONDS = 600.0
MAX_ANSWER = 1 << 30
_TICK = 0.25
_CHUNK = 1 << 16


class BridgeError(TokcheckError):
    """The child cannot run the tokenizer: it is missing, it died, hung or answered nonsense."""


class _Ended(Exception):
    """The child ended while a request was pending; ``how``: its exit and what it wrote."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class Bridge:
    """One tokenizer loaded in a child process of this Python process's own.

    ``argv`` is the child's command; the parent's pid is appended, for the child to end itself
    when this process has gone (however it ends). ``load`` is the first request. ``runtime``
    names the child in messages, ``program`` what it should be (for an answer that is no JSON).
    What cannot run raises ``unavailable``; a child that dies loading raises ``died`` (the same
    by default): a runtime that crashes on the tokenizer is a finding, not a missing runtime.
    One that dies on a later request raises :class:`~tokcheck.errors.RuntimeDied`, after
    asking a fresh child the request's items one at a time to name the one it dies on; every
    request after that raises it again, marked stale.

    The process is started when the bridge is made (so a tokenizer the runtime cannot load
    fails there) and again in a forked child, which must not share its parent's pipes. It runs
    in a session of its own, so a terminal's Ctrl-C reaches tokcheck alone, and ends when its
    standard input closes: when this object goes, or this process ends in any way. One request
    at a time: compare encodes the next batch on another thread while it judges (and streams)
    this one. Requests and answers move through the pipes as they can, both ways at once, and
    a child that sends nothing for :data:`SILENCE` seconds, or that answers what the bridge
    never would, or takes over :data:`ANSWER_SECONDS` for one answer, is an error, never a hang.
    """

    def __init__(
        self,
        argv: Sequence[str],
        load: dict[str, Any],
        *,
        runtime: str,
        program: str,
        unavailable: type[TokcheckError] = BridgeError,
        died: type[TokcheckError] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._argv = list(argv)
        self._runtime, self._program, self._unavailable = runtime, program, unavailable
        self._died = died or unavailable
        self._env = env
        self._load = json.dumps(load).encode()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.ready: Any = None
        # How the child ended, once it died on a request: the bridge runs nothing after that.
        self._dead: str | None = None
        self._start()

    def _start(self) -> None:
        stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the process)
        proc = subprocess.Popen(
            [*self._argv, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
            env=self._env,
        )
        self._proc, self._pid, self._stderr = proc, os.getpid(), stderr
        weakref.finalize(self, _close, proc, stderr, os.getpid())
        try:
            self.ready = self._ask(self._load, "ready")
        except _Ended as e:
            raise self._died(f"{self._runtime} ended: {e.how}") from None

    def request(self, **request: Any) -> Any:
        """The answer to one request (one key of :data:`ANSWERS`, its value a list of
        items): its one value. :class:`RuntimeDied` where the child dies on it."""
        ((key, items),) = request.items()
        with self._lock:
            if self._dead is not None:
                raise RuntimeDied(self._runtime, self._dead, doing=DOING[key], stale=True)
            if self._pid != os.getpid():
                self._start()
            try:
                return self._ask(json.dumps(request).encode(), ANSWERS[key])
            except _Ended as e:
                died = self._pinpoint(key, items, e.how)
                self._dead = died.how
                raise died from None

    def _pinpoint(self, key: str, items: Any, how: str) -> RuntimeDied:
        """The death of the child on ``items``, at the item it died on where that can be
        known: the items of a batch are asked of a fresh child one at a time, and the one
        it dies on again is named. A child that survives them, or cannot start, leaves the item
        unknown; either way it is stopped, since the bridge runs nothing more."""
        doing = DOING[key]
        if not isinstance(items, list) or len(items) < 2:
            return RuntimeDied(self._runtime, how, index=0 if items else None, doing=doing)
        index: int | None = None
        try:
            self._start()
            for index in range(len(items)):  # left at the item it dies on, if it does
                self._ask(json.dumps({key: [items[index]]}).encode(), ANSWERS[key])
            index = None
        except _Ended as again:
            how = again.how
        except TokcheckError:
            index = None
        finally:
            if (proc := self._proc) is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        return RuntimeDied(self._runtime, how, index=index, doing=doing)

    def _ask(self, line: bytes, key: str) -> Any:
        """Send one request line and read the answer's ``key``; an ``error`` answer raises."""
        reply = self._exchange(line + b"\n")
        try:
            answer = json.loads(reply)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not (key in answer or "error" in answer):
            proc = self._proc
            assert proc is not None
            if _ends(proc):  # it wrote something on its way down: how it ended says more
                raise _Ended(_ended(proc, self._stderr))
            said = short(reply.decode("utf-8", "replace"), 120) or "an empty line"
            raise self._unavailable(f"{self._program}: it answered {said}")
        if "error" in answer:
            message = f"{self._runtime}: {short(str(answer['error']))}"
            raise self._unavailable(message) if answer.get("package") else TokcheckError(message)
        return answer[key]

    def _exchange(self, payload: bytes) -> bytes:
        """Write ``payload`` and read one line back, both as the pipes allow."""
        proc = self._proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        stdin, stdout = proc.stdin.fileno(), proc.stdout.fileno()
        received = bytearray()
        sent = 0
        quiet = 0.0
        start = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            selector.register(stdin, selectors.EVENT_WRITE)
            while True:
                events = selector.select(_TICK)
                quiet = 0.0 if events else quiet + _TICK
                late = time.monotonic() - start > ANSWER_SECONDS
                if quiet >= SILENCE or late or not threading.main_thread().is_alive():
                    proc.kill()
                    raise self._unavailable(
                        f"{self._runtime} did not answer in "
                        f"{ANSWER_SECONDS if late else SILENCE:.0f} s"
                    )
                if len(received) > MAX_ANSWER:
                    proc.kill()
                    raise self._unavailable(
                        f"{self._runtime} wrote over {MAX_ANSWER >> 20} MiB without "
                        "ending its answer"
                    )
                for key, _ in events:
                    if key.fd == stdin:
                        try:
                            sent += os.write(stdin, payload[sent : sent + _CHUNK])
                        except BrokenPipeError:
                            sent = len(payload)
                        if sent == len(payload):
                            selector.unregister(stdin)
                        continue
                    chunk = os.read(stdout, _CHUNK)
                    if not chunk:
                        raise _Ended(_ended(proc, self._stderr))
                    received += chunk
                    if received.endswith(b"\n") and sent == len(payload):
                        return bytes(received)


def _ends(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` exits within a moment (after an answer that was no answer)."""
    try:
        proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        return False
    return True


def _close(proc: subprocess.Popen[bytes], stderr: Any, owner: int) -> None:
    """End ``proc`` by closing its input; a forked child only closes its copy of the pipe,
    since the process is its parent's to wait for (or kill)."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        if os.getpid() != owner:
            return
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
    finally:
        stderr.close()


def _ended(proc: subprocess.Popen[bytes], stderr: Any) -> str:
    """How the child ended: its exit code (or signal) and the error it wrote to stderr."""
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().decode("utf-8", "replace").splitlines()]
    # An uncaught exception's report ends with a stack and the version ("Node.js v20..."):
    # its message is the line that names the error; a native abort's, the assertion's line.
    named = [
        line
        for line in lines
        if re.match(r"^[A-Za-z]*Error\b", line)
        or re.search(r"GGML_ASSERT|what\(\)|fatal error", line)
    ]
    said = named[-1] if named else next((x for x in reversed(lines) if x), "")
    how = f"signal {-code} ({_signal_name(-code)})" if code < 0 else f"exit code {code}"
    return how + (f": {short(said)}" if said else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def short(message: str, limit: int = 300) -> str:
    """``message`` on one line and at most about ``limit`` characters: tokenizers.js quotes a
    whole pattern it cannot compile, which for a charsmap's normaliser is megabytes."""
    line = one_line(message)
    return line if len(line) <= limit else f"{line[: limit // 2]} … {line[-limit // 2 :]}"
