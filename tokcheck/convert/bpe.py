"""sentencepiece BPE as ``tokenizers`` components: the model and the pre-tokeniser.

sentencepiece's BPE merges the whole normalised text, not words: at each step the adjacent pair
whose concatenation is the best-scoring piece, leftmost on ties. tokenizers merges by rank, so
every split of a piece into two mergeable parts becomes a merge ranked by that piece's score.
User-defined symbols are matched leftmost-longest in the normalised text and frozen: they never
merge. See :class:`Hazards` for how the exported tokenizer reproduces that.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any, NamedTuple

from tokcheck.convert.patterns import char_class, literal
from tokcheck.model.spm import MATCHABLE, NORMAL, UNUSED, USER_DEFINED

if TYPE_CHECKING:
    from sentencepiece.sentencepiece_model_pb2 import ModelProto


# The most spans a whole pre-token is cut into (one pre-tokeniser step per span): names cut
# into more are refused, so a hostile name cannot make thousands of steps.
MAX_CUTS = 32


class Hazards(NamedTuple):
    """What a BPE model with multi-character user-defined symbols must keep from matching.

    sentencepiece freezes every user-defined symbol it finds in the normalised text and merges
    the rest around it; the exported tokenizer isolates those symbols in its pre-tokeniser and
    emits a pre-token that is a whole vocabulary entry as that entry (``ignore_merges``), which
    is how a symbol becomes its one id. A pre-token that spells a name sentencepiece never
    produces from that text (a control symbol such as ``</s>``, a byte piece, the unknown
    piece, a normal piece its own merges do not reach) would be looked up the same way, so the
    pre-tokeniser also splits between two characters inside each such name that no piece spans:
    a boundary no merge crosses, so it changes nothing else. ``split`` holds those character
    pairs. A name with no such pair (every two adjacent characters of it are a piece, as in
    InternLM's ``"\u2581" + "-" * 64``) is split only where it is a whole pre-token, into the
    spans sentencepiece makes of its text: ``whole`` maps each such name to those spans, and
    ``residual`` holds the names sentencepiece itself gives as one span (none that a model can
    hold but the one below) or as more than :data:`MAX_CUTS`.

    A one-character name has no pair; the converter exports such a piece under a longer token,
    the character and a noncharacter no piece contains (:func:`tokcheck.convert.converter.vocabulary`),
    whose pair is split like any other. ``residual`` holds the pieces' own names.
    """

    split: tuple[tuple[str, str], ...]
    residual: tuple[str, ...]
    whole: tuple[tuple[str, tuple[str, ...]], ...] = ()


def model(proto: ModelProto, names: list[str]) -> Any:
    """tokenizers' BPE model of ``proto``: its pieces as the tokens ``names`` (by id), merges
    ranked by sentencepiece's scores."""
    from tokenizers.models import BPE

    vocab = {name: i for i, name in enumerate(names)}
    merges = [(left, right) for _, left, right in merge_pairs(proto)]
    unk = names[proto.trainer_spec.unk_id]
    return BPE(
        vocab,
        merges,
        unk_token=unk,
        fuse_unk=True,
        byte_fallback=proto.trainer_spec.byte_fallback,
        dropout=None,
        # Whole pre-tokens that are vocabulary entries: how user-defined symbols come out whole.
        ignore_merges=bool(user_symbols(proto)),
    )


def merge_pairs(proto: ModelProto) -> list[tuple[int, str, str]]:
    """Every merge sentencepiece's BPE may make, as (id of the piece it forms, left, right):
    both parts and the piece normal (user-defined symbols never merge with others), ranked as
    tokenizers must rank them. sentencepiece merges the adjacent pair whose concatenation is
    the best-scoring piece; tokenizers merges by rank, so the pairs are ranked by that score
    (lower id first on ties)."""
    pieces = proto.pieces
    parts = {p.piece for p in pieces if p.type == NORMAL}
    ranked = sorted(
        (i for i, p in enumerate(pieces) if p.type == NORMAL and len(p.piece) > 1),
        key=lambda i: (-pieces[i].score, i),
    )
    return [
        (i, text[:k], text[k:])
        for i in ranked
        for text in [pieces[i].piece]
        for k in range(1, len(text))
        if text[:k] in parts and text[k:] in parts
    ]


def user_symbols(proto: ModelProto) -> list[str]:
    """Multi-character user-defined symbols, longest first (so a regex alternation of them
    matches leftmost-longest, as sentencepiece's prefix matcher does)."""
    symbols = {p.piece for p in proto.pieces if p.type == USER_DEFINED and len(p.piece) > 1}
    return sorted(symbols, key=lambda s: (-len(s), s))


def hazards(proto: ModelProto, names: list[str]) -> Hazards:
    """The :class:`Hazards` of a BPE model (none without multi-character user-defined symbols),
    its pieces exported as the tokens ``names`` (by id)."""
    if not user_symbols(proto):
        return Hazards((), ())
    spans = {
        text[k - 1 : k + 1]
        for p in proto.pieces
        if p.type in (NORMAL, USER_DEFINED, UNUSED)
        for text in [p.piece]
        for k in range(1, len(text))
    }
    # Without byte fallback sentencepiece fuses adjacent unknown characters into one piece, and
    # tokenizers only within a pre-token: never split between two of them.
    known = {p.piece for p in proto.pieces if p.type in MATCHABLE and len(p.piece) == 1}
    fuses = not proto.trainer_spec.byte_fallback
    # (piece name, exported token) of every piece sentencepiece never gives for its own text:
    # the pieces it never matches, and those its merges never form (:func:`unreachable`). A
    # one-character token is the unknown piece without byte fallback, whose id is what a
    # lookup of its character should give.
    tokens = [
        (p.piece, token)
        for p, token in zip(proto.pieces, names, strict=True)
        if p.type not in MATCHABLE and len(token) > 1
    ]
    tokens += [(proto.pieces[i].piece, names[i]) for i in unreachable(proto)]
    split: set[tuple[str, str]] = set()
    unsplit: list[tuple[str, str]] = []
    for name, token in tokens:
        free = [
            (a, b)
            for a, b in pairwise(token)
            if a + b not in spans and not (fuses and a not in known and b not in known)
        ]
        if not free:
            unsplit.append((name, token))
        elif not split.intersection(free):
            split.add(free[0])
    whole, residual = [], []
    segments = _segments(proto, [token for _, token in unsplit])
    for (name, token), parts in zip(unsplit, segments, strict=True):
        if 1 < len(parts) <= MAX_CUTS:
            whole.append((token, parts))
        else:
            residual.append(name)
    return Hazards(tuple(sorted(split)), tuple(residual), tuple(sorted(whole)))


def _segments(source: ModelProto, texts: list[str]) -> list[tuple[str, ...]]:
    """The spans of each text that sentencepiece encodes as one piece each (or as the bytes
    of one character), the text taken as normalised already."""
    if not texts:
        return []
    raw = _raw_processor(source.SerializeToString())
    found = []
    for text in texts:
        data = text.encode("utf-8")
        cuts = sorted({p.begin for p in _encode_proto(raw, text).pieces})
        bounds = [*cuts, len(data)]
        found.append(tuple(data[a:b].decode("utf-8") for a, b in pairwise(bounds) if b > a))
    return found


def unreachable(source: ModelProto) -> list[int]:
    """The normal pieces that sentencepiece's merges never form, in any text: those its merges do
    not form from their own text.

    sentencepiece's BPE merges the best-scoring adjacent pair (leftmost on ties) until none is a
    piece. Until a piece spanning some characters is formed, no merge touches a symbol across
    that span's edges (the symbol would cross the piece), so the merges inside the span happen
    in the same relative order as they do on the span's text alone, which then ends as that one
    piece. A piece not formed from its own text is therefore formed nowhere, and neither is any
    piece merged from it. With ``ignore_merges`` tokenizers would emit such a piece for a whole
    pre-token that spells it (``"<eoh> ----"``, 64 dashes, in InternLM's 103k BPE), so it is a
    hazard like a control name (:class:`Hazards`).
    """
    return list(_unreachable(source.SerializeToString()))


def _encode_proto(processor: Any, text: str) -> Any:
    """sentencepiece's encoding of ``text`` with each piece's span (``out_type="proto"`` where
    the release has it, else ``"immutable_proto"``)."""
    try:
        return processor.encode(text, out_type="proto")
    except (ValueError, TypeError, AttributeError):
        return processor.encode(text, out_type="immutable_proto")


@lru_cache(maxsize=4)
def _unreachable(data: bytes) -> tuple[int, ...]:
    pieces = _raw_proto(data).pieces
    normal = [(i, p.piece) for i, p in enumerate(pieces) if p.type == NORMAL]
    found = _raw_processor(data).encode([text for _, text in normal])
    return tuple(i for (i, _), ids in zip(normal, found, strict=True) if ids != [i])


def _raw_proto(data: bytes) -> ModelProto:
    """The model ``data`` with normalisation off: text is taken as normalised already."""
    from sentencepiece.sentencepiece_model_pb2 import ModelProto

    proto = ModelProto()
    proto.ParseFromString(data)
    spec = proto.normalizer_spec
    spec.add_dummy_prefix = spec.remove_extra_whitespaces = spec.escape_whitespaces = False
    spec.ClearField("precompiled_charsmap")
    return proto


@lru_cache(maxsize=2)
def _raw_processor(data: bytes) -> Any:
    """sentencepiece on the model ``data`` with normalisation off (see :func:`_raw_proto`)."""
    import sentencepiece

    raw = _raw_proto(data).SerializeToString()
    return sentencepiece.SentencePieceProcessor(model_proto=raw)


def pre_tokenizer(proto: ModelProto, hazards: Hazards) -> Any:
    """Isolate the multi-character user-defined symbols, then split inside hazardous names."""
    from tokenizers import Regex, pre_tokenizers

    symbols = user_symbols(proto)
    if not symbols:
        return None
    steps = [pre_tokenizers.Split(Regex("|".join(map(literal, symbols))), behavior="isolated")]
    if hazards.whole:
        # A pre-token that is exactly such a name loses its first span, where sentencepiece
        # cuts it; the rest, a whole pre-token now, is cut by the same step again. sentencepiece
        # cuts that rest alone as it cut it in the name (no merge crossed the cut), so the step
        # is exact on any pre-token it matches. Anchored at the start, it costs one test per
        # pre-token.
        first: dict[str, str] = {}
        for _, parts in hazards.whole:
            for k in range(len(parts) - 1):
                first["".join(parts[k:])] = parts[k]
        pattern = "|".join(
            f"{literal(part)}(?={literal(rest[len(part) :])}\\z)"
            for rest, part in sorted(first.items())
        )
        peel = pre_tokenizers.Split(Regex(rf"\A(?:{pattern})"), behavior="isolated")
        steps += [peel] * (max(len(parts) for _, parts in hazards.whole) - 1)
    split = hazards.split
    if split:
        # The empty place between the two characters of each pair, removed: a boundary. (An
        # empty match, where MergedWithPrevious on the first character would do, because
        # transformers.js runs Split's Removed and Isolated behaviours only.)
        firsts: dict[str, set[str]] = {}
        for a, b in split:
            firsts.setdefault(a, set()).add(b)
        pattern = "|".join(
            f"(?<={literal(a)})(?=[{char_class(after)}])" for a, after in sorted(firsts.items())
        )
        steps.append(pre_tokenizers.Split(Regex(pattern), behavior="removed"))
    return pre_tokenizers.Sequence(steps)
