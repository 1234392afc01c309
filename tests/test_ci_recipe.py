"""The CI recipe of docs/how-to/ci.md holds: the page shows docs/ci/tokenizer.yml as it is, the
workflow pins its actions and transformers releases and runs with least privilege, and its gate
step, run here as the runner would, fails on a fixture that diverges and leaves JUnit and a step
summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "docs" / "ci" / "tokenizer.yml"
PAGE = ROOT / "docs" / "how-to" / "ci.md"
SHA = re.compile(r"[^@\s]+@[0-9a-f]{40}")


def _workflow() -> dict[str, Any]:
    data = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _job() -> dict[str, Any]:
    (job,) = _workflow()["jobs"].values()
    assert isinstance(job, dict)
    return job


def _step(name: str) -> dict[str, Any]:
    return next(s for s in _job()["steps"] if s.get("name") == name)


def test_the_page_shows_the_recipe_file_as_it_is() -> None:
    page = PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```$", page, flags=re.MULTILINE | re.DOTALL)
    assert RECIPE.read_text(encoding="utf-8") in blocks


def test_every_action_is_pinned_by_commit_sha_with_its_release() -> None:
    lines = [line for line in RECIPE.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    uses = [s["uses"] for s in _job()["steps"] if "uses" in s]
    assert len(uses) == len(lines) == 3
    for use in uses:
        assert SHA.fullmatch(use), use
    for line in lines:
        assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_least_privilege_and_pinned_releases() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {"contents": "read"}
    job = _job()
    assert "permissions" not in job  # the workflow's, read-only
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip"
    releases = job["strategy"]["matrix"]["transformers"]
    assert len(releases) >= 2
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", r) for r in releases), releases
    install = _step("Install tokcheck and transformers ${{ matrix.transformers }}")["run"]
    assert '"transformers==${{ matrix.transformers }}"' in install


def test_the_gate_reports_for_github_and_junit_is_always_uploaded() -> None:
    job = _job()
    gate = _step("Gate the tokenizer")["run"]
    assert "--junit tokcheck.xml" in gate
    assert "--format github" in gate
    upload = next(
        s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")
    )
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "tokcheck.xml"
    # One artifact per release: upload-artifact v4 refuses a name another job took.
    assert "${{ matrix.transformers }}" in upload["with"]["name"]
    # The vendored tokcheck checkout's tests are not collected with the user's.
    assert "--ignore=tools/tokcheck" in _step("Tests")["run"]


def test_the_gate_step_runs_as_the_runner_runs_it(tmp_path: Path) -> None:
    """The gate step's own command, in bash, with the job's env and MODEL a fixture: exit 1
    under transformers 5 (every path loads the lossy T5Tokenizer), JUnit and a step summary."""
    import transformers

    command = _step("Gate the tokenizer")["run"]
    assert "${{" not in command  # nothing left for GitHub to fill in
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "COLUMNS"))}
    env.update(_job()["env"])
    env.update(
        MODEL=str(ROOT / "fixtures" / "neox-3.6b"),
        GITHUB_STEP_SUMMARY=str(summary),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    done = subprocess.run(
        ["bash", "-e", "-c", command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    if transformers.__version__.split(".")[0] == "5":
        assert done.returncode == 1, done.stdout[-2000:]
        assert "::error " in done.stdout  # annotations, as --format github prints them
    root = ET.parse(tmp_path / "tokcheck.xml").getroot()
    assert int(root.get("tests", "0")) > 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## ")
    assert "tokcheck gate" in text.splitlines()[0]
