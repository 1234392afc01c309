"""Profiles: what a model family's tokenizer must be.

Three families are built in, each from its model card; a user's TOML file with the same keys is
a profile too. :func:`select` picks the one a command applies: the one named, the family of a
hub id, the one family whose ``config.json`` model type and vocabulary size the directory's
match, or none where the user waives it (``--no-profile``); otherwise it asks for one. This
module only describes expectations; :mod:`tokcheck.checks.rules` compares a model against them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tokcheck.errors import ProfileError
from tokcheck.system import paths

PROMPT_FORMATS = ("nl-tag", "newline")


@dataclass(frozen=True)
class Profile:
    """Expected tokenizer properties; ``None`` means "not constrained"."""

    name: str
    description: str = ""
    source: str = ""
    members: tuple[str, ...] = ()
    vocab_size: int | None = None
    model_type: str | None = None
    byte_fallback: bool | None = None
    add_dummy_prefix: bool | None = None
    remove_extra_whitespaces: bool | None = None
    # Strings that must encode without the unk id and decode back unchanged.
    representable: tuple[str, ...] = ()
    # How chat prompts are built: "nl-tag" (utterances joined by "<NL>") or "newline" ("\n").
    prompt_format: str | None = None
    # The published parameter count of the family's models, for the smoke test.
    parameters: int | None = None
    # config.json's model_type for the family's models: with vocab_size, the evidence a
    # directory without a hub id is recognised by (see select).
    architecture: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["members"] = list(self.members)
        data["representable"] = list(self.representable)
        return data


BUILTIN_PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="rinna/japanese-gpt-neox-3.6b",
            description="rinna Japanese GPT-NeoX 3.6B: 36 layers, hidden 2816; sentencepiece "
            "unigram, byte fallback, no dummy prefix, whitespace kept; chat utterances joined "
            "by '<NL>'",
            source="https://huggingface.co/rinna/japanese-gpt-neox-3.6b",
            members=(
                "rinna/japanese-gpt-neox-3.6b",
                "rinna/japanese-gpt-neox-3.6b-instruction-sft",
                "rinna/japanese-gpt-neox-3.6b-instruction-sft-v2",
                "rinna/japanese-gpt-neox-3.6b-instruction-ppo",
            ),
            vocab_size=32_000,
            model_type="unigram",
            byte_fallback=True,
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            prompt_format="nl-tag",
            parameters=3_600_000_000,
            architecture="gpt_neox",
        ),
        Profile(
            name="rinna/bilingual-gpt-neox-4b",
            description="rinna English-Japanese GPT-NeoX 3.8B: 36 layers, hidden 2816; "
            "sentencepiece unigram, byte fallback, no dummy prefix, whitespace kept, newline "
            "and tab representable; chat utterances joined by '\\n'",
            source="https://huggingface.co/rinna/bilingual-gpt-neox-4b",
            members=(
                "rinna/bilingual-gpt-neox-4b",
                "rinna/bilingual-gpt-neox-4b-instruction-sft",
                "rinna/bilingual-gpt-neox-4b-instruction-ppo",
                "rinna/bilingual-gpt-neox-4b-8k",
            ),
            vocab_size=65_536,
            model_type="unigram",
            byte_fallback=True,
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            representable=("\n", "\t"),
            prompt_format="newline",
            parameters=3_800_000_000,
            architecture="gpt_neox",
        ),
        Profile(
            name="rinna/japanese-gpt-1b",
            description="rinna legacy Japanese GPT models (japanese-gpt-1b, japanese-gpt2-*): "
            "sentencepiece with dummy prefix and whitespace removal on, no byte fallback",
            source="https://huggingface.co/rinna/japanese-gpt-1b",
            members=(
                "rinna/japanese-gpt-1b",
                "rinna/japanese-gpt2-medium",
                "rinna/japanese-gpt2-small",
                "rinna/japanese-gpt2-xsmall",
            ),
            vocab_size=32_000,
            byte_fallback=False,
            add_dummy_prefix=True,
            remove_extra_whitespaces=True,
            architecture="gpt2",
        ),
    )
}


def profile_for_hub_id(hub_id: str) -> Profile | None:
    """The built-in profile whose family contains ``hub_id``, if any."""
    wanted = hub_id.lower()
    for profile in BUILTIN_PROFILES.values():
        if wanted in (m.lower() for m in profile.members):
            return profile
    return None


@dataclass(frozen=True)
class Selection:
    """The profile a command applies, and why: ``how`` is said in every report."""

    profile: Profile | None
    how: str

    @property
    def waived(self) -> bool:
        return self.profile is None


WAIVED = "none applies or was waived: generic checks only"


def select(
    name: str | None, hub_id: str | None, config: dict[str, Any] | None, *, waived: bool = False
) -> Selection:
    """The profile to apply: ``name`` (a built-in name or a TOML file), else the family of
    ``hub_id``, else the one built-in family whose ``architecture`` and ``vocab_size`` are
    ``config``'s (a directory's config.json), else none if ``waived``. Raises
    :class:`ProfileError` when none of these gives one."""
    if name:
        return Selection(load_profile(name), f"named ({name})")
    if hub_id and (profile := profile_for_hub_id(hub_id)):
        return Selection(profile, f"from the hub id {hub_id}")
    if (inferred := infer(config)) is not None:
        how = (
            f"inferred from config.json (model_type {inferred.architecture}, "
            f"vocab_size {inferred.vocab_size})"
        )
        return Selection(inferred, how)
    if waived:
        return Selection(None, WAIVED)
    known = ", ".join(BUILTIN_PROFILES)
    raise ProfileError(
        "no profile applies by itself (no hub id of a known family, no config.json that names "
        f"one): give --profile NAME|FILE ({known}, or a TOML file) or --no-profile for the "
        "generic checks only"
    )


def infer(config: dict[str, Any] | None) -> Profile | None:
    """The one built-in family whose model type and vocabulary size ``config`` has, if exactly
    one has them."""
    if not config:
        return None
    model_type, vocab = config.get("model_type"), config.get("vocab_size")
    matches = [
        p
        for p in BUILTIN_PROFILES.values()
        if p.architecture is not None and (p.architecture, p.vocab_size) == (model_type, vocab)
    ]
    return matches[0] if len(matches) == 1 else None


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a profile read from a TOML file."""
    if name_or_path in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name_or_path]
    path = paths.expand_user(name_or_path, f"profile {name_or_path}", error=ProfileError)
    try:
        found = paths.kind(path)
    except OSError as e:
        raise ProfileError(
            f"profile {paths.shown(name_or_path)}: {paths.reason(e, name_or_path)}"
        ) from e
    if found == "file":
        return _profile_from_toml(path)
    known = ", ".join(BUILTIN_PROFILES)
    raise ProfileError(
        f"unknown profile {name_or_path!r}: give one of {known} or a TOML file "
        "(`tokcheck profiles` lists them)"
    )


