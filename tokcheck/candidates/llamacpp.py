"""A GGUF's tokenizer run by llama.cpp (through llama-cpp-python), as three candidates.

``llama.cpp`` is the C API that llama.cpp's own programs use: ``llama_tokenize`` without bos
and without parsing special names, ``llama_detokenize`` into a buffer as large as the answer
needs, and streaming as llama.cpp's server does it: each id's ``llama_token_to_piece`` appended
to the bytes so far, and only text that ends a character sent (its ``validate_utf8``). The
first id is read as ``llama_detokenize`` reads it, without the space the tokenizer prefixed.

``llama-cpp-python`` is the Python binding's own ``Llama.tokenize``/``Llama.detokenize``, what
its completions and streaming use: the same ids, decoded through a 32-byte buffer per piece
(a longer piece decodes to nothing), and streamed id by id the same way.

``llama-server`` is the C API tokenizing as llama.cpp's server tokenizes a prompt, special
tokens' names parsed: a user's ``</s>`` becomes the control token (the injection check).

Each runs in a child process (:func:`serve`, behind :class:`tokcheck.candidates.bridge.Bridge`), the model
loaded vocabulary only (no weights: a GGUF of the tokenizer alone loads). Without
llama-cpp-python installed the candidates are unavailable with the install command.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tokcheck.errors import TokcheckError, one_line

INSTALL = (
    'CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" pip install "tokcheck[llama]" '
    "(llama-cpp-python builds llama.cpp from source)"
)
# Candidate kinds: the C API; the Python binding's decode; and the C API tokenizing as
# llama.cpp's server tokenizes a prompt, special tokens' names parsed (the injection check).
C_API, BINDING, PROMPTS = "llama.cpp", "llama-cpp-python", "llama-server"
KINDS = (C_API, BINDING, PROMPTS)


def is_llama(name: str) -> bool:
    """Whether ``name`` is one of the candidates :func:`candidate_names` gives."""
    return name.split(":", 1)[0] in KINDS


class LlamaUnavailable(TokcheckError):
    """llama-cpp-python is not installed: the llama.cpp candidates cannot run."""


def require() -> Any:
    try:
        import llama_cpp
    except ImportError as e:
        raise LlamaUnavailable(f"llama-cpp-python is not installed; {INSTALL}") from e
    except OSError as e:  # the shared library is there but does not load
        raise LlamaUnavailable(
            f"llama-cpp-python's library does not load: {one_line(str(e))}"
        ) from e
    return llama_cpp


def installed() -> None:
    """That llama-cpp-python is installed, without loading its library into this process
    (the child process loads it: see :func:`candidate`)."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise LlamaUnavailable(f"llama-cpp-python is not installed; {INSTALL}")


_LOG: list[str] = []
_CALLBACK: Any = None


def _quiet(lib: Any) -> None:
    """Route llama.cpp's log lines into a list instead of stderr (kept for load errors)."""
    global _CALLBACK
    if _CALLBACK is None:

        def record(level: int, text: bytes, user_data: Any) -> None:
            _LOG.append(text.decode("utf-8", "replace"))
            del _LOG[:-50]

        _CALLBACK = lib.llama_log_callback(record)
        lib.llama_log_set(_CALLBACK, ctypes.c_void_p(0))


class Vocab:
    """A GGUF loaded vocabulary only, with the C API's encode and decode."""

    def __init__(self, path: Path) -> None:
        lib = require()
        _quiet(lib)
        self.lib = lib
        self.path = path
        params = lib.llama_model_default_params()
        params.vocab_only = True
        _LOG.clear()
        self.model = lib.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            said = " ".join(line.strip() for line in _LOG if line.strip())[-300:]
            raise TokcheckError(
                f"{path}: llama.cpp cannot load this GGUF ({said or 'no reason given'})"
            )
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.size = int(lib.llama_vocab_n_tokens(self.vocab))
        self.space_prefix = _space_prefix(path)

    def known(self, token: int) -> bool:
        return 0 <= token < self.size

    def check_ids(self, ids: Sequence[int]) -> None:
        """llama.cpp aborts the process on an id outside its vocabulary: refuse it here."""
        if (bad := next((i for i in ids if not self.known(i)), None)) is not None:
            raise ValueError(f"id {bad} is outside the GGUF's {self.size} tokens")

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 8
        while True:
            out = (self.lib.llama_token * size)()
            n = self.lib.llama_tokenize(self.vocab, data, len(data), out, size, False, special)
            if n >= 0:
                return list(out[:n])
            size = -n

    def detokenize(self, ids: Sequence[int]) -> str:
        self.check_ids(ids)
        tokens = (self.lib.llama_token * len(ids))(*ids)
        size = 16 * len(ids) + 16
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self.lib.llama_detokenize(self.vocab, tokens, len(ids), buf, size, False, False)
            if n >= 0:
                return buf.raw[:n].decode("utf-8", "replace")
            size = -n

    def piece(self, token: int, lstrip: int = 0) -> bytes:
        self.check_ids([token])
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self.lib.llama_token_to_piece(self.vocab, token, buf, size, lstrip, False)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def name(self, token: int) -> str:
        self.check_ids([token])
        return bytes(self.lib.llama_vocab_get_text(self.vocab, token)).decode("utf-8", "replace")


