"""Every one-defect fixture under fixtures/broken keeps the CLI contract, in every command.

These directories are the minimal reproducers of what the fuzz test (tests/fuzz) and earlier
hostile-input runs found: each must end in exit 0, 1 or 2, with exactly one line on stderr for
exit 2, strict JSON on stdout for exit 0 and 1 under ``--json``, and no half-written OUTDIR.
The check is the fuzz test's own (:func:`fuzz.contract.check_contract`).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest
from fuzz.base import Case
from fuzz.cases import MODEL_COMMANDS
from fuzz.contract import check_contract
from fuzz.runner import run_case

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BROKEN = sorted(p.name for p in (FIXTURES / "broken").iterdir() if p.is_dir())


# What each reproducer must end in, per command: (inspect, check, roundtrip, compare, export).
EXPECTED_EXIT: dict[str, tuple[int, ...]] = {
    "deep-json": (2, 2, 2, 2, 2),
    "huge-int-json": (2, 2, 2, 2, 2),
    "nan-json": (2, 2, 2, 2, 2),
    "wrong-type-special-tokens": (2, 2, 2, 2, 2),
    "string-max-length": (2, 2, 2, 2, 2),
    "invalid-utf8-piece": (0, 1, 2, 2, 2),
    "invalid-utf8-user-symbol": (0, 1, 2, 2, 2),
    "invalid-utf8-unk-surface": (0, 1, 2, 2, 2),
    "unparsable-charsmap": (0, 1, 2, 2, 2),
    # transformers resolves torch_dtype through torch, so only with torch does the export's
    # AutoTokenizer check of the written files fail (in one line, as bad input).
    "unknown-dtype": (0, 0, 0, 1, 2 if find_spec("torch") else 0),
    "special-token-extra-key": (0, 0, 0, 1, 0),
    "truncated": (2, 2, 2, 2, 2),
    "corrupt": (2, 2, 2, 2, 2),
    # sentencepiece itself refuses these two models.
    "missing-byte-pieces": (0, 1, 2, 2, 2),
    "no-byte-fallback": (0, 1, 2, 2, 2),
    # Without a profile only generic checks run; compare's default path diverges on all.
    "config-eos-mismatch": (0, 1, 0, 1, 0),
    "dummy-prefix-on": (0, 0, 0, 1, 0),
    "whitespace-removal-on": (0, 0, 0, 1, 0),
    "wrong-vocab-size": (0, 0, 0, 1, 0),
    # A NUL piece: sentencepiece treats it as unused under byte fallback; export keeps that.
    "null-piece": (0, 0, 1, 1, 0),
}


def _case(name: str, command: str) -> Case:
    model = str(FIXTURES / "broken" / name)
    argv = [command, model]
    outdir = None
    if command == "export":
        outdir = "out"
        argv.append("{tmp}/out")
    if command == "check":
        # The generic checks: what each defect breaks by itself (profiles are inferred, or
        # asked for, as test_profile_inferred_from_config_json_fails_the_defects shows).
        argv.append("--no-profile")
    if command in ("roundtrip", "compare", "export"):
        argv += ["--examples", "5"]
    return Case(0, 0, command, "broken", name, (), (*argv, "--json"), json=True, outdir=outdir)


@pytest.mark.parametrize("command", MODEL_COMMANDS, ids=MODEL_COMMANDS)
@pytest.mark.parametrize("name", BROKEN, ids=BROKEN)
def test_broken_fixture_keeps_the_contract(name: str, command: str, tmp_path: Path) -> None:
    outcome = run_case(_case(name, command), tmp_path)
    assert check_contract(outcome) == [], outcome.stderr
    assert outcome.code == EXPECTED_EXIT[name][MODEL_COMMANDS.index(command)], outcome.stderr


def test_every_broken_fixture_has_its_expected_exits() -> None:
    assert sorted(EXPECTED_EXIT) == BROKEN


@pytest.mark.parametrize("name", ["dummy-prefix-on", "whitespace-removal-on", "wrong-vocab-size"])
def test_profile_inferred_from_config_json_fails_the_defects(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A GPT-NeoX config.json with 32,000 embeddings names rinna's 3.6b family: without
    --profile the check applies it, and the defect fails (it passed with no expectation)."""
    import json

    from tokcheck.cli import main

    assert main(["check", str(FIXTURES / "broken" / name), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["profile"] == "rinna/japanese-gpt-neox-3.6b"
    assert report["profile_how"].startswith("inferred from config.json")
