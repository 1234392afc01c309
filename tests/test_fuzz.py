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
