"""Lay a local directory out as a Hugging Face hub cache entry, so hub ids resolve offline.

The layout is the one huggingface_hub itself writes and reads::

    <cache_root>/models--<owner>--<name>/
        blobs/<sha256 of the content>
        refs/<revision>                      (the 40-hex commit hash, no newline)
        snapshots/<commit>/<file> -> ../../blobs/<sha256>

With ``HF_HUB_OFFLINE=1`` and ``HF_HUB_CACHE`` pointing at ``cache_root``, ``snapshot_download(...,
local_files_only=True)`` returns the snapshot directory without any network access. Nothing here
imports huggingface_hub: the layout is written from its documented format, and the tests check
that huggingface_hub accepts it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def repo_folder_name(repo_id: str) -> str:
    """``owner/name`` as the cache names its folder: ``models--owner--name``."""
    return "models--" + repo_id.replace("/", "--")


def make_hub_cache(
    cache_root: Path, repo_id: str, source_dir: Path, revision: str = "main"
) -> Path:
    """Copy every file under ``source_dir`` into the cache as ``repo_id`` at ``revision``.

    ``revision`` is a branch or tag name (recorded in ``refs/``) or a 40-hex commit hash (used as
    the snapshot name directly, as the hub does). Returns the snapshot directory.
    """
    files = sorted(p for p in source_dir.rglob("*") if p.is_file())
    if not files:
        raise ValueError(f"{source_dir}: no files to put in the cache")
    storage = cache_root / repo_folder_name(repo_id)
    blobs = storage / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)

    digests: dict[Path, str] = {}
    for path in files:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        blob = blobs / digest
        if not blob.exists():
            blob.write_bytes(data)
        digests[path.relative_to(source_dir)] = digest

    if _COMMIT.match(revision):
        commit = revision
    else:
        # A stable, made-up commit hash: the same inputs give the same snapshot folder.
        listing = "\n".join(f"{rel.as_posix()} {d}" for rel, d in sorted(digests.items()))
        commit = hashlib.sha1(f"{repo_id}@{revision}\n{listing}".encode()).hexdigest()
        refs = storage / "refs"
        refs.mkdir(parents=True, exist_ok=True)
        (refs / revision).write_text(commit, encoding="utf-8")

    snapshot = storage / "snapshots" / commit
    for rel, digest in digests.items():
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blobs / digest, link.parent))
    return snapshot
