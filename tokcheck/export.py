"""Export a sentencepiece model as a Hugging Face fast tokenizer that encodes exactly like it.

:func:`build_tokenizer` builds a ``tokenizers.Tokenizer`` from the raw ModelProto alone: the
Unigram or BPE pieces with sentencepiece's own scores, the normaliser the proto defines (its
precompiled charsmap, then ``remove_extra_whitespaces``, ``add_dummy_prefix`` and
``escape_whitespaces`` in sentencepiece's order), byte fallback, and a decoder that undoes all of
it. :func:`verify_exact` compares ids and decoded text with ``sentencepiece`` itself;
:func:`export` writes a directory that ``transformers.AutoTokenizer`` loads (``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json``, a copy of the ``.model``), atomically and
only after the exported files have been verified through transformers.

Pieces that sentencepiece never matches in text (control, unknown, byte and unused pieces) sit
in the ``tokenizers`` vocabulary too, where its Unigram model would match them; they get a score
no segmentation can lose to, and characters that no matchable piece contains are split off
before the model so such a name cannot be matched through them. Special tokens are therefore
not extracted from text either: the written ``tokenizer_config.json`` sets
``split_special_tokens`` so that ``"<s>"`` in text encodes as sentencepiece encodes it.

This module does not judge a model (see :mod:`tokcheck.checks`) and does not reproduce
sampling or n-best encoding. It refuses model types ``word`` and ``char``,
``treat_whitespace_as_suffix`` and models with a denormaliser.
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import shutil
import struct
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokcheck.errors import ExportRefusedError, OutputError, TokcheckError
from tokcheck.proto import SentencePieceModel

if TYPE_CHECKING:
    from sentencepiece.sentencepiece_model_pb2 import ModelProto
    from tokenizers import Tokenizer

    from tokcheck.resolve import ResolvedModel

SPACE_SYMBOL = "\u2581"
# What sentencepiece decodes the unknown piece to unless the trainer spec sets unk_surface.
DEFAULT_UNK_SURFACE = " \u2047 "
# Generated strings checked by export() besides the caller's texts.
DEFAULT_EXAMPLES = 300

_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6
_UNIGRAM, _BPE = 1, 2
_MATCHABLE = (_NORMAL, _USER_DEFINED)
# Stand-ins for the unknown surface while decoding: noncharacters, absent from real vocabularies.
_PLACEHOLDERS = ("\uffff", "\ufffe", "\U0010ffff", "\U0010fffe")
# Strip everything: more leading spaces than any text has.
_ALL = 1 << 30
# sentencepiece's Unigram starts its maximum score at FLT_MIN, the smallest positive float.
_FLT_MIN = 1.1754943508222875e-38
# Text units that exercise sentencepiece's whitespace handling, normaliser and byte fallback.
# Decomposed sequences appear only as real text has them; a stray combining mark after an
# arbitrary character is a known gap of tokenizers' charsmap lookup (see _charsmap).
_UNITS = (
    " ", "  ", "   ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u200b", "\ufeff", "\x00",
    "\x07", "\x1b", "\x7f", "\u00ad", "\u2581", "\u2047", "\ufffd", "e\u0301", "\u00e9",
    "\uff76\uff9e", "\uff8a\uff9f", "\uff71", "\uff70", "\u30ac", "\u30fc", "\uff5e",
    "\u3001", "\u3002", "\uff01", "\uff1f", "\uff08", "\uff09", "\uff21", "\uff11", "吾輩",
    "猫", "日本語", "カタカナ", "ひらがな", "გამარჯობა", "مرحبا", "नमस्ते", "สวัสดี", "안녕",
    "\U0001f600", "\U0001f431", "\U0001f44d\U0001f3fd", "\U0001f469\u200d\U0001f467",
    "\U00020bb7", "\U00029e3d", "<", ">", "[", "]", "/", "\\", "0", "9", "x", "A", "F", "a",
    ".", ",", "!", "?", "-", "_", "'", '"', "#", "&", ";", ":", "~",
)  # fmt: skip


@dataclass(frozen=True)
class Divergence:
    """One text on which a tokenizer and sentencepiece disagree."""

    text: str
    # "encode": ids differ; "encode+special": ids with add_special_tokens=True differ;
    # "decode": decoding sentencepiece's ids gives different text.
    check: str
    # "tokenizers" (the built Tokenizer) or "transformers" (AutoTokenizer on the written files).
    backend: str
    expected: list[int] | str
    actual: list[int] | str
    # Both Unigram segmentations score the same up to float32 rounding: sentencepiece keeps
    # its Viterbi path scores in float32 and so breaks such ties by rounding, which the
    # float64 Viterbi of tokenizers cannot reproduce. Reported, but not a reason to refuse.
    tie: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"{self.backend} {self.check} of {self.text[:60]!r}: "
            f"expected {_short(self.expected)}, got {_short(self.actual)}"
            + (" (a float32 tie)" if self.tie else "")
        )


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote and what it verified."""

    source: str
    outdir: str
    files: tuple[str, ...]
    model_type: str
    texts_checked: int
    divergences: tuple[Divergence, ...]
    forced: bool

    @property
    def exact(self) -> bool:
        return not self.divergences

    @property
    def ties_only(self) -> bool:
        """Every divergence is a float32 tie (true when there are none)."""
        return all(d.tie for d in self.divergences)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exact"] = self.exact
        data["ties_only"] = self.ties_only
        data["files"] = list(self.files)
        data["divergences"] = [d.to_dict() for d in self.divergences]
        return data


