"""The one judge: how a candidate tokenizer's output on a line compares with sentencepiece's.

Every command that compares a tokenizer with the reference (``compare``, ``export``'s
verification, :mod:`tokcheck.testing`, the gate and the pytest plugin) classifies lines here,
with one vocabulary:

``mismatched``
    the ids differ, and not by a tie;
``tie``
    the ids differ, but both are segmentations of the same normalised text, and wherever they
    part the two stretches score the same to sentencepiece: equal in exact arithmetic (the
    same pieces in another order, the common case), or closer than the float32 running path
    score that sentencepiece's Viterbi keeps can resolve there. Which of two such paths it
    picks comes from float32 rounding, which a float64 implementation (tokenizers) cannot
    reproduce;
``unk_introduced``
    the candidate produced the unknown id more often than the reference did;
``special_introduced``
    the candidate produced a control or special id other than unk (``<s>``, ``</s>``, a
    Hugging Face special token) more often than the reference did;
``special_injected``
    among those, the line's text spells such an id's name (``</s>``, ``[PAD]``, ``<NL>``): the
    user's text became a control token, which sentencepiece never makes of text (prompt
    injection);
``decode_mismatched``
    the candidate's decode of its own ids differs from sentencepiece's decode of its own ids:
    the text a user gets back differs;
``whitespace_collapsed``
    among those, the difference is in whitespace (leading, trailing, or the runs inside);
``stream_mismatched``
    the candidate's decoder, run one id at a time over sentencepiece's ids as serving stacks
    run it (tokenizers' ``DecodeStream``, the prefix/read offsets of TGI and vLLM), shows other
    text than sentencepiece's decode of those ids, or a U+FFFD or ``<0x..>`` that it does not
    hold: what a user watching a model's streamed output sees (see :mod:`tokcheck.judge.stream`,
    which also says which lines are streamed).

A line with only a tie is never called exact. The tie policy is one for every command: ties
pass with a warning and a count; ``strict`` makes them fail (:meth:`Tally.passed`).

This module judges; :mod:`tokcheck.parallel.runner` feeds it lines and candidates' outputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokcheck.judge.outcome import Outcome
from tokcheck.judge.stream import StreamFailure
from tokcheck.judge.tally import COUNTERS, WINDOW, Counterexample, Shortest, Tally
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.spm import (
    BYTE,
    CONTROL,
    DEFAULT_UNK_SURFACE,
    NORMAL,
    UNIGRAM_MODEL,
    UNKNOWN,
    USER_DEFINED,
    max_score,
    unknown_score,
    user_defined_score,
)

_SPACES = re.compile(r"\s+")


class Judge:
    """Classifies lines for one model; keeps per-candidate tallies and shortest examples."""

    def __init__(self, model: SentencePieceModel, *, show: int = 5) -> None:
        proto = model.proto
        self.pieces = model.pieces
        self.show = show
        self.unk = proto.trainer_spec.unk_id
        self.control = frozenset(i for i, p in enumerate(proto.pieces) if p.type == CONTROL)
        trainer = proto.trainer_spec
        # What the unknown piece decodes to (" \u2047 " unless set): its spaces are a marker,
        # not whitespace a candidate could have collapsed.
        self.unk_surface = (
            trainer.unk_surface if trainer.HasField("unk_surface") else DEFAULT_UNK_SURFACE
        )
        self.scores = (
            _path_scores(model) if proto.trainer_spec.model_type == UNIGRAM_MODEL else None
        )

    def tally(self, name: str, cls: str, *, keep: bool = False) -> Judged:
        """A tally to fill; with ``keep``, it also keeps every line that differs."""
        return Judged(Tally(name, cls, show=self.show), kept=[] if keep else None)

    def judge_batch(
        self,
        judged: Judged,
        outcomes: Sequence[Outcome],
        special_ids: frozenset[int] = frozenset(),
        names: Mapping[int, str] | None = None,
    ) -> None:
        """Classify each line of a batch, recording its kinds on its outcome; ``special_ids``
        are the candidate's own specials and ``names`` what it calls them. An outcome's
        ``stream`` says how its stream failed, if it did (see
        :class:`tokcheck.judge.stream_check.StreamCheck`), and its ``serial`` places it in the
        whole input: among counterexamples of one length, the first line of the input is kept,
        however the input was split across workers."""
        tally = judged.tally
        tally.lines += len(outcomes)
        show = self.show
        # Runs once per line, so the common case (identical) is kept to C-level comparisons.
        for o in outcomes:
            r, c, rd, cd = o.expected_ids, o.candidate_ids, o.reference_decoded, o.candidate_decoded
            if r == c and rd == cd and o.stream is None:
                continue
            kinds = self.classify(
                r, c, rd, cd, special_ids, text=o.text, names=names, stream=o.stream
            )
            o.kinds = kinds
            tally.differing += 1
            for kind in kinds:
                setattr(tally, kind, getattr(tally, kind) + 1)
            (judged.ties if kinds == ["tie"] else judged.diverged).offer(o, show)
            if judged.kept is not None:
                judged.kept.append(o)

    def classify(
        self,
        r: list[int],
        c: list[int],
        rd: str,
        cd: str,
        special_ids: frozenset[int],
        *,
        text: str = "",
        names: Mapping[int, str] | None = None,
        stream: StreamFailure | None = None,
    ) -> list[str]:
        """The kinds of difference on one line (empty when there is none); ``special_ids`` are
        the candidate's own special ids, counted with the reference's control pieces, and
        ``names`` what the candidate calls them; ``text`` is the line."""
        kinds: list[str] = []
        if r != c:
            if self.is_tie(r, c):
                kinds.append("tie")
            else:
                kinds.append("mismatched")
                if c.count(self.unk) > r.count(self.unk):
                    kinds.append("unk_introduced")
                kinds += self._specials(r, c, special_ids, text, names or {})
        if rd != cd:
            kinds.append("decode_mismatched")
            surface = self.unk_surface
            if _whitespace(rd.replace(surface, "\u2047")) != _whitespace(
                cd.replace(surface, "\u2047")
            ):
                kinds.append("whitespace_collapsed")
        if stream is not None:
            kinds.append("stream_mismatched")
        return kinds

    def _specials(
        self, r: list[int], c: list[int], ids: frozenset[int], text: str, names: Mapping[int, str]
    ) -> list[str]:
        """``special_introduced``, and ``special_injected`` when the text spells one of the
        introduced ids' names (the candidate's or sentencepiece's)."""
        special = (self.control | ids) - {self.unk}
        introduced = [x for x in special.intersection(c) if c.count(x) > r.count(x)]
        if not introduced:
            return []
        pieces = self.pieces
        own = [pieces[x] for x in introduced if 0 <= x < len(pieces)]
        if any(n and n in text for n in [*own, *map(names.get, introduced)]):
            return ["special_introduced", "special_injected"]
        return ["special_introduced"]

    def is_tie(self, reference: list[int], candidate: list[int]) -> bool:
        """Both id sequences spell the same text, and wherever they part, sentencepiece's own
        float32 arithmetic cannot tell the two stretches apart (see :func:`_indistinguishable`).
        """
        scores, pieces = self.scores, self.pieces
        # Called for nearly every line of a diverging candidate: C-level checks first.
        if scores is None or not candidate or min(candidate) < 0 or max(candidate) >= len(pieces):
            return False
        if not reference or _ends_differ(pieces, reference, candidate):
            return False
        piece = pieces.__getitem__
        if "".join(map(piece, reference)) != "".join(map(piece, candidate)):
            return False
        return all(
            _indistinguishable(scores, prefix, a, b)
            for prefix, a, b in _stretches(pieces, reference, candidate)
        )

    def finish(self, judged: Judged, pieces: Callable[[list[int]], list[str]]) -> Tally:
        """The tally with its counterexamples spelled out; ``pieces`` names candidate ids."""
        tally = judged.tally
        tally.counterexamples = [self._example(item, pieces) for item in judged.diverged.items()]
        tally.ties = [self._example(item, pieces) for item in judged.ties.items()]
        return tally

    def _example(self, o: Outcome, pieces: Callable[[list[int]], list[str]]) -> Counterexample:
        r, c = o.expected_ids, o.candidate_ids
        first = o.first_divergence
        lo, hi = max(0, first - WINDOW[0]), first + WINDOW[1]
        return Counterexample(
            text=o.text,
            origin=o.origin,
            kinds=o.kinds,
            first_divergence=first,
            offset=lo,
            reference_ids=r[lo:hi],
            candidate_ids=c[lo:hi],
            # Ids past the model's pieces are a candidate's added tokens: it names them.
            reference_pieces=[
                self.pieces[i] if 0 <= i < len(self.pieces) else pieces([i])[0] for i in r[lo:hi]
            ],
            candidate_pieces=pieces(c[lo:hi]),
            reference_decoded=o.reference_decoded,
            candidate_decoded=o.candidate_decoded,
            stream=o.stream,
            source=o.source,
            scores=self._scores(r, c) if "tie" in o.kinds else None,
        )

    def _scores(self, reference: list[int], candidate: list[int]) -> list[float] | None:
        """Both segmentations' scores as sentencepiece sums its pieces' (a tie's: see
        :func:`_indistinguishable`), or None without scores (a BPE model)."""
        scores = self.scores
        if scores is None:
            return None
        return [math.fsum(scores[i] for i in ids) for ids in (reference, candidate)]


