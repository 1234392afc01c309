"""compare: the sentencepiece reference against every candidate, line by line."""

from tokcheck.compare.run import CompareReport, compare

__all__ = ["CompareReport", "compare"]
