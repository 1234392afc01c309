"""Seeded mutation fuzzing of the tokcheck command-line contract.

Mutates a small real sentencepiece model (byte-level, and structure-aware through the
ModelProto) and the Hugging Face files beside it, runs a tokcheck command on each mutant
in-process with stdout and stderr captured at the file-descriptor level (so sentencepiece's C++
log lines are caught too), and checks the contract every command keeps:

- the exit code is 0 (passed), 1 (a check failed) or 2 (unusable input or usage);
- no exception escapes ``main``, and no traceback reaches stderr;
- exit 2 writes exactly one line on stderr, ``tokcheck: error: ...``, and nothing else;
- with ``--json`` and exit 0 or 1, stdout is strict RFC 8259 JSON (no NaN or Infinity, no lone
  surrogates);
- an export that does not succeed leaves OUTDIR absent or empty, and no staging directory;
- no case runs past the timeout.

It judges only the contract, never whether a verdict is right. Every case is a pure function of
(seed, index), so any finding replays with ``python -m tests.fuzz --replay SEED:INDEX``.
``tests/test_fuzz.py`` runs a CI-sized batch; ``python -m tests.fuzz --cases N --jobs J``
runs long local batches.

The modules, in the order a case passes through them: ``base`` (the fixture models),
``proto_mutations`` and ``hf_mutations`` (what is mutated), ``cases`` (which case a seed and
index make), ``runner`` (one case in-process), ``contract`` (the verdict), ``pool`` (many cases
in worker processes), ``report`` (the grouped summary) and ``__main__`` (the command line).
"""

from .base import Case
from .cases import COMMANDS, FAMILIES, make_case
from .contract import check_contract, violation_class
from .outcome import Outcome
from .pool import Result, run_cases, run_one
from .report import format_report, group
from .runner import DEFAULT_TIMEOUT_S, run_case

__all__ = [
    "COMMANDS",
    "DEFAULT_TIMEOUT_S",
    "FAMILIES",
    "Case",
    "Outcome",
    "Result",
    "check_contract",
    "format_report",
    "group",
    "make_case",
    "run_case",
    "run_cases",
    "run_one",
    "violation_class",
]
