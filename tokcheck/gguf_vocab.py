"""Read the tokenizer a GGUF file carries, as llama.cpp will run it.

A GGUF holds the tokenizer as metadata keys (``tokenizer.ggml.*``), read here with the ``gguf``
package (llama.cpp's own reader, in Python). Where a key is absent llama.cpp falls back to a
default that depends on the tokenizer model: :class:`GGUFVocab` keeps what the file says and
what llama.cpp makes of it (``effective_*``), since a missing key is exactly how a converter
changes a tokenizer without writing anything wrong. This module reads; :mod:`tokcheck.gguf_checks`
judges the metadata against the sentencepiece model, and :mod:`tokcheck.llamacpp` runs it.
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

    def summary(self) -> dict[str, Any]:
        """What ``tokcheck inspect FILE.gguf`` shows."""
        types = Counter(TOKEN_TYPES.get(t, f"type {t}") for t in self.types or ())
        long = [i for i, t in enumerate(self.tokens) if len(t) > BINDING_BUFFER]
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

    The ``gguf`` package parses every array element into its own numpy view (about 5 s for a
    98,000-token vocabulary), so a file is read once per process while it is unchanged."""
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
        from gguf import GGUFReader

        reader = GGUFReader(path, "r")
    except Exception as e:  # the reader raises ValueError, struct and numpy errors alike
        raise TokcheckError(f"{path}: a damaged GGUF file ({one_line(str(e))})") from e
    fields = reader.fields
    if "tokenizer.ggml.tokens" not in fields:
        raise TokcheckError(f"{path}: this GGUF holds no tokenizer (no tokenizer.ggml.tokens)")
    try:
        return _vocab(path, fields)
    except (ValueError, TypeError, IndexError) as e:
        raise TokcheckError(f"{path}: malformed tokenizer metadata ({one_line(str(e))})") from e


def _vocab(path: Path, fields: dict[str, Any]) -> GGUFVocab:
    from gguf import GGUFValueType as T

    integers = {T.UINT8, T.INT8, T.UINT16, T.INT16, T.UINT32, T.INT32, T.UINT64, T.INT64}
    numbers = integers | {T.FLOAT32, T.FLOAT64}

    def typed(key: str, allowed: set[Any], what: str, array: bool = False) -> Any:
        """The field's value, where it has a type llama.cpp reads for it (ValueError else)."""
        field = fields.get(key)
        if field is None:
            return None
        kinds = field.types
        if array != (kinds[:1] == [T.ARRAY]) or kinds[-1:][0] not in allowed:
            raise ValueError(f"{key} is not {what}")
        return list(field.contents()) if array else field.contents()

    tokens_field = fields["tokenizer.ggml.tokens"]
    if tokens_field.types != [T.ARRAY, T.STRING]:
        raise ValueError("tokenizer.ggml.tokens is not an array of strings")
    tokens = tuple(bytes(tokens_field.parts[i]) for i in tokens_field.data)
    scores = typed("tokenizer.ggml.scores", numbers, "an array of numbers", array=True)
    types = typed("tokenizer.ggml.token_type", integers, "an array of integers", array=True)
    charsmap = typed(
        "tokenizer.ggml.precompiled_charsmap", integers, "an array of bytes", array=True
    )
    merges = fields.get("tokenizer.ggml.merges")

    def text(key: str) -> str | None:
        return typed(key, {T.STRING}, "a string")  # type: ignore[no-any-return]

    def flag(key: str) -> bool | None:
        value = typed(key, {T.BOOL} | integers, "a boolean")
        return None if value is None else bool(value)

    def identifier(name: str) -> int | None:
        key = f"tokenizer.ggml.{_ID_KEYS.get(name, name)}_token_id"
        value = typed(key, integers, "an integer")
        return None if value is None else int(value)

    return GGUFVocab(
        path=path,
        architecture=text("general.architecture"),
        model=text("tokenizer.ggml.model"),
        pre=text("tokenizer.ggml.pre"),
        tokens=tokens,
        scores=tuple(float(s) for s in scores) if scores is not None else None,
        types=tuple(int(t) for t in types) if types is not None else None,
        add_space_prefix=flag("tokenizer.ggml.add_space_prefix"),
        remove_extra_whitespaces=flag("tokenizer.ggml.remove_extra_whitespaces"),
        charsmap=bytes(bytearray(int(b) & 0xFF for b in charsmap)) if charsmap else None,
        ids={name: identifier(name) for name in _IDS},
        add_bos=flag("tokenizer.ggml.add_bos_token"),
        add_eos=flag("tokenizer.ggml.add_eos_token"),
        merges=len(merges.data) if merges is not None else 0,
    )


# tokenizer.ggml.<key>_token_id, where the key is not the short name.
_ID_KEYS = {"unk": "unknown", "pad": "padding", "sep": "seperator"}
