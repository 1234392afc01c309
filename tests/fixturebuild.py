"""fixtures/build.py, loaded once as a module (it is a script, not a package): the seeded text
generator, the trainer and the flags that made the fixtures, for tests that train variants."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "fixtures" / "build.py"
    spec = importlib.util.spec_from_file_location("tokcheck_fixture_build", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load()
