"""Seeded mutation fuzzing of the tokcheck command-line contract.

Mutates a small real sentencepiece model (byte-level, and structure-aware through the
ModelProto) and the Hugging Face files beside it, runs a tokcheck command on each mutant
in-process with stdout and stderr captured at the file-descriptor level (so sentencepiece's C++
log lines are caught too), and checks the contract every command keeps:

- the exit code is 0 (passed), 1 (a check failed) or 2 (unusable input or usage);
- no exception escapes ``main``, and no traceback reaches stderr;
- exit 2 writes exactly one line on stderr, ``tokcheck: error: ...``, and nothing else;
- with ``--json`` and exit 0 or 1, stdout is strict RFC 8259 JSON (no NaN or Infinity, no lone
  surrogates);
- an export that does not succeed leaves OUTDIR absent or empty, and no staging directory;
- no case runs past the timeout.

It judges only the contract, never whether a verdict is right. Every case is a pure function of
(seed, index), so any finding replays with ``python -m tests.fuzzing --replay SEED:INDEX``.
``tests/test_fuzz.py`` runs a CI-sized batch; ``python -m tests.fuzzing --cases N --jobs J``
runs long local batches.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType
from typing import Any, Literal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASE_MODELS = ("tiny-neox", "tiny-legacy")
# The commands every model case runs, in the order cases cycle through them.
MODEL_COMMANDS = ("inspect", "check", "roundtrip", "compare", "export")
COMMANDS = (*MODEL_COMMANDS, "gate")
EXIT_CODES = (0, 1, 2)
DEFAULT_TIMEOUT_S = 120.0
# Grace the parent gives a worker past the case timeout before killing it: the worker's own
# alarm normally ends the case first, and reports where it hung.
_KILL_GRACE_S = 30.0
# Words of a last-resort handler in tokcheck's own lines; a library's warning that happens to
# use them ("may result in unexpected behavior") is not one.
_INTERNAL_MARKERS = ("unexpected", "internal error")
# Wording that contains a marker but is a precise message about the input, not a last resort:
# Python's json module says this of a file that starts with a byte order mark.
_NOT_INTERNAL = ("unexpected utf-8 bom",)

Node = bytes | Literal["dir", "fifo"]


# --- cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One generated input and the command line to run on it.

    ``files`` maps paths relative to the case directory to contents ("dir" and "fifo" make a
    directory or a named pipe); ``{tmp}`` in ``argv`` becomes the case directory.
    """

    seed: int
    index: int
    command: str
    family: str
    description: str
    files: tuple[tuple[str, Node], ...]
    argv: tuple[str, ...]
    json: bool
    outdir: str | None = None  # export's OUTDIR when the case expects it to be created

    @property
    def key(self) -> str:
        return f"{self.seed}:{self.index}"

    @property
    def size(self) -> int:
        """Bytes in the generated files: the smallest case is the best reproducer."""
        return sum(len(n) for _, n in self.files if isinstance(n, bytes))

    def materialise(self, tmp: Path) -> list[str]:
        for rel, node in self.files:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if node == "dir":
                path.mkdir(exist_ok=True)
            elif node == "fifo":
                os.mkfifo(path)
            else:
                assert isinstance(node, bytes)
                path.write_bytes(node)
        return [a.replace("{tmp}", str(tmp)) for a in self.argv]


