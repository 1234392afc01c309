"""The generation smoke test: tiny random models on CPU here, full size where CUDA is."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tokcheck.candidates.registry import DEFAULT_CANDIDATES
from tokcheck.checks.rules import CheckResult
from tokcheck.errors import MissingDependencyError, TokcheckError
from tokcheck.model.profiles import BUILTIN_PROFILES, Profile
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel, resolve
from tokcheck.smoke.run import TINY_OVERRIDES, SmokeReport, count_parameters, run_smoke

pytestmark = pytest.mark.smoke

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NEOX = BUILTIN_PROFILES["rinna/japanese-gpt-neox-3.6b"]
BILINGUAL = BUILTIN_PROFILES["rinna/bilingual-gpt-neox-4b"]
TINY = [("tiny-neox", NEOX), ("tiny-bilingual", BILINGUAL)]
FULL = [("neox-3.6b", NEOX), ("bilingual-4b", BILINGUAL)]
CHECKS = ["device", "no_unk", "eos_agrees", "embedding_rows", "output_in_vocab", "non_empty_output"]


def _load(directory: Path) -> tuple[ResolvedModel, SentencePieceModel]:
    resolved = resolve(str(directory))
    return resolved, SentencePieceModel.load(resolved.model_file)


def _tiny_smoke(directory: Path, profile: Profile | None, seed: int = 0) -> SmokeReport:
    resolved, model = _load(directory)
    return run_smoke(resolved, model, profile, device="cpu", max_new_tokens=8, tiny=True, seed=seed)


def _check(report: SmokeReport, name: str) -> CheckResult:
    return next(c for c in report.checks if c.name == name)


@pytest.mark.parametrize(("fixture", "profile"), TINY, ids=[f for f, _ in TINY])
def test_tiny_cpu_smoke_passes(fixture: str, profile: Profile) -> None:
    pytest.importorskip("torch")
    report = _tiny_smoke(FIXTURES / fixture, profile)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert [c.name for c in report.checks] == CHECKS
    assert [s.name for s in report.skipped] == ["parameters"]
    assert (report.weights, report.device, report.dtype) == ("random-tiny", "cpu", "float32")
    assert report.prompt_format == profile.prompt_format
    assert report.directory == str(FIXTURES / fixture)
    # Random weights sample no eos, so the run always has max_new_tokens to time.
    assert report.new_tokens == 8
    assert report.tokens_per_s > 0
    assert report.peak_gpu_memory_bytes is None
    _, model = _load(FIXTURES / fixture)
    assert report.prompt_tokens == len(model.processor.encode(report.prompt))
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["passed"] is True
    assert data["checks"][0]["name"] == "device"
    assert data["directory"] == report.directory
    assert "source" not in data


def test_tiny_smoke_is_seeded() -> None:
    pytest.importorskip("torch")
    first, again = (_tiny_smoke(FIXTURES / "tiny-neox", NEOX, seed=7) for _ in range(2))
    assert first.output == again.output
    assert _tiny_smoke(FIXTURES / "tiny-neox", NEOX, seed=8).output != first.output


def test_without_a_profile_the_prompt_uses_newlines() -> None:
    pytest.importorskip("torch")
    report = _tiny_smoke(FIXTURES / "tiny-neox", None)
    assert report.prompt_format == "newline"
    assert report.skipped[0].reason == "--tiny shrinks the model; counts are not comparable"


@pytest.mark.parametrize(
    ("fixture", "profile", "exact"),
    [("neox-3.6b", NEOX, 3_607_245_312), ("bilingual-4b", BILINGUAL, 3_796_120_064)],
    ids=["neox-3.6b", "bilingual-4b"],
)
def test_full_size_parameter_count(fixture: str, profile: Profile, exact: int) -> None:
    """Counted on the meta device: the 36-layer models are never allocated."""
    pytest.importorskip("torch")
    resolved, _ = _load(FIXTURES / fixture)
    assert resolved.config is not None
    counted = count_parameters(resolved.config)
    assert counted == exact
    assert profile.parameters is not None
    assert abs(counted - profile.parameters) <= 0.01 * profile.parameters


def test_config_eos_mismatch_fails_eos_agrees() -> None:
    pytest.importorskip("torch")
    report = _tiny_smoke(FIXTURES / "broken" / "config-eos-mismatch", NEOX)
    assert not report.passed
    assert report.failed == ["eos_agrees"]
    eos = _check(report, "eos_agrees")
    assert eos.expected == 3
    assert eos.actual["config.json"] == 0
    assert eos.message.startswith(
        "config.json eos_token_id is 0 but the tokenizer's eos id is 3 (</s>)"
    )
    assert "fix eos_token_id in config.json" in eos.message


def test_embedding_smaller_than_vocab_fails_without_generating(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    directory = shutil.copytree(FIXTURES / "tiny-neox", tmp_path / "tiny-neox")
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    (directory / "config.json").write_text(json.dumps({**config, "vocab_size": 500}))
    report = _tiny_smoke(directory, NEOX)
    assert report.failed == ["embedding_rows"]
    assert "500 embedding rows for 1000 pieces" in _check(report, "embedding_rows").message
    assert report.new_tokens == 0
    assert [s.name for s in report.skipped] == ["output_in_vocab", "non_empty_output", "parameters"]


def test_missing_weights_need_random_weights() -> None:
    pytest.importorskip("torch")
    resolved, model = _load(FIXTURES / "tiny-neox")
    with pytest.raises(TokcheckError, match=r"no weights in .*pass --random-weights"):
        run_smoke(resolved, model, NEOX, device="cpu")


def _tiny_model(directory: Path) -> Any:
    """A tiny random model of the architecture in ``directory``'s config.json, seeded."""
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    values = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    values.update({k: v for k, v in TINY_OVERRIDES.items() if k in values})
    del values["torch_dtype"]
    torch.manual_seed(0)
    config = AutoConfig.for_model(values.pop("model_type"), **values)
    from_config: Any = AutoModelForCausalLM.from_config
    return from_config(config)


