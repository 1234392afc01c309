"""tokcheck: analyse and validate sentencepiece-based LLM tokenizers before they ship.

The reference is always the ``sentencepiece`` library on the raw model file; every Hugging Face
loading path is a candidate judged against it. Importing this package imports none of its
modules, and so neither transformers nor torch: each name below is imported when first used, so
that the ``tokcheck`` program is ready for Ctrl-C before any import (see :mod:`tokcheck.__main__`).
"""

from __future__ import annotations

import importlib

# Not typing's: that import alone would take as long as the rest of the program's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tokcheck.errors import TokcheckError
    from tokcheck.model.profiles import (
        BUILTIN_PROFILES,
        Profile,
        load_profile,
        profile_for_hub_id,
    )
    from tokcheck.model.proto import ModelSummary, SentencePieceModel
    from tokcheck.model.resolve import ResolvedModel, resolve
    from tokcheck.provenance import __version__

# The module each public name comes from.
_FROM = {
    "BUILTIN_PROFILES": "tokcheck.model.profiles",
    "ModelSummary": "tokcheck.model.proto",
    "Profile": "tokcheck.model.profiles",
    "ResolvedModel": "tokcheck.model.resolve",
    "SentencePieceModel": "tokcheck.model.proto",
    "TokcheckError": "tokcheck.errors",
    "__version__": "tokcheck.provenance",
    "load_profile": "tokcheck.model.profiles",
    "profile_for_hub_id": "tokcheck.model.profiles",
    "resolve": "tokcheck.model.resolve",
}

__all__ = [
    "BUILTIN_PROFILES",
    "ModelSummary",
    "Profile",
    "ResolvedModel",
    "SentencePieceModel",
    "TokcheckError",
    "__version__",
    "load_profile",
    "profile_for_hub_id",
    "resolve",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is used."""
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_FROM[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__} - {"TYPE_CHECKING", "importlib"})
