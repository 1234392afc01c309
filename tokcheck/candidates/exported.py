"""tokcheck's own export as candidates: the fix shown beside the problem.

``exported`` is what ``tokcheck export`` would write for the directory, built in memory;
``exported-transformers.js`` what ``tokcheck export --target transformers.js`` would write, run
in node. Both keep the directory's special-token settings as export does.
"""

from __future__ import annotations

from pathlib import Path

from tokcheck.candidates import jsruntime
from tokcheck.candidates.base import Candidate, NotApplicable
from tokcheck.candidates.hf import from_tokenizers
from tokcheck.convert.target import build_for, kept_specials, tokenizer_config
from tokcheck.errors import TokcheckError
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel


def exported(directory: Path, resolved: ResolvedModel, model: SentencePieceModel) -> Candidate:
    """What ``tokcheck export`` would write for this directory, built in memory: the converted
    model with the directory's special-token settings kept."""
    tokenizer = kept_specials(resolved, model).apply(build_for(model, "tokenizers"))
    return from_tokenizers("exported", tokenizer, "tokenizers.Tokenizer (tokcheck export)")


def exported_transformers_js(
    directory: Path, resolved: ResolvedModel, model: SentencePieceModel
) -> Candidate:
    """What ``tokcheck export --target transformers.js`` would write for this directory, run
    by transformers.js; a model export refuses for that target does not apply."""
    specials = kept_specials(resolved, model)
    try:
        tokenizer = specials.apply(build_for(model, "transformers.js"))
    except TokcheckError as e:
        raise NotApplicable(str(e)) from e
    config = tokenizer_config(resolved, specials)
    found: Candidate = jsruntime.in_node("exported-transformers.js", tokenizer.to_str(), config)
    return found
