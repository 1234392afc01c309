"""For the signal tests: a corpus big enough to interrupt, and the processes /proc lists."""

from __future__ import annotations

import random
from pathlib import Path
from typing import NamedTuple


def big_corpus(directory: Path) -> Path:
    """About 30 MB of text: over ten seconds of judging on two workers."""
    rng = random.Random(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "吾輩は", "猫", "である", "😀"]
    line = " ".join(rng.choices(words, k=2000)) + "\n"
    path = directory / "big.txt"
    path.write_text(line * 2500, encoding="utf-8")
    return path


class Process(NamedTuple):
    pid: int
    parent: int
    group: int
    session: int
    zombie: bool


def processes() -> list[Process]:
    """Every process /proc lists now (one that ends while it is read is left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        state, parent, group, session = stat.rsplit(")", 1)[1].split()[:4]
        found.append(Process(int(entry.name), int(parent), int(group), int(session), state == "Z"))
    return found