_TYPES: dict[str, type] = {
    "name": str,
    "description": str,
    "source": str,
    "members": list,
    "vocab_size": int,
    "model_type": str,
    "byte_fallback": bool,
    "add_dummy_prefix": bool,
    "remove_extra_whitespaces": bool,
    "representable": list,
    "prompt_format": str,
    "parameters": int,
    "architecture": str,
}


def _profile_from_toml(path: Path) -> Profile:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: cannot read profile: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{path}: invalid TOML: {e}") from e
    _validate(path, data)
    data.setdefault("name", str(path))
    for key in ("members", "representable"):
        if key in data:
            data[key] = tuple(data[key])
    return Profile(**data)


def _validate(path: Path, data: dict[str, Any]) -> None:
    known = {f.name for f in fields(Profile)}
    if unknown := sorted(set(data) - known):
        raise ProfileError(
            f"{path}: unknown profile key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    for key, value in data.items():
        expected = _TYPES[key]
        # bool is an int in Python; a profile saying `vocab_size = true` is still a mistake.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ProfileError(f"{path}: {key} must be {_type_name(expected)}, got {value!r}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ProfileError(f"{path}: {key} must be a list of strings")
    if "vocab_size" in data and data["vocab_size"] <= 0:
        raise ProfileError(f"{path}: vocab_size must be positive, got {data['vocab_size']}")
    if data.get("prompt_format") not in (None, *PROMPT_FORMATS):
        raise ProfileError(
            f"{path}: prompt_format must be one of {', '.join(PROMPT_FORMATS)}, "
            f"got {data['prompt_format']!r}"
        )


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list"}.get(
        t, str(t)
    )
