"""The pytest plugin as a collector: items without running the gate, a twin's verdict, skips
with reasons, node ids and --lf that re-run what they name, and usage errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The tiny fixture, which no profile fits, judged without one.
TINY = ["--tokcheck-model", str(FIXTURES / "tiny-neox"), "--tokcheck-no-profile"]


def _pytest(cwd: Path, *args: str, cache: bool = False) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "-q", "-rA", *args]
    if not cache:
        argv[3:3] = ["-p", "no:cacheprovider"]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture
def neox(tmp_path: Path) -> Path:
    """A rinna-flag directory the plugin has never seen, in the directory pytest runs in."""
    model = tmp_path / "held-out"
    shutil.copytree(FIXTURES / "neox-3.6b", model)
    return model


def _default_fails() -> bool:
    from tokcheck.candidates.hf import transformers_version

    return int((transformers_version() or "0").split(".")[0]) >= 5


def test_twins_of_a_failing_candidate_fail_with_the_reason(tmp_path: Path, neox: Path) -> None:
    if not _default_fails():
        pytest.skip("under transformers 4 the slow path is a tokenizer of its own")
    junit = tmp_path / "junit.xml"
    args = ["--tokcheck-model", str(neox), "--tokcheck-examples", "20", "-vv"]
    result = _pytest(tmp_path, *args, f"--junitxml={junit}")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    for name in ("default", "slow", "fast", "sentencepiece-backend"):
        assert f"compare[{name}] FAILED" in out, name
    assert "same tokenizer as default: transformers" in out
    assert "ignores use_fast=False" in out
    # What does not apply is skipped with its reason, in pytest and in its JUnit.
    assert "SKIPPED" in out
    assert "no added_tokens.json" in out
    root = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    for name in ("slow", "fast", "sentencepiece-backend"):
        assert cases[f"compare[{name}]"].find("failure") is not None, name
    assert cases["check[added_tokens]"].find("skipped") is not None
    suite = root.find("testsuite")
    assert suite is not None
    assert int(suite.get("skipped", "0")) >= 2
    # Real times: the compare item that ran compare took measurable time.
    assert float(cases["compare[default]"].get("time", "0")) > 0


def test_gate_junit_gives_twins_the_verdict_and_counts_skips(tmp_path: Path, neox: Path) -> None:
    from tokcheck.cli import main

    if not _default_fails():
        pytest.skip("under transformers 4 the slow path is a tokenizer of its own")
    junit = tmp_path / "gate.xml"
    assert main(["gate", str(neox), "--examples", "20", "--junit", str(junit)]) == 1
    root = ET.parse(junit).getroot()
    compare = next(s for s in root.iter("testsuite") if s.get("name") == "tokcheck.compare")
    passed = [
        c.get("name")
        for c in compare.iter("testcase")
        if c.find("failure") is None and c.find("skipped") is None
    ]
    assert passed == [], passed
    check = next(s for s in root.iter("testsuite") if s.get("name") == "tokcheck.check")
    skipped = [c for c in check.iter("testcase") if c.find("skipped") is not None]
    assert int(check.get("skipped", "0")) == len(skipped) >= 2
    assert all(c.find("skipped").get("message") for c in skipped)  # type: ignore[union-attr]


def test_collecting_runs_no_compare(tmp_path: Path, neox: Path) -> None:
    """--collect-only lists every item and -k roundtrip runs only round-trip properties: a
    compare that ran would leave its mark."""
    mark = tmp_path / "compare-ran"
    (tmp_path / "conftest.py").write_text(
        "import tokcheck.compare.run as c\n"
        "real = c.compare\n"
        "def spy(*a, **k):\n"
        f"    open({str(mark)!r}, 'w').close()\n"
        "    return real(*a, **k)\n"
        "c.compare = spy\n",
        encoding="utf-8",
    )
    args = ["--tokcheck-model", str(neox), "--tokcheck-examples", "20"]
    listed = _pytest(tmp_path, *args, "--collect-only")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for item in ("check[vocab_size]", "compare[default]", "compare[slow]", "roundtrip[no_unk]"):
        assert f"spiece.model::{item}" in listed.stdout, item
    assert not mark.exists()
    selected = _pytest(tmp_path, *args, "-k", "roundtrip")
    assert selected.returncode == 0, selected.stdout
    assert "4 passed" in selected.stdout
    assert not mark.exists()
    assert _pytest(tmp_path, *args, "-k", "compare and default").returncode == 1
    assert mark.exists()


def test_node_ids_and_last_failed_rerun_what_they_name(tmp_path: Path, neox: Path) -> None:
    if not _default_fails():
        pytest.skip("needs a failing default path")
    args = ["--tokcheck-model", str(neox), "--tokcheck-examples", "10"]
    first = _pytest(tmp_path, *args, cache=True)
    assert first.returncode == 1
    assert "4 failed" in first.stdout, first.stdout
    node = f"{neox.name}/spiece.model::compare[slow]"
    again = _pytest(tmp_path, *args, node, cache=True)
    assert "1 failed" in again.stdout, again.stdout
    assert "passed" not in again.stdout.splitlines()[-1]
    last = _pytest(tmp_path, *args, "--lf", cache=True)
    assert "4 failed" in last.stdout.splitlines()[-1], last.stdout
    assert "passed" not in last.stdout.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--tokcheck-model", ""], "--tokcheck-model is empty"),
        (["--tokcheck-model", "   "], "--tokcheck-model is empty"),
        (["--tokcheck-model", str(FIXTURES / "tiny-neox")], "--tokcheck-profile NAME|FILE"),
        (["--tokcheck-model", "~nosuchuser/x"], "tokcheck:"),
        (["--tokcheck-model", "x" * 300], "tokcheck:"),
        (
            [*TINY, "--tokcheck-candidate", "bogus"],
            "tokcheck: unknown candidate(s) bogus",
        ),
        (
            [*TINY, "--tokcheck-scheduler", "tcp://127.0.0.1:1"],
            "use it with --engine dask",
        ),
        (["--tokcheck-model", "m", "--tokcheck-show", "-1"], "--tokcheck-show: must be >= 0"),
    ],
    ids=[
        "empty",
        "blank",
        "no-profile",
        "unknown-user",
        "long-name",
        "unknown-candidate",
        "scheduler-without-dask",
        "bad-show",
    ],
)
def test_usage_errors_are_pytest_usage_errors(tmp_path: Path, args: list[str], said: str) -> None:
    result = _pytest(tmp_path, *args)
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"ERROR: {said}" in result.stderr or said in result.stderr
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_gguf_findings_and_llama_cpp_are_items(tmp_path: Path, neox: Path) -> None:
    """--tokcheck-gguf adds an item per static finding and per llama.cpp candidate; the
    converter's GGUF fails the findings it breaks, and a bad GGUF is a usage error."""
    gguf = FIXTURES / "gguf" / "neox-3.6b-as-t5.gguf"
    args = [
        "--tokcheck-model",
        str(neox),
        "--tokcheck-examples",
        "10",
        "--tokcheck-gguf",
        str(gguf),
    ]
    listed = _pytest(tmp_path, *args, "--collect-only")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for item in ("compare[gguf.byte_fallback]", "compare[gguf.pieces]", "compare[llama.cpp]"):
        assert f"spiece.model::{item}" in listed.stdout, item
    ran = _pytest(tmp_path, *args)
    assert ran.returncode == 1
    outcome = {
        line.split("::", 1)[1].split()[0]: line.split()[0]
        for line in ran.stdout.splitlines()
        if line.startswith(("PASSED", "FAILED", "SKIPPED")) and "::" in line
    }
    gguf_items = {k: v for k, v in outcome.items() if k.startswith("compare[gguf.")}
    failed = sorted(k for k, v in gguf_items.items() if v == "FAILED")
    assert failed == ["compare[gguf.byte_fallback]", "compare[gguf.unk_id]"], ran.stdout
    assert len(gguf_items) == 13
    assert "no byte fallback" in ran.stdout
    bad = _pytest(
        tmp_path, "--tokcheck-model", str(neox), "--tokcheck-gguf", str(neox / "config.json")
    )
    assert bad.returncode == 4
    assert "not a GGUF file" in bad.stderr


def test_the_plugin_takes_gates_compare_options(tmp_path: Path) -> None:
    """Options defined once: the plugin judges the candidates named, as gate does, and its
    items are theirs (a named candidate is not judged under a default one's name)."""
    from tokcheck.cli import main

    model = TINY
    named = ["--tokcheck-candidate", "exported", "--tokcheck-examples", "20"]
    result = _pytest(tmp_path, *model, *named, "--tokcheck-prompts", "1", "--collect-only")
    items = [line for line in result.stdout.splitlines() if "::compare[" in line]
    assert items, result.stdout
    assert all("compare[exported]" in line for line in items), result.stdout
    run = _pytest(tmp_path, *model, *named, "-k", "compare")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED" in run.stdout
    assert "compare[exported]" in run.stdout
    gate = ["gate", str(FIXTURES / "tiny-neox"), "--no-profile", "--candidate", "exported"]
    assert main([*gate, "--examples", "20", "--prompts", "1", "--show", "0"]) == 0
