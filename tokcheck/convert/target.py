"""The export's targets: the converted tokenizer in the form each runtime runs, and the Hugging
Face settings written beside it.

``tokenizers`` is the converter's tokenizer as built; ``transformers.js`` its byte-level form
where the model needs one (:mod:`tokcheck.convert.bytelevel`). :class:`KeptSpecials` is what an
export keeps of the source directory's special tokens, and :func:`tokenizer_config` the
``tokenizer_config.json`` it writes. The export writes and verifies (:mod:`tokcheck.export.run`);
the ``exported`` candidates build the same in memory (:mod:`tokcheck.candidates.exported`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokcheck.convert import bytelevel
from tokcheck.convert.converter import Converter
from tokcheck.convert.vocab import vocabulary
from tokcheck.errors import TokcheckError
from tokcheck.model.hfconfig import ADDED_TOKENS
from tokcheck.model.hftokens import HfTokens
from tokcheck.model.proto import SentencePieceModel

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from tokcheck.model.resolve import ResolvedModel


def build_for(model: SentencePieceModel, target: str) -> Tokenizer:
    """The converted tokenizer, in the form ``target`` runs (TokcheckError: it cannot be)."""
    if target != "transformers.js":
        return Converter(model).build()
    if why := bytelevel.refusal(model):
        raise TokcheckError(f"{model.path}: cannot export for transformers.js: {why}")
    built = Converter(model).build()
    return bytelevel.byte_level(built, model) if bytelevel.needed(model) else built


_SPECIALS = (
    ("bos_token", "bos_id"),
    ("eos_token", "eos_id"),
    ("unk_token", "unk_id"),
    ("pad_token", "pad_id"),
)


# (add_bos_token, add_eos_token) of the classes whose defaults add a special token, for a
# tokenizer_config.json that leaves them unset.
_CLASS_DEFAULTS = dict.fromkeys(
    ("LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast"),
    (True, False),
)


@dataclass(frozen=True)
class KeptSpecials:
    """The special-token settings an export keeps from the source directory.

    A token the directory names keeps its name; one it does not name is the proto's piece.
    ``add_bos_token`` and ``add_eos_token`` left unset take the named class's default (a
    Llama tokenizer adds the bos), else false.
    """

    # bos_token/eos_token/unk_token/pad_token -> (content, id)
    tokens: dict[str, tuple[str, int]]
    add_bos_token: bool
    add_eos_token: bool
    # The tokens of added_tokens.json past the vocabulary, by id.
    added_tokens: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, model: SentencePieceModel, hf: HfTokens) -> KeptSpecials:
        """What to keep; TokcheckError where the directory asks for what cannot be written."""
        if problems := hf.added_token_problems:
            raise TokcheckError(
                f"{model.path}: cannot export: {ADDED_TOKENS}: {'; '.join(problems)}"
            )
        bos, eos = _CLASS_DEFAULTS.get(hf.tokenizer_class or "", (False, False))
        kept = cls(
            _kept_tokens(model, hf),
            bos if hf.add_bos_token is None else hf.add_bos_token,
            eos if hf.add_eos_token is None else hf.add_eos_token,
            tuple((t.content, t.id) for t in hf.added_tokens or () if t.id >= len(model.pieces)),
        )
        for flag, key in (("add_bos_token", "bos_token"), ("add_eos_token", "eos_token")):
            if getattr(kept, flag) and key not in kept.tokens:
                raise TokcheckError(f"{model.path}: cannot export: {flag} is set but no {key}")
        return kept

    @property
    def added_ids(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The ids a plain ``encode(text)`` adds before and after the text's own."""
        bos = (self.tokens["bos_token"][1],) if self.add_bos_token else ()
        eos = (self.tokens["eos_token"][1],) if self.add_eos_token else ()
        return bos, eos

    def apply(self, tokenizer: Tokenizer) -> Tokenizer:
        """``tokenizer`` with the added tokens at their ids and the bos/eos post-processor.

        The added tokens are special, so that ``split_special_tokens`` (and, in memory,
        ``encode_special_tokens``) leaves them in text as text, as sentencepiece does.
        """
        from tokenizers import AddedToken, processors

        for content, token_id in self.added_tokens:
            tokenizer.add_special_tokens([AddedToken(content, special=True, normalized=False)])
            if (got := tokenizer.token_to_id(content)) != token_id:
                raise TokcheckError(
                    f"cannot export: {ADDED_TOKENS} puts {content!r} at {token_id}, but the "
                    f"tokenizer gives it {got}"
                )
        tokenizer.encode_special_tokens = True
        bos, eos = ([self.tokens[k][0]] if add else [] for k, add in self._adds())
        if bos or eos:
            # As transformers' Llama tokenizer builds it: bos $A eos, then bos $B eos.
            single = [*_typed(bos, 0), "$A:0", *_typed(eos, 0)]
            tokenizer.post_processor = processors.TemplateProcessing(
                single=single,
                pair=[*single, *_typed(bos, 1), "$B:1", *_typed(eos, 1)],
                special_tokens=[self.tokens[k] for k, add in self._adds() if add],
            )
        return tokenizer

    def _adds(self) -> tuple[tuple[str, bool], tuple[str, bool]]:
        return ("bos_token", self.add_bos_token), ("eos_token", self.add_eos_token)

    def require_ids(self, model: SentencePieceModel, loaded: Any) -> None:
        """Raise TokcheckError unless transformers, loading the written files, gives each kept
        token the id the directory resolves it to."""
        for key, (content, token_id) in self.tokens.items():
            got = getattr(loaded, f"{key}_id", None)
            if got != token_id:
                raise TokcheckError(
                    f"{model.path}: transformers loads the exported {key} {content!r} as id "
                    f"{got}, not {token_id}"
                )


