"""Export a sentencepiece model as a Hugging Face fast tokenizer that encodes exactly like it.

:func:`export` converts the model (:mod:`tokcheck.convert.converter`), verifies the result with the one
judge (:mod:`tokcheck.judge.lines`, run by :func:`tokcheck.parallel.runner.judge_lines`) both in memory and
through ``transformers.AutoTokenizer`` on the written files, and only then moves the directory
into place (:mod:`tokcheck.system.atomic`). It writes ``tokenizer.json``, ``tokenizer_config.json``,
``special_tokens_map.json``, a copy of the ``.model`` and ``tokcheck_export.json``, the record
of what was verified, by which ``compare`` knows a directory is already tokcheck's export.

The source directory's special-token settings are kept (:class:`KeptSpecials`): its bos, eos,
unk and pad tokens, ``add_bos_token`` and ``add_eos_token`` (written as the post-processor,
which both transformers lines honour) and the tokens of ``added_tokens.json`` past the
vocabulary, at their ids. Special tokens in text still encode as sentencepiece encodes them,
as text (``split_special_tokens``); a plain ``encode(text)`` is judged against sentencepiece's
ids with the bos and eos the directory asks for.

Ties (see :mod:`tokcheck.judge.lines`) do not stop an export unless ``strict``; they are counted in
the result and the record. Any other difference refuses the export unless ``force``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokcheck import verdict
from tokcheck.candidates import jsruntime
from tokcheck.candidates.base import native_stdout_silenced
from tokcheck.candidates.hf import from_tokenizers, from_transformers, quiet_transformers
from tokcheck.convert.target import (
    EXPORT_RECORD,
    EXPORT_TARGETS,
    KeptSpecials,
    build_for,
    tokenizer_config,
)
from tokcheck.errors import ExportRefusedError, OutputError, TokcheckError, one_line
from tokcheck.inputs.probes import numbered, verification_lines
from tokcheck.judge.tally import Tally
from tokcheck.model.hfconfig import ADDED_TOKENS
from tokcheck.model.hftokens import read_hf_tokens
from tokcheck.model.proto import SentencePieceModel
from tokcheck.model.resolve import MODEL_FILENAMES
from tokcheck.parallel.runner import Line, judge_lines
from tokcheck.system import atomic

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from tokcheck.model.resolve import ResolvedModel

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
    target: str = EXPORT_TARGETS[0]

    @property
    def caveats(self) -> list[str]:
        """The verified paths' ties: a pass with them is a pass with caveats."""
        return [w for t in self.tallies if (w := t.tie_warning(self.strict))]

    @property
    def verdict(self) -> str:
        diverged = any(t.diverged for t in self.tallies)
        return verdict.decide(diverged, self.caveats, self.strict)

    @property
    def passed(self) -> bool:
        return self.verdict != verdict.FAILED

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
            "verdict": self.verdict,
            "caveats": self.caveats,
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
            "target": self.target,
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
    target: str = EXPORT_TARGETS[0],
) -> ExportResult:
    """Write ``model`` as a Hugging Face tokenizer directory ``outdir`` and return what was done.

    ``texts`` plus ``examples`` generated strings are judged against sentencepiece, with the
    built Tokenizer and with ``AutoTokenizer`` on the written files, before ``outdir`` appears.
    A failed verdict raises ExportRefusedError (carrying the result) unless ``force``, which
    also replaces an existing non-empty ``outdir`` (otherwise OutputError). The directory is
    built beside ``outdir`` and renamed into place, so it is never left half-written.

    ``target`` ``transformers.js`` also verifies the written files in transformers.js (in node:
    see :mod:`tokcheck.candidates.jsruntime`, which must be installed), and writes a unigram model with
    byte fallback in the byte-level form transformers.js runs (:mod:`tokcheck.convert.bytelevel`).
    """
    if target not in EXPORT_TARGETS:
        raise TokcheckError(
            f"unknown export target {target!r}; choose from {', '.join(EXPORT_TARGETS)}"
        )
    outdir = Path(outdir)
    _refuse_own_sources(outdir, model, resolved, force)
    model.require_text("export it")
    model.processor  # noqa: B018  (the reference must load: a refusal is one line, exit 2)
    atomic.check_outdir(outdir, force)
    specials = KeptSpecials.of(model, read_hf_tokens(resolved, model))
    tokenizer = specials.apply(build_for(model, target))
    if target == "transformers.js":
        jsruntime.require()  # verification runs it: missing, one line before the long work
    if verify:
        lines = [*numbered(texts), *verification_lines(model, examples, seed, "line", len(texts))]
    else:
        lines = []
    staging = atomic.staging_dir(outdir)
    try:
        try:
            files = _write_files(staging, model, resolved, tokenizer, specials)
        except OSError as e:
            raise atomic.write_error(outdir, e) from e
        tallies = (
            _verify(model, tokenizer, staging, lines, show, specials, target) if verify else ()
        )
        result = ExportResult(
            source=str(model.path),
            outdir=str(outdir),
            files=(*files, EXPORT_RECORD),
            model_type={1: "unigram", 2: "bpe", 4: "char"}.get(
                model.proto.trainer_spec.model_type, "?"
            ),
            lines=len(lines),
            tallies=tallies,
            forced=force,
            strict=strict,
            written=False,
            target=target,
        )
        if not result.passed and not force:
            refused = [t for t in tallies if not t.passed(strict)]
            raise ExportRefusedError(
                f"{model.path}: the exported tokenizer is not exact "
                f"({'; '.join(f'{t.name}: {t.summary()}' for t in refused)}); "
                "nothing written (--force writes it anyway)",
                result,
            )
        try:
            _write_record(staging / EXPORT_RECORD, model, result, specials, examples, seed)
        except OSError as e:
            raise atomic.write_error(outdir, e) from e
        atomic.move_into_place(staging, outdir, force)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dataclasses.replace(result, written=True)


