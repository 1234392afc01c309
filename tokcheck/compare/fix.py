"""The fix for a Hugging Face loading path that fails compare: what the installed transformers
does to the model, the export command for the user's own MODEL, how to load the export, and
the files to ship beside the weights.

:func:`fix` reads it off a :class:`~tokcheck.compare.report.CompareReport`; the reports print
it (:func:`tokcheck.report.render.fix`, the Markdown summary) and ``--json`` carries it as
``fix``. :func:`load_snippet` and :data:`SHIPPED` are export's own text's too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from tokcheck.candidates.base import short_class
from tokcheck.convert.target import EXPORT_RECORD
from tokcheck.system.paths import shell_word

if TYPE_CHECKING:
    from tokcheck.candidates.base import Unavailable
    from tokcheck.judge.tally import Tally

# What `tokcheck export` writes that a deployment loads, but the .model file (named after the
# model's) and tokcheck_export.json (the record of what was verified), which go with them.
SHIPPED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class Fix:
    """What to do about a Hugging Face path that diverges or raises: export, load, ship."""

    # The transformers release judged, and what it does to this model (one line).
    transformers: str
    cause: str
    # What the loaded tokenizer loses, in words ("drops byte fallback", ...).
    loses: tuple[str, ...]
    command: str
    outdir: str
    load: tuple[str, ...]
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @property
    def said(self) -> str:
        """The cause and what it loses, as one sentence."""
        if not self.loses:
            return self.cause
        loses = ", ".join(self.loses[:-1]) + " and " if len(self.loses) > 1 else ""
        return f"{self.cause}, which {loses}{self.loses[-1]}"


def suggested_outdir(model: str) -> str:
    """An OUTDIR for ``model`` (a path or a hub id): its last part, ``-tokcheck`` added."""
    name = PurePath(model.rstrip("/\\") or "tokenizer").name.removesuffix(".model")
    return f"{name or 'tokenizer'}-tokcheck"


def export_command(model: str, outdir: str | None = None) -> str:
    """``tokcheck export`` of ``model`` into ``outdir`` (by default the one
    :func:`suggested_outdir` gives), each word as a shell reads it back."""
    outdir = suggested_outdir(model) if outdir is None else outdir
    return f"tokcheck export {shell_word(model)} {shell_word(outdir)}"


def load_snippet(outdir: str) -> tuple[str, ...]:
    """The two lines that load an export with transformers."""
    return (
        "from transformers import AutoTokenizer",
        f"tok = AutoTokenizer.from_pretrained({json.dumps(outdir, ensure_ascii=False)})",
    )


def shipped(model_file: str) -> tuple[str, ...]:
    return (*SHIPPED, model_file, EXPORT_RECORD)


def fix(
    model: str,
    model_file: str,
    release: str,
    tallies: Sequence[Tally],
    raised: Sequence[Unavailable],
    *,
    byte_fallback: bool,
) -> Fix:
    """The fix for the Hugging Face paths ``tallies`` (those that failed) and ``raised``."""
    outdir = suggested_outdir(model)
    return Fix(
        transformers=release,
        cause=_cause(release, tallies, raised),
        loses=_losses(tallies, byte_fallback),
        command=export_command(model, outdir),
        outdir=outdir,
        load=load_snippet(outdir),
        files=shipped(model_file),
    )


def _cause(release: str, tallies: Sequence[Tally], raised: Sequence[Unavailable]) -> str:
    if raised:
        failed = ", ".join(u.name for u in raised)
        return f"transformers {release} cannot load it ({failed} raised)"
    by_name = {t.name: t for t in tallies}
    own = [t for t in tallies if t.same_as is None or t.same_as not in by_name]
    cls = short_class(own[0].cls) if own else "its tokenizer"
    every = len(own) == 1 and len(tallies) > 1
    if (slow := by_name.get("slow")) is not None and slow.same_as:
        what = (
            f"every path loads the same {cls}"
            if every
            else f"slow loads the same {short_class(slow.cls)} as {slow.same_as}"
        )
        return f"transformers {release} ignores use_fast=False: {what}"
    if every:
        return f"transformers {release}: every path loads the same {cls}"
    return f"transformers {release} loads {cls}"


def _losses(tallies: Sequence[Tally], byte_fallback: bool) -> tuple[str, ...]:
    """What the tallies' kinds say the loaded tokenizer loses, the gravest first."""

    def found(kind: str) -> int:
        return max((getattr(t, kind) for t in tallies), default=0)

    out: list[str] = []
    if not any(t.differing for t in tallies):  # only paths that raised: nothing to name
        return ()
    if found("unk_introduced") or found("special_introduced"):
        out.append(
            "drops byte fallback" if byte_fallback else "turns text into unknown or special ids"
        )
    if found("whitespace_collapsed"):
        out.append("collapses whitespace")
    if found("special_injected"):
        out.append("reads special tokens' names in text as control tokens")
    if not out:
        out.append(
            "gives other ids"
            if found("mismatched")
            else "decodes other text"
            if found("decode_mismatched")
            else "streams other text"
        )
    return tuple(out)
