"""Built-in profiles, hub-id selection, and profiles read from a user's TOML file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokcheck.errors import ProfileError
from tokcheck.model.profiles import BUILTIN_PROFILES, Profile, load_profile, profile_for_hub_id

NAMES = ["rinna/japanese-gpt-neox-3.6b", "rinna/bilingual-gpt-neox-4b", "rinna/japanese-gpt-1b"]
MEMBERS = [(m, p.name) for p in BUILTIN_PROFILES.values() for m in p.members]


def test_three_builtin_profiles() -> None:
    assert list(BUILTIN_PROFILES) == NAMES
    for name, profile in BUILTIN_PROFILES.items():
        assert profile.name == name
        assert name in profile.members
        assert profile.source.startswith("https://huggingface.co/")


def test_builtin_expectations() -> None:
    neox, bilingual, legacy = (BUILTIN_PROFILES[n] for n in NAMES)
    assert (neox.vocab_size, neox.byte_fallback, neox.add_dummy_prefix) == (32_000, True, False)
    assert neox.remove_extra_whitespaces is False
    assert (bilingual.vocab_size, bilingual.representable) == (65_536, ("\n", "\t"))
    assert (legacy.vocab_size, legacy.byte_fallback, legacy.add_dummy_prefix) == (
        32_000,
        False,
        True,
    )
    assert legacy.remove_extra_whitespaces is True


@pytest.mark.parametrize(("hub_id", "profile"), MEMBERS, ids=[m for m, _ in MEMBERS])
def test_profile_for_every_member(hub_id: str, profile: str) -> None:
    found = profile_for_hub_id(hub_id)
    assert found is not None
    assert found.name == profile


def test_members_belong_to_one_family_only() -> None:
    members = [m.lower() for m, _ in MEMBERS]
    assert len(members) == len(set(members))


def test_profile_for_hub_id_ignores_case() -> None:
    found = profile_for_hub_id("RINNA/Japanese-GPT-NeoX-3.6B-Instruction-PPO")
    assert found is not None
    assert found.name == "rinna/japanese-gpt-neox-3.6b"


@pytest.mark.parametrize(
    "hub_id",
    [
        "google/t5-small",
        "rinna/japanese-gpt-neox-3.6b-extra",
        "rinna/japanese-gpt-neox",
        "gpt2",
        "",
    ],
    ids=["other-owner", "suffixed", "prefix-only", "no-owner", "empty"],
)
def test_profile_for_unknown_hub_id(hub_id: str) -> None:
    assert profile_for_hub_id(hub_id) is None


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_load_builtin(name: str) -> None:
    assert load_profile(name) is BUILTIN_PROFILES[name]


def test_to_dict_is_json_ready() -> None:
    data = json.loads(json.dumps(BUILTIN_PROFILES["rinna/bilingual-gpt-neox-4b"].to_dict()))
    assert data["representable"] == ["\n", "\t"]
    assert "rinna/bilingual-gpt-neox-4b-8k" in data["members"]


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_load_toml(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'name = "mine"\n'
        'description = "a tiny test profile"\n'
        "vocab_size = 1000\n"
        "byte_fallback = true\n"
        'members = ["me/tiny"]\n'
        'representable = ["\\n"]\n'
        'prompt_format = "newline"\n',
    )
    assert load_profile(path) == Profile(
        name="mine",
        description="a tiny test profile",
        vocab_size=1000,
        byte_fallback=True,
        members=("me/tiny",),
        representable=("\n",),
        prompt_format="newline",
    )


def test_toml_name_defaults_to_its_path(tmp_path: Path) -> None:
    path = _toml(tmp_path, "vocab_size = 1000\n")
    profile = load_profile(path)
    assert profile.name == path
    assert profile.byte_fallback is None  # unconstrained


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("vocab_size = \n", "invalid TOML"),
        ('vocab_size = 1000\ncolour = "blue"\n', "unknown profile key.*colour"),
        ('vocab_size = "1000"\n', "vocab_size must be an integer"),
        ("vocab_size = true\n", "vocab_size must be an integer"),
        ("vocab_size = 1000.0\n", "vocab_size must be an integer"),
        ("vocab_size = 0\n", "vocab_size must be positive"),
        ('byte_fallback = "yes"\n', "byte_fallback must be true or false"),
        ('members = "rinna/x"\n', "members must be a list"),
        ("representable = [1]\n", "representable must be a list of strings"),
        ('prompt_format = "chatml"\n', "prompt_format must be one of"),
        ("name = 3\n", "name must be a string"),
    ],
    ids=[
        "syntax-error",
        "unknown-key",
        "string-for-int",
        "bool-for-int",
        "float-for-int",
        "zero-vocab",
        "string-for-bool",
        "string-for-list",
        "non-string-list",
        "unknown-prompt-format",
        "int-for-name",
    ],
)
def test_invalid_toml(tmp_path: Path, text: str, why: str) -> None:
    path = _toml(tmp_path, text)
    with pytest.raises(ProfileError, match=why) as e:
        load_profile(path)
    assert path in str(e.value)


def test_toml_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('description = "café"\n'.encode("latin-1"))
    with pytest.raises(ProfileError, match="cannot read profile"):
        load_profile(str(path))


@pytest.mark.parametrize(
    "name",
    ["rinna/japanese-gpt-neox-3.6b-instruction-ppo", "neox", "missing.toml"],
    ids=["member-not-profile", "nickname", "missing-file"],
)
def test_unknown_profile(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProfileError, match=r"unknown profile.*tokcheck profiles"):
        load_profile(name)
