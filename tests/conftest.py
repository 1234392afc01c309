"""Shared pytest fixtures: the committed model fixtures, ../shared, and an offline hub cache.

Paths are computed from this file, never from the working directory, so the suite runs from
anywhere; tests write only under ``tmp_path``, Hypothesis included (see below).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# No example database: tests must not write .hypothesis/examples into the directory the suite
# runs from; a failure still prints its shrunk example. No deadline: tokenizer calls (a first
# transformers load especially) vary far more than Hypothesis's 200 ms allows.
settings.register_profile("tokcheck", database=None, deadline=None)
settings.load_profile("tokcheck")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"
# The broken/ scenarios, each a Hugging Face-layout directory with one defect.
BROKEN = sorted(p.name for p in (FIXTURES / "broken").iterdir() if p.is_dir())

_HYPOTHESIS_HOME = pytest.StashKey[tuple[Path, pytest.MonkeyPatch]]()
_HF_ENV = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "XDG_CACHE_HOME")


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis's caches (source constants, unicode tables) go to a directory removed at exit.

    Even without a database Hypothesis writes them to ./.hypothesis, from collection on (its
    plugin gathers constants then), so a fixture would come too late. The environment variable
    carries the same place to subprocesses the tests start.
    """
    home = Path(tempfile.mkdtemp(prefix="tokcheck-hypothesis-"))
    patch = pytest.MonkeyPatch()
    patch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(home))
    set_hypothesis_home_dir(home)
    config.stash[_HYPOTHESIS_HOME] = (home, patch)


def pytest_unconfigure(config: pytest.Config) -> None:
    home, patch = config.stash[_HYPOTHESIS_HOME]
    set_hypothesis_home_dir(None)
    patch.undo()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def neox_dir() -> Path:
    """32,000 pieces with the flags of rinna/japanese-gpt-neox-3.6b."""
    return FIXTURES / "neox-3.6b"


@pytest.fixture(scope="session")
def bilingual_dir() -> Path:
    """65,536 pieces with the flags of rinna/bilingual-gpt-neox-4b ("\\n", "\\t" user-defined)."""
    return FIXTURES / "bilingual-4b"


@pytest.fixture(scope="session")
def legacy_dir() -> Path:
    """32,000 pieces with the flags of rinna/japanese-gpt-1b (nmt_nfkc, dummy prefix on)."""
    return FIXTURES / "legacy-1b"


@pytest.fixture(scope="session")
def tiny_neox_dir() -> Path:
    """1,000 pieces, neox flags: the fixture the builder reproduces in a second or two."""
    return FIXTURES / "tiny-neox"


@pytest.fixture
def precompiled_export(monkeypatch: pytest.MonkeyPatch) -> str:
    """Export writes tokenizers' own ``Precompiled`` normaliser, as its converters do, instead
    of tokcheck's: a real divergence on charsmap models (tiny-legacy), for tests of what a
    divergence does. Returns a line it gets wrong there: a mark after a full-width letter."""
    from tokenizers import normalizers

    from tokcheck.convert import normalizer

    def precompiled(model: object, proto: object, prefix: bool = False) -> list[object]:
        blob = model.proto.normalizer_spec.precompiled_charsmap  # type: ignore[attr-defined]
        return [normalizers.Precompiled(blob)]

    monkeypatch.setattr(normalizer, "_charsmap", precompiled)
    return "\uff21\u0301"


@pytest.fixture
def unloadable_dir(tmp_path: Path) -> Path:
    """tiny-neox whose tokenizer_config.json names a class no transformers release has, so
    AutoTokenizer raises on it (as transformers 5.17 does on the identity-normalizer fixtures)."""
    directory = tmp_path / "unloadable"
    directory.mkdir()
    (directory / "spiece.model").write_bytes((FIXTURES / "tiny-neox" / "spiece.model").read_bytes())
    config = {"tokenizer_class": "NoSuchTokenizer"}
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def broken_dir() -> Callable[[str], Path]:
    """``broken_dir("dummy-prefix-on")`` is fixtures/broken/dummy-prefix-on."""

    def get(name: str) -> Path:
        path = FIXTURES / "broken" / name
        assert path.is_dir(), f"no broken fixture {name!r}; have {BROKEN}"
        return path

    return get


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared, the real third-party material; a fresh clone does not have it."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (real third-party models for tests live there)")
    return SHARED


def _shared_model(shared: Path, name: str) -> Path:
    path = shared / "models" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def shared_ja_model(shared: Path) -> Path:
    """google/sentencepiece's test_ja_model.model: 8,000 pieces, NFKC, dummy prefix on."""
    return _shared_model(shared, "sentencepiece_test_ja_model.model")


@pytest.fixture(scope="session")
def shared_en_model(shared: Path) -> Path:
    """google/sentencepiece's test_model.model: 1,000 pieces, NFKC, dummy prefix on."""
    return _shared_model(shared, "sentencepiece_test_model.model")


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test run inside GitHub Actions appends nothing to the workflow's real step summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """HF_HUB_OFFLINE=1 and no inherited cache location: a test sets the one it means."""
    for name in _HF_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return monkeypatch


@pytest.fixture
def hub_cache(tmp_path: Path, offline_hub: pytest.MonkeyPatch) -> Path:
    """An empty hub cache under tmp_path, named by HF_HUB_CACHE, offline: no network, ever."""
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    offline_hub.setenv("HF_HUB_CACHE", str(cache))
    return cache
