"""What a verdict was decided with: tokcheck's version, the libraries' and the output schema's.

Versions come from the installed distributions' metadata, so asking costs no import (torch,
say, takes seconds to import). Every ``--json`` output carries :data:`SCHEMA_VERSION` and
:func:`versions`; ``tokcheck --version`` prints them.
"""

from __future__ import annotations

import platform
from functools import cache

__version__ = "0.1.0"
# The shape of every --json output; raised when a key changes meaning or goes away.
SCHEMA_VERSION = 2
# The libraries whose behaviour a verdict depends on, by distribution name; the optional ones
# are listed only where installed.
_REQUIRED = ("sentencepiece", "tokenizers", "transformers", "huggingface_hub", "hypothesis")
_OPTIONAL = ("torch", "llama-cpp-python", "dask")


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


@cache
def versions() -> dict[str, str | None]:
    """tokcheck, Python and each library's version (None where a required one is missing)."""
    out: dict[str, str | None] = {"tokcheck": __version__, "python": platform.python_version()}
    out.update({name: _version(name) for name in _REQUIRED})
    out.update({name: v for name in _OPTIONAL if (v := _version(name)) is not None})
    return out


def transformers_release() -> str:
    return versions()["transformers"] or "not installed"


def stamped(payload: dict[str, object]) -> dict[str, object]:
    """A ``--json`` payload with the schema version first and every version (a report's own
    ``versions`` are among them)."""
    return {"schema_version": SCHEMA_VERSION, **payload, "versions": versions()}
