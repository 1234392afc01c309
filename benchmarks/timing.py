"""Best-of-N wall time of a call, for the benchmark scripts that time calls in process."""

from __future__ import annotations

import time
from collections.abc import Callable


def best(run: Callable[[], object], repeat: int) -> float:
    """The shortest of ``repeat`` timed runs of ``run``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
