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

from tokcheck import render
from tokcheck.checks import CheckReport, run_checks
from tokcheck.judge import Tally
from tokcheck.probes import BUILTIN_PROBES, generation_alphabet, hypothesis_strings, numbered
from tokcheck.profiles import Profile, load_profile, profile_for_hub_id
from tokcheck.proto import SentencePieceModel
from tokcheck.resolve import ResolvedModel, resolve


def load(model: str | Path) -> tuple[ResolvedModel, SentencePieceModel]:
    resolved = resolve(str(model))
    return resolved, SentencePieceModel.load(resolved.model_file)


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
    from tokcheck.candidates import as_candidate
    from tokcheck.runner import judge_lines

    _, reference = load(model)
    if texts is None:
        generated = hypothesis_strings(examples, seed, generation_alphabet(reference))
        texts = [*BUILTIN_PROBES, *generated]
    (tally,) = judge_lines(reference, [as_candidate(tokenizer)], numbered(texts), show=show)
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
    to select it from the hub id); returns the report."""
    resolved, loaded = load(model)
    if isinstance(profile, str):
        profile = load_profile(profile)
    elif profile is None and resolved.hub_id:
        profile = profile_for_hub_id(resolved.hub_id)
    report = run_checks(resolved, loaded, profile)
    if not report.passed:
        lines = "\n  ".join(f"{c.name}: {c.message}" for c in report.checks if not c.passed)
        raise AssertionError(f"{resolved.name} fails profile {report.profile}:\n  {lines}")
    return report
