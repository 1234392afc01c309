"""The flags of a compare run, defined once for ``tokcheck compare``, ``tokcheck gate`` and the
pytest plugin.

:func:`add_options` adds them through any ``addoption``-shaped function: argparse's
``add_argument`` with the prefix ``--`` (``--corpus``), pytest's ``addoption`` with ``--tokcheck-``
(``--tokcheck-corpus``), as pytest-benchmark shares its options. :func:`compare_options` turns
the parsed values back into :class:`~tokcheck.compare.options.CompareOptions`, whose defaults
are the flags' defaults, and :func:`engine` into the engine the corpora are judged on.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokcheck.candidates.registry import CANDIDATE_NAMES
from tokcheck.compare.options import DEFAULT_EXAMPLES, DEFAULT_SHOW, CompareOptions
from tokcheck.errors import TokcheckError
from tokcheck.inputs.conversations import DEFAULT_CONVERSATIONS
from tokcheck.inputs.corpus import DEFAULT_FIELD, check_corpora, is_url
from tokcheck.judge.stream_check import BUDGET, UNLIMITED
from tokcheck.parallel.engine import MAX_JOBS, Engine, Local


def count(minimum: int) -> Callable[[str], int]:
    """A parser of integers at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def jobs(text: str) -> int:
    value = count(1)(text)
    if value > MAX_JOBS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_JOBS}, got {value}")
    return value


def stream_budget(text: str) -> int:
    return UNLIMITED if text == "all" else count(1)(text)


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text}")
    return value