def _space_prefix(path: Path) -> bool:
    from tokcheck.model.gguf_vocab import read_gguf

    return read_gguf(path).effective_space_prefix


def candidate(path: Path, kind: str, name: str) -> Any:
    """The ``kind`` candidate (:data:`KINDS`) of the GGUF at ``path``, reported as ``name``,
    run in a child process (:func:`serve`): llama.cpp aborts the process on some GGUFs, which
    then is a failure of this candidate, not of tokcheck."""
    from tokcheck.candidates.base import Candidate
    from tokcheck.candidates.bridge import Bridge
    from tokcheck.checks.gguf import SPM_WITHOUT_BYTES
    from tokcheck.judge.stream import SERVER, Streamer
    from tokcheck.model.gguf_vocab import read_gguf

    # A file llama.cpp is known to abort on fails here, llama-cpp-python installed or not.
    metadata = read_gguf(path)
    if metadata.tokenizer == "SPM" and metadata.byte_tokens < 256:
        raise TokcheckError(f"not run: {SPM_WITHOUT_BYTES}")
    installed()
    child = Bridge(
        [sys.executable, "-m", "tokcheck.candidates.llamacpp"],
        {"load": str(path), "kind": kind},
        runtime=f"llama.cpp on {path.name}",
        program=f"{sys.executable} is not Python running tokcheck's llama.cpp bridge",
        unavailable=LlamaUnavailable,
        died=TokcheckError,
        env={**os.environ, "GGML_NO_BACKTRACE": "1"},
    )
    ready = child.ready
    what = {
        C_API: "llama.cpp C API",
        BINDING: "llama_cpp.Llama",
        PROMPTS: "llama.cpp C API, special names parsed as llama-server parses prompts",
    }[kind]

    def decode_batch(batch: list[list[int]]) -> list[str]:
        return list(child.request(decode=batch))

    def stream(ids: Sequence[int], start: int) -> list[str]:
        return list(child.request(stream=[[start, list(ids)]])[0])

    return Candidate(
        name=name,
        cls=f"{what} (llama-cpp-python {ready['version']}) on {path.name}",
        encode_batch=lambda texts: [list(ids) for ids in child.request(encode=texts)],
        decode_batch=decode_batch,
        pieces=lambda ids: [str(p) for p in child.request(pieces=list(ids))],
        special_ids=frozenset(ready["special"]),
        key=f"{kind}:{_digest(path)}",
        streamer=Streamer(
            decode=lambda ids: decode_batch([list(ids)])[0],
            decode_batch=decode_batch,
            offsets=stream,
            algorithm=SERVER,
        ),
    )


class _Served:
    """What the child process runs: one GGUF's ``kind`` candidate, in process."""

    def __init__(self, path: Path, kind: str) -> None:
        self.vocab = vocab = Vocab(path)
        self.special = kind == PROMPTS
        if kind != BINDING:
            self.decode: Callable[[Sequence[int]], str] = vocab.detokenize
            self.piece: Callable[[int, int], bytes] = vocab.piece
        else:
            binding = _binding(path)
            self.decode = _binding_decode(binding, vocab)
            self.piece = _binding_piece(binding, vocab)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        from tokcheck.judge.stream import server_stream

        vocab = self.vocab
        if "encode" in request:
            return {"ids": [vocab.tokenize(t, self.special) for t in request["encode"]]}
        if "decode" in request:
            return {"texts": [self._decode(ids) for ids in request["decode"]]}
        if "pieces" in request:
            return {
                "pieces": [
                    vocab.name(i) if vocab.known(i) else f"<id {i}>" for i in request["pieces"]
                ]
            }
        if "stream" in request:
            return {
                "chunks": [
                    server_stream(self._pieces(ids, start)) for start, ids in request["stream"]
                ]
            }
        return {"error": "unknown request"}

    def _decode(self, ids: list[int]) -> str:
        """The decode of ``ids``; an id outside the vocabulary (llama.cpp's tokenizer gives -1
        where a vocabulary has no unknown token) is U+FFFD, since llama.cpp would abort on it."""
        if all(self.vocab.known(i) for i in ids):
            return self.decode(ids)
        return "".join(self.decode([i]) if self.vocab.known(i) else "\ufffd" for i in ids)

    def _pieces(self, ids: list[int], start: int) -> Iterator[bytes]:
        # The first id of a text is read without the space the tokenizer prefixed, as
        # llama_detokenize reads it; after a prompt every piece is read whole.
        first = int(self.vocab.space_prefix and start == 0)
        for i, t in enumerate(ids[start:]):
            known = self.vocab.known(t)
            yield self.piece(t, first if i == 0 else 0) if known else "\ufffd".encode()


