"""What ``tokcheck inspect`` reports: the model summary plus what the Hugging Face files say,
with every special and added token resolved to its id (see :mod:`tokcheck.model.hftokens`)."""

from __future__ import annotations

from typing import Any

from tokcheck.model.hfconfig import SPECIAL_TOKEN_KEYS
from tokcheck.model.hftokens import read_hf_tokens
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel

_TOKENIZER_CONFIG_KEYS = (
    "tokenizer_class",
    *SPECIAL_TOKEN_KEYS,
    "additional_special_tokens",
    "do_lower_case",
    "legacy",
    "add_bos_token",
    "add_eos_token",
    "add_prefix_space",
    "model_max_length",
)
_CONFIG_KEYS = (
    "architectures",
    "model_type",
    "vocab_size",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "num_hidden_layers",
    "hidden_size",
)


def inspect_model(resolved: ResolvedModel, model: SentencePieceModel) -> dict[str, Any]:
    """The inspect report as one JSON-ready dict."""
    report: dict[str, Any] = {"model": resolved.name, "hub_id": resolved.hub_id}
    report.update(model.summary().to_dict())
    report["tokenizer_config"] = _pick(resolved.tokenizer_config, _TOKENIZER_CONFIG_KEYS)
    report["special_tokens_map"] = resolved.special_tokens_map
    report["config"] = _pick(resolved.config, _CONFIG_KEYS)
    hf = read_hf_tokens(resolved, model) if resolved.directory is not None else None
    report["hf_tokens"] = hf.to_dict() if hf else None
    report["tokenizer_json"] = str(resolved.tokenizer_json) if resolved.tokenizer_json else None
    return report


def _pick(data: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if data is None:
        return None
    return {k: data[k] for k in keys if k in data}
