"""A GGUF's metadata (its key/value section), read without its tensors.

GGUF (llama.cpp's file format, versions 2 and 3, little-endian) starts with ``GGUF``, the version,
the tensor count and the key/value count, then the key/value pairs: a key string, a value type
and the value; a string is a 64-bit length and its bytes, an array an element type, a 64-bit count
and the elements. The ``gguf`` package's reader makes one numpy view per array element (5 s and
gigabytes for a large vocabulary, more for a hostile one); this reads the section in one pass
over a memory map, bounds-checked, numeric arrays in one ``numpy.frombuffer`` each. Tests hold it
to the ``gguf`` package's reading of the same files.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# GGUF value types: name and, for numbers, the numpy dtype.
_NUMBERS = {
    0: ("int", "<u1"),
    1: ("int", "<i1"),
    2: ("int", "<u2"),
    3: ("int", "<i2"),
    4: ("int", "<u4"),
    5: ("int", "<i4"),
    6: ("float", "<f4"),
    7: ("bool", "<u1"),
    10: ("int", "<u8"),
    11: ("int", "<i8"),
    12: ("float", "<f8"),
}
STRING, ARRAY = 8, 9
VERSIONS = (2, 3)


@dataclass(frozen=True)
class Value:
    """One metadata value: ``kind`` is ``int``, ``float``, ``bool``, ``string`` or
    ``array[...]`` of one of them; strings stay bytes."""

    kind: str
    value: Any


def read_metadata(path: Path) -> dict[str, Value]:
    """The key/value section of the GGUF at ``path`` (ValueError where it is damaged)."""
    with path.open("rb") as f:
        if path.stat().st_size == 0:
            raise ValueError("the file is empty")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _Reader(data).metadata()


class _Reader:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> int:
        """Where ``size`` bytes start, moving past them (ValueError past the end)."""
        start = self.at
        if size < 0 or start + size > len(self.data):
            raise ValueError(f"truncated at byte {start} (wanted {size} more)")
        self.at = start + size
        return start

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack_from(fmt, self.data, self.take(size))[0]

    def string(self) -> bytes:
        length = self.unpack("<Q")
        start = self.take(length)
        return bytes(self.data[start : start + length])

    def metadata(self) -> dict[str, Value]:
        if self.data[:4] != b"GGUF":
            raise ValueError("no GGUF magic")
        self.take(4)
        version = self.unpack("<I")
        if version not in VERSIONS:
            raise ValueError(f"GGUF version {version} (llama.cpp reads 2 and 3, little-endian)")
        self.unpack("<Q")  # tensors: not read
        count = self.unpack("<Q")
        out: dict[str, Value] = {}
        for _ in range(count):
            key = self.string().decode("utf-8", "replace")
            out[key] = self.value(self.unpack("<I"))
        return out

    def value(self, kind: int) -> Value:
        if kind == STRING:
            return Value("string", self.string())
        if kind in _NUMBERS:
            name, dtype = _NUMBERS[kind]
            number = np.frombuffer(self.data, dtype, 1, self.take(np.dtype(dtype).itemsize))
            return Value(name, bool(number[0]) if name == "bool" else number[0].item())
        if kind != ARRAY:
            raise ValueError(f"unknown value type {kind} at byte {self.at - 4}")
        element, length = self.unpack("<I"), self.unpack("<Q")
        if element == STRING:
            if length > (len(self.data) - self.at) // 8:
                raise ValueError(f"an array of {length} strings is longer than the file")
            return Value("array[string]", [self.string() for _ in range(length)])
        if element in _NUMBERS:
            name, dtype = _NUMBERS[element]
            size = np.dtype(dtype).itemsize
            if length > (len(self.data) - self.at) // size:
                raise ValueError(f"an array of {length} numbers is longer than the file")
            values = np.frombuffer(self.data, dtype, length, self.take(length * size)).tolist()
            return Value(f"array[{name}]", [bool(v) for v in values] if name == "bool" else values)
        if element == ARRAY:
            if length > (len(self.data) - self.at) // 12:
                raise ValueError(f"an array of {length} arrays is longer than the file")
            return Value("array[array]", [self.value(ARRAY).value for _ in range(length)])
        raise ValueError(f"unknown array element type {element}")