def serve(parent: int) -> None:
    """The child's loop: JSON requests on stdin, answers on stdout (see :mod:`tokcheck.candidates.bridge`);
    it ends when its input closes or ``parent`` is gone."""
    import json
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the answers' stream
    served: _Served | None = None
    for line in sys.stdin:
        answer: dict[str, Any]
        try:
            request = json.loads(line)
            if "load" in request:
                answer = _load(request)
                served = answer.pop("served", None)
            elif served is None:
                answer = {"error": "no GGUF loaded"}
            else:
                answer = served.answer(request)
        except Exception as e:
            answer = {"error": f"{type(e).__name__}: {one_line(str(e))}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def _load(request: dict[str, Any]) -> dict[str, Any]:
    """The child's answer to its first request, with the loaded GGUF under ``served``."""
    try:
        require()
    except LlamaUnavailable as e:  # the library does not load here
        return {"error": str(e), "package": True}
    served = _Served(Path(request["load"]), request["kind"])
    ready = {"special": sorted(_special_ids(served.vocab)), "version": _version()}
    return {"ready": ready, "served": served}


def _digest(path: Path) -> str:
    """What identifies the tokenizer a GGUF carries: its tokenizer metadata, not the file
    (a model's GGUF is gigabytes of weights)."""
    from tokcheck.model.gguf_vocab import read_gguf

    # Every field the file's tokenizer has, whatever the path it was read from.
    record = dataclasses.replace(read_gguf(path), path=Path())
    return hashlib.sha1(repr(record).encode()).hexdigest()


def _special_ids(vocab: Vocab) -> frozenset[int]:
    """The control and unknown ids: those llama.cpp decodes to nothing without ``special``."""
    attr = vocab.lib.llama_vocab_get_attr
    special = vocab.lib.LLAMA_TOKEN_ATTR_CONTROL | vocab.lib.LLAMA_TOKEN_ATTR_UNKNOWN
    return frozenset(i for i in range(vocab.size) if attr(vocab.vocab, i) & special)


def _binding(path: Path) -> Any:
    lib = require()
    _quiet(lib)
    from tokcheck.candidates.base import native_silenced

    # The binding prints a context-size notice on fd 2 whatever its ``verbose`` says.
    with native_silenced(2):
        return lib.Llama(str(path), vocab_only=True, verbose=False)


def _binding_piece(binding: Any, vocab: Vocab) -> Callable[[int, int], bytes]:
    """One id through ``Llama.detokenize``, as the binding streams (no leading space strip)."""

    def piece(token: int, lstrip: int) -> bytes:
        vocab.check_ids([token])
        return bytes(binding.detokenize([token]))

    return piece


def _binding_decode(binding: Any, vocab: Vocab) -> Callable[[Sequence[int]], str]:
    """``Llama.detokenize`` as its completions read it (bytes decoded, bad ones dropped)."""

    def decode(ids: Sequence[int]) -> str:
        vocab.check_ids(ids)
        return bytes(binding.detokenize(list(ids))).decode("utf-8", "ignore")

    return decode


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return "?"


def candidate_names(ggufs: Sequence[Path]) -> dict[str, tuple[Path, str]]:
    """The candidates ``compare --gguf`` adds: name -> (GGUF, kind). One GGUF's are named
    by their kinds (:data:`KINDS`); several GGUFs' carry the file's name too."""
    from tokcheck.model.gguf_vocab import labels

    out: dict[str, tuple[Path, str]] = {}
    for path, label in zip(ggufs, labels(ggufs), strict=True):
        for kind in KINDS:
            out[kind if len(ggufs) == 1 else f"{kind}:{label}"] = (path, kind)
    return out


if __name__ == "__main__":
    serve(int(sys.argv[1]))


def in_llama_cpp(name: str, path: Path, kind: str) -> Any:
    """The candidate ``name`` running the GGUF ``path``; not applicable without
    llama-cpp-python (:class:`tokcheck.candidates.base.NotApplicable`)."""
    from tokcheck.candidates.base import NotApplicable

    try:
        return candidate(path, kind, name)
    except LlamaUnavailable as e:
        raise NotApplicable(str(e)) from e
