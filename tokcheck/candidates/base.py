"""A candidate: the record every loading path fills, the adjustments for the special ids it adds,
and the silencing of what native libraries print while they load.

:mod:`tokcheck.candidates.registry` names the candidates and loads them; each loading path is a
module of its own (:mod:`~tokcheck.candidates.hf`, :mod:`~tokcheck.candidates.exported`,
:mod:`~tokcheck.candidates.jsruntime`, :mod:`~tokcheck.candidates.llamacpp`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tokcheck.judge.stream import Streamer


@dataclass
class Candidate:
    name: str
    cls: str
    encode_batch: Callable[[list[str]], list[list[int]]]
    decode_batch: Callable[[list[list[int]]], list[str]]
    pieces: Callable[[list[int]], list[str]]
    special_ids: frozenset[int]
    key: str
    # Ids a plain ``encode(text)`` is expected to add before and after the text's own (the bos
    # and eos a directory asks for): the reference ids are judged with them added.
    added: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    # How serving stacks stream this candidate's decode (see tokcheck.judge.stream); None: not at all.
    streamer: Streamer | None = None
    # The setting that makes it encode special tokens' names as text, and the candidate with
    # that setting on: what compare verifies as the remedy for special-token injection.
    safe_setting: str | None = None
    safe: Callable[[], Candidate] | None = None


def without_added(
    ids: list[list[int]], added: tuple[tuple[int, ...], tuple[int, ...]]
) -> list[list[int]]:
    """A candidate's ids without the special ids it is expected to add, where it added them:
    what its decode must give back is the text (the ids are judged with them, see
    :attr:`tokcheck.judge.outcome.Outcome.expected_ids`; an added token past the model's pieces decodes as its name)."""
    before, after = added
    if not before and not after:
        return ids
    end = len(after)
    return [
        c[len(before) : len(c) - end]
        if tuple(c[: len(before)]) == before and tuple(c[len(c) - end :]) == after
        else c
        for c in ids
    ]


@dataclass(frozen=True)
class Unavailable:
    name: str
    reason: str
    # True when loading raised: that path crashes for the model's users, which is a finding.
    # False when the path does not apply here (no tokenizer.json, no backend= in transformers 4).
    failed: bool = False
    # True (with failed) when it loaded but its runtime's process died while it ran: the
    # reason names how it ended and the line, where known (see tokcheck.parallel.runner).
    crashed: bool = False


@contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """File descriptor 1 pointed at /dev/null: tokenizers' Rust code prints some warnings
    (an unknown key in a special token's definition, say) straight to stdout, where they
    would corrupt ``--json`` output. Used only around loading, never while tokcheck prints."""
    with native_silenced(1):
        yield


@contextmanager
def native_silenced(fd: int) -> Iterator[None]:
    """File descriptor ``fd`` (1 or 2) pointed at /dev/null, where native code writes past
    Python's streams; nothing happens where there is no such descriptor."""
    import os
    import sys

    (sys.stdout if fd == 1 else sys.stderr).flush()
    try:
        saved = os.dup(fd)
    except OSError:  # no such descriptor at all: nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


class NotApplicable(Exception):
    pass


def special_names(candidates: Iterable[Candidate]) -> list[str]:
    """The special tokens the ``candidates`` name, as their pieces, each once."""
    names: list[str] = []
    for candidate in candidates:
        names += candidate.pieces(sorted(candidate.special_ids))
    return list(dict.fromkeys(names))


# A dotted module path before a class name, as in transformers.models.t5.tokenization_t5.
_MODULES = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.){2,}(?=[A-Z])")


def short_class(cls: str) -> str:
    """A candidate's class as reports show it: without its module path (the JSON has it)."""
    return _MODULES.sub("", cls)
