"""Assertions for users' own test suites: judge a tokenizer against the sentencepiece reference.

    from tokcheck.testing import assert_matches_reference, assert_profile
    assert_matches_reference(AutoTokenizer.from_pretrained(path), path)
    assert_profile(path, "rinna/japanese-gpt-neox-3.6b")

Both raise ``AssertionError`` with the shortest counterexamples spelled out, aligned at the
first divergence as ``tokcheck compare`` shows them; neither prints.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tokcheck.checks.rules import CheckReport, run_checks
from tokcheck.inputs.probes import (
    BUILTIN_PROBES,
    generation_alphabet,
    hypothesis_strings,
    numbered,
    verification_lines,
)
from tokcheck.judge.tally import Tally
from tokcheck.model.profiles import Profile, Selection, select
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import ResolvedModel, resolve
from tokcheck.report import render


def load(model: str | Path) -> tuple[ResolvedModel, SentencePieceModel]:
    if not isinstance(model, str | Path):
        raise TypeError(f"model must be a path or a hub id, got {type(model).__name__}")
    resolved = resolve(str(model))
    return resolved, SentencePieceModel.load(resolved.model_file)


def _arguments(tokenizer: Any, *, examples: Any, seed: Any, show: Any, strict: Any) -> None:
    """The arguments a caller can get wrong, named in a TypeError or ValueError."""
    raw = hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "id_to_token")
    hf = hasattr(tokenizer, "all_special_ids") and hasattr(tokenizer, "convert_ids_to_tokens")
    if not (raw or hf):
        raise TypeError(
            "tokenizer must be a transformers tokenizer or a tokenizers.Tokenizer, got "
            f"{type(tokenizer).__name__} (a path goes in model=, the second argument)"
        )
    for name, value in (("examples", examples), ("seed", seed), ("show", show)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32, got {seed}")
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be True or False, got {strict!r}")


class TieWarning(UserWarning):
    """A tokenizer matched sentencepiece but for ties, which pass unless ``strict``."""


def assert_matches_reference(
    tokenizer: Any,
    model: str | Path,
    texts: Iterable[str] | None = None,
    *,
    examples: int = 200,
    seed: int = 0,
    show: int = 3,
    strict: bool = False,
) -> Tally:
    """Assert ``tokenizer`` (a transformers tokenizer or a ``tokenizers.Tokenizer``) encodes and
    decodes like sentencepiece on ``model``, judged as ``tokcheck compare`` judges: by default on
    the built-in probes plus ``examples`` Hypothesis strings. Ties pass unless ``strict``, with a
    :class:`TieWarning`; returns the tally (``tally.tie`` counts them)."""
    from tokcheck.candidates.hf import as_candidate
    from tokcheck.parallel.runner import judge_lines

    _arguments(tokenizer, examples=examples, seed=seed, show=show, strict=strict)
    if texts is not None and (isinstance(texts, str) or not isinstance(texts, Iterable)):
        raise TypeError(f"texts must be an iterable of strings, got {type(texts).__name__}")
    _, reference = load(model)
    if texts is None:
        generated = [
            *BUILTIN_PROBES,
            *hypothesis_strings(examples, seed, generation_alphabet(reference)),
        ]
        lines = [
            *numbered(generated),
            *verification_lines(reference, examples, seed, "line", len(generated)),
        ]
    else:
        texts = list(texts)
        if bad := next((t for t in texts if not isinstance(t, str)), None):
            raise TypeError(f"texts must hold strings only, got {type(bad).__name__}")
        lines = numbered(texts)
    (tally,) = judge_lines(reference, [as_candidate(tokenizer)], lines, show=show)
    if not strict and (warning := tally.tie_warning()):
        warnings.warn(TieWarning(warning), stacklevel=2)
    if not tally.passed(strict):
        shown = "\n".join(render.counterexamples(tally))
        raise AssertionError(
            f"{tally.name} ({tally.cls}) differs from sentencepiece: {tally.summary()}\n{shown}"
        )
    return tally


def assert_profile(model: str | Path, profile: str | Profile | None = None) -> CheckReport:
    """Assert every check passes against ``profile`` (a name, a TOML path, a Profile, or None
    to select it as ``tokcheck check`` does: from the hub id or the directory's config.json,
    else a :class:`~tokcheck.errors.ProfileError`); returns the report."""
    if profile is not None and not isinstance(profile, str | Profile):
        raise TypeError(f"profile must be a name, a TOML path or a Profile, got {profile!r}")
    resolved, loaded = load(model)
    if isinstance(profile, Profile):
        chosen = Selection(profile, "given")
    else:
        chosen = select(profile, resolved.hub_id, resolved.config)
    report = run_checks(resolved, loaded, chosen.profile, how=chosen.how)
    if not report.passed:
        lines = "\n  ".join(f"{c.name}: {c.message}" for c in report.checks if not c.passed)
        raise AssertionError(f"{resolved.name} fails profile {report.profile}:\n  {lines}")
    return report
