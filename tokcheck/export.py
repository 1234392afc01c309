"""Export a sentencepiece model as a Hugging Face fast tokenizer that encodes exactly like it.

:func:`export` converts the model (:mod:`tokcheck.convert`), verifies the result with the one
judge (:mod:`tokcheck.judge`, run by :func:`tokcheck.compare.judge_lines`) both in memory and
through ``transformers.AutoTokenizer`` on the written files, and only then moves the directory
into place (:mod:`tokcheck.atomic`). It writes ``tokenizer.json``, ``tokenizer_config.json``,
``special_tokens_map.json``, a copy of the ``.model`` and ``tokcheck_export.json``, the record
of what was verified, by which ``compare`` knows a directory is already tokcheck's export.

Ties (see :mod:`tokcheck.judge`) do not stop an export unless ``strict``; they are counted in
the result and the record. Any other difference refuses the export unless ``force``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokcheck import atomic
from tokcheck.candidates import (
    from_tokenizers,
    from_transformers,
    native_stdout_silenced,
    quiet_transformers,
)
from tokcheck.compare import EXPORT_RECORD, judge_lines
from tokcheck.convert import Converter
from tokcheck.errors import ExportRefusedError, OutputError, TokcheckError, one_line
from tokcheck.judge import Tally
from tokcheck.probes import hazard_texts, numbered, sample_texts, symbol_texts
from tokcheck.proto import SentencePieceModel

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from tokcheck.resolve import ResolvedModel

# Generated strings checked by export() besides the caller's texts (the CLI's default too).
DEFAULT_EXAMPLES = 2000


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` verified, and what it wrote (nothing when refused)."""

    source: str
    outdir: str
    files: tuple[str, ...]
    model_type: str
    lines: int
    # One tally per verified path: "tokenizers" (the built Tokenizer), "transformers"
    # (AutoTokenizer on the written files) and "transformers+special" (its plain encode()).
    tallies: tuple[Tally, ...]
    forced: bool
    strict: bool
    written: bool

    @property
    def passed(self) -> bool:
        return all(t.passed(self.strict) for t in self.tallies)

    @property
    def status(self) -> str:
        """``exact``, ``ties`` or ``diverged``, the worst over the verified paths."""
        statuses = {t.status for t in self.tallies}
        return next((s for s in ("diverged", "ties") if s in statuses), "exact")

    @property
    def tie(self) -> int:
        return max((t.tie for t in self.tallies), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "written": self.written,
            "source": self.source,
            "outdir": self.outdir,
            "files": list(self.files),
            "model_type": self.model_type,
            "lines": self.lines,
            "tie": self.tie,
            "forced": self.forced,
            "strict": self.strict,
            "tallies": [t.to_dict(self.strict) for t in self.tallies],
        }


def export(
    resolved: ResolvedModel,
    model: SentencePieceModel,
    outdir: Path,
    *,
    force: bool = False,
    strict: bool = False,
    texts: list[str] | tuple[str, ...] = (),
    examples: int = DEFAULT_EXAMPLES,
    seed: int = 0,
    verify: bool = True,
    show: int = 3,
) -> ExportResult:
    """Write ``model`` as a Hugging Face tokenizer directory ``outdir`` and return what was done.

    ``texts`` plus ``examples`` generated strings are judged against sentencepiece, with the
    built Tokenizer and with ``AutoTokenizer`` on the written files, before ``outdir`` appears.
    A failed verdict raises ExportRefusedError (carrying the result) unless ``force``, which
    also replaces an existing non-empty ``outdir`` (otherwise OutputError). The directory is
    built beside ``outdir`` and renamed into place, so it is never left half-written.
    """
    outdir = Path(outdir)
    _refuse_own_sources(outdir, model, resolved)
    model.require_text("export it")
    model.processor  # noqa: B018  (the reference must load: a refusal is one line, exit 2)
    atomic.check_outdir(outdir, force)
    converter = Converter(model)
    tokenizer = converter.build()
    lines = _verification_texts(model, converter, texts, examples, seed) if verify else []
    staging = atomic.staging_dir(outdir)
    try:
        files = _write_files(staging, model, resolved, tokenizer)
        tallies = _verify(model, tokenizer, staging, lines, show) if verify else ()
        result = ExportResult(
            source=str(model.path),
            outdir=str(outdir),
            files=(*files, EXPORT_RECORD),
            model_type="unigram" if model.proto.trainer_spec.model_type == 1 else "bpe",
            lines=len(lines),
            tallies=tallies,
            forced=force,
            strict=strict,
            written=False,
        )
        if not result.passed and not force:
            refused = [t for t in tallies if not t.passed(strict)]
            raise ExportRefusedError(
                f"{model.path}: the exported tokenizer is not exact "
                f"({'; '.join(f'{t.name}: {t.summary()}' for t in refused)}); "
                "nothing written (--force writes it anyway)",
                result,
            )
        _write_record(staging / EXPORT_RECORD, model, result)
        atomic.move_into_place(staging, outdir, force)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dataclasses.replace(result, written=True)


def _verification_texts(
    model: SentencePieceModel,
    converter: Converter,
    texts: list[str] | tuple[str, ...],
    examples: int,
    seed: int,
) -> list[str]:
    """The caller's texts, ``examples`` generated strings and as many rich in user-defined
    symbols, and every name the tokenizer must not take for its id (see :mod:`tokcheck.bpe`)."""
    return [
        *texts,
        *sample_texts(model, examples, seed),
        *symbol_texts(model, examples, seed),
        *hazard_texts(model, converter.hazards.residual),
    ]


def _refuse_own_sources(outdir: Path, model: SentencePieceModel, resolved: ResolvedModel) -> None:
    """Refuse an OUTDIR that is, or holds, what is being exported: replacing it would delete
    the model (and whatever lies beside it, weights included)."""
    target = outdir.resolve()
    sources = [
        model.path.resolve(),
        *([resolved.directory.resolve()] if resolved.directory else []),
    ]
    for source in sources:
        if source == target or source.is_relative_to(target):
            raise OutputError(
                f"{outdir}: holds the model being exported ({model.path}); write the export to "
                "a new directory"
            )


def _verify(
    model: SentencePieceModel, tokenizer: Tokenizer, directory: Path, lines: list[str], show: int
) -> tuple[Tally, ...]:
    """The judge's tallies for the built tokenizer and for transformers on the written files."""
    try:
        with quiet_transformers() as transformers, native_stdout_silenced():
            loaded = transformers.AutoTokenizer.from_pretrained(str(directory))
    except Exception as e:
        raise TokcheckError(
            f"{model.path}: transformers cannot load the exported files ({type(e).__name__}: "
            f"{one_line(str(e))}); is config.json beside the model valid?"
        ) from e
    candidates = [
        from_tokenizers("tokenizers", tokenizer, "tokenizers.Tokenizer (tokcheck export)"),
        from_transformers("transformers", loaded),
        from_transformers("transformers+special", loaded, add_special_tokens=True),
    ]
    return tuple(judge_lines(model, candidates, numbered(lines), show=show))


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


def _write_record(path: Path, model: SentencePieceModel, result: ExportResult) -> None:
    """The human-readable record of the export: what it came from and what was verified."""
    from tokcheck import __version__

    _write_json(
        path,
        {
            "tokcheck": __version__,
            "source": model.path.name,
            "source_sha256": hashlib.sha256(model.data).hexdigest(),
            "status": result.status,
            "lines": result.lines,
            "forced": result.forced,
            "verified": {t.name: {"lines": t.lines, **t.counts()} for t in result.tallies},
        },
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
