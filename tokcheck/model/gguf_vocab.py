"""Read the tokenizer a GGUF file carries, as llama.cpp will run it.

A GGUF holds the tokenizer as metadata keys (``tokenizer.ggml.*``), read by
:mod:`tokcheck.model.gguf_kv`. Where a key is absent llama.cpp falls back to a
default that depends on the tokenizer model: :class:`GGUFVocab` keeps what the file says and
what llama.cpp makes of it (``effective_*``), since a missing key is exactly how a converter
changes a tokenizer without writing anything wrong. This module reads; :mod:`tokcheck.checks.gguf`
judges the metadata against the sentencepiece model, and :mod:`tokcheck.candidates.llamacpp` runs it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokcheck.errors import TokcheckError, one_line
from tokcheck.model.gguf_kv import Value, read_metadata
from tokcheck.model.spm import BYTE

# tokenizer.ggml.model -> llama.cpp's tokenizer (llama-vocab.cpp, llama_vocab::impl::load).
TOKENIZERS = {
    "llama": "SPM",
    "t5": "UGM",
    "gpt2": "BPE",
    "bert": "WPM",
    "rwkv": "RWKV",
    "plamo2": "PLAMO2",
}
# The special ids llama.cpp assumes where the file names none, per tokenizer.
_DEFAULT_IDS: dict[str, dict[str, int | None]] = {
    "SPM": {"bos": 1, "eos": 2, "unk": 0, "pad": None},
    "UGM": {"bos": None, "eos": 1, "unk": 2, "pad": 0},
    "BPE": {"bos": 11, "eos": 11, "unk": None, "pad": None},
    "WPM": {"bos": 101, "eos": None, "unk": 100, "pad": 0},
}
# add_space_prefix where the file has no tokenizer.ggml.add_space_prefix.
_DEFAULT_SPACE_PREFIX = {"SPM": True}
# llama.cpp's token types: the numbering is sentencepiece's piece types.
TOKEN_TYPES = {1: "normal", 2: "unknown", 3: "control", 4: "user_defined", 5: "unused", 6: "byte"}
# Llama.detokenize, llama-cpp-python's decode, reads each piece through a buffer this long:
# a longer piece decodes to nothing.
BINDING_BUFFER = 32
_IDS = ("bos", "eos", "unk", "pad", "sep", "mask")


@dataclass(frozen=True)
class GGUFVocab:
    path: Path
    architecture: str | None
    # tokenizer.ggml.model and .pre as written (None: absent).
    model: str | None
    pre: str | None
    tokens: tuple[bytes, ...]
    scores: tuple[float, ...] | None
    types: tuple[int, ...] | None
    add_space_prefix: bool | None
    remove_extra_whitespaces: bool | None
    charsmap: bytes | None
    ids: dict[str, int | None]
    add_bos: bool | None
    add_eos: bool | None
    merges: int

    @property
    def tokenizer(self) -> str | None:
        """llama.cpp's tokenizer for this file (SPM, UGM, BPE, ...), None if it has none."""
        return TOKENIZERS.get(self.model or "")

    @property
    def effective_space_prefix(self) -> bool:
        if self.add_space_prefix is not None:
            return self.add_space_prefix
        return _DEFAULT_SPACE_PREFIX.get(self.tokenizer or "", False)

    @property
    def effective_remove_whitespaces(self) -> bool:
        """Whether llama.cpp collapses whitespace: only its UGM tokenizer reads the flag."""
        return self.tokenizer == "UGM" and bool(self.remove_extra_whitespaces)

    def effective_id(self, name: str) -> int | None:
        if (written := self.ids.get(name)) is not None:
            return written
        return _DEFAULT_IDS.get(self.tokenizer or "", {}).get(name)

    def piece(self, i: int) -> str:
        return self.tokens[i].decode("utf-8", "backslashreplace")

    @property
    def long_tokens(self) -> list[int]:
        """The ids of tokens longer than :data:`BINDING_BUFFER` bytes."""
        return [i for i, t in enumerate(self.tokens) if len(t) > BINDING_BUFFER]

    @property
    def byte_tokens(self) -> int:
        """The tokens typed byte (llama.cpp's byte fallback reads only those)."""
        return sum(1 for t in self.types or () if t == BYTE)

    def summary(self) -> dict[str, Any]:
        """What ``tokcheck inspect FILE.gguf`` shows."""
        types = Counter(TOKEN_TYPES.get(t, f"type {t}") for t in self.types or ())
        long = self.long_tokens
        return {
            "gguf": str(self.path),
            "architecture": self.architecture,
            "tokenizer_model": self.model,
            "llama_cpp_tokenizer": self.tokenizer,
            "pre_tokenizer": self.pre,
            "vocab_size": len(self.tokens),
            "token_types": dict(sorted(types.items())),
            "scores": self.scores is not None,
            "merges": self.merges,
            "add_space_prefix": _flag(self.add_space_prefix, self.effective_space_prefix),
            "remove_extra_whitespaces": _flag(
                self.remove_extra_whitespaces, self.effective_remove_whitespaces
            ),
            "precompiled_charsmap_bytes": len(self.charsmap) if self.charsmap else 0,
            "special_ids": {
                name: _flag(self.ids.get(name), self.effective_id(name)) for name in _IDS
            },
            "add_bos": self.add_bos,
            "add_eos": self.add_eos,
            "longest_token_bytes": max((len(t) for t in self.tokens), default=0),
            "tokens_over_binding_buffer": {
                "count": len(long),
                "examples": [self.piece(i) for i in long[:5]],
            },
        }