def test_pretrained_weights_are_loaded(tmp_path: Path) -> None:
    """Weights saved beside the tokenizer are loaded, and the loss comparison is reported."""
    from transformers import AutoTokenizer

    directory = shutil.copytree(FIXTURES / "tiny-neox", tmp_path / "tiny-neox")
    _tiny_model(directory).save_pretrained(directory)
    try:
        AutoTokenizer.from_pretrained(str(directory))
    except Exception as e:  # transformers 5.17 cannot load an identity normalizer
        pytest.skip(f"the default path cannot load tiny-neox here: {type(e).__name__}")
    resolved, model = _load(directory)
    report = run_smoke(resolved, model, NEOX, device="cpu", max_new_tokens=4)
    assert report.weights == "pretrained"
    # Untrained weights may sample anything; only the checks that do not depend on it count.
    for name in ("device", "eos_agrees", "embedding_rows"):
        assert _check(report, name).passed
    assert report.losses is not None
    rows = {r["path"]: r for r in report.losses}
    assert rows["reference"]["loss"] > 0
    # Every default loading path is listed, with a loss or with the reason it failed to load.
    assert set(rows) == {"reference", *DEFAULT_CANDIDATES}
    assert "T5Tokenizer" in rows["default"]["class"]
    assert rows["default"]["loss"] > 0
    # The T5 tokenizer transformers builds drops what the reference keeps (see test_compare).
    assert rows["default"]["same_ids"] is False
    assert rows["tokenizer.json"] == {
        "path": "tokenizer.json",
        "error": "no tokenizer.json in the directory",
    }


def test_losses_list_a_path_that_fails_to_load(unloadable_dir: Path) -> None:
    from tokcheck.smoke.losses import teacher_forced_losses

    shutil.copyfile(FIXTURES / "tiny-neox" / "config.json", unloadable_dir / "config.json")
    resolved, model = _load(unloadable_dir)
    rows = teacher_forced_losses(_tiny_model(unloadable_dir), resolved, model, "吾輩は猫である")
    assert rows[0]["path"] == "reference"
    assert rows[0]["loss"] > 0
    errors = {r["path"]: r["error"] for r in rows[1:]}
    assert set(errors) == set(DEFAULT_CANDIDATES)
    assert errors["default"].startswith("failed to load: ")


def test_bare_model_file_needs_a_directory() -> None:
    pytest.importorskip("torch")
    resolved, model = _load(FIXTURES / "tiny-neox" / "spiece.model")
    with pytest.raises(TokcheckError, match=r"needs a model directory with config\.json"):
        run_smoke(resolved, model, NEOX, random_weights=True)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"device": "tpu"}, "unknown device 'tpu'"), ({"dtype": "int8"}, "unknown dtype 'int8'")],
    ids=["device", "dtype"],
)
def test_unknown_device_or_dtype(options: dict[str, Any], match: str) -> None:
    pytest.importorskip("torch")
    resolved, model = _load(FIXTURES / "tiny-neox")
    with pytest.raises(TokcheckError, match=match):
        run_smoke(resolved, model, NEOX, tiny=True, **options)


def test_cuda_without_cuda_is_an_error() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    resolved, model = _load(FIXTURES / "tiny-neox")
    with pytest.raises(TokcheckError, match="device cuda requested but CUDA is not available"):
        run_smoke(resolved, model, NEOX, device="cuda", tiny=True)


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    resolved, model = _load(FIXTURES / "tiny-neox")
    with pytest.raises(MissingDependencyError, match=r"pip install 'tokcheck\[torch\]'"):
        run_smoke(resolved, model, NEOX, tiny=True)


def test_import_loads_neither_torch_nor_transformers() -> None:
    code = (
        "import sys, tokcheck.smoke.run, tokcheck.inputs.prompt; "
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.slow
@pytest.mark.skipif(not _cuda_available(), reason="full-size smoke needs CUDA")
@pytest.mark.parametrize(("fixture", "profile"), FULL, ids=[f for f, _ in FULL])
def test_full_size_random_weights_on_cuda(fixture: str, profile: Profile) -> None:
    resolved, model = _load(FIXTURES / fixture)
    report = run_smoke(
        resolved, model, profile, device="cuda", max_new_tokens=32, random_weights=True
    )
    assert report.passed, [c.message for c in report.checks if not c.passed]
    assert _check(report, "parameters").passed
    assert report.dtype == "float16"
    assert report.peak_gpu_memory_bytes is not None
    assert report.peak_gpu_memory_bytes > 2 * report.parameters