def _refuse_own_sources(
    outdir: Path, model: SentencePieceModel, resolved: ResolvedModel, force: bool
) -> None:
    """Refuse an OUTDIR that is, or holds, what is being exported: replacing it would delete
    the model (and whatever lies beside it, weights included).

    Files are compared by identity (device and inode), not by path, so a bind mount, a second
    mount of the same file system, a symlinked parent or a hard link is seen through: OUTDIR
    must be none of the model's directories or their ancestors, and nothing under it (which
    ``force`` would delete) may be the model file, its directory or a file in that directory.
    """
    refused = OutputError(
        f"{outdir}: holds the model being exported ({model.path}); write the export to a new "
        "directory"
    )
    sources = [model.path, *([resolved.directory] if resolved.directory else [])]
    try:
        stat = outdir.stat()
    except OSError:
        return  # nothing there yet (or unreadable: check_outdir says so)
    target = stat.st_dev, stat.st_ino
    reals = [source.resolve() for source in sources]
    if any(_identity(a) == target for real in reals for a in (real, *real.parents)):
        raise refused
    own = {_identity(real) for real in reals}
    if not force:
        return  # a non-empty OUTDIR is refused, and an empty one holds nothing
    if resolved.directory is not None:
        own |= _entries(resolved.directory)
    for root, dirs, files in os.walk(outdir):
        for name in (*dirs, *files):
            try:
                if _identity(Path(root, name)) in own:
                    raise refused
            except FileNotFoundError:
                continue


def _entries(directory: Path) -> set[tuple[int, int]]:
    """The identities of the files in ``directory`` and of the files its links point to."""
    found = set()
    try:
        for entry in directory.iterdir():
            found.add(_identity(entry))
            if entry.is_file():
                found.add((entry.stat().st_dev, entry.stat().st_ino))
    except OSError:
        pass
    return found


def _identity(path: Path) -> tuple[int, int]:
    """(st_dev, st_ino) of ``path`` itself, a link not followed."""
    stat = path.lstat()
    return stat.st_dev, stat.st_ino


