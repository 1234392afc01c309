"""compare's injection remedies: each setting a candidate offers for special tokens in text
(``split_special_tokens``, say), verified on the injection lines before it is recommended.

The lines are :func:`tokcheck.inputs.inject.injection_texts`; a remedy is named in a report only
when the same tokenizer with the setting leaves no line injected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tokcheck.candidates.base import Candidate
from tokcheck.model.proto import SentencePieceModel

if TYPE_CHECKING:
    from tokcheck.judge.tally import Tally


@dataclass(frozen=True)
class Remedy:
    """A candidate's setting against injection, verified on the injection lines."""

    candidate: str
    setting: str
    lines: int
    # Injection lines where a special id was made of the text: as loaded, with the setting.
    injected: int
    injected_with_setting: int
    # Lines that still differ from sentencepiece in ids with the setting on (any kind).
    mismatched_with_setting: int

    @property
    def removes_injection(self) -> bool:
        return self.injected_with_setting == 0

    def summary(self) -> str:
        verdict = (
            "removes it"
            if self.removes_injection
            else f"leaves {self.injected_with_setting} injected"
        )
        exact = (
            "matching sentencepiece on all of them"
            if not self.mismatched_with_setting
            else f"{self.mismatched_with_setting} still differing in ids"
        )
        return (
            f"{self.candidate} injects special tokens on {self.injected} of {self.lines} "
            f"injection lines; {self.setting} {verdict} (verified; {exact})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "removes_injection": self.removes_injection}


def verify_remedies(
    model: SentencePieceModel,
    candidates: Sequence[Candidate],
    tallies: Sequence[Tally],
    lines: Sequence[tuple[str, str]],
) -> list[Remedy]:
    """For each candidate whose tally has injected lines and that has a safe setting, judge
    the injection ``lines`` without and with it. Twins (the same tokenizer) share a result."""
    from tokcheck.parallel.runner import judge_lines

    if not lines:
        return []  # nothing to verify a setting on: claim nothing
    by_name = {c.name: c for c in candidates}
    found: dict[str, tuple[int, Tally, Tally]] = {}
    remedies = []
    for tally in tallies:
        candidate = by_name.get(tally.name)
        if not tally.special_injected or candidate is None or candidate.safe is None:
            continue
        if candidate.key not in found:
            # Judged apart, so that each is encoded and streamed on its own.
            (plain,) = judge_lines(model, [candidate], lines, show=0)
            (safe,) = judge_lines(model, [candidate.safe()], lines, show=0)
            found[candidate.key] = (len(lines), plain, safe)
        count, plain, safe = found[candidate.key]
        remedies.append(
            Remedy(
                candidate=tally.name,
                setting=candidate.safe_setting or "",
                lines=count,
                injected=plain.special_injected,
                injected_with_setting=safe.special_injected,
                mismatched_with_setting=safe.mismatched,
            )
        )
    return remedies
