"""transformers.js as a candidate: a ``tokenizer.json`` run by its tokenizer library in node.

transformers.js (``@huggingface/transformers`` on npm) tokenizes with ``@huggingface/tokenizers``
(tokenizers.js), a JavaScript reimplementation of the Rust library's components with its own
regex translation and its own models: what a page or a Node.js service that ships the
directory's ``tokenizer.json`` runs. A :class:`NodeTokenizer` keeps one node process
(``transformers_js.cjs`` beside this module) per Python process and talks to it in JSON lines;
:func:`candidate` makes it a :class:`~tokcheck.candidates.Candidate`, judged like any other.

The package is found in ``$TOKCHECK_NODE_MODULES`` when that is set, else in a ``node_modules``
folder of the working directory or one above it, else in npm's global folder, on its own or
inside ``@huggingface/transformers``. It is installed with :data:`INSTALL`: a plain install of
``@huggingface/transformers`` also runs onnxruntime-node's download script, which needs a host
the machine may not reach; tokenizers.js alone has no script and no dependency.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from tokcheck.errors import TokcheckError, one_line

PACKAGE = "@huggingface/tokenizers"
INSTALL = "npm install --ignore-scripts @huggingface/tokenizers"
NODE_MODULES_ENV = "TOKCHECK_NODE_MODULES"
_SCRIPT = Path(__file__).with_name("transformers_js.cjs")
# Where the package sits in a node_modules folder: installed itself, or by transformers.js.
_PLACES = (PACKAGE, f"@huggingface/transformers/node_modules/{PACKAGE}")


class RuntimeUnavailable(TokcheckError):
    """node or the npm package is missing: the runtime cannot be judged here."""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeUnavailable(
            f"node is not installed (transformers.js runs in Node.js 18 or later); install it, "
            f"then `{INSTALL}`"
        )
    return node


@cache
def _global_root() -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        done = subprocess.run(
            [npm, "root", "-g"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    root = done.stdout.strip()
    return Path(root) if done.returncode == 0 and root else None


def find_package() -> Path:
    """The folder of :data:`PACKAGE` (see the module's docstring for where it is looked for)."""
    if configured := os.environ.get(NODE_MODULES_ENV):
        roots = [Path(configured).expanduser()]
    else:
        here = Path.cwd()
        roots = [p / "node_modules" for p in (here, *here.parents)]
        if (root := _global_root()) is not None:
            roots.append(root)
    for root in roots:
        for place in _PLACES:
            if (root / place / "package.json").is_file():
                return root / place
    where = f"{NODE_MODULES_ENV}={configured}" if configured else "node_modules here or above"
    raise RuntimeUnavailable(
        f"{PACKAGE} (transformers.js's tokenizer library) is not installed ({where}, nor "
        f"npm's global folder); run `{INSTALL}`"
    )


def require() -> Path:
    """The package's folder, once node and the package are both found (else one line)."""
    _node()
    return find_package()


def package_version(package: Path) -> str:
    try:
        return str(json.loads((package / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return "?"


class NodeTokenizer:
    """One tokenizer loaded in a node process of this Python process's own.

    The process is started when the tokenizer is made (so a tokenizer.json tokenizers.js
    cannot load fails there) and again in a forked child, which must not share its parent's
    pipes. It runs in a session of its own, so a terminal's Ctrl-C reaches tokcheck alone, and
    ends when its standard input closes: when this object goes, or this process ends in any
    way. One request at a time: compare encodes the next batch on another thread while it
    judges (and streams) this one. Requests and answers move through the pipes as they can,
    both ways at once, and a node that sends nothing for :data:`SILENCE` seconds, or that
    answers what the bridge never would, or takes over :data:`ANSWER_SECONDS` for one answer, is
    an error, never a hang. The bridge kills itself when this process has gone.
    """

    def __init__(self, tokenizer_json: str, config: dict[str, Any]) -> None:
        self._node = _node()
        self.package = find_package()
        self.version = package_version(self.package)
        self._load = json.dumps({"tokenizer": tokenizer_json, "config": config}).encode()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the process)
        proc = subprocess.Popen(
            [self._node, str(_SCRIPT), str(self.package), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        self._proc, self._pid, self._stderr = proc, os.getpid(), stderr
        weakref.finalize(self, _close, proc, stderr, os.getpid())
        self._ask(self._load, "ready")

    def request(self, **request: Any) -> Any:
        """The answer to one request (see ``transformers_js.cjs``): its one value."""
        (key,) = request
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            return self._ask(json.dumps(request).encode(), _ANSWERS[key])

    def _ask(self, line: bytes, key: str) -> Any:
        """Send one request line and read the answer's ``key``; an ``error`` answer raises."""
        reply = self._exchange(line + b"\n")
        try:
            answer = json.loads(reply)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not (key in answer or "error" in answer):
            said = _short(reply.decode("utf-8", "replace"), 120) or "an empty line"
            raise RuntimeUnavailable(
                f"{self._node} is not Node.js running tokcheck's transformers.js bridge: it "
                f"answered {said}"
            )
        if "error" in answer:
            message = f"transformers.js: {_short(str(answer['error']))}"
            raise RuntimeUnavailable(message) if answer.get("package") else TokcheckError(message)
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
                    raise RuntimeUnavailable(
                        f"transformers.js (node) did not answer in "
                        f"{ANSWER_SECONDS if late else SILENCE:.0f} s"
                    )
                if len(received) > MAX_ANSWER:
                    proc.kill()
                    raise RuntimeUnavailable(
                        f"transformers.js (node) wrote over {MAX_ANSWER >> 20} MiB without "
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
                        raise RuntimeUnavailable(
                            f"transformers.js (node) ended: {_ended(proc, self._stderr)}"
                        )
                    received += chunk
                    if received.endswith(b"\n") and sent == len(payload):
                        return bytes(received)


# What each request is answered with (see transformers_js.cjs).
_ANSWERS = {"encode": "ids", "decode": "texts", "pieces": "pieces", "stream": "chunks"}
# Seconds of silence from node, while a request is pending, before it is taken for hung; the
# longest any one answer may take (compare's batches are 2,000 lines); its largest size.
SILENCE = 120.0
ANSWER_SECONDS = 600.0
MAX_ANSWER = 1 << 30
_TICK = 0.25
_CHUNK = 1 << 16


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
    """How the node process ended: its exit code and the error it wrote to stderr."""
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().decode("utf-8", "replace").splitlines()]
    # An uncaught exception's report ends with a stack and the version ("Node.js v20..."):
    # its message is the line that names the error.
    named = [line for line in lines if re.match(r"^[A-Za-z]*Error\b", line)]
    said = named[-1] if named else next((x for x in reversed(lines) if x), "")
    return f"exit code {code}" + (f": {_short(said)}" if said else "")


def _short(message: str, limit: int = 300) -> str:
    """``message`` on one line and at most about ``limit`` characters: tokenizers.js quotes a
    whole pattern it cannot compile, which for a charsmap's normaliser is megabytes."""
    line = one_line(message)
    return line if len(line) <= limit else f"{line[: limit // 2]} … {line[-limit // 2 :]}"


def candidate(name: str, tokenizer_json: str, config: dict[str, Any] | None = None) -> Any:
    """``tokenizer_json`` (a ``tokenizer.json``'s text) with ``config`` (its directory's
    ``tokenizer_config.json``) run by transformers.js, as a candidate: encoded without special
    tokens added, decoded with them kept, streamed by prefix/read offsets in node."""
    from tokcheck.candidates import Candidate
    from tokcheck.stream import Streamer

    config = config or {}
    tok = NodeTokenizer(tokenizer_json, config)

    def decode_batch(batch: list[list[int]]) -> list[str]:
        return list(tok.request(decode=batch))

    def pieces(ids: list[int]) -> list[str]:
        return [str(p) for p in tok.request(pieces=ids)]

    def offsets(ids: Sequence[int], start: int) -> list[str]:
        return list(tok.request(stream=[[start, list(ids)]])[0])

    digest = hashlib.sha1(f"{tokenizer_json}\0{json.dumps(config, sort_keys=True)}".encode())
    return Candidate(
        name=name,
        cls=f"{PACKAGE} {tok.version} (transformers.js, node)",
        encode_batch=lambda texts: [list(ids) for ids in tok.request(encode=texts)],
        decode_batch=decode_batch,
        pieces=pieces,
        special_ids=_special_ids(tokenizer_json),
        key=f"transformers.js:{digest.hexdigest()}",
        streamer=Streamer(
            decode=lambda ids: decode_batch([list(ids)])[0],
            decode_batch=decode_batch,
            offsets=offsets,
        ),
    )


def _special_ids(tokenizer_json: str) -> frozenset[int]:
    added = json.loads(tokenizer_json).get("added_tokens") or []
    return frozenset(int(t["id"]) for t in added if t.get("special"))
