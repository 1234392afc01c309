"""Turn a MODEL argument into files on disk.

A MODEL argument is one of: a sentencepiece ``.model`` file; a directory in Hugging Face layout; or a
hub id such as ``rinna/japanese-gpt-neox-3.6b-instruction-ppo``. Hub ids are resolved with
huggingface_hub, local cache first (``HF_HOME``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` are read
when resolving, not at import), and only tokenizer and config files are ever downloaded, never
weights. This module finds files; it does not parse the model (see :mod:`tokcheck.model.proto`).
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokcheck.errors import ModelNotFoundError, TokcheckError
from tokcheck.model import hfconfig
from tokcheck.system import paths

MODEL_FILENAMES = ("spiece.model", "tokenizer.model", "sentencepiece.bpe.model")
METADATA_FILENAMES = (
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    hfconfig.ADDED_TOKENS,
)
# What a hub download may fetch: the tokenizer and its configuration, never weights.
HUB_ALLOW_PATTERNS = (
    *MODEL_FILENAMES,
    *METADATA_FILENAMES,
    "tokenizer.json",
    "generation_config.json",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a MODEL argument led: the model file, and the Hugging Face files found beside it."""

    # The MODEL argument as the user gave it (a path or a hub id).
    name: str
    model_file: Path
    directory: Path | None
    hub_id: str | None
    tokenizer_config: dict[str, Any] | None
    special_tokens_map: dict[str, Any] | None
    config: dict[str, Any] | None
    # added_tokens.json: token -> id, for tokens past the sentencepiece vocabulary.
    added_tokens: dict[str, Any] | None = None

    @property
    def tokenizer_json(self) -> Path | None:
        if self.directory is None:
            return None
        path = self.directory / "tokenizer.json"
        return path if path.is_file() else None


def is_hub_id(name: str) -> bool:
    """Whether ``name`` is shaped like a hub repo id (the hub's own naming rules)."""
    if not _HUB_ID.match(name) or ".." in name or "--" in name or name.endswith(".git"):
        return False
    return not any(part.endswith((".", "-")) for part in name.split("/"))


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hub_cache_dir() -> Path:
    """The hub cache huggingface_hub would use, computed from the environment now."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return _from_environment("HF_HUB_CACHE", cache)
    if home := os.environ.get("HF_HOME"):
        return _from_environment("HF_HOME", home) / "hub"
    return user_cache_dir() / "huggingface" / "hub"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache``, read from the environment now."""
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return _from_environment("XDG_CACHE_HOME", xdg)
    return paths.expand_user("~", "the user cache ~/.cache (set HOME or XDG_CACHE_HOME)") / ".cache"


def _from_environment(variable: str, value: str) -> Path:
    return paths.expand_user(value, f"{variable}={value}")


def resolve(name: str, *, revision: str | None = None) -> ResolvedModel:
    """Resolve a MODEL argument, or raise a TokcheckError whose message says what to do."""
    if not name.strip():
        raise ModelNotFoundError(
            "empty MODEL argument: give a .model file, a directory or a hub id"
        )
    if revision is not None:
        check_revision(revision)
    path = paths.expand_user(name, error=ModelNotFoundError)
    try:
        found = paths.kind(path)
    except OSError as e:
        raise ModelNotFoundError(f"{paths.shown(name)}: {paths.reason(e, name)}") from e
    if found == "file":
        return ResolvedModel(name, path, None, None, None, None, None)
    if found == "dir":
        return _from_directory(name, path, hub_id=None)
    if found == "other":
        raise ModelNotFoundError(f"{paths.shown(name)}: neither a regular file nor a directory")
    hub_shaped = is_hub_id(name) and not name.endswith(".model")
    owner = _local_owner(name) if hub_shaped else None
    if hub_shaped and owner is None:
        return _from_directory(name, _hub_snapshot(name, revision), hub_id=name)
    if "/" in name.strip("/") or name.startswith((".", "/", "~")) or "." in name:
        raise ModelNotFoundError(_no_such_path(name, path, owner))
    match = _close_match(name, path)
    raise ModelNotFoundError(
        f"{paths.shown(name)}: not a file, a directory or a hub id (hub ids look like "
        "'owner/name')" + (f"; did you mean {paths.shown(match)}?" if match else "")
    )


