"""A corpus big enough that a --jobs 2 run is still judging it seconds after it starts."""

from __future__ import annotations

import random
from pathlib import Path


def big_corpus(directory: Path) -> Path:
    """About 30 MB of text: over ten seconds of judging on two workers."""
    rng = random.Random(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "吾輩は", "猫", "である", "😀"]
    line = " ".join(rng.choices(words, k=2000)) + "\n"
    path = directory / "big.txt"
    path.write_text(line * 2500, encoding="utf-8")
    return path