def build_tokenizer(model: SentencePieceModel) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that encodes and decodes like sentencepiece on ``model``.

    Raises TokcheckError for what cannot be expressed with tokenizers' components.
    """
    from tokenizers import Tokenizer

    proto = model.proto
    _refuse_unsupported(model)
    if proto.trainer_spec.model_type == _UNIGRAM:
        tokenizer = Tokenizer(_unigram(proto))
    else:
        tokenizer = Tokenizer(_bpe(proto))
    tokenizer.normalizer = _normalizer(model)
    if proto.trainer_spec.model_type == _UNIGRAM:
        tokenizer.pre_tokenizer = _isolate_uncovered(proto)
    else:
        tokenizer.add_tokens(_bpe_user_defined(proto))
    tokenizer.decoder = _decoder(proto)
    return tokenizer


def _refuse_unsupported(model: SentencePieceModel) -> None:
    proto = model.proto
    trainer = proto.trainer_spec
    name = model.path
    if trainer.model_type not in (_UNIGRAM, _BPE):
        kind = {3: "word", 4: "char"}.get(trainer.model_type, f"type {trainer.model_type}")
        raise TokcheckError(f"{name}: cannot export a {kind} model; only unigram and bpe")
    if trainer.treat_whitespace_as_suffix:
        raise TokcheckError(f"{name}: cannot export a model with treat_whitespace_as_suffix")
    if proto.HasField("denormalizer_spec") and proto.denormalizer_spec.precompiled_charsmap:
        raise TokcheckError(f"{name}: cannot export a model with a denormalizer")
    if not 0 <= trainer.unk_id < len(proto.pieces):
        raise TokcheckError(f"{name}: unk_id {trainer.unk_id} names no piece; cannot export")


def _f32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _unigram(proto: ModelProto) -> Any:
    from tokenizers.models import Unigram

    pieces = proto.pieces
    normal = [p.score for p in pieces if p.type == _NORMAL]
    # As sentencepiece computes it: user-defined pieces score length * max_score - 0.1, with the
    # maximum over normal pieces starting at FLT_MIN and the length in bytes.
    max_score = max([_f32(_FLT_MIN), *normal])
    floor = min([0.0, *normal])
    vocab: list[tuple[str, float]] = []
    for p in pieces:
        if p.type == _NORMAL:
            score = float(p.score)
        elif p.type == _USER_DEFINED:
            score = _f32(len(p.piece.encode()) * max_score) - 0.1
        else:
            # Never matched by sentencepiece: a score below any segmentation of the same span
            # into matchable pieces (each scores at least `floor`), so the Viterbi never picks it.
            score = len(p.piece) * floor - 1.0
        vocab.append((p.piece, score))
    return Unigram(vocab, proto.trainer_spec.unk_id, proto.trainer_spec.byte_fallback)


def _bpe(proto: ModelProto) -> Any:
    from tokenizers.models import BPE

    pieces = proto.pieces
    vocab = {p.piece: i for i, p in enumerate(pieces)}
    # Merge parts: what sentencepiece may merge. User-defined symbols never merge with others.
    parts = {p.piece for p in pieces if p.type == _NORMAL}
    # sentencepiece merges the adjacent pair whose concatenation is the best-scoring piece;
    # tokenizers merges by rank, so rank the pairs by that score (leftmost first on ties).
    ranked = sorted(
        (i for i, p in enumerate(pieces) if p.type == _NORMAL and len(p.piece) > 1),
        key=lambda i: (-pieces[i].score, i),
    )
    merges = [
        (text[:k], text[k:])
        for i in ranked
        for text in [pieces[i].piece]
        for k in range(1, len(text))
        if text[:k] in parts and text[k:] in parts
    ]
    unk = pieces[proto.trainer_spec.unk_id].piece
    return BPE(
        vocab,
        merges,
        unk_token=unk,
        fuse_unk=True,
        byte_fallback=proto.trainer_spec.byte_fallback,
        dropout=None,
        ignore_merges=False,
    )


def _bpe_user_defined(proto: ModelProto) -> list[Any]:
    """Multi-character user-defined symbols, which BPE merges cannot build: added tokens."""
    from tokenizers import AddedToken

    return [
        AddedToken(p.piece, special=False, normalized=False, single_word=False)
        for p in proto.pieces
        if p.type == _USER_DEFINED and len(p.piece) > 1
    ]


def _normalizer(model: SentencePieceModel) -> Any:
    from tokenizers import Regex, normalizers

    proto = model.proto
    spec = proto.normalizer_spec
    steps: list[Any] = _charsmap(model) if spec.precompiled_charsmap else []
    if spec.remove_extra_whitespaces:
        # Collapse runs of spaces, drop leading ones; trailing ones go after escaping, as
        # sentencepiece strips trailing space symbols (a literal U+2581 among them).
        steps.append(normalizers.Replace(Regex(" {2,}"), " "))
        steps.append(normalizers.Replace(Regex(r"\A "), ""))
    if spec.add_dummy_prefix:
        # Prepend adds nothing to an empty string, as sentencepiece adds no prefix to empty text.
        steps.append(normalizers.Prepend(" "))
    if spec.escape_whitespaces:
        steps.append(normalizers.Replace(" ", SPACE_SYMBOL))
    if spec.remove_extra_whitespaces:
        trailing = SPACE_SYMBOL if spec.escape_whitespaces else " "
        steps.append(normalizers.Replace(Regex(f"{trailing}+\\z"), ""))
    return normalizers.Sequence(steps)


def _charsmap(model: SentencePieceModel) -> list[Any]:
    """The proto's precompiled charsmap as tokenizers normalisers.

    tokenizers' ``Precompiled`` maps every single character as sentencepiece does, but looks
    multi-character keys up per grapheme cluster rather than by longest match. Half-width
    katakana followed by a half-width (semi-)voiced mark (``ｶﾞ``), common in Japanese text,
    is the case that matters: those pairs are replaced by sentencepiece's output first.
    """
    from tokenizers import normalizers

    precompiled = normalizers.Precompiled(model.proto.normalizer_spec.precompiled_charsmap)
    reference = _charsmap_only(model)
    fixes: list[Any] = []
    for base in range(0xFF66, 0xFF9E):
        for mark in "\uff9e\uff9f":
            pair = chr(base) + mark
            want = reference.normalize(pair)
            if precompiled.normalize_str(pair) != want == precompiled.normalize_str(want):
                fixes.append(normalizers.Replace(pair, want))
    # sentencepiece passes user-defined symbols through unnormalised (nmt_nfkc would turn a
    # "\n" symbol into a space): hide those the charsmap changes behind noncharacters.
    symbols = sorted(
        (p.piece for p in model.proto.pieces if p.type == _USER_DEFINED),
        key=len,
        reverse=True,
    )
    changed = [s for s in symbols if precompiled.normalize_str(s) != s]
    covered = {c for piece in model.pieces for c in piece}
    free = [
        c
        for c in map(chr, range(0xFDD0, 0xFDF0))
        if c not in covered and precompiled.normalize_str(c) == c
    ]
    hidden = list(zip(changed, free, strict=False))
    return [
        *(normalizers.Replace(s, c) for s, c in hidden),
        *fixes,
        precompiled,
        *(normalizers.Replace(c, s) for s, c in hidden),
    ]


def _charsmap_only(model: SentencePieceModel) -> Any:
    """A sentencepiece processor that applies the model's charsmap and nothing else."""
    import sentencepiece
    from sentencepiece.sentencepiece_model_pb2 import ModelProto

    proto = ModelProto()
    proto.CopyFrom(model.proto)
    spec = proto.normalizer_spec
    spec.add_dummy_prefix = spec.remove_extra_whitespaces = spec.escape_whitespaces = False
    return sentencepiece.SentencePieceProcessor(model_proto=proto.SerializeToString())


