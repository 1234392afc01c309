"""The Hugging Face loading paths of a model directory: transformers and tokenizers.

``default`` (AutoTokenizer as is), ``slow`` (``use_fast=False``), ``fast`` (``use_fast=True``),
``sentencepiece-backend`` (transformers 5.x's ``backend="sentencepiece"``), ``tokenizer.json``
(the file loaded with the tokenizers library) and ``sentencepiece-class`` (transformers 5's
``SentencePieceBackend`` on the model file, which encodes through sentencepiece itself). Each
records the class it actually returned. This module loads; :mod:`tokcheck.compare.run` judges.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tokcheck.candidates.base import Candidate, NotApplicable, native_stdout_silenced
from tokcheck.convert.target import kept_specials
from tokcheck.judge.stream import Streamer
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel

# The class assumed for a bare .model file, which has no tokenizer_config.json to name one:
# rinna's repositories ship exactly this class over spiece.model.
BARE_MODEL_CLASS = "T5Tokenizer"


def transformers_version() -> str | None:
    # Imported as the candidates import it: its import-time notices ("PyTorch was not found")
    # are not the report's, and would otherwise be the first import when only `exported` or
    # `tokenizer.json` is judged.
    try:
        with quiet_transformers() as transformers:
            return str(transformers.__version__)
    except ImportError:
        return None


@contextmanager
def hf_directory(resolved: ResolvedModel) -> Iterator[Path]:
    """The directory Hugging Face should load; a bare .model gets a temporary one."""
    if resolved.directory is not None:
        yield resolved.directory
        return
    with tempfile.TemporaryDirectory(prefix="tokcheck-") as tmp:
        shutil.copyfile(resolved.model_file, Path(tmp) / "spiece.model")
        config = {"tokenizer_class": BARE_MODEL_CLASS, "extra_ids": 0}
        (Path(tmp) / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
        yield Path(tmp)


@contextmanager
def quiet_transformers() -> Iterator[Any]:
    """transformers, with its advice and warnings kept off the user's report.

    What they warn about (byte fallback dropped by the fast converter, say) is exactly what
    compare measures and reports, so the warnings add noise, not information.
    """
    import os
    import warnings

    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import transformers
        from transformers.utils import logging

        before = logging.get_verbosity()
        logging.set_verbosity_error()
        try:
            yield transformers
        finally:
            logging.set_verbosity(before)


def auto(
    name: str, **kwargs: Any
) -> Callable[[Path, ResolvedModel, SentencePieceModel], Candidate]:
    def load(directory: Path, resolved: ResolvedModel, model: SentencePieceModel) -> Candidate:
        with quiet_transformers() as transformers, native_stdout_silenced():
            if "backend" in kwargs and int(transformers.__version__.split(".")[0]) < 5:
                raise NotApplicable(f"transformers {transformers.__version__} has no backend=")
            tok = transformers.AutoTokenizer.from_pretrained(str(directory), **kwargs)
        return from_transformers(name, tok)

    return load


def from_transformers(
    name: str,
    tok: Any,
    *,
    add_special_tokens: bool = False,
    added: tuple[tuple[int, ...], tuple[int, ...]] = ((), ()),
) -> Candidate:
    """A transformers tokenizer as a candidate: ``tok(texts)`` ids, ``tok.batch_decode``.

    ``add_special_tokens`` judges what a plain ``tok.encode(text)`` gives instead of the text's
    own ids; ``added`` are the ids it should add before and after them, taken from what the
    directory asks for and never from ``tok`` itself, so a missing or wrong bos is a difference.
    """
    backend = getattr(tok, "backend_tokenizer", None) if getattr(tok, "is_fast", False) else None
    cls = f"{type(tok).__module__}.{type(tok).__name__}"
    if backend is not None:
        key = f"{cls}:{hashlib.sha1(backend.to_str().encode()).hexdigest()}"
    else:
        key = f"{cls}:{id(tok)}"
    key += f":special{added}" if add_special_tokens else ""
    special = set(tok.all_special_ids)
    if tok.unk_token_id is not None:
        special.add(tok.unk_token_id)
    decode_batch = _batch_decoder(tok, backend)
    candidate = Candidate(
        name=name,
        cls=cls + (" (fast)" if backend is not None else " (slow)"),
        encode_batch=_batch_encoder(tok, backend, add_special_tokens),
        decode_batch=decode_batch,
        pieces=lambda ids: [str(p) for p in tok.convert_ids_to_tokens(ids)],
        special_ids=frozenset(special),
        key=key,
        added=added if add_special_tokens else ((), ()),
        streamer=Streamer(
            decode=lambda ids: decode_batch([ids])[0], decode_batch=decode_batch, tokenizer=backend
        ),
        safe_setting="split_special_tokens=True",
    )

    def safe() -> Candidate:
        pass

        return with_split_special_tokens(candidate, tok, backend, add_special_tokens)

    candidate.safe = safe
    return candidate


# The methods between ``tok(texts)`` and the backend's ``encode_batch`` in transformers 4.x and
# 5.x; a class that overrides none of them encodes exactly as its backend does.
_ENCODE_CHAIN = ("__call__", "_call_one", "batch_encode_plus", "_batch_encode_plus", "_encode_plus")
_DECODE_CHAIN = ("batch_decode", "decode", "_decode")


def _fast_base() -> Any:
    import transformers

    return getattr(transformers, "TokenizersBackend", None) or getattr(
        transformers, "PreTrainedTokenizerFast", None
    )


def _keeps_chain(tok: Any, names: Sequence[str]) -> bool:
    """True when ``tok``'s class overrides none of ``names`` below transformers' fast base."""
    base = _fast_base()
    if base is None or not isinstance(tok, base):
        return False
    cls = type(tok)
    return all(getattr(cls, n, None) is getattr(base, n, None) for n in names)


def transformers_encode(tok: Any, texts: list[str], add_special_tokens: bool) -> list[list[int]]:
    """``tok(texts)``'s ids: transformers' own call path, its logging quiet."""
    with quiet_transformers():
        encoded = tok(
            texts,
            add_special_tokens=add_special_tokens,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
    return [list(ids) for ids in encoded["input_ids"]]


def _batch_encoder(
    tok: Any, backend: Any, add_special_tokens: bool = False
) -> Callable[[list[str]], list[list[int]]]:
    """``tok(texts)``'s ids, from the backend directly where that is provably the same call.

    transformers' call path for a fast tokenizer clears the backend's padding and truncation,
    sets ``encode_special_tokens`` from ``split_special_tokens`` and calls ``encode_batch``; the
    rest of its cost is building per-line Python dicts that compare never reads. When the class
    overrides nothing on that path and the backend's state is what the call would set, the
    backend is called directly (without offsets, which ids do not depend on). The first batch
    is still encoded both ways and must agree, or transformers' path is used throughout.
    """

    def through_transformers(texts: list[str]) -> list[list[int]]:
        return transformers_encode(tok, texts, add_special_tokens)

    direct = (
        backend is not None
        and _keeps_chain(tok, _ENCODE_CHAIN)
        and not hasattr(tok, "_switch_to_input_mode")
        and backend.truncation is None
        and backend.padding is None
        and bool(getattr(backend, "encode_special_tokens", False))
        == bool(getattr(tok, "split_special_tokens", False))
    )
    if not direct:
        return through_transformers
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)

    def through_backend(texts: list[str]) -> list[list[int]]:
        return [e.ids for e in encode(texts, add_special_tokens=add_special_tokens)]

    def first_batch(texts: list[str]) -> list[list[int]]:
        expected = through_transformers(texts)
        chosen[0] = through_backend if through_backend(texts) == expected else through_transformers
        return expected

    chosen: list[Callable[[list[str]], list[list[int]]]] = [first_batch]
    return lambda texts: chosen[0](texts)


def _batch_decoder(tok: Any, backend: Any) -> Callable[[list[list[int]]], list[str]]:
    """``tok.batch_decode``, or the backend's ``decode_batch`` where the two run the same code.

    A fast tokenizer that keeps transformers' own chain (``batch_decode`` → ``decode`` →
    ``_decode``, none overridden) with tokenization clean-up off decodes each sequence as
    exactly ``backend.decode(ids, skip_special_tokens=False)``. The backend's ``decode_batch``
    does the same in Rust, without a Python call per line. Anything else goes through
    transformers, so an overriding class is judged by what it really returns.
    """
    if (
        backend is not None
        and not tok.clean_up_tokenization_spaces
        and _keeps_chain(tok, _DECODE_CHAIN)
    ):
        return lambda batch: list(backend.decode_batch(batch, skip_special_tokens=False))
    return lambda batch: [str(t) for t in tok.batch_decode(batch)]


def from_tokenizers(name: str, tok: Any, cls: str) -> Candidate:
    """A ``tokenizers.Tokenizer`` as a candidate, without special tokens added."""

    def encode_batch(texts: list[str]) -> list[list[int]]:
        return [list(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]

    def decode_batch(batch: list[list[int]]) -> list[str]:
        return list(tok.decode_batch(batch, skip_special_tokens=False))

    def split_special_tokens() -> Candidate:
        from tokenizers import Tokenizer

        copy = Tokenizer.from_str(tok.to_str())
        copy.encode_special_tokens = True
        safe = from_tokenizers(f"{name} (encode_special_tokens=True)", copy, cls)
        return dataclasses.replace(safe, key=f"{safe.key}:split", safe=None, streamer=None)

    return Candidate(
        name=name,
        cls=cls,
        encode_batch=encode_batch,
        decode_batch=decode_batch,
        pieces=lambda ids: [str(tok.id_to_token(i)) for i in ids],
        special_ids=frozenset(
            i
            for t in tok.get_added_tokens_decoder().values()
            if t.special
            for i in [tok.token_to_id(t.content)]
            if i is not None
        ),
        key=f"{cls}:{hashlib.sha1(tok.to_str().encode()).hexdigest()}",
        streamer=Streamer(
            decode=lambda ids: str(tok.decode(ids, skip_special_tokens=False)),
            decode_batch=decode_batch,
            tokenizer=tok,
        ),
        safe_setting="encode_special_tokens=True",
        safe=split_special_tokens if hasattr(tok, "encode_special_tokens") else None,
    )


def tokenizer_json(
    directory: Path, resolved: ResolvedModel, model: SentencePieceModel
) -> Candidate:
    from tokenizers import Tokenizer

    path = tokenizer_json_path(resolved)
    return from_tokenizers("tokenizer.json", Tokenizer.from_file(str(path)), "tokenizers.Tokenizer")


def tokenizer_json_path(resolved: ResolvedModel) -> Path:
    if resolved.tokenizer_json is None:
        raise NotApplicable("no tokenizer.json in the directory")
    return resolved.tokenizer_json


def as_candidate(tokenizer: Any, name: str = "tokenizer") -> Candidate:
    """A user's tokenizer object (transformers or ``tokenizers.Tokenizer``) as a candidate."""
    if hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "id_to_token"):
        return from_tokenizers(name, tokenizer, "tokenizers.Tokenizer")
    return from_transformers(name, tokenizer)


