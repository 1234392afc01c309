"""Heavy optional dependencies stay unimported on the fast paths.

Each probe runs in a fresh interpreter: inside pytest, other tests (and plugins) may already have
imported anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hubcache import make_hub_cache

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HEAVY = ("transformers", "torch", "huggingface_hub")

_PROBE = """
import contextlib, io, json, sys
argvs = json.loads(sys.argv[1])
import tokcheck
codes = []
if argvs:
    import tokcheck.cli
    for argv in argvs:
        with contextlib.redirect_stdout(io.StringIO()):
            codes.append(tokcheck.cli.main(argv))
print(json.dumps({"codes": codes, "loaded": sorted(m for m in sys.modules if "." not in m)}))
"""


def _probe(argvs: list[list[str]], env: dict[str, str] | None = None) -> tuple[list[int], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argvs)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    result = json.loads(done.stdout)
    return result["codes"], set(result["loaded"])


def test_plain_import_is_light() -> None:
    _, loaded = _probe([])
    assert loaded.isdisjoint((*HEAVY, "hypothesis")), sorted(loaded & {*HEAVY, "hypothesis"})


@pytest.mark.parametrize(
    ("model", "expected_codes"),
    [
        (str(FIXTURES / "neox-3.6b"), [0, 0, 0]),
        # No config.json names a family: check asks for a profile (exit 2); against the neox
        # profile's 32,000 pieces the 1,000 of this file fail, exit 1.
        (str(FIXTURES / "tiny-neox" / "spiece.model"), [0, 2, 1]),
    ],
    ids=["hf-directory", "model-file"],
)
def test_inspect_and_check_on_local_paths_load_nothing_heavy(
    model: str, expected_codes: list[int]
) -> None:
    codes, loaded = _probe(
        [
            ["inspect", model, "--json"],
            ["check", model, "--json"],
            ["check", model, "--profile", "rinna/japanese-gpt-neox-3.6b", "--json"],
        ]
    )
    assert codes == expected_codes
    assert "sentencepiece" in loaded  # the probe really ran the commands
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_hub_id_loads_huggingface_hub_but_not_transformers(tmp_path: Path) -> None:
    hub_id = "rinna/japanese-gpt-neox-3.6b-instruction-ppo"
    make_hub_cache(tmp_path, hub_id, FIXTURES / "neox-3.6b")
    codes, loaded = _probe(
        [["check", hub_id, "--json"]],
        env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path)},
    )
    assert codes == [0]
    # This also shows the probe would notice: huggingface_hub is needed here, and is seen.
    assert "huggingface_hub" in loaded
    assert loaded.isdisjoint(("transformers", "torch"))


def test_check_and_inspect_text_do_not_import_the_comparison_or_numpy() -> None:
    """The text reports draw tables (rich) but need neither the comparison nor numpy, which the
    GGUF reader and the judge bring: ``tokcheck check`` stays a fast pre-commit hook."""
    probe = (
        "import contextlib, io, json, sys; import tokcheck.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    codes = [tokcheck.cli.main([c, {str(FIXTURES / 'neox-3.6b')!r}])"
        " for c in ('check', 'inspect')]\n"
        "print(json.dumps([codes, 'PASS' in out.getvalue(), sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    codes, drew, loaded = json.loads(done.stdout)
    assert codes == [0, 0]
    assert drew  # the tables were drawn,
    assert "rich.table" in loaded  # by rich
    assert not {"numpy", "tokcheck.compare.run", "tokcheck.compare.report"} & set(loaded)
