"""The validation gate: each model fails exactly the checks it should, and nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tokcheck.checks.rules import CheckReport, run_checks
from tokcheck.model.profiles import load_profile
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NEOX = "rinna/japanese-gpt-neox-3.6b"
BILINGUAL = "rinna/bilingual-gpt-neox-4b"
LEGACY = "rinna/japanese-gpt-1b"
# What a model with the legacy flags lacks against the GPT-NeoX profiles.
LEGACY_VS_NEOX = {"byte_fallback", "byte_pieces", "add_dummy_prefix", "remove_extra_whitespaces"}


def _check(reference: Path, profile: str | None) -> CheckReport:
    resolved = resolve(str(reference))
    model = SentencePieceModel.load(resolved.model_file)
    return run_checks(resolved, model, load_profile(profile) if profile else None)


def _failed(report: CheckReport) -> set[str]:
    return {c.name for c in report.checks if not c.passed}


def _result(report: CheckReport, name: str) -> tuple[bool, object, object]:
    (check,) = [c for c in report.checks if c.name == name]
    return check.passed, check.expected, check.actual


@pytest.mark.parametrize(
    ("fixture", "profile"),
    [("neox-3.6b", NEOX), ("bilingual-4b", BILINGUAL), ("legacy-1b", LEGACY)],
    ids=["neox-3.6b", "bilingual-4b", "legacy-1b"],
)
def test_conformant_fixture_passes_its_profile(fixture: str, profile: str) -> None:
    report = _check(FIXTURES / fixture, profile)
    assert _failed(report) == set()
    assert report.passed
    assert report.profile == profile
    # The flags the profile constrains were actually checked, not skipped.
    assert {"vocab_size", "byte_fallback", "add_dummy_prefix", "remove_extra_whitespaces"} <= {
        c.name for c in report.checks
    }
    # None of them has an added_tokens.json or a pad id in config.json, which is the usual
    # case, not a failure.
    assert [s.name for s in report.skipped] == ["added_tokens", "config_pad_id"]


def test_config_pad_id_must_be_the_tokenizers_pad(tmp_path: Path) -> None:
    import shutil

    directory = tmp_path / "llama"
    shutil.copytree(FIXTURES / "bpe-32k", directory)
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    assert config["pad_token_id"] == 32000
    assert "config_pad_id" not in _failed(_check(directory, None))
    (directory / "config.json").write_text(json.dumps({**config, "pad_token_id": 7}))
    report = _check(directory, None)
    assert "config_pad_id" in _failed(report)
    assert not report.passed


def test_bilingual_representable_checks_run() -> None:
    report = _check(FIXTURES / "bilingual-4b", BILINGUAL)
    passed, _, actual = _result(report, "representable['\\n']")
    assert passed
    assert actual == {"pieces": ["\n"], "decoded": "\n"}


def test_legacy_against_neox_profile() -> None:
    report = _check(FIXTURES / "legacy-1b", NEOX)
    assert _failed(report) == LEGACY_VS_NEOX
    assert _result(report, "vocab_size") == (True, 32_000, 32_000)
    assert _result(report, "add_dummy_prefix") == (False, False, True)
    assert not report.passed


def test_legacy_against_bilingual_profile_loses_newline_and_tab() -> None:
    report = _check(FIXTURES / "legacy-1b", BILINGUAL)
    assert _failed(report) == LEGACY_VS_NEOX | {
        "vocab_size",
        "representable['\\n']",
        "representable['\\t']",
    }


def test_shared_ja_model_against_neox_profile(shared_ja_model: Path) -> None:
    report = _check(shared_ja_model, NEOX)
    assert _failed(report) == LEGACY_VS_NEOX | {"vocab_size"}
    assert _result(report, "vocab_size") == (False, 32_000, 8000)


def test_shared_ja_model_against_legacy_profile(shared_ja_model: Path) -> None:
    # Same flags as the legacy family; only the size differs.
    assert _failed(_check(shared_ja_model, LEGACY)) == {"vocab_size"}


def test_shared_models_pass_generic_checks(shared_ja_model: Path, shared_en_model: Path) -> None:
    for path in (shared_ja_model, shared_en_model):
        report = _check(path, None)
        assert _failed(report) == set(), path


# Against the profile of the model they were derived from, then with generic checks only.
BROKEN_VS_NEOX = {
    "dummy-prefix-on": {"add_dummy_prefix"},
    "whitespace-removal-on": {"remove_extra_whitespaces"},
    # Flipping the flag alone leaves 256 BYTE pieces that sentencepiece then refuses to load.
    "no-byte-fallback": {"byte_fallback", "sentencepiece_loads"},
    "missing-byte-pieces": {"byte_pieces", "sentencepiece_loads"},
    "config-eos-mismatch": {"config_eos_id"},
    "wrong-vocab-size": {"vocab_size"},
}
BROKEN_GENERIC = {
    "dummy-prefix-on": set(),
    "whitespace-removal-on": set(),
    "no-byte-fallback": {"sentencepiece_loads"},
    "missing-byte-pieces": {"byte_pieces", "sentencepiece_loads"},
    "config-eos-mismatch": {"config_eos_id"},
    "wrong-vocab-size": set(),
    # sentencepiece loads these; only text-based consumers choke.
    "invalid-utf8-piece": {"pieces_utf8"},
    "invalid-utf8-user-symbol": {"pieces_utf8"},
    "invalid-utf8-unk-surface": {"pieces_utf8"},
}


@pytest.mark.parametrize("name", list(BROKEN_VS_NEOX), ids=list(BROKEN_VS_NEOX))
def test_broken_fixture_fails_exactly_its_defect(
    broken_dir: Callable[[str], Path], name: str
) -> None:
    assert _failed(_check(broken_dir(name), NEOX)) == BROKEN_VS_NEOX[name]


@pytest.mark.parametrize("name", list(BROKEN_GENERIC), ids=list(BROKEN_GENERIC))
def test_broken_fixture_generic_checks(broken_dir: Callable[[str], Path], name: str) -> None:
    report = _check(broken_dir(name), None)
    assert _failed(report) == BROKEN_GENERIC[name]
    assert [s.name for s in report.skipped] == ["profile", "added_tokens", "config_pad_id"]


def test_wrong_vocab_size_values(broken_dir: Callable[[str], Path]) -> None:
    report = _check(broken_dir("wrong-vocab-size"), NEOX)
    assert _result(report, "vocab_size") == (False, 32_000, 31_000)
    # config.json still says 32,000 rows: enough for 31,000 ids, so not an embedding failure.
    assert _result(report, "embedding_rows")[0]


def test_config_eos_mismatch_values(broken_dir: Callable[[str], Path]) -> None:
    report = _check(broken_dir("config-eos-mismatch"), NEOX)
    assert _result(report, "config_eos_id") == (False, 3, 0)
    assert _result(report, "config_bos_id") == (True, 2, 2)


def test_missing_byte_pieces_values(broken_dir: Callable[[str], Path]) -> None:
    passed, _, actual = _result(_check(broken_dir("missing-byte-pieces"), NEOX), "byte_pieces")
    assert not passed
    assert isinstance(actual, str)
    assert actual.startswith("240 BYTE pieces")


@pytest.mark.parametrize(
    ("name", "actual", "says"),
    [
        (
            "invalid-utf8-piece",
            {"invalid_utf8_pieces": [899], "unk_surface_invalid_utf8": False},
            "1 piece(s) (ids [899]) not valid UTF-8",
        ),
        (
            "invalid-utf8-user-symbol",
            {"invalid_utf8_pieces": [999], "unk_surface_invalid_utf8": False},
            "1 piece(s) (ids [999]) not valid UTF-8",
        ),
        (
            "invalid-utf8-unk-surface",
            {"invalid_utf8_pieces": [], "unk_surface_invalid_utf8": True},
            "trainer_spec.unk_surface not valid UTF-8",
        ),
    ],
    ids=["piece", "user-symbol", "unk-surface"],
)
def test_pieces_utf8_values(
    broken_dir: Callable[[str], Path], name: str, actual: dict[str, object], says: str
) -> None:
    report = _check(broken_dir(name), None)
    (check,) = [c for c in report.checks if c.name == "pieces_utf8"]
    assert (check.passed, check.actual) == (False, actual)
    assert check.message.startswith(says)
    assert "Hugging Face converters and sentencepiece's Python API" in check.message


def test_pieces_utf8_passes_on_conformant(tiny_neox_dir: Path) -> None:
    assert _result(_check(tiny_neox_dir, None), "pieces_utf8") == (
        True,
        "every piece name and unk_surface is valid UTF-8",
        {"invalid_utf8_pieces": [], "unk_surface_invalid_utf8": False},
    )


def test_bare_model_file_skips_metadata_checks(neox_dir: Path) -> None:
    report = _check(neox_dir / "spiece.model", NEOX)
    assert report.passed
    skipped = {s.name for s in report.skipped}
    assert skipped == {
        "special_tokens_in_vocab",
        "added_tokens",
        "embedding_rows",
        "config_bos_id",
        "config_eos_id",
        "config_pad_id",
    }
    # A check that could not run is never listed as passed.
    assert skipped.isdisjoint(c.name for c in report.checks)


def test_check_names_are_unique_and_messages_are_one_line() -> None:
    for fixture in ("legacy-1b", "broken/missing-byte-pieces", "broken/invalid-utf8-piece"):
        report = _check(FIXTURES / fixture, BILINGUAL)
        names = [c.name for c in report.checks]
        assert len(names) == len(set(names))
        for c in report.checks:
            assert c.message
            assert "\n" not in c.message


def test_failed_message_says_expected_and_actual() -> None:
    report = _check(FIXTURES / "broken" / "dummy-prefix-on", NEOX)
    (failure,) = [c for c in report.checks if not c.passed]
    assert "add_dummy_prefix is True, expected False" in failure.message
    assert NEOX in failure.message


def test_user_profile_passes_on_tiny_fixture(tmp_path: Path, tiny_neox_dir: Path) -> None:
    profile = tmp_path / "tiny.toml"
    profile.write_text(
        'name = "tiny"\n'
        "vocab_size = 1000\n"
        'model_type = "unigram"\n'
        "byte_fallback = true\n"
        "add_dummy_prefix = false\n"
        "remove_extra_whitespaces = false\n"
        'representable = ["\\n", "\\t", "ユーザー: "]\n',
        encoding="utf-8",
    )
    report = _check(tiny_neox_dir, str(profile))
    assert report.profile == "tiny"
    assert _failed(report) == set()
    assert {"vocab_size", "representable['\\n']", "representable['ユーザー: ']"} <= {
        c.name for c in report.checks
    }
