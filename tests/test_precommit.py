"""The pre-commit hook runs ``tokcheck check`` as pre-commit would: its entry, then the args a
user configures, exit 0 on a model that passes and 1 on one that fails."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hook() -> dict[str, object]:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "tokcheck-check"]
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    return dict(hook)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["fixtures/neox-3.6b"], 0),
        (["fixtures/tiny-neox", "--no-profile"], 0),
        (["fixtures/neox-3.6b", "--profile", "rinna/bilingual-gpt-neox-4b"], 1),
    ],
)
def test_the_hook_checks_the_model_it_is_given(args: list[str], code: int) -> None:
    entry = shlex.split(str(_hook()["entry"]))
    assert entry[:2] == ["tokcheck", "check"]
    # The installed console script is tokcheck.__main__:run, which python -m tokcheck runs too.
    argv = [sys.executable, "-m", "tokcheck", *entry[1:], *args]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == code, done.stdout + done.stderr