def _isolate_uncovered(proto: ModelProto) -> Any:
    """Split off characters no normal piece contains, if an unmatchable name has one.

    Every segmentation has a boundary around such a character anyway (sentencepiece covers it
    with the unknown piece), so splitting there changes nothing, except that a name like
    ``<0x41>`` can no longer be matched across it. Multi-character user-defined symbols, which
    sentencepiece always selects, are split off whole first. With byte fallback only the
    characters of those names need splitting off; without it, whole runs of uncovered
    characters are, since sentencepiece fuses adjacent unknown characters into one piece.
    """
    from tokenizers import Regex, pre_tokenizers

    covered = {c for p in proto.pieces if p.type == _NORMAL for c in p.piece}
    symbols = [p.piece for p in proto.pieces if p.type == _USER_DEFINED]
    covered |= {s for s in symbols if len(s) == 1}
    in_names = {c for p in proto.pieces if p.type not in _MATCHABLE for c in p.piece} - covered
    if not in_names:
        return None
    longer = sorted((s for s in symbols if len(s) > 1), key=len, reverse=True)
    alternatives = "|".join("".join(f"\\x{{{ord(c):X}}}" for c in s) for s in longer)
    if proto.trainer_spec.byte_fallback:
        char = f"[{_char_class(in_names)}]"
    else:
        char = f"[^{_char_class(covered)}]"
    if alternatives:
        char = f"(?!{alternatives}){char}"
    pattern = char if proto.trainer_spec.byte_fallback else f"(?:{char})+"
    if alternatives:
        pattern = f"{alternatives}|{pattern}"
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