def sentencepiece_class(
    directory: Path, resolved: ResolvedModel, model: SentencePieceModel
) -> Candidate:
    """transformers 5's ``SentencePieceBackend`` built on the model file with the directory's
    special tokens: the class whose encode is sentencepiece's own, judged for its decode."""
    names = {k: c for k, (c, _) in kept_specials(resolved, model).tokens.items()}
    with quiet_transformers() as transformers, native_stdout_silenced():
        cls = getattr(transformers, "SentencePieceBackend", None)
        if cls is None:
            raise NotApplicable(
                f"transformers {transformers.__version__} has no SentencePieceBackend"
            )
        tok = cls(vocab_file=str(resolved.model_file), **names)
    return from_transformers("sentencepiece-class", tok)


def with_split_special_tokens(
    candidate: Candidate, tok: Any, backend: Any, add_special_tokens: bool
) -> Candidate:
    """``candidate`` as loaded with ``from_pretrained(..., split_special_tokens=True)``.

    The attribute is set for each call, not the call's keyword, which transformers 4.57's slow
    classes ignore; it is put back after, with the backend's ``encode_special_tokens`` that
    transformers' fast path leaves set, so the candidate as loaded is unchanged. (A copy of
    the tokenizer would not do: a slow class reloads its model file, which may be gone.)
    """

    def encode_batch(texts: list[str]) -> list[list[int]]:
        before = tok.split_special_tokens, getattr(backend, "encode_special_tokens", None)
        tok.split_special_tokens = True
        try:
            return transformers_encode(tok, texts, add_special_tokens)
        finally:
            tok.split_special_tokens = before[0]
            if before[1] is not None:
                backend.encode_special_tokens = before[1]

    return dataclasses.replace(
        candidate,
        name=f"{candidate.name} ({candidate.safe_setting})",
        encode_batch=encode_batch,
        key=f"{candidate.key}:split",
        safe=None,
        # Decoding is not what the setting changes, and streaming on the judging thread while
        # the encoding thread sets the backend's flag would race on the Rust tokenizer.
        streamer=None,
    )