@dataclass
class Judged:
    """A tally being filled, with the lines kept for its counterexamples."""

    tally: Tally
    diverged: Shortest = field(default_factory=Shortest)
    ties: Shortest = field(default_factory=Shortest)
    # Every line that differed since the list was last emptied, if kept (Judge.tally's keep).
    kept: list[Outcome] | None = None

    def merge(self, other: Judged, k: int) -> None:
        """Add what ``other`` judged on another part of the input: the counts add up, the K
        shortest counterexamples of each source of both are kept (the first in the input among
        equals), and the lines it kept follow these."""
        for name in COUNTERS:
            setattr(self.tally, name, getattr(self.tally, name) + getattr(other.tally, name))
        self.diverged.merge(other.diverged, k)
        self.ties.merge(other.ties, k)
        if self.kept is not None and other.kept:
            self.kept += other.kept


def _path_scores(model: SentencePieceModel) -> list[float]:
    """Each piece's score as sentencepiece's Unigram Viterbi adds it (float32 values).

    Normal pieces score as stored; user-defined ones as :func:`user_defined_score` says, with
    the length in bytes and the maximum over normal pieces starting at FLT_MIN; the unknown piece
    the lowest normal score minus 10. Byte pieces stand in for an unknown character on both
    sides alike, so they add nothing to the comparison.
    """
    pieces = model.proto.pieces
    normal = [p.score for p in pieces if p.type == NORMAL]
    highest = max_score(normal)
    unk_score = unknown_score(normal)
    scores: list[float] = []
    for p in pieces:
        if p.type == USER_DEFINED:
            scores.append(user_defined_score(len(p.piece.encode()), highest))
        elif p.type == UNKNOWN:
            scores.append(unk_score)
        elif p.type == BYTE:
            scores.append(0.0)
        else:
            scores.append(float(p.score))
    return scores