def _char_class(chars: set[str]) -> str:
    """A regex character class body for ``chars``, as code point ranges."""
    points = sorted(ord(c) for c in chars)
    parts: list[str] = []
    start = prev = points[0] if points else 0
    for point in [*points[1:], -1]:
        if point == prev + 1:
            prev = point
            continue
        parts.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        start = prev = point
    return "".join(parts) if points else ""


def _decoder(proto: ModelProto) -> Any:
    from tokenizers import decoders

    pieces = [p.piece for p in proto.pieces]
    trainer, spec = proto.trainer_spec, proto.normalizer_spec
    steps: list[Any] = []

    def alone(name: str) -> bool:
        # Replace works on substrings: only safe for a name no other piece contains.
        return sum(name in other for other in pieces) == 1

    for p in proto.pieces:
        if p.type == _CONTROL and alone(p.piece):
            steps.append(decoders.Replace(p.piece, ""))
    unk = pieces[trainer.unk_id]
    surface = trainer.unk_surface if trainer.HasField("unk_surface") else DEFAULT_UNK_SURFACE
    # sentencepiece never strips the leading space of the unknown surface: without byte
    # fallback (the only case where encoding yields the unknown piece) it becomes a
    # character no piece contains, and the surface only after the leading spaces are stripped.
    placeholder = None
    if not trainer.byte_fallback:
        covered = {c for piece in pieces for c in piece}
        placeholder = next((c for c in _PLACEHOLDERS if c not in covered), None)
    if alone(unk):
        steps.append(decoders.Replace(unk, placeholder or surface))
    steps += [decoders.Replace(SPACE_SYMBOL, " "), decoders.ByteFallback(), decoders.Fuse()]
    if spec.remove_extra_whitespaces:
        # Decoding drops one leading space symbol per piece for as long as the text is empty:
        # after whitespace removal, every leading space of an encoding.
        steps.append(decoders.Strip(" ", _ALL, 0))
    elif spec.add_dummy_prefix:
        steps.append(decoders.Strip(" ", 1, 0))
    if placeholder and alone(unk):
        steps.append(decoders.Replace(placeholder, surface))
    return decoders.Sequence(steps)


def verify_exact(
    model: SentencePieceModel, tokenizer: Tokenizer, texts: Iterable[str]
) -> list[Divergence]:
    """Texts on which ``tokenizer`` encodes or decodes differently from sentencepiece."""
    batch = list(texts)
    sp = model.processor
    expected = [list(ids) for ids in sp.encode(batch)]
    actual = [list(e.ids) for e in tokenizer.encode_batch(batch, add_special_tokens=False)]
    decoded = tokenizer.decode_batch(expected, skip_special_tokens=False)
    divergences: list[Divergence] = []
    for text, ids, got, dec in zip(batch, expected, actual, decoded, strict=True):
        if got != ids:
            tie = _is_tie(model, ids, got)
            divergences.append(Divergence(text, "encode", "tokenizers", ids, got, tie))
        want = sp.decode(ids)
        if dec != want:
            divergences.append(Divergence(text, "decode", "tokenizers", want, dec))
    return divergences


