"""tokcheck: analyse and validate sentencepiece-based LLM tokenizers before they ship.

The reference is always the ``sentencepiece`` library on the raw model file; every Hugging Face
loading path is a candidate judged against it. Importing this package loads neither
transformers nor torch.
"""

from tokcheck.errors import TokcheckError
from tokcheck.model.profiles import BUILTIN_PROFILES, Profile, load_profile, profile_for_hub_id
from tokcheck.model.proto import ModelSummary, SentencePieceModel
from tokcheck.model.resolve import ResolvedModel, resolve
from tokcheck.provenance import __version__

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
