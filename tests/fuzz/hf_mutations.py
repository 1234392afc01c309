"""Mutations of a Hugging Face tokenizer directory: broken JSON documents, wrong-typed fields,
a directory or FIFO where a file should be, huge values and garbage ``tokenizer.json``.

``mutate_hf_dir`` returns the whole directory (the model, sometimes mildly mutated through
``proto_mutations``, and its metadata files) as (path, Node) pairs; it never writes to disk.
The draw order is part of every case's identity, so keep it.
"""

from __future__ import annotations

import json
import random
from typing import Any, Literal

from .base import Node, base_metadata, base_model
from .proto_mutations import mutate_proto, random_bytes


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


_BAD_DOCUMENTS: tuple[tuple[str, bytes], ...] = (
    ("invalid JSON (unterminated)", b'{"bos_token": '),
    ("invalid JSON (single quotes)", b"{'bos_token': '<s>'}"),
    ("invalid JSON (trailing comma)", b'{"bos_token": "<s>",}'),
    ("JSON array", b"[]"),
    ("JSON string", b'"tokenizer"'),
    ("JSON number", b"42"),
    ("JSON null", b"null"),
    ("JSON true", b"true"),
    ("deep nesting 200,000 [", b"[" * 200_000),
    ("deep nesting 200,000 [ closed", b"[" * 200_000 + b"]" * 200_000),
    ("deep nesting in an object", b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("empty file", b""),
    ("whitespace only", b" \n"),
    ("invalid UTF-8", b'{"bos_token": "\xff\xfe"}'),
    ("invalid UTF-8 key", b'{"\xc0\xaf": 1}'),
    ("UTF-8 BOM", b'\xef\xbb\xbf{"bos_token": "<s>"}'),
    ("UTF-16 text", '{"bos_token": "<s>"}'.encode("utf-16")),
    ("NUL bytes", b'{"bos_token": "<s>"}\x00\x00'),
    ("two documents", b"{} {}"),
    ("lone surrogate escape", b'{"bos_token": "\\ud800", "model_max_length": 2048}'),
    ("lone surrogate key", b'{"\\udfff": "x"}'),
    ("NaN", b'{"model_max_length": NaN, "vocab_size": NaN, "eos_token_id": NaN}'),
    ("Infinity", b'{"model_max_length": Infinity, "vocab_size": -Infinity}'),
    ("5,000-digit integer", b'{"model_max_length": ' + b"9" * 5000 + b"}"),
    ("5,000-digit vocab_size", b'{"vocab_size": ' + b"1" * 5000 + b"}"),
    ("1e400 float", b'{"model_max_length": 1e400, "vocab_size": 1e400}'),
    ("duplicate keys", b'{"bos_token": "<s>", "bos_token": 5}'),
)

# Wrong types for fields the tokenizer files are known to carry, by file.
_WRONG_FIELDS: dict[str, tuple[tuple[str, Any], ...]] = {
    "tokenizer_config.json": (
        ("additional_special_tokens", 5),
        ("additional_special_tokens", True),
        ("additional_special_tokens", {"a": 1}),
        ("additional_special_tokens", [None, 1, ["x"]]),
        ("additional_special_tokens", "<s>"),
        ("model_max_length", "2048"),
        ("model_max_length", -1),
        ("model_max_length", 2**70),
        ("model_max_length", 1.5),
        ("model_max_length", True),
        ("bos_token", ["<s>"]),
        ("bos_token", 2),
        ("bos_token", {"content": 5}),
        ("bos_token", {"__type": "AddedToken"}),
        ("eos_token", None),
        ("unk_token", ""),
        ("pad_token", "x" * 1_000_000),
        ("tokenizer_class", "NoSuchTokenizer"),
        ("tokenizer_class", 7),
        ("tokenizer_class", ""),
        ("tokenizer_class", "LlamaTokenizer"),
        ("tokenizer_class", "PreTrainedTokenizerFast"),
        ("tokenizer_class", None),
        ("extra_ids", -1),
        ("extra_ids", "3"),
        ("extra_ids", 300),
        ("do_lower_case", "yes"),
        ("legacy", "no"),
        ("add_bos_token", "true"),
        ("added_tokens_decoder", [1, 2]),
        ("added_tokens_decoder", {"x": {"content": "<s>"}}),
        ("added_tokens_decoder", {"5": "<s>"}),
        ("sp_model_kwargs", {"no_such_option": 1}),
        ("sp_model_kwargs", "x"),
        ("clean_up_tokenization_spaces", "maybe"),
        ("split_special_tokens", 3),
    ),
    "special_tokens_map.json": (
        ("bos_token", ["<s>"]),
        ("bos_token", 1),
        ("bos_token", {"content": None}),
        ("eos_token", {"content": "</s>", "lstrip": "x"}),
        ("unk_token", True),
        ("pad_token", {"a": [1, 2]}),
        ("additional_special_tokens", 3),
        ("additional_special_tokens", [{"content": 1}]),
        ("additional_special_tokens", {"a": "b"}),
        ("mask_token", "\ud800"),
    ),
    "config.json": (
        ("vocab_size", "1000"),
        ("vocab_size", -1),
        ("vocab_size", 0),
        ("vocab_size", 2**64),
        ("vocab_size", 1000.0),
        ("vocab_size", None),
        ("vocab_size", [1000]),
        ("eos_token_id", 3.0),
        ("eos_token_id", "3"),
        ("eos_token_id", [3, "x"]),
        ("eos_token_id", -5),
        ("eos_token_id", 10**30),
        ("bos_token_id", {"id": 2}),
        ("pad_token_id", True),
        ("model_type", 7),
        ("model_type", "no_such_model_type"),
        ("model_type", ""),
        ("architectures", "GPTNeoXForCausalLM"),
        ("architectures", [5]),
        ("torch_dtype", "float99"),
        ("max_position_embeddings", "x"),
    ),
}


# added_tokens.json as Llama-style repositories ship it, and broken: (what, content).
_ADDED_TOKENS: tuple[tuple[str, Node], ...] = (
    ("a pad token past the vocabulary", _json({"<pad>": 1000})),
    ("a pad token named as pad_token", _json({"[PAD]": 0, "<pad2>": 1000})),
    ("an id of another piece", _json({"<pad>": 5})),
    ("a gap after the vocabulary", _json({"<pad>": 5000})),
    ("a shared id", _json({"<a>": 1000, "<b>": 1000})),
    ("a 31-digit id", _json({"<pad>": 10**30})),
    ("a string id", _json({"<pad>": "1000"})),
    ("a negative id", _json({"<pad>": -1})),
    ("a null id", _json({"<pad>": None})),
    ("an array", _json([["<pad>", 1000]])),
    ("invalid JSON", b'{"<pad>": 1000,'),
    ("a directory", "dir"),
)


def mutate_hf_dir(rng: random.Random, base: str) -> tuple[list[tuple[str, Node]], str]:
    model = base_model(base)
    if rng.random() < 0.25:  # a mildly broken model too, sometimes
        model, _ = mutate_proto(rng, model)
    metadata: dict[str, Node] = dict(base_metadata(base))
    model_name = rng.choice(("spiece.model", "spiece.model", "tokenizer.model"))
    files: dict[str, Node] = {model_name: model}
    steps = []
    for _ in range(rng.choice((1, 1, 2))):
        name = rng.choice((*metadata, "tokenizer.json"))
        how = rng.choice(("document", "document", "field", "field", "field", "node", "huge"))
        if name == "tokenizer.json":
            metadata[name], what = _garbage_tokenizer_json(rng)
        elif how == "document":
            what, metadata[name] = rng.choice(_BAD_DOCUMENTS)
        elif how == "field":
            key, value = rng.choice(_WRONG_FIELDS[name])
            doc = _json_object(metadata[name])
            doc[key] = value
            metadata[name] = _json(doc)
            what = f"{key} = {_short_repr(value)}"
        elif how == "node":
            kind: Literal["dir", "fifo"] = rng.choice(("dir", "fifo"))
            metadata[name] = kind
            what = f"a {kind} instead of the file"
        else:
            metadata[name] = _json(
                {"bos_token": "<s>", "comment": "x" * rng.choice((10**5, 10**6))}
            )
            what = "a huge string value"
        steps.append(f"{name}: {what}")
    if rng.random() < 0.08:
        files[model_name] = "dir"
        files["tokenizer.model"] = model
        steps.append(f"{model_name} is a directory, tokenizer.model beside it")
    files.update(metadata)
    # Drawn last, so that the draws before it, and the cases they make, stay as they were.
    if rng.random() < 0.15:
        what, files["added_tokens.json"] = rng.choice(_ADDED_TOKENS)
        steps.append(f"added_tokens.json: {what}")
    return [(f"model/{n}", node) for n, node in files.items()], "; ".join(steps)


def _json_object(node: Node) -> dict[str, Any]:
    """The object a metadata file holds, or {} when an earlier step already broke it."""
    try:
        doc = json.loads(node) if isinstance(node, bytes) else {}
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _garbage_tokenizer_json(rng: random.Random) -> tuple[bytes, str]:
    choices: tuple[tuple[str, bytes], ...] = (
        ("random bytes", random_bytes(rng, 256)),
        ("empty object", b"{}"),
        ("model null", b'{"version": "1.0", "model": null}'),
        ("model {}", b'{"version": "1.0", "model": {}}'),
        (
            "Unigram with a bad vocab",
            b'{"version": "1.0", "model": {"type": "Unigram", "vocab": [["a", "x"]], "unk_id": 9}}',
        ),
        (
            "BPE with no merges",
            b'{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}',
        ),
        ("array", b"[1, 2, 3]"),
        ("deep nesting", b"[" * 200_000),
    )
    what, data = rng.choice(choices)
    return data, f"garbage ({what})"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
