"""The types of the Hugging Face JSON fields that tokcheck and transformers' tokenizer loading read.

A wrong type in ``tokenizer_config.json``, ``special_tokens_map.json`` or ``config.json`` (an
``additional_special_tokens`` of ``5``, a ``model_max_length`` of ``"big"``), or an id in
``added_tokens.json`` that is not a non-negative integer, would otherwise surface as a TypeError
deep inside a check or inside transformers; :func:`validate` turns it into one TokcheckError
naming the file and the field. Only the fields listed here are checked (every entry of
``added_tokens.json``, which maps each token to its id), and a field that is absent is fine. ``null`` is accepted wherever transformers itself writes it
(an unset token, ``legacy``, ``tokenizer_class``). Reading the files is
:mod:`tokcheck.model.resolve`'s job; judging the values is :mod:`tokcheck.checks.rules`'.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokcheck.errors import TokcheckError

# The file of tokens added past the sentencepiece vocabulary: {"<pad>": 32000}.
ADDED_TOKENS = "added_tokens.json"
SPECIAL_TOKEN_KEYS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "pad_token",
    "sep_token",
    "cls_token",
    "mask_token",
)

# (test, what the test accepts, in words)
_Type = tuple[Callable[[Any], bool], str]


def _is_int(value: Any) -> bool:
    # JSON true is not a number, though Python's bool is an int.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_token(value: Any) -> bool:
    return value is None or isinstance(value, str) or _is_token_object(value)


def _is_token_object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("content"), str)


_TOKEN: _Type = (_is_token, 'a string, null, or an object with a string "content"')
_BOOL: _Type = (lambda v: v is None or isinstance(v, bool), "true, false or null")
_INT_OR_NULL: _Type = (lambda v: v is None or _is_int(v), "an integer or null")
_STR_OR_NULL: _Type = (lambda v: v is None or isinstance(v, str), "a string or null")

_TOKENIZER_FIELDS: dict[str, _Type] = {
    **dict.fromkeys(SPECIAL_TOKEN_KEYS, _TOKEN),
    "additional_special_tokens": (
        lambda v: v is None or (isinstance(v, list) and all(map(_is_token, v))),
        'null or a list of strings or objects with a string "content"',
    ),
    # transformers writes its "no limit" sentinel int(1e30) as an integer; older files a float.
    "model_max_length": (
        lambda v: _is_int(v) or isinstance(v, float),
        "a number",
    ),
    "tokenizer_class": _STR_OR_NULL,
    **dict.fromkeys(
        (
            "add_bos_token",
            "add_eos_token",
            "legacy",
            "split_special_tokens",
            "clean_up_tokenization_spaces",
            "add_prefix_space",
            "do_lower_case",
        ),
        _BOOL,
    ),
}
_CONFIG_FIELDS: dict[str, _Type] = {
    "vocab_size": _INT_OR_NULL,
    "bos_token_id": _INT_OR_NULL,
    # Generation may stop on any of several ids.
    "eos_token_id": (
        lambda v: v is None or _is_int(v) or (isinstance(v, list) and all(map(_is_int, v))),
        "an integer, a list of integers, or null",
    ),
    "pad_token_id": _INT_OR_NULL,
    "model_type": _STR_OR_NULL,
    "architectures": (
        lambda v: v is None or (isinstance(v, list) and all(isinstance(a, str) for a in v)),
        "a list of strings or null",
    ),
    "tokenizer_class": _STR_OR_NULL,
}
_FIELDS = {
    "tokenizer_config.json": _TOKENIZER_FIELDS,
    "special_tokens_map.json": _TOKENIZER_FIELDS,
    "config.json": _CONFIG_FIELDS,
}


def validate(path: Path, data: dict[str, Any]) -> None:
    """Raise TokcheckError if a field of the file named by ``path`` has the wrong JSON type."""
    for key, (test, wanted) in _FIELDS.get(path.name, {}).items():
        if key in data and not test(data[key]):
            raise TokcheckError(f"{path}: field {key} must be {wanted}, got {_shown(data[key])}")
    if path.name == ADDED_TOKENS:
        for token, value in data.items():
            if not (_is_int(value) and value >= 0):
                raise TokcheckError(
                    f"{path}: token {_quoted(token)} must map to a non-negative integer id, "
                    f"got {_shown(value)}"
                )


def _quoted(text: str) -> str:
    """A JSON key in quotes, ASCII-escaped, cut short when long."""
    return json.dumps(text[:40]) + ("..." if len(text) > 40 else "")


def _shown(value: Any) -> str:
    """A JSON value in a few words: its JSON spelling when short, and its type."""
    if isinstance(value, list | dict):
        return "an array" if isinstance(value, list) else "an object"
    if value is None:
        return "null"
    kind = (
        "a boolean"
        if isinstance(value, bool)
        else "a string"
        if isinstance(value, str)
        else "a number"
    )
    # ASCII-escaped: the value is user data, so no control character or surrogate gets through.
    text = json.dumps(value)
    return f"{text} ({kind})" if len(text) <= 40 else kind