def _ends_differ(pieces: list[str], reference: list[int], candidate: list[int]) -> bool:
    """Whether the two spell texts that begin or end with different characters: a check in
    constant time that settles most lines of a diverging candidate without joining pieces."""
    head_r, head_c = pieces[reference[0]], pieces[candidate[0]]
    tail_r, tail_c = pieces[reference[-1]], pieces[candidate[-1]]
    return bool(
        (head_r and head_c and head_r[0] != head_c[0])
        or (tail_r and tail_c and tail_r[-1] != tail_c[-1])
    )


def _stretches(
    pieces: list[str], reference: list[int], candidate: list[int]
) -> Iterator[tuple[list[int], list[int], list[int]]]:
    """The stretches where two segmentations of one text part: (reference ids before the
    stretch, the reference's ids in it, the candidate's ids in it).

    Both sides are walked by character offset; a stretch ends where both reach the same offset.
    """
    i = j = ri = cj = 0
    while i < len(reference) or j < len(candidate):
        if i < len(reference) and j < len(candidate) and reference[i] == candidate[j]:
            step = len(pieces[reference[i]])
            i, j, ri, cj = i + 1, j + 1, ri + step, cj + step
            continue
        start_i, start_j = i, j
        while True:
            if ri <= cj and i < len(reference):
                ri += len(pieces[reference[i]])
                i += 1
            elif j < len(candidate):
                cj += len(pieces[candidate[j]])
                j += 1
            else:  # the reference spells more text: not reached, as both spell the same
                i = len(reference)
            if ri == cj or (i == len(reference) and j == len(candidate)):
                break
        yield reference[:start_i], reference[start_i:i], candidate[start_j:j]


def _indistinguishable(scores: list[float], prefix: list[int], a: list[int], b: list[int]) -> bool:
    """Whether sentencepiece, adding the scores of ``a`` or of ``b`` to a running float32 path
    score of ``prefix``, can tell the two stretches apart.

    Equal in exact arithmetic (a permutation, the common case) is a tie. Otherwise the
    difference must be below the rounding of one float32 addition per piece at the magnitude
    of the running score: at a path score of -54,000 one float32 step is 0.004, so stretches
    scoring 0.002 apart are the same to sentencepiece, and which it keeps is rounding.
    """
    # Scores are float32 values, so their exact difference is a multiple of 2**-149 that a
    # double holds exactly; fsum rounds it correctly, hence to 0.0 only when it is 0.
    difference = math.fsum([*(scores[i] for i in a), *(-scores[i] for i in b)])
    if difference == 0:
        return True
    running = abs(math.fsum(scores[i] for i in (*prefix, *a)))
    _, exponent = math.frexp(running or 1.0)
    # Half a unit in the last place per rounded addition, on either side.
    return abs(difference) <= (len(a) + len(b)) * math.ldexp(1.0, exponent - 25)


def _whitespace(text: str) -> tuple[Any, ...]:
    return (text[:1].isspace(), text[-1:].isspace(), *_SPACES.findall(text))