def make_case(seed: int, index: int) -> Case:
    """The case number ``index`` of a run seeded ``seed``: the same on every machine."""
    rng = random.Random(f"tokcheck-fuzz:{seed}:{index}")
    family = rng.choices(("proto-bytes", "proto-struct", "hf-dir", "usage"), (3, 4, 3, 1))[0]
    if family == "usage":
        return _usage_case(rng, seed, index)
    command = MODEL_COMMANDS[index % len(MODEL_COMMANDS)]
    as_json = (index // len(MODEL_COMMANDS)) % 2 == 0
    base = rng.choice(BASE_MODELS)
    data = _base_model(base)
    if family == "proto-bytes":
        data, what = _mutate_bytes(rng, data)
        files, model_rel, layout = _model_layout(rng, data, base)
    elif family == "proto-struct":
        data, what = _mutate_proto(rng, data)
        files, model_rel, layout = _model_layout(rng, data, base)
    else:
        files, what = _mutate_hf_dir(rng, base)
        model_rel, layout = "model", "dir"
    argv, outdir = _command_argv(rng, command, "{tmp}/" + model_rel, index)
    if as_json:
        argv.append("--json")
    description = f"{base} {family} ({layout}): {what}"
    return Case(
        seed, index, command, family, description, tuple(files), tuple(argv), as_json, outdir
    )


def _command_argv(
    rng: random.Random, command: str, model: str, index: int
) -> tuple[list[str], str | None]:
    if command in ("inspect", "check"):
        return [command, model], None
    if command == "roundtrip":
        return [command, model, "--examples", "5"], None
    if command == "compare":
        # Every fourth compare case loads all the default candidates, not only AutoTokenizer.
        only_default = (index // len(MODEL_COMMANDS)) % 4 != 3
        return [command, model, "--examples", "5"] + (
            ["--candidate", "default"] if only_default else []
        ), None
    return [command, model, "{tmp}/out", "--examples", "5"], "out"


def _model_layout(
    rng: random.Random, data: bytes, base: str
) -> tuple[list[tuple[str, Node]], str, str]:
    """The mutated model as a bare .model file, or in its fixture's Hugging Face directory."""
    if rng.random() < 0.5:
        return [("spiece.model", data)], "spiece.model", "bare .model"
    files: list[tuple[str, Node]] = [("model/spiece.model", data)]
    files += [(f"model/{n}", b) for n, b in _base_metadata(base).items()]
    return files, "model", "dir"


@functools.cache
def _base_model(name: str) -> bytes:
    return (FIXTURES / name / "spiece.model").read_bytes()


def _base_metadata(name: str) -> dict[str, bytes]:
    names = ("tokenizer_config.json", "special_tokens_map.json", "config.json")
    return {n: (FIXTURES / name / n).read_bytes() for n in names}


# --- byte-level mutations ------------------------------------------------------------------------


def _mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    steps = []
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.choice(("flip", "truncate", "insert", "delete", "duplicate", "overwrite"))
        n = len(buf)
        at = rng.randrange(n + 1) if n else 0
        if op == "flip" and n:
            count = rng.choice((1, 2, 8, 32))
            for _ in range(count):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
            steps.append(f"flip {count} bits")
        elif op == "truncate":
            at = rng.choice((at, rng.randrange(min(n, 64) + 1)))
            del buf[at:]
            steps.append(f"truncate at {at}")
        elif op == "insert":
            span = _random_bytes(rng, rng.choice((1, 4, 64, 1024)))
            buf[at:at] = span
            steps.append(f"insert {len(span)} random bytes at {at}")
        elif op == "delete":
            length = rng.choice((1, 4, 64, 1024))
            del buf[at : at + length]
            steps.append(f"delete {length} bytes at {at}")
        elif op == "duplicate":
            length = rng.choice((1, 16, 256, 4096))
            buf[at:at] = buf[at : at + length]
            steps.append(f"duplicate {length} bytes at {at}")
        else:
            span = _random_bytes(rng, rng.choice((1, 4, 64)))
            buf[at : at + len(span)] = span
            steps.append(f"overwrite {len(span)} bytes at {at}")
    return bytes(buf), "; ".join(steps)


def _random_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


# --- structure-aware mutations of the ModelProto -------------------------------------------------

_INVALID_UTF8 = (b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80")
_ODD_TEXT = (
    "",
    " ",
    "\u2581",
    "\n",
    "\t",
    "\x00",
    "\r\n",
    "<0x41>",
    "<s>",
    "[UNK]",
    "\u2581\u2581\u2581",
    "a" * 300,
    "\U0001f600",
    "\u200b",
    "\ufeff",
    "\\",
    '"',
    "x" * 5000,
)


class _ProtoMutant:
    """A ModelProto being mutated, plus the raw edits protobuf's Python API refuses to make:
    out-of-range enum values (appended as raw fields, which protobuf merges last-wins) and
    invalid UTF-8 (ASCII markers of the same length, replaced in the serialized bytes)."""

    def __init__(self, rng: random.Random, data: bytes) -> None:
        from sentencepiece.sentencepiece_model_pb2 import ModelProto

        self.rng = rng
        self.proto = ModelProto()
        self.proto.ParseFromString(data)
        self.piece_types: dict[int, int] = {}  # piece index -> raw enum value
        self.trainer_raw = b""  # raw fields appended to trainer_spec
        self.markers: dict[bytes, bytes] = {}

    def invalid_utf8(self) -> str:
        """A placeholder string that becomes invalid UTF-8 once serialized."""
        bad = self.rng.choice(_INVALID_UTF8)
        pad = self.rng.randrange(3)
        length = max(len(bad) + pad, 8)
        marker = f"#{len(self.markers):02d}"
        marker += "Q" * (length - len(marker))
        replacement = b"a" * pad + bad
        replacement += b"z" * (length - len(replacement))
        self.markers[marker.encode()] = replacement
        return marker

    def serialize(self) -> bytes:
        proto = self.proto
        pieces = [p.SerializeToString() for p in proto.pieces]
        for i, value in self.piece_types.items():
            if i < len(pieces):
                pieces[i] += _field_varint(3, value)
        head = b"".join(_field_bytes(1, p) for p in pieces)
        del proto.pieces[:]  # serialized above, with their raw edits; this consumes the mutant
        data: bytes = head + proto.SerializeToString()
        if self.trainer_raw:
            data += _field_bytes(2, self.trainer_raw)
        for marker, replacement in self.markers.items():
            data = data.replace(marker, replacement)
        return data


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32/enum values are sign-extended to 10 bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _odd_id(rng: random.Random, n: int) -> int:
    return rng.choice((-1, -2, n, n + 5, 2**31 - 1, -(2**31), 0, 1, n - 1))


def _m_flags(m: _ProtoMutant) -> str:
    rng, t, norm = m.rng, m.proto.trainer_spec, m.proto.normalizer_spec
    name = rng.choice(
        (
            "add_dummy_prefix",
            "remove_extra_whitespaces",
            "escape_whitespaces",
            "byte_fallback",
            "split_by_whitespace",
            "treat_whitespace_as_suffix",
            "split_digits",
            "allow_whitespace_only_pieces",
            "split_by_unicode_script",
            "split_by_number",
        )
    )
    target = norm if hasattr(norm, name) and name in norm.DESCRIPTOR.fields_by_name else t
    setattr(target, name, not getattr(target, name))
    return f"flip {name} to {getattr(target, name)}"


def _m_odd_ints(m: _ProtoMutant) -> str:
    rng, t = m.rng, m.proto.trainer_spec
    name = rng.choice(
        (
            "vocab_size",
            "max_sentencepiece_length",
            "num_threads",
            "max_sentence_length",
            "seed_sentencepiece_size",
        )
    )
    value = rng.choice((0, -1, 1, 2**31 - 1, -(2**31)))
    setattr(t, name, value)
    if rng.random() < 0.3:
        t.character_coverage = rng.choice((math.nan, math.inf, -1.0))
        return f"trainer_spec.{name} = {value}, character_coverage = {t.character_coverage}"
    return f"trainer_spec.{name} = {value}"


def _m_special_ids(m: _ProtoMutant) -> str:
    rng, t, n = m.rng, m.proto.trainer_spec, len(m.proto.pieces)
    names = rng.sample(("unk_id", "bos_id", "eos_id", "pad_id"), rng.randint(1, 4))
    if rng.random() < 0.3:
        value = rng.randrange(n)
        for name in names:
            setattr(t, name, value)
        return f"{', '.join(names)} all = {value}"
    parts = []
    for name in names:
        value = _odd_id(rng, n)
        setattr(t, name, value)
        parts.append(f"{name} = {value}")
    return ", ".join(parts)


def _m_model_type(m: _ProtoMutant) -> str:
    value = m.rng.choice((2, 3, 4, 0, 5, 99, -1))
    if value in (2, 3, 4):
        m.proto.trainer_spec.model_type = value
    else:
        m.trainer_raw += _field_varint(3, value)
    return f"model_type = {value}"


def _m_piece_types(m: _ProtoMutant) -> str:
    rng, n = m.rng, len(m.proto.pieces)
    parts = []
    for _ in range(rng.choice((1, 3, 20))):
        i = rng.randrange(n)
        value = rng.choice((0, 7, 99, -1, 2, 3, 4, 5, 6))
        if 1 <= value <= 6:
            m.proto.pieces[i].type = value
        else:
            m.piece_types[i] = value
        parts.append(f"{i}:{value}")
    return f"piece types {' '.join(parts[:5])}{' ...' if len(parts) > 5 else ''}"


def _m_duplicate_pieces(m: _ProtoMutant) -> str:
    rng, pieces = m.rng, m.proto.pieces
    i, j = rng.randrange(len(pieces)), rng.randrange(len(pieces))
    pieces[j].piece = pieces[i].piece
    return f"piece {j} = piece {i} ({pieces[i].piece!r})"


def _m_empty_piece(m: _ProtoMutant) -> str:
    i = m.rng.randrange(len(m.proto.pieces))
    m.proto.pieces[i].piece = ""
    return f"piece {i} named ''"


def _m_scores(m: _ProtoMutant) -> str:
    rng = m.rng
    value = rng.choice((math.nan, math.inf, -math.inf, 3.4e38, -3.4e38))
    count = rng.choice((1, 5, len(m.proto.pieces)))
    for _ in range(count):
        m.proto.pieces[rng.randrange(len(m.proto.pieces))].score = value
    return f"{count} scores = {value}"


def _m_remove_pieces(m: _ProtoMutant) -> str:
    rng, pieces = m.rng, m.proto.pieces
    how = rng.choice(("all", "bytes", "keep1", "keep5", "specials", "random"))
    if how == "all":
        del pieces[:]
    elif how == "bytes":
        keep = [p for p in pieces if p.type != 6 and not p.piece.startswith("<0x")]
        _replace_pieces(m, keep)
    elif how in ("keep1", "keep5"):
        del pieces[int(how[-1]) :]
    elif how == "specials":
        _replace_pieces(m, [p for p in pieces if p.type == 1])
    else:
        _replace_pieces(m, [p for p in pieces if rng.random() < 0.5])
    return f"remove pieces: {how} (left {len(pieces)})"


def _replace_pieces(m: _ProtoMutant, keep: list[Any]) -> None:
    copies = [type(p)() for p in keep]
    for copy, p in zip(copies, keep, strict=True):
        copy.CopyFrom(p)
    del m.proto.pieces[:]
    m.proto.pieces.extend(copies)


def _m_charsmap(m: _ProtoMutant) -> str:
    rng, norm = m.rng, m.proto.normalizer_spec
    how = rng.choice(("random", "truncated", "huge-length", "empty-with-nfkc"))
    if how == "random":
        norm.precompiled_charsmap = _random_bytes(rng, rng.choice((1, 4, 16, 1024)))
    elif how == "truncated" and norm.precompiled_charsmap:
        cut = rng.randrange(len(norm.precompiled_charsmap))
        norm.precompiled_charsmap = norm.precompiled_charsmap[:cut]
    elif how == "huge-length":
        norm.precompiled_charsmap = (0xFFFFFFF0).to_bytes(4, "little") + _random_bytes(rng, 12)
    else:
        norm.precompiled_charsmap = b""
        norm.name = "nmt_nfkc"
    return f"precompiled_charsmap {how} ({len(norm.precompiled_charsmap)} bytes)"


def _m_normalizer_name(m: _ProtoMutant) -> str:
    names = ("", "nonexistent", "nfkc", "nfkc_cf", "nmt_nfkc_cf", "identity", "user_defined")
    value = m.rng.choice((*names, "NFKC", "\x00", "n" * 1000))
    m.proto.normalizer_spec.name = value
    if m.rng.random() < 0.3:
        m.proto.denormalizer_spec.name = value
        m.proto.denormalizer_spec.precompiled_charsmap = _random_bytes(m.rng, 8)
        return f"normalizer and denormalizer name {value[:20]!r}, denormalizer charsmap garbage"
    return f"normalizer name {value[:20]!r}"


def _m_user_defined(m: _ProtoMutant) -> str:
    rng, t = m.rng, m.proto.trainer_spec
    values = [rng.choice(_ODD_TEXT) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        t.user_defined_symbols.extend(values)
        return f"trainer_spec.user_defined_symbols += {[v[:10] for v in values]!r}"
    for value in values:
        i = rng.randrange(len(m.proto.pieces))
        m.proto.pieces[i].piece = value
        m.proto.pieces[i].type = 4
    return f"user-defined pieces {[v[:10] for v in values]!r}"


def _m_unk_surface(m: _ProtoMutant) -> str:
    value = m.rng.choice(_ODD_TEXT)
    m.proto.trainer_spec.unk_surface = value
    return f"unk_surface = {value[:10]!r}"


def _m_invalid_utf8(m: _ProtoMutant) -> str:
    rng, t = m.rng, m.proto.trainer_spec
    where = rng.choice(
        (
            "piece",
            "user-defined piece",
            "user_defined_symbols",
            "unk_surface",
            "control_symbols",
            "unk_piece",
            "normalizer name",
            "special piece",
        )
    )
    marker = m.invalid_utf8()
    if where == "piece":
        m.proto.pieces[rng.randrange(len(m.proto.pieces))].piece = marker
    elif where == "user-defined piece":
        i = rng.randrange(len(m.proto.pieces))
        m.proto.pieces[i].piece = marker
        m.proto.pieces[i].type = 4
    elif where == "user_defined_symbols":
        t.user_defined_symbols.append(marker)
    elif where == "unk_surface":
        t.unk_surface = marker
    elif where == "control_symbols":
        t.control_symbols.append(marker)
    elif where == "unk_piece":
        t.unk_piece = marker
    elif where == "normalizer name":
        m.proto.normalizer_spec.name = marker
    else:
        ids = [i for i in (t.unk_id, t.bos_id, t.eos_id) if 0 <= i < len(m.proto.pieces)]
        m.proto.pieces[rng.choice(ids) if ids else 0].piece = marker
    return f"invalid UTF-8 {m.markers[marker.encode()]!r} in {where}"


_PROTO_MUTATIONS: tuple[Callable[[_ProtoMutant], str], ...] = (
    _m_flags,
    _m_odd_ints,
    _m_special_ids,
    _m_model_type,
    _m_piece_types,
    _m_duplicate_pieces,
    _m_empty_piece,
    _m_scores,
    _m_remove_pieces,
    _m_charsmap,
    _m_normalizer_name,
    _m_user_defined,
    _m_unk_surface,
    _m_invalid_utf8,
    _m_invalid_utf8,
)


def _mutate_proto(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    m = _ProtoMutant(rng, data)
    steps = []
    for mutation in rng.sample(_PROTO_MUTATIONS, rng.choice((1, 1, 2, 3))):
        if len(m.proto.pieces) == 0 and mutation is not _m_model_type:
            continue  # every other mutation picks a piece or needs one to mean anything
        steps.append(mutation(m))
    return m.serialize(), "; ".join(steps)


# --- Hugging Face directory mutations ------------------------------------------------------------


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


_BAD_DOCUMENTS: tuple[tuple[str, bytes], ...] = (
    ("invalid JSON (unterminated)", b'{"bos_token": '),
    ("invalid JSON (single quotes)", b"{'bos_token': '<s>'}"),
    ("invalid JSON (trailing comma)", b'{"bos_token": "<s>",}'),
    ("JSON array", b"[]"),
    ("JSON string", b'"tokenizer"'),
    ("JSON number", b"42"),
    ("JSON null", b"null"),
    ("JSON true", b"true"),
    ("deep nesting 200,000 [", b"[" * 200_000),
    ("deep nesting 200,000 [ closed", b"[" * 200_000 + b"]" * 200_000),
    ("deep nesting in an object", b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("empty file", b""),
    ("whitespace only", b" \n"),
    ("invalid UTF-8", b'{"bos_token": "\xff\xfe"}'),
    ("invalid UTF-8 key", b'{"\xc0\xaf": 1}'),
    ("UTF-8 BOM", b'\xef\xbb\xbf{"bos_token": "<s>"}'),
    ("UTF-16 text", '{"bos_token": "<s>"}'.encode("utf-16")),
    ("NUL bytes", b'{"bos_token": "<s>"}\x00\x00'),
    ("two documents", b"{} {}"),
    ("lone surrogate escape", b'{"bos_token": "\\ud800", "model_max_length": 2048}'),
    ("lone surrogate key", b'{"\\udfff": "x"}'),
    ("NaN", b'{"model_max_length": NaN, "vocab_size": NaN, "eos_token_id": NaN}'),
    ("Infinity", b'{"model_max_length": Infinity, "vocab_size": -Infinity}'),
    ("5,000-digit integer", b'{"model_max_length": ' + b"9" * 5000 + b"}"),
    ("5,000-digit vocab_size", b'{"vocab_size": ' + b"1" * 5000 + b"}"),
    ("1e400 float", b'{"model_max_length": 1e400, "vocab_size": 1e400}'),
    ("duplicate keys", b'{"bos_token": "<s>", "bos_token": 5}'),
)

# Wrong types for fields the tokenizer files are known to carry, by file.
_WRONG_FIELDS: dict[str, tuple[tuple[str, Any], ...]] = {
    "tokenizer_config.json": (
        ("additional_special_tokens", 5),
        ("additional_special_tokens", True),
        ("additional_special_tokens", {"a": 1}),
        ("additional_special_tokens", [None, 1, ["x"]]),
        ("additional_special_tokens", "<s>"),
        ("model_max_length", "2048"),
        ("model_max_length", -1),
        ("model_max_length", 2**70),
        ("model_max_length", 1.5),
        ("model_max_length", True),
        ("bos_token", ["<s>"]),
        ("bos_token", 2),
        ("bos_token", {"content": 5}),
        ("bos_token", {"__type": "AddedToken"}),
        ("eos_token", None),
        ("unk_token", ""),
        ("pad_token", "x" * 1_000_000),
        ("tokenizer_class", "NoSuchTokenizer"),
        ("tokenizer_class", 7),
        ("tokenizer_class", ""),
        ("tokenizer_class", "LlamaTokenizer"),
        ("tokenizer_class", "PreTrainedTokenizerFast"),
        ("tokenizer_class", None),
        ("extra_ids", -1),
        ("extra_ids", "3"),
        ("extra_ids", 300),
        ("do_lower_case", "yes"),
        ("legacy", "no"),
        ("add_bos_token", "true"),
        ("added_tokens_decoder", [1, 2]),
        ("added_tokens_decoder", {"x": {"content": "<s>"}}),
        ("added_tokens_decoder", {"5": "<s>"}),
        ("sp_model_kwargs", {"no_such_option": 1}),
        ("sp_model_kwargs", "x"),
        ("clean_up_tokenization_spaces", "maybe"),
        ("split_special_tokens", 3),
    ),
    "special_tokens_map.json": (
        ("bos_token", ["<s>"]),
        ("bos_token", 1),
        ("bos_token", {"content": None}),
        ("eos_token", {"content": "</s>", "lstrip": "x"}),
        ("unk_token", True),
        ("pad_token", {"a": [1, 2]}),
        ("additional_special_tokens", 3),
        ("additional_special_tokens", [{"content": 1}]),
        ("additional_special_tokens", {"a": "b"}),
        ("mask_token", "\ud800"),
    ),
    "config.json": (
        ("vocab_size", "1000"),
        ("vocab_size", -1),
        ("vocab_size", 0),
        ("vocab_size", 2**64),
        ("vocab_size", 1000.0),
        ("vocab_size", None),
        ("vocab_size", [1000]),
        ("eos_token_id", 3.0),
        ("eos_token_id", "3"),
        ("eos_token_id", [3, "x"]),
        ("eos_token_id", -5),
        ("eos_token_id", 10**30),
        ("bos_token_id", {"id": 2}),
        ("pad_token_id", True),
        ("model_type", 7),
        ("model_type", "no_such_model_type"),
        ("model_type", ""),
        ("architectures", "GPTNeoXForCausalLM"),
        ("architectures", [5]),
        ("torch_dtype", "float99"),
        ("max_position_embeddings", "x"),
    ),
}


def _mutate_hf_dir(rng: random.Random, base: str) -> tuple[list[tuple[str, Node]], str]:
    model = _base_model(base)
    if rng.random() < 0.25:  # a mildly broken model too, sometimes
        model, _ = _mutate_proto(rng, model)
    metadata: dict[str, Node] = dict(_base_metadata(base))
    model_name = rng.choice(("spiece.model", "spiece.model", "tokenizer.model"))
    files: dict[str, Node] = {model_name: model}
    steps = []
    for _ in range(rng.choice((1, 1, 2))):
        name = rng.choice((*metadata, "tokenizer.json"))
        how = rng.choice(("document", "document", "field", "field", "field", "node", "huge"))
        if name == "tokenizer.json":
            metadata[name], what = _garbage_tokenizer_json(rng)
        elif how == "document":
            what, metadata[name] = rng.choice(_BAD_DOCUMENTS)
        elif how == "field":
            key, value = rng.choice(_WRONG_FIELDS[name])
            doc = _json_object(metadata[name])
            doc[key] = value
            metadata[name] = _json(doc)
            what = f"{key} = {_short_repr(value)}"
        elif how == "node":
            kind: Literal["dir", "fifo"] = rng.choice(("dir", "fifo"))
            metadata[name] = kind
            what = f"a {kind} instead of the file"
        else:
            metadata[name] = _json(
                {"bos_token": "<s>", "comment": "x" * rng.choice((10**5, 10**6))}
            )
            what = "a huge string value"
        steps.append(f"{name}: {what}")
    if rng.random() < 0.08:
        files[model_name] = "dir"
        files["tokenizer.model"] = model
        steps.append(f"{model_name} is a directory, tokenizer.model beside it")
    files.update(metadata)
    return [(f"model/{n}", node) for n, node in files.items()], "; ".join(steps)


def _json_object(node: Node) -> dict[str, Any]:
    """The object a metadata file holds, or {} when an earlier step already broke it."""
    try:
        doc = json.loads(node) if isinstance(node, bytes) else {}
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _garbage_tokenizer_json(rng: random.Random) -> tuple[bytes, str]:
    choices: tuple[tuple[str, bytes], ...] = (
        ("random bytes", _random_bytes(rng, 256)),
        ("empty object", b"{}"),
        ("model null", b'{"version": "1.0", "model": null}'),
        ("model {}", b'{"version": "1.0", "model": {}}'),
        (
            "Unigram with a bad vocab",
            b'{"version": "1.0", "model": {"type": "Unigram", "vocab": [["a", "x"]], "unk_id": 9}}',
        ),
        (
            "BPE with no merges",
            b'{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}',
        ),
        ("array", b"[1, 2, 3]"),
        ("deep nesting", b"[" * 200_000),
    )
    what, data = rng.choice(choices)
    return data, f"garbage ({what})"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- usage cases ---------------------------------------------------------------------------------


def _usage_case(rng: random.Random, seed: int, index: int) -> Case:
    """Command-line usage: odd option values, corpora, JUnit paths, OUTDIRs and MODELs."""
    model_files: list[tuple[str, Node]] = [
        ("model/spiece.model", _base_model("tiny-neox")),
        *((f"model/{n}", b) for n, b in _base_metadata("tiny-neox").items()),
    ]
    model = "{tmp}/model"
    small = ["--examples", "5"]
    options: list[tuple[str, list[tuple[str, Node]], list[str], str | None]] = [
        ("roundtrip --examples 0", [], ["roundtrip", model, "--examples", "0"], None),
        ("roundtrip --examples -1", [], ["roundtrip", model, "--examples", "-1"], None),
        ("roundtrip --seed huge", [], ["roundtrip", model, *small, "--seed", str(10**30)], None),
        ("compare --examples 0", [], ["compare", model, "--examples", "0"], None),
        ("compare --examples -1", [], ["compare", model, "--examples", "-1"], None),
        ("compare --show 0", [], ["compare", model, *small, "--show", "0"], None),
        (
            "compare --candidate unknown",
            [],
            ["compare", model, *small, "--candidate", "nope"],
            None,
        ),
        ("export --examples 0", [], ["export", model, "{tmp}/out", "--examples", "0"], "out"),
        ("export --examples -1", [], ["export", model, "{tmp}/out", "--examples", "-1"], "out"),
        ("export OUTDIR is a file", [("out", b"x")], ["export", model, "{tmp}/out", *small], None),
        (
            "export OUTDIR under a file",
            [("file", b"x")],
            ["export", model, "{tmp}/file/out", *small],
            None,
        ),
        (
            "export OUTDIR not empty",
            [("out/keep", b"x")],
            ["export", model, "{tmp}/out", *small],
            None,
        ),
        (
            "export a bare model, tokenizer.json garbage beside",
            [("model/tokenizer.json", b"garbage")],
            ["export", model, "{tmp}/out", *small],
            "out",
        ),
        (
            "gate --junit at a directory",
            [("junit", "dir")],
            ["gate", model, *small, "--junit", "{tmp}/junit"],
            None,
        ),
        (
            "gate --junit in a missing directory",
            [],
            ["gate", model, *small, "--junit", "{tmp}/missing/dir/report.xml"],
            None,
        ),
        ("check --profile unknown", [], ["check", model, "--profile", "no/such"], None),
        (
            "check --profile directory",
            [("p.toml", "dir")],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "check --profile invalid TOML",
            [("p.toml", b"name = [\n")],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "check --profile wrong types",
            [("p.toml", b'name = 5\nvocab_size = "big"\nbyte_fallback = "yes"\nmembers = 3\n')],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "check --profile invalid UTF-8",
            [("p.toml", b'name = "\xff\xfe"\n')],
            ["check", model, "--profile", "{tmp}/p.toml"],
            None,
        ),
        (
            "inspect MODEL is a FIFO",
            [("pipe.model", "fifo")],
            ["inspect", "{tmp}/pipe.model"],
            None,
        ),
        ("inspect MODEL is missing", [], ["inspect", "{tmp}/missing.model"], None),
        ("inspect MODEL is empty text", [], ["inspect", ""], None),
        ("inspect a directory with no model", [("empty", "dir")], ["inspect", "{tmp}/empty"], None),
        (
            "inspect spiece.model is a directory",
            [("m/spiece.model", "dir")],
            ["inspect", "{tmp}/m"],
            None,
        ),
        ("check an empty .model file", [("e.model", b"")], ["check", "{tmp}/e.model"], None),
    ]
    for command in ("compare", "gate"):
        corpus_cases: list[tuple[str, list[tuple[str, Node]]]] = [
            ("a directory", [("corpus", "dir")]),
            ("a FIFO", [("corpus", "fifo")]),
            ("missing", []),
            ("not UTF-8", [("corpus", b"ok line\n\xff\xfe bad\n\xc0\xaf\nok again\n")]),
            ("NUL bytes and lone CR", [("corpus", b"a\x00b\rc\r\n\x00\n")]),
            ("one 2 MB line", [("corpus", b"ab " * 700_000)]),
            ("empty", [("corpus", b"")]),
        ]
        for what, files in corpus_cases:
            argv = [command, model, *small, "--corpus", "{tmp}/corpus"]
            if command == "compare":
                argv += ["--candidate", "default"]
            options.append((f"{command} --corpus {what}", files, argv, None))
    description, extra, argv, outdir = options[rng.randrange(len(options))]
    as_json = rng.random() < 0.5
    if as_json:
        argv = [*argv, "--json"]
    return Case(
        seed,
        index,
        argv[0],
        "usage",
        f"tiny-neox usage: {description}",
        (*model_files, *extra),
        tuple(argv),
        as_json,
        outdir,
    )


# --- running a case ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one run of ``main`` did, as seen from outside: exit code, bytes on fds 1 and 2."""

    case: Case
    code: int | None
    stdout: bytes
    stderr: bytes
    elapsed_s: float
    exception: str | None = None  # "Type in tokcheck/module.py:function: message"
    traceback: str | None = None
    timed_out: bool = False
    outdir_left: list[str] = field(default_factory=list)
    staging_left: list[str] = field(default_factory=list)


class CaseTimeout(BaseException):
    """Raised by the alarm inside a case that runs too long; a BaseException so that no
    ``except Exception`` in the code under test swallows it."""


_STREAMS: tuple[io.TextIOWrapper, io.TextIOWrapper] | None = None


def _fd_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    """Text streams over fds 1 and 2 as a console script on a UTF-8 locale has them: created
    once, so anything that kept a reference to sys.stderr in an earlier case still writes to
    whatever fd 2 is now."""
    global _STREAMS
    if _STREAMS is None:
        out = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        err = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
        )
        _STREAMS = out, err
    return _STREAMS


@contextmanager
def _captured(out_path: Path, err_path: Path) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    with out_path.open("wb") as out, err_path.open("wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout, sys.stderr = _fd_streams()
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                # What cannot be flushed never reached the user; the exit code is judged instead.
                with suppress(OSError, ValueError, UnicodeError):
                    stream.flush()
            sys.stdout, sys.stderr = streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextmanager
def _isolated(tmp: Path) -> Iterator[None]:
    """Offline, temporary files under ``tmp``, and the warning filters of a plain interpreter
    (pytest turns warnings into errors, which the console script never does)."""
    env = {
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp / ".hf-home"),
        "HF_HUB_CACHE": str(tmp / ".hub-cache"),
        "TMPDIR": str(tmp / ".tmp"),
    }
    (tmp / ".tmp").mkdir(exist_ok=True)
    before = {k: os.environ.get(k) for k in env}
    tempdir = tempfile.tempdir
    os.environ.update(env)
    tempfile.tempdir = env["TMPDIR"]
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
                warnings.filterwarnings("ignore", category=category)
            warnings.filterwarnings("ignore", category=ResourceWarning)
            yield
    finally:
        tempfile.tempdir = tempdir
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _alarm(timeout: float | None) -> Iterator[None]:
    import threading

    if not timeout or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise CaseTimeout(f"no exit after {timeout:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(case: Case, tmp: Path, *, timeout: float | None = DEFAULT_TIMEOUT_S) -> Outcome:
    """Materialise ``case`` in the empty directory ``tmp`` and run ``tokcheck.cli.main`` on it
    in-process, capturing fds 1 and 2; an exception escaping ``main`` is recorded, not raised."""
    from tokcheck.cli import main

    argv = case.materialise(tmp)
    out_path, err_path = tmp / ".stdout", tmp / ".stderr"
    code: int | None = None
    exception = trace = None
    timed_out = False
    start = time.perf_counter()
    with _isolated(tmp), _captured(out_path, err_path):
        try:
            with _alarm(timeout):
                returned: object = main(argv)
            code = returned if isinstance(returned, int) else -1
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                sys.stderr.write(e.code + "\n")  # what the interpreter would print
        except CaseTimeout as e:
            timed_out, trace = True, traceback.format_exc()
            exception = f"{_where(e)}: {e}"
        except Exception as e:
            trace = traceback.format_exc()
            exception = f"{type(e).__name__} in {_where(e)}: {_one_line(str(e))}"
    elapsed = time.perf_counter() - start
    outcome = Outcome(
        case, code, out_path.read_bytes(), err_path.read_bytes(), elapsed, exception, trace
    )
    outcome.timed_out = timed_out
    if case.outdir is not None:
        outdir = tmp / case.outdir
        if outdir.is_dir():
            outcome.outdir_left = sorted(os.listdir(outdir))
        elif outdir.exists():
            outcome.outdir_left = ["(not a directory)"]
        parent = outdir.parent
        outcome.staging_left = sorted(
            n
            for n in os.listdir(parent)
            if n.startswith(f".{outdir.name}.") and n.endswith((".tmp", ".old"))
        )
    return outcome


def _where(e: BaseException) -> str:
    """The innermost frame of tokcheck's own code in the traceback: the bug's address."""
    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if f"{os.sep}tokcheck{os.sep}" in f.filename]
    if not frames:
        return "?"
    frame = (mine or frames)[-1]
    path = Path(frame.filename)
    short = f"{path.parent.name}/{path.name}" if mine else path.name
    return f"{short}:{frame.name}"


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- the contract --------------------------------------------------------------------------------


def check_contract(outcome: Outcome) -> list[str]:
    """The ways ``outcome`` breaks the CLI contract, each "KIND: detail"; empty when it keeps it.

    KIND (before the first ": ") names the class a violation is grouped under.
    """
    violations = []
    case, code = outcome.case, outcome.code
    stderr = outcome.stderr.decode("utf-8", "backslashreplace")
    lines = stderr.splitlines()
    if outcome.timed_out:
        violations.append(f"hang: {outcome.exception}")
    elif outcome.exception is not None:
        kind, _, message = outcome.exception.partition(": ")
        violations.append(f"exception {kind}: {message}")
    elif code not in EXIT_CODES:
        violations.append(f"exit code not 0/1/2: {code}")
    if code == 2 and len(lines) != 1:
        extra = next((ln for ln in lines if not ln.startswith("tokcheck: error: ")), "")
        violations.append(
            f"exit 2 with {'no' if not lines else 'more than one'} line on stderr: "
            f"{len(lines)} lines, e.g. {_one_line(extra or stderr, 120)!r}"
        )
    elif code == 2 and not lines[0].startswith("tokcheck: error: "):
        violations.append(
            f"exit 2 line without tokcheck's error prefix: {_one_line(lines[0], 120)!r}"
        )
    if "Traceback" in stderr:
        violations.append("traceback on stderr: " + _one_line(stderr[-200:]))
    for line in lines:
        if not line.startswith("tokcheck"):
            continue
        low = line.lower()
        for benign in _NOT_INTERNAL:
            low = low.replace(benign, "")
        if any(marker in low for marker in _INTERNAL_MARKERS):
            violations.append(f"internal-error line on stderr: {_one_line(line, 120)!r}")
            break
    json_expected = case.json and code in (0, 1) and outcome.exception is None
    if json_expected and (problem := _json_problem(outcome.stdout)):
        violations.append(problem)
    if case.outdir is not None and code != 0:
        if outcome.outdir_left:
            violations.append(f"export left a partial OUTDIR on exit {code}: {outcome.outdir_left}")
        if outcome.staging_left:
            violations.append(
                f"export left staging directories on exit {code}: {outcome.staging_left}"
            )
    return violations


def _json_problem(stdout: bytes) -> str | None:
    """Why ``stdout`` is not one strict RFC 8259 JSON document, or None when it is."""
    if not stdout.strip():
        return "--json printed no JSON: stdout is empty"
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"--json output not UTF-8: {e.reason} at byte {e.start}"

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard constant {constant}")

    try:
        data = json.loads(text, parse_constant=refuse)
    except ValueError as e:  # JSONDecodeError included
        kind = "NaN/Infinity" if "constant" in str(e) else "invalid JSON"
        return f"--json output {kind}: {_one_line(str(e), 120)}"
    except RecursionError:
        return "--json output invalid JSON: nested too deeply to parse"
    if surrogate := _lone_surrogate(data):
        return f"--json output has a lone surrogate: {surrogate!r}"
    return None


def _lone_surrogate(data: Any) -> str | None:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= c <= "\udfff" for c in item):
                return item[:40]
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def violation_class(violation: str) -> str:
    return violation.split(": ", 1)[0]


# --- running many cases in worker processes ------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One case's verdict, small enough to send between processes."""

    key: str
    command: str
    family: str
    json: bool
    description: str
    size: int
    argv: tuple[str, ...]
    code: int | None
    elapsed_s: float
    violations: tuple[str, ...]
    stderr_head: str
    traceback: str | None


def _result(case: Case, outcome: Outcome | None, violations: list[str], elapsed: float) -> Result:
    return Result(
        key=case.key,
        command=case.command,
        family=case.family,
        json=case.json,
        description=case.description,
        size=case.size,
        argv=case.argv,
        code=outcome.code if outcome else None,
        elapsed_s=elapsed,
        violations=tuple(violations),
        stderr_head=outcome.stderr[:2000].decode("utf-8", "backslashreplace") if outcome else "",
        traceback=outcome.traceback[-4000:] if outcome and outcome.traceback else None,
    )


def run_one(seed: int, index: int, root: Path, timeout: float | None) -> Result:
    """Generate, run and judge one case in a fresh directory under ``root``, then remove it."""
    case = make_case(seed, index)
    tmp = root / f"case-{index}"
    tmp.mkdir(parents=True)
    try:
        outcome = run_case(case, tmp, timeout=timeout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _result(case, outcome, check_contract(outcome), outcome.elapsed_s)


def _worker(conn: Connection, root: str, timeout: float) -> None:
    # Keep each worker to one core's worth of threads: the machines this runs on are small.
    for name in ("OMP_NUM_THREADS", "RAYON_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        os.environ[name] = "false" if name == "TOKENIZERS_PARALLELISM" else "1"
    while True:
        job = conn.recv()
        if job is None:
            return
        seed, index = job
        conn.send(run_one(seed, index, Path(root), timeout))


@dataclass
class _Slot:
    process: Any
    conn: Connection
    job: tuple[int, int] | None = None
    started: float = 0.0


def run_cases(
    seed: int,
    indices: Iterable[int],
    root: Path,
    *,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Iterator[Result]:
    """Run the cases in ``jobs`` worker processes, each case in-process inside a worker.

    A worker that dies (a crash in C++ code) or outlives the timeout by the grace period is
    replaced, and its case reported as a "crash" or "hang" violation.
    """
    ctx = multiprocessing.get_context("spawn")
    pending = deque((seed, i) for i in indices)
    slots: list[_Slot] = []

    def start() -> _Slot:
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_worker, args=(child, str(root), timeout), daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def lost(slot: _Slot, violation: str) -> Result:
        assert slot.job is not None
        case = make_case(*slot.job)
        shutil.rmtree(root / f"case-{case.index}", ignore_errors=True)
        return _result(case, None, [violation], time.monotonic() - slot.started)

    try:
        slots = [start() for _ in range(max(1, jobs))]
        while pending or any(s.job for s in slots):
            for slot in slots:
                if slot.job is None and pending:
                    slot.job, slot.started = pending.popleft(), time.monotonic()
                    slot.conn.send(slot.job)
            busy = [s for s in slots if s.job]
            deadline = min(s.started for s in busy) + timeout + _KILL_GRACE_S
            ready = wait([s.conn for s in busy], timeout=max(0.0, deadline - time.monotonic()))
            for i, slot in enumerate(slots):
                if slot.job is None:
                    continue
                if slot.conn in ready:
                    try:
                        result: Result = slot.conn.recv()
                    except (EOFError, OSError):
                        slot.process.join(5)
                        code = slot.process.exitcode
                        yield lost(slot, f"crash: worker died with exit code {code}")
                        slots[i] = start()
                        continue
                    slot.job = None
                    yield result
                elif time.monotonic() - slot.started > timeout + _KILL_GRACE_S:
                    slot.process.kill()
                    slot.process.join(5)
                    yield lost(slot, f"hang: killed after {timeout + _KILL_GRACE_S:.0f} s")
                    slots[i] = start()
    finally:
        for slot in slots:
            if slot.process.is_alive() and slot.job is None:
                slot.conn.send(None)
            slot.process.join(5)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(5)


# --- the report ----------------------------------------------------------------------------------


@dataclass
class ViolationClass:
    kind: str
    count: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    example: Result | None = None
    detail: str = ""


def group(results: Sequence[Result]) -> dict[str, ViolationClass]:
    """Violations grouped by class, each with its smallest case as the reproducer."""
    classes: dict[str, ViolationClass] = {}
    for r in results:
        for v in r.violations:
            kind = violation_class(v)
            c = classes.setdefault(kind, ViolationClass(kind))
            c.count += 1
            c.commands[r.command] += 1
            if c.example is None or (r.size, r.key) < (c.example.size, c.example.key):
                c.example, c.detail = r, v
    return dict(sorted(classes.items(), key=lambda kv: -kv[1].count))


def format_report(results: Sequence[Result], elapsed_s: float | None = None) -> str:
    out = []
    per_command: dict[str, list[Result]] = {}
    for r in results:
        per_command.setdefault(r.command, []).append(r)
    failing = sum(bool(r.violations) for r in results)
    head = f"{len(results)} cases, {failing} with violations"
    out.append(head + (f", {elapsed_s:.1f} s wall" if elapsed_s is not None else ""))
    for command, rs in sorted(per_command.items()):
        busy = sum(r.elapsed_s for r in rs)
        rate = len(rs) / busy if busy else float("inf")
        codes = Counter(r.code for r in rs)
        bad = sum(bool(r.violations) for r in rs)
        out.append(
            f"  {command:10} {len(rs):5} cases  {rate:7.1f} cases/s per worker  "
            f"exit codes {dict(sorted(codes.items(), key=str))}  {bad} with violations"
        )
    for c in group(results).values():
        e = c.example
        assert e is not None
        out.append(
            f"\n[{c.count}x] {c.kind}  ({', '.join(f'{k} {n}' for k, n in c.commands.items())})"
        )
        out.append(f"  smallest: {e.key} ({e.size} bytes) {e.description}")
        out.append(f"  argv: tokcheck {' '.join(e.argv)}")
        out.append(f"  replay: python -m tests.fuzzing --replay {e.key}")
        out.append(f"  {_one_line(c.detail, 300)}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzzing", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first case index")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="per case, s")
    parser.add_argument("--out", type=Path, help="write every result and the classes as JSON")
    parser.add_argument(
        "--replay", metavar="SEED:INDEX", help="run one case in this process, show all it did"
    )
    parser.add_argument("--keep", type=Path, help="with --replay: materialise the case here")
    args = parser.parse_args(argv)
    if args.replay:
        return _replay(args.replay, args.keep, args.timeout)
    start = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="tokcheck-fuzz-") as root:
        indices = range(args.start, args.start + args.cases)
        for r in run_cases(args.seed, indices, Path(root), jobs=args.jobs, timeout=args.timeout):
            results.append(r)
            if len(results) % 100 == 0:
                print(f"{len(results)}/{args.cases} cases", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - start
    print(f"seed {args.seed}, {args.jobs} job(s)")
    print(format_report(results, elapsed))
    if args.out:
        classes = {
            k: {
                "count": c.count,
                "commands": dict(c.commands),
                "detail": c.detail,
                "example": asdict(c.example) if c.example else None,
            }
            for k, c in group(results).items()
        }
        report = {
            "seed": args.seed,
            "cases": len(results),
            "elapsed_s": elapsed,
            "classes": classes,
            "results": [asdict(r) for r in results],
        }
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 1 if any(r.violations for r in results) else 0


def _replay(key: str, keep: Path | None, timeout: float) -> int:
    seed, _, index = key.partition(":")
    case = make_case(int(seed), int(index))
    print(f"{case.key} {case.command} ({case.size} bytes): {case.description}")
    print(f"argv: tokcheck {' '.join(case.argv)}")
    with tempfile.TemporaryDirectory(prefix="tokcheck-fuzz-") as tmp:
        directory = keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        outcome = run_case(case, directory, timeout=timeout)
    print(f"exit {outcome.code} in {outcome.elapsed_s:.2f} s")
    print("--- stdout (first 2000 bytes)")
    print(outcome.stdout[:2000].decode("utf-8", "backslashreplace"))
    print("--- stderr")
    print(outcome.stderr.decode("utf-8", "backslashreplace"))
    if outcome.traceback:
        print("--- escaped exception")
        print(outcome.traceback)
    violations = check_contract(outcome)
    print("--- violations")
    print("\n".join(violations) or "none")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
