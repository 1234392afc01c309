"""The built wheel holds every module of the source tree: a subpackage left out of the package
list would be missing from the wheel while the editable install the other tests use stays green.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_module_of_the_tree(tmp_path: Path) -> None:
    if find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed (the wheel is built without isolation)")
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*build, "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("tokcheck-*.whl")
    held = set(zipfile.ZipFile(wheel).namelist())
    tree = {
        p.relative_to(ROOT).as_posix()
        for pattern in ("*.py", "*.cjs")  # the modules, and the script node runs
        for p in (ROOT / "tokcheck").rglob(pattern)
    }
    assert tree, "no module found under tokcheck/"
    assert not tree - held, sorted(tree - held)
    assert "tokcheck/py.typed" in held