def _kept_tokens(model: SentencePieceModel, hf: HfTokens) -> dict[str, tuple[str, int]]:
    """bos/eos/unk/pad as the directory names them, else as the proto has them; a piece the
    export renames (see :func:`tokcheck.convert.converter.vocabulary`) by its exported token."""
    tokens = {}
    trainer, pieces = model.proto.trainer_spec, model.pieces
    exported = vocabulary(model.runtime_proto)
    for key, field in _SPECIALS:
        named = hf.special(key)
        if named is None:
            if 0 <= (i := getattr(trainer, field)) < len(pieces):
                tokens[key] = (exported[i], i)
        elif named.id is None:
            raise TokcheckError(
                f"{model.path}: cannot export: {named.files[0]} names {key} {named.content!r}, "
                f"which is neither a piece nor in {ADDED_TOKENS}"
            )
        elif named.id < len(pieces) and named.content == pieces[named.id]:
            tokens[key] = (exported[named.id], named.id)
        else:
            tokens[key] = (named.content, named.id)
    return tokens


def _typed(tokens: list[str], type_id: int) -> list[str]:
    """Template entries with an explicit type id, so a token spelled with ':' parses."""
    return [f"{t}:{type_id}" for t in tokens]


def tokenizer_config(resolved: ResolvedModel, specials: KeptSpecials) -> dict[str, Any]:
    """The ``tokenizer_config.json`` export writes."""
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **{key: content for key, (content, _) in specials.tokens.items()},
        "add_bos_token": specials.add_bos_token,
        "add_eos_token": specials.add_eos_token,
        # Special tokens in text encode as sentencepiece encodes them: as ordinary text.
        "split_special_tokens": True,
        "clean_up_tokenization_spaces": False,
    }
    source = resolved.tokenizer_config or {}
    if isinstance(source.get("model_max_length"), int):
        config["model_max_length"] = source["model_max_length"]
    return config


# What ``tokcheck export`` writes a tokenizer.json for, beside transformers: the Rust library,
# or transformers.js too (see tokcheck.convert.bytelevel), in which it is then verified as well.
EXPORT_TARGETS = ("tokenizers", "transformers.js")


# Written by `tokcheck export` beside the tokenizer files (see tokcheck.export.run).
EXPORT_RECORD = "tokcheck_export.json"


def kept_specials(resolved: ResolvedModel, model: SentencePieceModel) -> KeptSpecials:
    """The special-token settings export keeps from the directory ``resolved``."""
    from tokcheck.model.hftokens import read_hf_tokens

    return KeptSpecials.of(model, read_hf_tokens(resolved, model))
