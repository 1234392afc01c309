"""compare: the sentencepiece reference against every candidate, line by line.

The names below are imported when first used, so that importing one of the package's modules
(``tokcheck.compare.options``, which the CLI's flags need) does not import the comparison.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokcheck.compare.options import CompareOptions
    from tokcheck.compare.report import CompareReport
    from tokcheck.compare.run import compare

__all__ = ["CompareOptions", "CompareReport", "compare"]

_HOMES = {
    "CompareOptions": "tokcheck.compare.options",
    "CompareReport": "tokcheck.compare.report",
    "compare": "tokcheck.compare.run",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
