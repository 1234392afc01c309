"""What a Hugging Face directory's tokenizer files ask for, resolved against the sentencepiece model.

:func:`read_hf_tokens` gathers the tokenizer class, ``legacy``, ``add_bos_token`` and
``add_eos_token`` from ``tokenizer_config.json``; every special token that file and
``special_tokens_map.json`` name, with the id it resolves to; and the entries of
``added_tokens.json``, each with what is inconsistent about it, if anything.

A token resolves as transformers resolves it: an entry of ``added_tokens.json`` first, else the
sentencepiece piece of that name. Ids past the sentencepiece vocabulary are how Llama-style
repositories add a pad token (``{"<pad>": 32000}`` beside 32,000 pieces). An id that is another
piece's, a token that is already a piece under another id, an id shared by two tokens, or a gap
after the vocabulary is a problem: ids would then depend on which class loads the directory.

This module reads what :mod:`tokcheck.model.resolve` read; it neither loads transformers nor judges.
:mod:`tokcheck.checks.rules` turns the problems into check results, :mod:`tokcheck.model.inspection` shows
them and :mod:`tokcheck.export.run` writes the settings into the exported directory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tokcheck.model.hfconfig import ADDED_TOKENS, SPECIAL_TOKEN_KEYS
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel

# The files that name special tokens; where both name one, the first wins, as in transformers.
SPECIAL_TOKEN_FILES = ("special_tokens_map.json", "tokenizer_config.json")
SENTENCEPIECE = "sentencepiece"


@dataclass(frozen=True)
class SpecialToken:
    """One special token a file names, and the id it resolves to."""

    # "bos_token", ..., or "additional_special_tokens[0]".
    name: str
    content: str
    # None when the token is neither in added_tokens.json nor a sentencepiece piece.
    id: int | None
    # "added_tokens.json" or "sentencepiece"; None when unresolved.
    source: str | None
    # The files that name it so.
    files: tuple[str, ...]


@dataclass(frozen=True)
class AddedToken:
    """One entry of added_tokens.json."""

    content: str
    id: int
    # What is inconsistent with the model about it; None when nothing is.
    problem: str | None


@dataclass(frozen=True)
class HfTokens:
    """The tokenizer settings of a Hugging Face directory (all unset for a bare .model file)."""

    tokenizer_class: str | None
    # None: unset (or null), which transformers treats as its class default.
    legacy: bool | None
    add_bos_token: bool | None
    add_eos_token: bool | None
    special_tokens: tuple[SpecialToken, ...]
    # None when the directory has no added_tokens.json.
    added_tokens: tuple[AddedToken, ...] | None

    def special(self, name: str) -> SpecialToken | None:
        """The token ``name`` ("bos_token", ...) as transformers takes it, if one is named."""
        return next((t for t in self.special_tokens if t.name == name), None)

    def named(self) -> dict[str, str]:
        """Each special token's name and content, as transformers takes them."""
        named: dict[str, str] = {}
        for token in self.special_tokens:
            named.setdefault(token.name, token.content)
        return named

    @property
    def unresolved(self) -> list[SpecialToken]:
        return [t for t in self.special_tokens if t.id is None]

    @property
    def added_token_problems(self) -> list[str]:
        return [
            f"{t.content!r} -> {t.id}: {t.problem}" for t in self.added_tokens or () if t.problem
        ]

    def to_dict(self) -> dict[str, Any]:
        added = self.added_tokens
        return {
            "tokenizer_class": self.tokenizer_class,
            "legacy": self.legacy,
            "add_bos_token": self.add_bos_token,
            "add_eos_token": self.add_eos_token,
            "special_tokens": [{**asdict(t), "files": list(t.files)} for t in self.special_tokens],
            "added_tokens": None if added is None else [asdict(t) for t in added],
            "problems": self.added_token_problems,
        }


