"""Assertions for users' own test suites: judge a tokenizer against the sentencepiece reference.

    from tokcheck.testing import assert_matches_reference, assert_profile
    assert_matches_reference(AutoTokenizer.from_pretrained(path), path)
    assert_profile(path, "rinna/japanese-gpt-neox-3.6b")

Both raise ``AssertionError`` with the first divergences spelled out; neither prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tokcheck.checks import CheckReport, run_checks
from tokcheck.probes import BUILTIN_PROBES, hypothesis_strings
from tokcheck.profiles import Profile, load_profile, profile_for_hub_id
from tokcheck.proto import SentencePieceModel
from tokcheck.resolve import ResolvedModel, resolve


def load(model: str | Path) -> tuple[ResolvedModel, SentencePieceModel]:
    resolved = resolve(str(model))
    return resolved, SentencePieceModel.load(resolved.model_file)


def assert_matches_reference(
    tokenizer: Any,
    model: str | Path,
    texts: Iterable[str] | None = None,
    *,
    examples: int = 200,
    seed: int = 0,
    show: int = 3,
) -> None:
    """Assert ``tokenizer`` (a transformers tokenizer or a ``tokenizers.Tokenizer``) encodes and
    decodes exactly like sentencepiece on ``model``; by default on the built-in probes plus
    ``examples`` Hypothesis strings."""
    _, reference = load(model)
    sp = reference.processor
    inputs = (
        list(texts) if texts is not None else [*BUILTIN_PROBES, *hypothesis_strings(examples, seed)]
    )
    encode, decode = _codec(tokenizer)
    failures = []
    for text in inputs:
        want, got = sp.encode(text), encode(text)
        if want != got or sp.decode(want) != decode(got):
            failures.append(
                f"{text[:60]!r}: sentencepiece {want[:12]} {sp.decode(want)[:40]!r}, "
                f"tokenizer {got[:12]} {decode(got)[:40]!r}"
            )
    if failures:
        shown = "\n  ".join(sorted(failures, key=len)[:show])
        raise AssertionError(
            f"{len(failures)} of {len(inputs)} inputs differ from sentencepiece:\n  {shown}"
        )


def _codec(tokenizer: Any) -> tuple[Any, Any]:
    if hasattr(tokenizer, "encode_batch") and hasattr(
        tokenizer, "id_to_token"
    ):  # tokenizers.Tokenizer
        return (
            lambda t: list(tokenizer.encode(t, add_special_tokens=False).ids),
            lambda ids: tokenizer.decode(ids, skip_special_tokens=False),
        )
    return (lambda t: list(tokenizer.encode(t, add_special_tokens=False)), tokenizer.decode)


def assert_profile(model: str | Path, profile: str | Profile | None = None) -> CheckReport:
    """Assert every check passes against ``profile`` (a name, a TOML path, a Profile, or None
    to select it from the hub id); returns the report."""
    resolved, reference = load(model)
    if isinstance(profile, str):
        profile = load_profile(profile)
    elif profile is None and resolved.hub_id:
        profile = profile_for_hub_id(resolved.hub_id)
    report = run_checks(reference, resolved, profile)
    if not report.passed:
        lines = "\n  ".join(f"{c.name}: {c.message}" for c in report.checks if not c.passed)
        raise AssertionError(f"{resolved.reference} fails profile {report.profile}:\n  {lines}")
    return report
