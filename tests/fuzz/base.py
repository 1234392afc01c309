"""The unmutated starting points of every case: the tiny fixture models and their metadata.

Holds the fixture reads (cached, so thousands of cases read each model once) and ``Node``, the
type of one generated file. It does not mutate anything; the mutation modules do.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BASE_MODELS = ("tiny-neox", "tiny-legacy")
Node = bytes | Literal["dir", "fifo"]


@functools.cache
def base_model(name: str) -> bytes:
    return (FIXTURES / name / "spiece.model").read_bytes()


def base_metadata(name: str) -> dict[str, bytes]:
    names = ("tokenizer_config.json", "special_tokens_map.json", "config.json")
    return {n: (FIXTURES / name / n).read_bytes() for n in names}