def _verify(
    model: SentencePieceModel,
    tokenizer: Tokenizer,
    directory: Path,
    lines: list[Line],
    show: int,
    specials: KeptSpecials,
    target: str,
) -> tuple[Tally, ...]:
    """The judge's tallies for the built tokenizer and for transformers on the written files;
    ``encode(text)`` is judged against the reference ids with the bos and eos kept. For the
    transformers.js target, that runtime on the written files too."""
    try:
        with quiet_transformers() as transformers, native_stdout_silenced():
            loaded = transformers.AutoTokenizer.from_pretrained(str(directory))
    except Exception as e:
        raise TokcheckError(
            f"{model.path}: transformers cannot load the exported files ({type(e).__name__}: "
            f"{one_line(str(e))}); is config.json beside the model valid?"
        ) from e
    specials.require_ids(model, loaded)
    candidates = [
        from_tokenizers("tokenizers", tokenizer, "tokenizers.Tokenizer (tokcheck export)"),
        from_transformers("transformers", loaded),
        from_transformers(
            "transformers+special", loaded, add_special_tokens=True, added=specials.added_ids
        ),
    ]
    if target == "transformers.js":
        written = (directory / "tokenizer.json").read_text("utf-8")
        config = json.loads((directory / "tokenizer_config.json").read_text("utf-8"))
        candidates.append(jsruntime.candidate("transformers.js", written, config))
    return tuple(judge_lines(model, candidates, lines, show=show))


def _write_files(
    staging: Path,
    model: SentencePieceModel,
    resolved: ResolvedModel,
    tokenizer: Tokenizer,
    specials: KeptSpecials,
) -> list[str]:
    names = {key: content for key, (content, _) in specials.tokens.items()}
    config = tokenizer_config(resolved, specials)
    try:
        tokenizer.save(str(staging / "tokenizer.json"))
    except Exception as e:  # tokenizers raises plain Exception, "... (os error 28)"
        if code := re.search(r"os error (\d+)", str(e)):
            raise OSError(int(code[1]), os.strerror(int(code[1]))) from e
        raise
    _write_json(staging / "tokenizer_config.json", config)
    _write_json(staging / "special_tokens_map.json", names)
    files = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    if specials.added_tokens:
        _write_json(staging / ADDED_TOKENS, dict(specials.added_tokens))
        files.append(ADDED_TOKENS)
    # A name resolve() finds, so that compare OUTDIR judges the export against this model.
    model_name = model.path.name if model.path.name in MODEL_FILENAMES else "tokenizer.model"
    (staging / model_name).write_bytes(model.data)
    files.append(model_name)
    if resolved.directory is not None:
        for name in ("config.json", "generation_config.json"):
            if (resolved.directory / name).is_file():
                shutil.copyfile(resolved.directory / name, staging / name)
                files.append(name)
    return files


def _write_record(
    path: Path,
    model: SentencePieceModel,
    result: ExportResult,
    specials: KeptSpecials,
    examples: int,
    seed: int,
) -> None:
    """The human-readable record of the export: what it came from and what was verified."""
    from tokcheck.provenance import __version__

    _write_json(
        path,
        {
            "tokcheck": __version__,
            "source": model.path.name,
            "source_sha256": hashlib.sha256(model.data).hexdigest(),
            "status": result.status,
            "lines": result.lines,
            # What was verified beside the probes (tokcheck.inputs.probes.verification_texts): compare
            # and gate judge the directory on the same lines.
            "examples": examples,
            "seed": seed,
            "forced": result.forced,
            "target": result.target,
            "add_bos_token": specials.add_bos_token,
            "add_eos_token": specials.add_eos_token,
            "special_tokens": {k: {"content": c, "id": i} for k, (c, i) in specials.tokens.items()},
            "verified": {t.name: {"lines": t.lines, **t.counts()} for t in result.tallies},
        },
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