def _is_tie(model: SentencePieceModel, expected: list[int], actual: list[int]) -> bool:
    """Whether two Unigram encodings of one text score the same up to float32 rounding."""
    proto = model.proto
    if proto.trainer_spec.model_type != _UNIGRAM:
        return False
    pieces = proto.pieces
    if "".join(pieces[i].piece for i in expected) != "".join(pieces[i].piece for i in actual):
        return False
    normal = [p.score for p in pieces if p.type == _NORMAL]
    max_score = max([_f32(_FLT_MIN), *normal])
    unk_score = min(normal, default=0.0) - 10.0

    def score(i: int) -> float:
        p = pieces[i]
        if p.type == _USER_DEFINED:
            return _f32(len(p.piece.encode()) * max_score) - 0.1
        if p.type == _UNKNOWN:
            return unk_score
        # Byte pieces stand for unknown characters, identically on both sides.
        return 0.0 if p.type == _BYTE else float(p.score)

    total = sum(map(score, expected))
    difference = abs(total - sum(map(score, actual)))
    # sentencepiece rounds the running path score to float32 once per piece.
    _, exponent = math.frexp(abs(total) or 1.0)
    return difference <= len(expected) * math.ldexp(1.0, exponent - 24)


def verify_pretrained(
    model: SentencePieceModel, directory: Path, texts: Iterable[str]
) -> list[Divergence]:
    """Texts on which ``AutoTokenizer.from_pretrained(directory)`` differs from sentencepiece.

    Checks ``encode(text, add_special_tokens=False)``, plain ``encode(text)`` and ``decode``.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(directory))
    batch = list(texts)
    sp = model.processor
    divergences: list[Divergence] = []
    for text in batch:
        ids = list(sp.encode(text))
        plain = list(tok.encode(text, add_special_tokens=False, verbose=False))
        if plain != ids:
            tie = _is_tie(model, ids, plain)
            divergences.append(Divergence(text, "encode", "transformers", ids, plain, tie))
        special = list(tok.encode(text, verbose=False))
        if special != ids:
            tie = _is_tie(model, ids, special)
            divergences.append(
                Divergence(text, "encode+special", "transformers", ids, special, tie)
            )
        want, got = sp.decode(ids), str(tok.decode(ids))
        if got != want:
            divergences.append(Divergence(text, "decode", "transformers", want, got))
    return divergences


def sample_texts(model: SentencePieceModel, count: int, seed: int = 0) -> list[str]:
    """``count`` reproducible strings that stress ``model``: runs of its own pieces, joined by
    whitespace, names of the pieces it never matches, characters sentencepiece treats
    specially and random code points (combining marks only where real text has them)."""
    rng = random.Random(seed)
    pieces = model.pieces
    names = [p.piece for p in model.proto.pieces if p.type != _NORMAL]
    texts: list[str] = []
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.randint(1, 12)):
            roll = rng.random()
            if roll < 0.5:
                parts.append(rng.choice(pieces).replace(SPACE_SYMBOL, " "))
            elif roll < 0.8:
                parts.append("".join(rng.choices(_UNITS, k=rng.randint(1, 4))))
            elif roll < 0.9 and names:
                parts.append(rng.choice(names))
            else:
                parts.append(_random_char(rng))
        texts.append("".join(parts))
    return texts


def _random_char(rng: random.Random) -> str:
    while True:
        char = chr(rng.choice([rng.randint(0x20, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
        if not unicodedata.category(char).startswith("M"):
            return char


def export(
    model: SentencePieceModel,
    resolved: ResolvedModel,
    outdir: Path,
    *,
    force: bool = False,
    texts: Iterable[str] = (),
    examples: int = DEFAULT_EXAMPLES,
    seed: int = 0,
    verify: bool = True,
) -> ExportResult:
    """Write ``model`` as a Hugging Face tokenizer directory ``outdir`` and return what was done.

    ``texts`` plus ``examples`` generated strings are checked against sentencepiece, both with
    the built Tokenizer and with ``AutoTokenizer`` on the written files, before ``outdir``
    appears. A divergence raises TokcheckError unless ``force`` (then it is reported in the
    result); ``force`` also replaces an existing non-empty ``outdir``, which otherwise raises
    OutputError. The directory is built beside ``outdir`` and renamed into place, so ``outdir``
    is never left half-written.
    """
    outdir = Path(outdir)
    _check_outdir(outdir, force)
    tokenizer = build_tokenizer(model)
    checked = [*texts, *sample_texts(model, examples, seed)] if verify else []
    divergences = verify_exact(model, tokenizer, checked) if verify else []
    staging = _staging_dir(outdir)
    try:
        files = _write_files(staging, model, resolved, tokenizer)
        if verify:
            divergences += verify_pretrained(model, staging, checked)
        real = [d for d in divergences if not d.tie]
        if real and not force:
            shown = "; ".join(d.describe() for d in real[:3])
            raise ExportRefusedError(
                f"{model.path}: the exported tokenizer differs from sentencepiece on "
                f"{len({d.text for d in real})} of {len(checked)} texts ({shown}); "
                "nothing written (pass force to write it anyway)"
            )
        _move_into_place(staging, outdir, force)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(
        source=str(model.path),
        outdir=str(outdir),
        files=tuple(files),
        model_type="unigram" if model.proto.trainer_spec.model_type == _UNIGRAM else "bpe",
        texts_checked=len(checked),
        divergences=tuple(divergences),
        forced=force,
    )


def _staging_dir(outdir: Path) -> Path:
    """A new directory beside ``outdir`` (same file system, so the final rename is atomic),
    created with the user's umask rather than mkdtemp's 0700."""
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        while True:
            staging = outdir.parent / f".{outdir.name}.{secrets.token_hex(6)}.tmp"
            try:
                staging.mkdir()
                return staging
            except FileExistsError:
                continue
    except OSError as e:
        raise OutputError(f"{outdir}: cannot create the output directory: {e.strerror or e}") from e


def _check_outdir(outdir: Path, force: bool) -> None:
    if outdir.is_symlink() or (outdir.exists() and not outdir.is_dir()):
        raise OutputError(f"{outdir}: exists and is not a directory")
    if outdir.is_dir() and any(outdir.iterdir()) and not force:
        raise OutputError(f"{outdir}: exists and is not empty; pass --force to replace it")


def _move_into_place(staging: Path, outdir: Path, force: bool) -> None:
    _check_outdir(outdir, force)
    old: Path | None = None
    try:
        if outdir.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".old", dir=outdir.parent)
            )
            os.replace(outdir, old / outdir.name)
        os.replace(staging, outdir)
    except OSError as e:
        if old is not None and (old / outdir.name).exists() and not outdir.exists():
            os.replace(old / outdir.name, outdir)
        raise OutputError(f"{outdir}: cannot move the exported files into place: {e}") from e
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


_SPECIALS = (
    ("bos_token", "bos_id"),
    ("eos_token", "eos_id"),
    ("unk_token", "unk_id"),
    ("pad_token", "pad_id"),
)


def _write_files(
    staging: Path, model: SentencePieceModel, resolved: ResolvedModel, tokenizer: Tokenizer
) -> list[str]:
    trainer = model.proto.trainer_spec
    pieces = model.pieces
    specials = {
        key: pieces[getattr(trainer, field)]
        for key, field in _SPECIALS
        if 0 <= getattr(trainer, field) < len(pieces)
    }
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "add_bos_token": False,
        "add_eos_token": False,
        # Special tokens in text encode as sentencepiece encodes them: as ordinary text.
        "split_special_tokens": True,
        "clean_up_tokenization_spaces": False,
    }
    source = resolved.tokenizer_config or {}
    if isinstance(source.get("model_max_length"), int):
        config["model_max_length"] = source["model_max_length"]
    tokenizer.save(str(staging / "tokenizer.json"))
    _write_json(staging / "tokenizer_config.json", config)
    _write_json(staging / "special_tokens_map.json", specials)
    files = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    model_name = model.path.name if model.path.suffix == ".model" else "tokenizer.model"
    (staging / model_name).write_bytes(model.data)
    files.append(model_name)
    if resolved.directory is not None:
        for name in ("config.json", "generation_config.json"):
            if (resolved.directory / name).is_file():
                shutil.copyfile(resolved.directory / name, staging / name)
                files.append(name)
    return files


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _short(value: Sequence[int] | str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
