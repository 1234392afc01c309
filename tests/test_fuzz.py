"""The CLI contract under mutated models and Hugging Face files: a CI-sized fuzzing batch.

Every case (see ``fuzz.cases.make_case``) runs once, in worker processes, with one fresh
directory under ``tmp_path`` per case; each command's test then asserts that none of its cases
broke the contract, and prints the violations grouped by class, each with its smallest
reproducer.
``TOKCHECK_FUZZ_CASES`` (default 400) sets the batch size and ``TOKCHECK_FUZZ_SEED`` (default 0)
the seed; ``python -m tests.fuzz`` runs long batches and replays single cases.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fuzz import COMMANDS, FAMILIES, Result, format_report, run_cases
from fuzz.base import Case
from fuzz.contract import check_contract
from fuzz.outcome import Outcome

CASES = int(os.environ.get("TOKCHECK_FUZZ_CASES", "400"))
SEED = int(os.environ.get("TOKCHECK_FUZZ_SEED", "0"))
# Shorter than the large runner's: a hang fails the batch either way, and CI has a budget.
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    root = tmp_path_factory.mktemp("fuzz")
    jobs = min(2, os.cpu_count() or 1)
    return list(run_cases(SEED, range(CASES), Path(root), jobs=jobs, timeout=TIMEOUT_S))


@pytest.mark.parametrize("command", COMMANDS, ids=COMMANDS)
def test_contract(results: list[Result], command: str) -> None:
    mine = [r for r in results if r.command == command]
    assert mine, f"no {command} case among {CASES} (seed {SEED})"
    failing = [r for r in mine if r.violations]
    assert not failing, f"seed {SEED}: {command} broke the CLI contract\n" + format_report(mine)


def test_every_family_ran(results: list[Result]) -> None:
    # The process families (signals, mounts, schedulers, unprivileged runs) are drawn rarely:
    # a batch that drew none of one judged nothing of it.
    ran = {r.family for r in results}
    missing = [f for f in FAMILIES if f not in ran]
    assert not missing, f"seed {SEED}: no case of {missing} among {CASES}"


@pytest.mark.parametrize(
    ("line", "internal"),
    [
        ("unexpected ValueError: x (a tokcheck bug: please report it)", True),
        ("unexpected KeyError: 'a'", True),
        ("an internal error", True),
        # A precise message quoting a library's reason is not a last resort (fuzz 24 flagged
        # the first: a bit-flipped charsmap's UnicodeDecodeError reason).
        ("a charsmap entry is not UTF-8 (unexpected end of data)", False),
        ("x.json: Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1", False),
    ],
)
def test_the_contract_tells_a_last_resort_from_a_quoted_reason(line: str, internal: bool) -> None:
    case = Case(0, 0, "export", "model", "", (), ("export", "m", "out"), json=False)
    outcome = Outcome(case, 2, b"", f"tokcheck: error: {line}\n".encode(), 0.1)
    found = [v for v in check_contract(outcome) if v.startswith("internal-error line")]
    assert bool(found) is internal, found
