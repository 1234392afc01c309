"""compare: the sentencepiece reference against every candidate, line by line."""

from tokcheck.compare.options import CompareOptions
from tokcheck.compare.report import CompareReport
from tokcheck.compare.run import compare

__all__ = ["CompareOptions", "CompareReport", "compare"]
