"""transformers.js as a candidate: a ``tokenizer.json`` run by its tokenizer library in node.

transformers.js (``@huggingface/transformers`` on npm) tokenizes with ``@huggingface/tokenizers``
(tokenizers.js), a JavaScript reimplementation of the Rust library's components with its own
regex translation and its own models: what a page or a Node.js service that ships the
directory's ``tokenizer.json`` runs. A :class:`NodeTokenizer` keeps one node process
(``transformers_js.cjs`` beside this module) per Python process and talks to it in JSON lines;
:func:`candidate` makes it a :class:`~tokcheck.candidates.hf.Candidate`, judged like any other.

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
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from tokcheck.candidates.bridge import Bridge, BridgeError

PACKAGE = "@huggingface/tokenizers"
INSTALL = "npm install --ignore-scripts @huggingface/tokenizers"
NODE_MODULES_ENV = "TOKCHECK_NODE_MODULES"
_SCRIPT = Path(__file__).with_name("transformers_js.cjs")
# Where the package sits in a node_modules folder: installed itself, or by transformers.js.
_PLACES = (PACKAGE, f"@huggingface/transformers/node_modules/{PACKAGE}")


class RuntimeUnavailable(BridgeError):
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


class NodeTokenizer(Bridge):
    """One tokenizer loaded in a node process of this Python process's own (see
    :class:`~tokcheck.candidates.bridge.Bridge`); the bridge kills itself when this process has gone."""

    def __init__(self, tokenizer_json: str, config: dict[str, Any]) -> None:
        node = _node()
        self.package = find_package()
        self.version = package_version(self.package)
        super().__init__(
            [node, str(_SCRIPT), str(self.package)],
            {"tokenizer": tokenizer_json, "config": config},
            runtime="transformers.js (node)",
            program=f"{node} is not Node.js running tokcheck's transformers.js bridge",
            unavailable=RuntimeUnavailable,
        )


def candidate(name: str, tokenizer_json: str, config: dict[str, Any] | None = None) -> Any:
    """``tokenizer_json`` (a ``tokenizer.json``'s text) with ``config`` (its directory's
    ``tokenizer_config.json``) run by transformers.js, as a candidate: encoded without special
    tokens added, decoded with them kept, streamed by prefix/read offsets in node."""
    from tokcheck.candidates.base import Candidate
    from tokcheck.judge.stream import Streamer

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


def in_node(name: str, tokenizer_json: str, config: dict[str, Any]) -> Any:
    """The candidate ``name``: ``tokenizer_json`` run in node; not applicable without node or
    the library (:class:`tokcheck.candidates.base.NotApplicable`)."""
    from tokcheck.candidates.base import NotApplicable

    try:
        return candidate(name, tokenizer_json, config)
    except RuntimeUnavailable as e:
        raise NotApplicable(str(e)) from e