def seed(text: str) -> int:
    value = count(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be < 2**32, got {value}")
    return value


def file_name(text: str) -> str:
    """A report file's name as given: not empty, and not ``-`` (which other tools read as
    stdout, where the report goes without --output; a file of that name is ./-)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty file name: give the path of a file")
    if text == "-":
        raise argparse.ArgumentTypeError(
            "'-': the report goes to stdout without --output; for a file named -, give ./-"
        )
    return text


@dataclass(frozen=True)
class Flag:
    """One flag: its name after the prefix, and what ``addoption`` is told of it."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


def _flags(min_examples: int) -> list[Flag]:
    return [
        Flag(
            "corpus",
            dict(
                action="append",
                default=[],
                metavar="FILE|URL",
                help="corpus (repeatable), a path or an fsspec URL (file://, s3://, ...): text, "
                "one input per line; .gz/.zst compressed; .jsonl[.gz|.zst]; .parquet",
            ),
        ),
        Flag(
            "field",
            dict(
                default=DEFAULT_FIELD,
                metavar="NAME",
                help="the JSONL key or Parquet column holding the text (default: %(default)s)",
            ),
        ),
        Flag(
            "examples",
            dict(
                type=count(min_examples),
                default=DEFAULT_EXAMPLES,
                metavar="N",
                help="generated strings"
                + (" (and examples per round-trip property)" if min_examples else "")
                + " (default: %(default)s)",
            ),
        ),
        Flag(
            "seed",
            dict(type=seed, default=0, metavar="S", help="seed of the generated inputs"),
        ),
        Flag(
            "candidate",
            dict(
                action="append",
                metavar="NAME",
                help=f"only this candidate (repeatable): {', '.join(CANDIDATE_NAMES)}",
            ),
        ),
        Flag(
            "prompts",
            dict(
                type=count(0),
                default=DEFAULT_CONVERSATIONS,
                metavar="N",
                help="generated conversations judged as the card's prompts, in the profile's "
                "format (both formats without a profile), and checked through the card's "
                "decode clean-up (default: %(default)s)",
            ),
        ),
        Flag(
            "exhaustive",
            dict(
                action="store_true",
                help="also every assigned code point below U+30000 (alone and between spaces), "
                "every piece decoded and re-encoded, and every special name in whitespace "
                "variants (generated as judged: memory stays flat)",
            ),
        ),
        Flag(
            "show",
            dict(
                type=count(0),
                default=DEFAULT_SHOW,
                metavar="K",
                help="counterexamples shown per candidate (default: %(default)s)",
            ),
        ),
        Flag(
            "strict",
            dict(
                action="store_true",
                help="fail every caveat too: ties, unstreamed lines, skipped records, no profile",
            ),
        ),
        Flag(
            "jobs",
            dict(
                type=jobs,
                default=os.cpu_count() or 1,
                metavar="N",
                help="processes judging the corpora and the --exhaustive lines (the generated "
                "lines are judged in the main process first), each loading the model and the "
                "candidates once; with --engine dask, the local cluster's workers. The findings "
                "are the same for every N (default: this machine's cores, %(default)s)",
            ),
        ),
        Flag(
            "engine",
            dict(
                choices=("local", "dask"),
                default="local",
                help="where the corpora are judged: local processes (--jobs of them), or a Dask "
                "distributed cluster (needs tokcheck[cluster]; a local one of --jobs workers "
                "unless --scheduler names one); the findings are the same either way",
            ),
        ),
        Flag(
            "scheduler",
            dict(
                metavar="ADDRESS",
                help="only with --engine dask: a running cluster's scheduler (tcp://HOST:8786), "
                "reached before anything runs (10 s timeout); its workers read the corpora "
                "themselves, from paths they see or fsspec URLs (s3://..., gs://...)",
            ),
        ),
        Flag(
            "stream-budget",
            dict(
                type=stream_budget,
                default=None,
                metavar="N|all",
                help=f"ids streamed per candidate at most, in input order (default {BUDGET}; "
                "lines left over are a caveat); all: stream every line that needs it",
            ),
        ),
        Flag(
            "gguf",
            dict(
                action="append",
                default=[],
                type=file_name,
                metavar="FILE",
                help="a GGUF of this model (repeatable): its tokenizer metadata is checked "
                "against the model, and with llama-cpp-python installed (tokcheck[llama]) "
                "llama.cpp's candidates (llama.cpp, llama-cpp-python, llama-server) run it",
            ),
        ),
        Flag(
            "max-skipped",
            dict(
                type=share,
                default=None,
                metavar="FRACTION",
                help="fail when more than this share of the corpus records cannot be judged and "
                "are skipped (default: any share passes, with a caveat)",
            ),
        ),
    ]


def add_options(
    addoption: Callable[..., Any], prefix: str = "--", *, min_examples: int = 0
) -> None:
    """Add every flag of a compare run through ``addoption``, each named ``prefix + name`` and
    stored under that name with ``-`` as ``_`` (``--tokcheck-max-skipped``:
    ``tokcheck_max_skipped``)."""
    dest = prefix.lstrip("-").replace("-", "_")
    for flag in _flags(min_examples):
        addoption(prefix + flag.name, dest=dest + flag.dest, **flag.settings)


def compare_options(get: Callable[[str], Any]) -> CompareOptions:
    """The options the parsed flags name; ``get(name)`` is a flag's value (``max_skipped``).
    The corpora are checked here, before any long work."""
    corpora = [c if is_url(c) else Path(c) for c in get("corpus")]
    return CompareOptions(
        corpora=check_corpora(corpora, get("field")),
        field=get("field"),
        examples=get("examples"),
        seed=get("seed"),
        candidates=get("candidate"),
        prompts=get("prompts"),
        exhaustive=get("exhaustive"),
        show=get("show"),
        strict=get("strict"),
        jobs=get("jobs"),
        stream_budget=get("stream_budget"),
        max_skipped=get("max_skipped"),
        ggufs=[Path(g) for g in get("gguf")],
    )


def engine(get: Callable[[str], Any]) -> Engine:
    """The engine the corpora are judged on (:mod:`tokcheck.parallel.engine`,
    :mod:`tokcheck.parallel.cluster`)."""
    if get("scheduler") and get("engine") != "dask":
        raise TokcheckError("--scheduler names a Dask scheduler: use it with --engine dask")
    if get("engine") == "dask":
        from tokcheck.parallel.cluster import Dask

        return Dask(get("scheduler"), get("jobs"))
    return Local(get("jobs"))


def smoke_runner(get: Callable[[str], Any], resolved: Any, model: Any, profile: Any) -> Any:
    """The smoke test the parsed flags (``--device``, ``--dtype``...) ask for, to run later;
    ``get(name)`` is a flag's value."""
    from tokcheck.smoke.run import run_smoke

    return lambda: run_smoke(
        resolved,
        model,
        profile,
        device=get("device"),
        dtype=get("dtype"),
        max_new_tokens=get("max_new_tokens"),
        random_weights=get("random_weights"),
        tiny=get("tiny"),
        seed=get("seed"),
    )