def read_hf_tokens(resolved: ResolvedModel, model: SentencePieceModel) -> HfTokens:
    """The directory's tokenizer settings, each special and added token resolved to its id."""
    config = resolved.tokenizer_config or {}
    added = resolved.added_tokens
    return HfTokens(
        tokenizer_class=config.get("tokenizer_class"),
        legacy=config.get("legacy"),
        add_bos_token=config.get("add_bos_token"),
        add_eos_token=config.get("add_eos_token"),
        special_tokens=_special_tokens(resolved, model.pieces),
        added_tokens=None if added is None else _added_tokens(added, model.pieces),
    )


def tokenizer_special_id(r: ResolvedModel, model: SentencePieceModel, which: str) -> int:
    """The id a Hugging Face user gets for ``bos``/``eos``/``pad``: the named token's, else
    the proto's (-1 when the proto has none either)."""
    token = read_hf_tokens(r, model).special(f"{which}_token")
    if token is not None and token.id is not None:
        return token.id
    return int(getattr(model.proto.trainer_spec, f"{which}_id"))


def _special_tokens(r: ResolvedModel, pieces: list[str]) -> tuple[SpecialToken, ...]:
    files: dict[tuple[str, str], list[str]] = {}
    sources = (r.special_tokens_map, r.tokenizer_config)
    for file, source in zip(SPECIAL_TOKEN_FILES, sources, strict=True):
        for name, content in _named(source or {}):
            files.setdefault((name, content), []).append(file)
    added = r.added_tokens or {}
    out = []
    for (name, content), named_in in files.items():
        token_id, where = _resolve(content, pieces, added)
        out.append(SpecialToken(name, content, token_id, where, tuple(named_in)))
    return tuple(out)


def _named(source: dict[str, Any]) -> list[tuple[str, str]]:
    named = [(key, _content(source.get(key))) for key in SPECIAL_TOKEN_KEYS]
    extra = source.get("additional_special_tokens") or []
    named += [(f"additional_special_tokens[{i}]", _content(t)) for i, t in enumerate(extra)]
    return [(name, content) for name, content in named if content is not None]


def special_contents(source: dict[str, Any]) -> list[str]:
    """Every special token a tokenizer_config.json or special_tokens_map.json names: the
    standard keys, ``additional_special_tokens`` and ``added_tokens_decoder``."""
    contents = [content for _, content in _named(source)]
    decoder = source.get("added_tokens_decoder")
    if isinstance(decoder, dict):
        contents += [c for value in decoder.values() if (c := _content(value)) is not None]
    return contents


def _content(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def _resolve(
    content: str, pieces: list[str], added: dict[str, Any]
) -> tuple[int | None, str | None]:
    if content in added:
        return int(added[content]), ADDED_TOKENS
    try:
        return pieces.index(content), SENTENCEPIECE
    except ValueError:
        return None, None


def _added_tokens(added: dict[str, Any], pieces: list[str]) -> tuple[AddedToken, ...]:
    """The entries by id, each with its problem: the id of another piece or token, a token
    that is a piece under another id, or a gap after the vocabulary."""
    vocab = len(pieces)
    piece_ids: dict[str, int] = {}
    for i, piece in enumerate(pieces):
        piece_ids.setdefault(piece, i)
    following = vocab
    owners: dict[int, str] = {}
    out = []
    for content, token_id in sorted(added.items(), key=lambda item: (item[1], item[0])):
        problem = None
        if token_id in owners:
            problem = f"id {token_id} is also {owners[token_id]!r}'s"
        elif token_id < vocab and pieces[token_id] != content:
            problem = f"id {token_id} is the sentencepiece piece {pieces[token_id]!r}"
        elif content in piece_ids and piece_ids[content] != token_id:
            problem = f"already the sentencepiece piece {piece_ids[content]}"
        elif token_id >= vocab:
            if token_id != following:
                problem = (
                    f"ids past the {vocab} pieces should run on without a gap from {following}"
                )
            following = token_id + 1
        owners.setdefault(token_id, content)
        out.append(AddedToken(content, token_id, problem))
    return tuple(out)
