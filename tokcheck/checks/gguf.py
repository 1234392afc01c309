"""Static findings on a GGUF's tokenizer: its metadata against the sentencepiece model.

Each finding is a named :class:`~tokcheck.checks.rules.CheckResult` (``gguf.<name>``, its
``file`` the GGUF), judged on what llama.cpp will do with the file
(:mod:`tokcheck.model.gguf_vocab`'s ``effective_*`` values), not only on what it says: a key a
converter left out is a finding when llama.cpp's default for it differs from the model. These
run without llama.cpp; :mod:`tokcheck.candidates.llamacpp` then runs the file.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from tokcheck.checks.rules import CheckResult
from tokcheck.model.gguf_vocab import BINDING_BUFFER, TOKEN_TYPES, GGUFVocab, id_key
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import BPE_MODEL, UNIGRAM_MODEL, USER_DEFINED

# The llama.cpp tokenizer that runs each sentencepiece model type as sentencepiece does.
_RUNS = {UNIGRAM_MODEL: ("t5", "UGM", "unigram"), BPE_MODEL: ("llama", "SPM", "BPE")}
_SHOWN = 3


@dataclass(frozen=True)
class GGUFReport:
    """The static findings on one GGUF."""

    path: str
    checks: list[CheckResult]
    # What weakens a pass without being wrong in the file (see :func:`binding_caveat`).
    caveats: list[str]
    # Why no GGUF of the model can tokenize exactly in llama.cpp, if so (see :func:`unexact`).
    unexact: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "gguf": self.path,
            "passed": not self.failed,
            "failed": self.failed,
            "checks": [c.to_dict() for c in self.checks],
            "caveats": self.caveats,
            "unexact": self.unexact,
        }


def check_gguf(vocab: GGUFVocab, model: SentencePieceModel) -> GGUFReport:
    """Every static finding on ``vocab`` against ``model``."""
    proto = model.proto
    checks = [
        _tokenizer_model(vocab, proto.trainer_spec.model_type),
        _pieces(vocab, proto),
        _scores(vocab, proto),
        _types(vocab, proto),
        _space_prefix(vocab, proto.normalizer_spec.add_dummy_prefix),
        _whitespace(vocab, proto.normalizer_spec.remove_extra_whitespaces),
        _charsmap(vocab, bytes(proto.normalizer_spec.precompiled_charsmap)),
        _byte_fallback(vocab, proto),
        *(_special_id(vocab, name, getattr(proto.trainer_spec, f"{name}_id")) for name in _IDS),
        _pre_tokenizer(vocab),
    ]
    # Every finding is on the GGUF itself: a binary file, so without a line.
    checks = [replace(c, file=str(vocab.path)) for c in checks]
    caveat = binding_caveat(vocab)
    return GGUFReport(str(vocab.path), checks, [caveat] if caveat else [], unexact(model))


def unexact(model: SentencePieceModel) -> str | None:
    """Why llama.cpp has no tokenizer that runs ``model`` as sentencepiece, or None."""
    trainer, norm = model.proto.trainer_spec, model.proto.normalizer_spec
    if trainer.model_type == UNIGRAM_MODEL and trainer.byte_fallback:
        return (
            "it is a unigram model with byte fallback, and llama.cpp's unigram tokenizer (t5, "
            "UGM) has no byte fallback while its llama tokenizer (SPM) is not unigram"
        )
    if trainer.model_type == BPE_MODEL and norm.precompiled_charsmap:
        return "it normalises text, which llama.cpp's BPE tokenizer for it (llama, SPM) never does"
    if trainer.model_type not in _RUNS:
        return "llama.cpp has no tokenizer for its model type"
    return None


_IDS = ("unk", "bos", "eos", "pad")


def _result(name: str, passed: bool, expected: Any, actual: Any, message: str) -> CheckResult:
    return CheckResult(f"gguf.{name}", passed, expected, actual, message)


def _tokenizer_model(vocab: GGUFVocab, model_type: int) -> CheckResult:
    want, runs, kind = _RUNS.get(model_type, (None, None, f"model type {model_type}"))
    if want is None:
        return _result(
            "tokenizer_model", False, None, vocab.model,
            f"llama.cpp has no tokenizer for a sentencepiece {kind} model",
        )  # fmt: skip
    passed = vocab.model == want
    message = (
        f"llama.cpp runs it with its {runs} tokenizer, sentencepiece's {kind} algorithm"
        if passed
        else f"a {kind} model written as tokenizer.ggml.model={vocab.model!r} "
        f"({vocab.tokenizer or 'unknown to llama.cpp'}) cannot tokenize as sentencepiece: "
        f"write it as {want!r} ({runs})"
    )
    return _result("tokenizer_model", passed, want, vocab.model, message)


def _pieces(vocab: GGUFVocab, proto: Any) -> CheckResult:
    pieces = [
        p.piece.encode("utf-8") if isinstance(p.piece, str) else p.piece for p in proto.pieces
    ]
    n = len(pieces)
    differ = [i for i, (a, b) in enumerate(zip(pieces, vocab.tokens, strict=False)) if a != b]
    short = len(vocab.tokens) < n
    extra = len(vocab.tokens) - n
    passed = not differ and not short
    if passed:
        more = f"; {extra} tokens past them (added tokens)" if extra > 0 else ""
        message = f"the {n:,} pieces, in order{more}"
    else:
        shown = ", ".join(
            f"{i}: {vocab.piece(i)!r} for {pieces[i].decode('utf-8', 'replace')!r}"
            for i in differ[:_SHOWN]
        )
        message = (
            f"{len(vocab.tokens):,} tokens for {n:,} pieces"
            if short
            else f"{len(differ)} tokens differ from the model's pieces ({shown})"
        )
    return _result("pieces", passed, n, len(vocab.tokens), message)


def _scores(vocab: GGUFVocab, proto: Any) -> CheckResult:
    if vocab.scores is None:
        return _result(
            "scores", False, "scores", None, "no tokenizer.ggml.scores: every token scores 0"
        )
    differ = [
        i
        for i, (p, s) in enumerate(zip(proto.pieces, vocab.scores, strict=False))
        if not (p.score == s or (math.isnan(p.score) and math.isnan(s)))
    ]
    message = (
        "every piece's score"
        if not differ
        else f"{len(differ)} scores differ (first: id {differ[0]}, "
        f"{proto.pieces[differ[0]].score} in the model, {vocab.scores[differ[0]]} here)"
    )
    return _result("scores", not differ, 0, len(differ), message)


def _types(vocab: GGUFVocab, proto: Any) -> CheckResult:
    if vocab.types is None:
        return _result(
            "token_types",
            False,
            "types",
            None,
            "no tokenizer.ggml.token_type: every token is normal",
        )
    changes = Counter(
        (int(p.type), t) for p, t in zip(proto.pieces, vocab.types, strict=False) if p.type != t
    )
    if not changes:
        return _result("token_types", True, 0, 0, "every piece's type")
    parts = [
        f"{count} {TOKEN_TYPES.get(was, was)} pieces written as {TOKEN_TYPES.get(now, now)}"
        for (was, now), count in changes.most_common()
    ]
    why = ""
    if (USER_DEFINED, 1) in changes:
        why = (
            ": user-defined pieces typed normal are no longer matched whole in text "
            "(llama.cpp's converter writes them so)"
        )
    return _result("token_types", False, 0, sum(changes.values()), "; ".join(parts) + why)


def _space_prefix(vocab: GGUFVocab, add_dummy_prefix: bool) -> CheckResult:
    actual = vocab.effective_space_prefix
    written = "" if vocab.add_space_prefix is not None else " (not written: llama.cpp's default)"
    message = (
        f"add_space_prefix is {actual}{written}, as the model's add_dummy_prefix"
        if actual == add_dummy_prefix
        else f"llama.cpp {'adds a' if actual else 'adds no'} space before the text "
        f"(add_space_prefix {actual}{written}) where sentencepiece "
        f"{'does' if add_dummy_prefix else 'does not'}: write "
        f"tokenizer.ggml.add_space_prefix={str(add_dummy_prefix).lower()}"
    )
    return _result(
        "add_space_prefix", actual == add_dummy_prefix, add_dummy_prefix, actual, message
    )


def _whitespace(vocab: GGUFVocab, remove: bool) -> CheckResult:
    actual = vocab.effective_remove_whitespaces
    if actual == remove:
        message = f"whitespace {'collapsed' if remove else 'kept'}, as the model does"
    elif vocab.tokenizer != "UGM":
        message = (
            "the model collapses runs of whitespace, which llama.cpp's "
            f"{vocab.tokenizer or 'tokenizer'} tokenizer never does"
        )
    else:
        message = f"remove_extra_whitespaces is {actual} here and {remove} in the model"
    return _result("remove_extra_whitespaces", actual == remove, remove, actual, message)


def _charsmap(vocab: GGUFVocab, charsmap: bytes) -> CheckResult:
    here = vocab.charsmap or b""
    if vocab.tokenizer != "UGM":
        passed = not charsmap
        message = (
            "no normalisation, as the model"
            if passed
            else f"the model normalises text ({len(charsmap):,}-byte charsmap), which llama.cpp's "
            f"{vocab.tokenizer or 'tokenizer'} tokenizer never does"
        )
    else:
        passed = here == charsmap
        message = (
            "the model's normalisation charsmap"
            if passed
            else f"a {len(here):,}-byte charsmap for the model's {len(charsmap):,} bytes"
        )
    return _result("precompiled_charsmap", passed, len(charsmap), len(here), message)


def _byte_fallback(vocab: GGUFVocab, proto: Any) -> CheckResult:
    wanted = bool(proto.trainer_spec.byte_fallback)
    bytes_here = vocab.byte_tokens
    if vocab.tokenizer == "SPM" and bytes_here < 256:
        return _result("byte_fallback", False, 256, bytes_here, SPM_WITHOUT_BYTES)
    if not wanted:
        return _result("byte_fallback", True, False, False, "the model has no byte fallback")
    if vocab.tokenizer == "UGM":
        return _result(
            "byte_fallback", False, True, False,
            "llama.cpp's UGM tokenizer has no byte fallback: a character outside the "
            f"vocabulary becomes the unknown id ({vocab.effective_id('unk')}) instead of its bytes",
        )  # fmt: skip
    passed = bytes_here == 256
    message = (
        "256 byte tokens, which llama.cpp's SPM tokenizer falls back to"
        if passed
        else f"{bytes_here} tokens typed byte of 256: the others' characters cannot fall back"
    )
    return _result("byte_fallback", passed, 256, bytes_here, message)


# llama.cpp's SPM tokenizer looks up "<0xNN>" for a character outside the vocabulary and
# throws std::out_of_range where there is none: the process aborts.
SPM_WITHOUT_BYTES = (
    "llama.cpp's SPM tokenizer falls back to the byte tokens <0x00>..<0xFF> for a character "
    "outside the vocabulary, and aborts the process (std::out_of_range) where the GGUF lacks one"
)


def _special_id(vocab: GGUFVocab, name: str, wanted: int) -> CheckResult:
    actual = vocab.effective_id(name)
    written = vocab.ids.get(name) is not None
    note = "" if written else " (not written: llama.cpp's default)"
    if wanted < 0:
        return _result(
            f"{name}_id", True, None, actual,
            f"the model has no {name} piece; llama.cpp's is {actual}{note}",
        )  # fmt: skip
    piece = vocab.piece(actual) if actual is not None and 0 <= actual < len(vocab.tokens) else None
    passed = actual == wanted
    has = f" has no {name} id" if actual is None else f"'s {name} id is {actual} ({piece!r})"
    message = (
        f"{name} is id {wanted}{note}"
        if passed
        else f"llama.cpp{has}{note}, the model's is {wanted}: write {id_key(name)}={wanted}"
    )
    return _result(f"{name}_id", passed, wanted, actual, message)


def _pre_tokenizer(vocab: GGUFVocab) -> CheckResult:
    passed = vocab.pre in (None, "default")
    message = (
        "no pre-tokenizer, as sentencepiece"
        if passed
        else f"tokenizer.ggml.pre={vocab.pre!r} splits text before the tokenizer, which "
        "sentencepiece never does"
    )
    return _result("pre_tokenizer", passed, "default", vocab.pre, message)


def binding_caveat(vocab: GGUFVocab) -> str | None:
    """Tokens the file holds rightly that llama-cpp-python's ``Llama.detokenize`` decodes to
    nothing (it reads each piece through a 32-byte buffer); llama.cpp's own decode is right."""
    long = vocab.long_tokens
    if not long:
        return None
    return (
        f"{vocab.path}: {len(long)} tokens are longer than {BINDING_BUFFER} bytes (e.g. "
        f"{vocab.piece(long[0])!r}): llama-cpp-python's Llama.detokenize decodes each to "
        "nothing; decode with llama_detokenize and a large buffer"
    )
