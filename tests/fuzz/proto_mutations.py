"""Mutations of a sentencepiece model file: byte-level, and structure-aware through its ModelProto.

Byte-level mutations flip, cut, insert, delete, duplicate and overwrite spans; structure-aware
ones edit the parsed ModelProto (flags, odd ids and sizes, piece types, scores, charsmaps,
names) and make the edits protobuf's Python API refuses (out-of-range enums, invalid UTF-8) in
the serialized bytes. Each takes the case's ``random.Random`` and returns the new bytes and a
description; the draw order is part of every case's identity, so keep it. Nothing here knows
about files beside the model or about commands.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

# --- byte-level mutations ------------------------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
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
            span = random_bytes(rng, rng.choice((1, 4, 64, 1024)))
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
            span = random_bytes(rng, rng.choice((1, 4, 64)))
            buf[at : at + len(span)] = span
            steps.append(f"overwrite {len(span)} bytes at {at}")
    return bytes(buf), "; ".join(steps)


def random_bytes(rng: random.Random, n: int) -> bytes:
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
        norm.precompiled_charsmap = random_bytes(rng, rng.choice((1, 4, 16, 1024)))
    elif how == "truncated" and norm.precompiled_charsmap:
        cut = rng.randrange(len(norm.precompiled_charsmap))
        norm.precompiled_charsmap = norm.precompiled_charsmap[:cut]
    elif how == "huge-length":
        norm.precompiled_charsmap = (0xFFFFFFF0).to_bytes(4, "little") + random_bytes(rng, 12)
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
        m.proto.denormalizer_spec.precompiled_charsmap = random_bytes(m.rng, 8)
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


def mutate_proto(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    m = _ProtoMutant(rng, data)
    steps = []
    for mutation in rng.sample(_PROTO_MUTATIONS, rng.choice((1, 1, 2, 3))):
        if len(m.proto.pieces) == 0 and mutation is not _m_model_type:
            continue  # every other mutation picks a piece or needs one to mean anything
        steps.append(mutation(m))
    return m.serialize(), "; ".join(steps)