# What a branch or tag name may not hold (git check-ref-format), so that a revision never
# reaches outside the cache's refs/ and snapshots/ folders.
_BAD_REVISION = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|@\{")


def check_revision(revision: str) -> None:
    """Raise ModelNotFoundError unless ``revision`` can name a branch, a tag or a commit."""
    parts = revision.split("/")
    if not revision.strip():
        problem = "is empty"
    elif any(p in ("", ".", "..") or p.startswith(".") or p.endswith(".lock") for p in parts):
        problem = (
            "is no branch, tag or commit name (an empty, '.' or '..' part, a leading dot or .lock)"
        )
    elif _BAD_REVISION.search(revision) or revision == "@":
        problem = "is no branch, tag or commit name (spaces, control or ~^:?*[\\ characters)"
    else:
        return
    raise ModelNotFoundError(
        f"--revision {paths.shown(repr(revision))} {problem}; give a branch, a tag or a commit hash"
    )


def _local_owner(name: str) -> str | None:
    """The first part of an ``owner/name``-shaped MODEL when it is a local directory.

    ``fixtures/neox-3.6`` is shaped like a hub id, but with a ``fixtures`` directory here it is
    a mistyped path, not a repository to look for in the hub cache.
    """
    owner = name.split("/", 1)[0]
    return owner if "/" in name and owner and os.path.isdir(owner) else None


def _no_such_path(name: str, path: Path, owner: str | None) -> str:
    message = f"no such file or directory: {paths.shown(name)}"
    if (match := _close_match(name, path)) is not None:
        message += f"; did you mean {paths.shown(match)}?"
    if owner is not None:
        message += f" ({owner}/ is a directory here, so this is read as a path, not a hub id)"
    return message


def _close_match(name: str, path: Path) -> str | None:
    """The entry beside a missing path that it is most likely a typo of, spelt as the user
    spelt the parent (``fixtures/neox-3.6b`` for ``fixtures/neox-3.6``)."""
    head, tail = os.path.split(name.rstrip("/"))
    parent = path.parent if head else Path(".")
    try:
        with os.scandir(parent) as entries:
            names = [e.name for e in itertools.islice(entries, 10_000)]
    except OSError:
        return None
    matches = difflib.get_close_matches(tail, names, n=1)
    return os.path.join(head, matches[0]) if matches else None


def _from_directory(name: str, directory: Path, *, hub_id: str | None) -> ResolvedModel:
    try:
        model_file = next(
            (directory / n for n in MODEL_FILENAMES if paths.kind(directory / n) == "file"), None
        )
        if model_file is None:
            raise ModelNotFoundError(
                f"{paths.shown(name)}: no sentencepiece model in {paths.shown(str(directory))} "
                f"(looked for {', '.join(MODEL_FILENAMES)})"
            )
        tokenizer_config, special_tokens_map, config, added_tokens = (
            _read_json(directory / n) for n in METADATA_FILENAMES
        )
    except OSError as e:
        raise ModelNotFoundError(f"{paths.shown(name)}: {paths.reason(e)}") from e
    return ResolvedModel(
        name,
        model_file,
        directory,
        hub_id,
        tokenizer_config,
        special_tokens_map,
        config,
        added_tokens,
    )


class _NotJson(ValueError):
    """A value Python's json module would read but that is not a JSON number."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"{text} is too large for a double")
    return value


def _present(path: Path) -> bool:
    """Whether a file is at ``path``. Something there that is not a readable file (a directory,
    a link to nothing or a loop of links) is an error, as a file that is no JSON is: the
    directory says it has the file."""
    try:
        found = paths.kind(path)
    except OSError as e:
        raise TokcheckError(f"{path}: cannot read: {paths.reason(e, path)}") from e
    if found is None and path.is_symlink():
        raise TokcheckError(f"{path}: a link to nothing ({os.readlink(path)}): give the file")
    if found not in (None, "file"):
        what = "a directory" if found == "dir" else "not a regular file"
        raise TokcheckError(f"{path}: {what}, where a JSON file is expected")
    return found is not None


def _read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (None if there is nothing there), its field types validated."""
    if not _present(path):
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise TokcheckError(f"{path}: cannot read: {paths.reason(e, path)}") from e
    except UnicodeDecodeError as e:
        raise TokcheckError(f"{path}: not valid JSON ({e})") from e
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (json.JSONDecodeError, _NotJson) as e:
        raise TokcheckError(f"{path}: not valid JSON ({e})") from e
    except RecursionError as e:
        raise TokcheckError(f"{path}: JSON nested too deeply to read") from e
    except ValueError as e:
        # The one ValueError left: an integer past Python's digit limit (sys.int_info).
        raise TokcheckError(
            f"{path}: JSON holds an integer of more than {sys.get_int_max_str_digits()} digits, "
            "more than Python reads"
        ) from e
    if not isinstance(data, dict):
        raise TokcheckError(f"{path}: expected a JSON object, found {type(data).__name__}")
    hfconfig.validate(path, data)
    return data


def _hub_snapshot(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cache_dir = hub_cache_dir()
    common: dict[str, Any] = {
        "revision": revision,
        "cache_dir": cache_dir,
        "allow_patterns": list(HUB_ALLOW_PATTERNS),
    }
    try:
        return Path(str(snapshot_download(repo_id, local_files_only=True, **common)))
    except HFValidationError as e:
        raise ModelNotFoundError(f"{repo_id}: not a valid hub id ({e})") from e
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, FileNotFoundError) as e:
        if hub_offline():
            raise ModelNotFoundError(
                f"{repo_id}: not in the hub cache {cache_dir} and HF_HUB_OFFLINE is set; "
                "download it once online (or point HF_HUB_CACHE at a cache that has it), "
                "or pass a local directory"
            ) from e
    except OSError as e:
        # A cache entry in a shape huggingface_hub cannot read (refs/main a directory, a folder
        # this user may not read): the user's cache, not the hub, needs the repair.
        where = f"{e.filename}: " if e.filename is not None else ""
        raise ModelNotFoundError(
            f"{repo_id}: cannot read its entry in the hub cache {cache_dir} "
            f"({where}{e.strerror or e}); remove that entry or point HF_HUB_CACHE at another cache"
        ) from e
    try:
        return Path(str(snapshot_download(repo_id, **common)))
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise ModelNotFoundError(f"{repo_id}: no such repository or revision on the hub") from e
    except (HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled, OSError) as e:
        raise ModelNotFoundError(
            f"{repo_id}: not in the hub cache {cache_dir} and the hub cannot be reached "
            f"({type(e).__name__}); set HF_HUB_CACHE to a cache that has it, or pass a local "
            "directory"
        ) from e