def labels(paths: Sequence[Path]) -> list[str]:
    """How reports name each of several GGUFs: the file's name, numbered where two share it."""
    names = [p.name for p in paths]
    return [n if names.count(n) == 1 else f"{i + 1}:{n}" for i, n in enumerate(names)]


def _flag(written: Any, effective: Any) -> dict[str, Any]:
    return {"written": written, "effective": effective}


def read_gguf(path: Path) -> GGUFVocab:
    """The tokenizer metadata of the GGUF at ``path``; a file that is no GGUF, or has no
    tokenizer, is a :class:`TokcheckError` naming the file.

    Only the key/value section is read (:mod:`tokcheck.model.gguf_kv`), once per process while the
    file is unchanged."""
    if not path.is_file():
        what = "not a regular file" if path.exists() else "no such GGUF file"
        raise TokcheckError(f"{path}: {what}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise TokcheckError(f"{path}: cannot read it ({e.strerror or e})") from e
    if magic != b"GGUF":
        raise TokcheckError(f"{path}: not a GGUF file (it does not start with GGUF's magic)")
    stat = path.stat()
    vocab = _read(path.resolve(), stat.st_mtime_ns, stat.st_size)
    return vocab if vocab.path == path else dataclasses.replace(vocab, path=path)


@functools.lru_cache(maxsize=8)
def _read(path: Path, mtime_ns: int, size: int) -> GGUFVocab:
    try:
        fields = read_metadata(path)
    except (ValueError, OSError, OverflowError) as e:
        raise TokcheckError(f"{path}: a damaged GGUF file ({one_line(str(e))})") from e
    if "tokenizer.ggml.tokens" not in fields:
        raise TokcheckError(f"{path}: this GGUF holds no tokenizer (no tokenizer.ggml.tokens)")
    try:
        return _vocab(path, fields)
    except (ValueError, TypeError) as e:
        raise TokcheckError(f"{path}: malformed tokenizer metadata ({one_line(str(e))})") from e


def _vocab(path: Path, fields: dict[str, Value]) -> GGUFVocab:
    def typed(key: str, kinds: tuple[str, ...], what: str) -> Any:
        """The value of ``key``, where it has a type llama.cpp reads for it (ValueError else)."""
        field = fields.get(key)
        if field is None:
            return None
        if field.kind not in kinds:
            raise ValueError(f"{key} is not {what}")
        return field.value

    def text(key: str) -> str | None:
        value = typed(key, ("string",), "a string")
        return None if value is None else value.decode("utf-8", "replace")

    def flag(key: str) -> bool | None:
        value = typed(key, ("bool", "int"), "a boolean")
        return None if value is None else bool(value)

    def identifier(name: str) -> int | None:
        return typed(id_key(name), ("int",), "an integer")  # type: ignore[no-any-return]

    tokens = typed("tokenizer.ggml.tokens", ("array[string]",), "an array of strings")
    scores = typed("tokenizer.ggml.scores", ("array[float]", "array[int]"), "an array of numbers")
    types = typed("tokenizer.ggml.token_type", ("array[int]",), "an array of integers")
    charsmap = typed("tokenizer.ggml.precompiled_charsmap", ("array[int]",), "an array of bytes")
    merges = typed("tokenizer.ggml.merges", ("array[string]",), "an array of strings")
    return GGUFVocab(
        path=path,
        architecture=text("general.architecture"),
        model=text("tokenizer.ggml.model"),
        pre=text("tokenizer.ggml.pre"),
        tokens=tuple(tokens),
        scores=tuple(float(s) for s in scores) if scores is not None else None,
        types=tuple(int(t) for t in types) if types is not None else None,
        add_space_prefix=flag("tokenizer.ggml.add_space_prefix"),
        remove_extra_whitespaces=flag("tokenizer.ggml.remove_extra_whitespaces"),
        charsmap=bytes(b & 0xFF for b in charsmap) if charsmap else None,
        ids={name: identifier(name) for name in _IDS},
        add_bos=flag("tokenizer.ggml.add_bos_token"),
        add_eos=flag("tokenizer.ggml.add_eos_token"),
        merges=len(merges) if merges is not None else 0,
    )


def id_key(name: str) -> str:
    """The key of the special id ``name`` (``unk``, ``bos``, ...)."""
    return f"tokenizer.ggml.{_ID_KEYS.get(name, name)}_token_id"


# tokenizer.ggml.<key>_token_id, where the key is not the short name.
_ID_KEYS = {"unk": "unknown", "pad": "padding", "sep": "seperator"}
