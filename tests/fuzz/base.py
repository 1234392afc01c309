"""What every case starts from: the tiny fixture models and their metadata, and ``Case``.

Holds the fixture reads (cached, so thousands of cases read each model once), ``Node``, the
type of one generated file, and ``Case``, one generated input and its command line. It does not
mutate or choose anything; the mutation modules and ``cases`` do.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
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
    # A process family's parameters (see ``process_cases``); empty for an in-process case.
    scenario: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.seed}:{self.index}"

    @property
    def params(self) -> dict[str, str]:
        return dict(self.scenario)

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
