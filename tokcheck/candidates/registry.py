"""The registry of candidates: each name, how it loads, and whether it is in the default set.

The default set is what Hugging Face gives a user who loads the directory (``default``,
``slow``, ``fast``, ``sentencepiece-backend``, ``tokenizer.json``), never tokcheck's own fix
nor a runtime that needs another program: those are judged when named. A new candidate is one
:class:`Entry` here and says itself whether it is a default. llama.cpp's candidates come with a
GGUF (``--gguf``) and are not in the registry: :func:`tokcheck.candidates.llamacpp.candidate_names`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokcheck.candidates import jsruntime
from tokcheck.candidates.base import Candidate, NotApplicable, Unavailable
from tokcheck.candidates.exported import exported, exported_transformers_js
from tokcheck.candidates.hf import (
    auto,
    hf_directory,
    sentencepiece_class,
    tokenizer_json,
    tokenizer_json_path,
)
from tokcheck.errors import TokcheckError, one_line
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel

Loader = Callable[[Path, ResolvedModel, SentencePieceModel], Candidate]


@dataclass(frozen=True)
class Entry:
    """A candidate: its name, how it loads from a model directory, whether it runs unnamed."""

    name: str
    load: Loader
    default: bool


def _transformers_js(
    directory: Path, resolved: ResolvedModel, model: SentencePieceModel
) -> Candidate:
    """The directory's ``tokenizer.json`` and ``tokenizer_config.json`` in transformers.js."""
    text = tokenizer_json_path(resolved).read_text("utf-8")
    found: Candidate = jsruntime.in_node("transformers.js", text, resolved.tokenizer_config or {})
    return found


REGISTRY = (
    Entry("default", auto("default"), default=True),
    Entry("slow", auto("slow", use_fast=False), default=True),
    Entry("fast", auto("fast", use_fast=True), default=True),
    Entry(
        "sentencepiece-backend",
        auto("sentencepiece-backend", backend="sentencepiece"),
        default=True,
    ),
    Entry("tokenizer.json", tokenizer_json, default=True),
    Entry("exported", exported, default=False),
    Entry("sentencepiece-class", sentencepiece_class, default=False),
    Entry("transformers.js", _transformers_js, default=False),
    Entry("exported-transformers.js", exported_transformers_js, default=False),
)
_LOADERS = {entry.name: entry.load for entry in REGISTRY}
CANDIDATE_NAMES = tuple(entry.name for entry in REGISTRY)
# Candidates compared when the user names none: what Hugging Face gives, not tokcheck's own fix.
DEFAULT_CANDIDATES = tuple(entry.name for entry in REGISTRY if entry.default)
# Runtimes other than Hugging Face's Python libraries that run a tokenizer.json (named only).
RUNTIMES = ("transformers.js", "exported-transformers.js")


def require_known(names: Sequence[str] | None, ggufs: Sequence[Path] = ()) -> list[str]:
    """The candidates ``names`` name (the default set for None), TokcheckError for a name that
    is neither in the registry nor one of llama.cpp's for ``ggufs``."""
    from tokcheck.candidates import llamacpp

    runs = llamacpp.candidate_names(ggufs)
    wanted = list(names) if names else list(DEFAULT_CANDIDATES)
    if unknown := [n for n in wanted if n not in CANDIDATE_NAMES and n not in runs]:
        raise TokcheckError(
            f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATE_NAMES)}"
            + (" (llama.cpp's come with --gguf FILE)" if any("llama" in n for n in unknown) else "")
        )
    return wanted


def load_candidates(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    names: Sequence[str] | None = None,
    ggufs: Sequence[Path] = (),
) -> tuple[list[Candidate], list[Unavailable]]:
    """The candidates ``names`` (the default set without), exactly those: a name of
    :func:`tokcheck.candidates.llamacpp.candidate_names` runs its GGUF of ``ggufs``. A worker
    loads the names its coordinator loaded, so what is added to them is added there (see
    compare)."""
    from tokcheck.candidates import llamacpp

    runs = llamacpp.candidate_names(ggufs)
    wanted = require_known(names, ggufs)
    loaded: list[Candidate] = []
    missing: list[Unavailable] = []
    with hf_directory(resolved) as directory:
        for name in wanted:
            try:
                if name in runs:
                    loaded.append(llamacpp.in_llama_cpp(name, *runs[name]))
                else:
                    loaded.append(_LOADERS[name](directory, resolved, model))
            except NotApplicable as e:
                missing.append(Unavailable(name, str(e)))
            except Exception as e:
                reason = f"failed to load: {type(e).__name__}: {one_line(str(e))}"
                missing.append(Unavailable(name, reason, failed=True))
    return loaded, missing
