"""The ``tokcheck`` command's parser: its commands, and the options each takes by group.

compare's flags are :mod:`tokcheck.options`' (shared with the pytest plugin); what the help says
besides them is :mod:`tokcheck.usage`'s. A usage error is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from tokcheck import options, usage
from tokcheck.convert.target import EXPORT_TARGETS
from tokcheck.errors import one_line
from tokcheck.report.view import FORMATS
from tokcheck.usage import EXIT_USAGE


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"tokcheck: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tokcheck", **usage.settings(None))
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, **usage.settings(name, help))

    _options(
        add(
            "inspect",
            help="summarise a sentencepiece model and its HF files, or a GGUF's tokenizer",
        ),
        "model",
    )
    _options(
        add("check", help="validate a model against its family's profile"),
        "model",
        "profile",
        "required",
        "format",
    )
    _options(add("profiles", help="list the built-in profiles"))
    p = add("compare", help="compare every Hugging Face loading path with sentencepiece")
    _options(p, "model", "profile", "format", "reports")
    options.add_options(p.add_argument)
    p = add("roundtrip", help="Hypothesis round-trip properties of the reference")
    _options(p, "model")
    p.add_argument(
        "--examples", type=options.count(1), default=1000, metavar="N", help="per property"
    )
    p.add_argument(
        "--seed", type=options.seed, default=0, metavar="S", help="seed (replays a failure)"
    )
    p = add("smoke", help="load the model, generate from its card's prompt, check the output")
    _options(p, "model", "profile", "smoke")
    p.add_argument("--seed", type=options.seed, default=0, metavar="S", help="sampling seed")
    p = add("export", help="write a verified, exact fast tokenizer for the model")
    _options(p, "model")
    p.add_argument("--strict", action="store_true", help="refuse on ties too")
    p.add_argument("outdir", metavar="OUTDIR", help="directory to write (must be new or empty)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a non-empty OUTDIR, and write even if verification finds divergences",
    )
    p.add_argument(
        "--examples", type=options.count(0), default=2000, metavar="N", help="strings verified"
    )
    p.add_argument(
        "--seed", type=options.seed, default=0, metavar="S", help="seed of those strings"
    )
    p.add_argument(
        "--show", type=options.count(0), default=3, metavar="K", help="counterexamples shown"
    )
    p.add_argument(
        "--target",
        choices=EXPORT_TARGETS,
        default=EXPORT_TARGETS[0],
        help="runtime the tokenizer.json is for and is verified in besides transformers: "
        "tokenizers (default), or transformers.js (needs node and @huggingface/tokenizers; a "
        "unigram model with byte fallback is written in byte-level form)",
    )
    p = add("gate", help="check + compare + roundtrip (+ smoke): one verdict for CI")
    _options(p, "model", "profile", "required", "smoke", "format", "reports")
    options.add_options(p.add_argument, min_examples=1)
    p.add_argument(
        "--junit", type=options.file_name, metavar="FILE", help="also write JUnit XML here"
    )
    p.add_argument("--smoke", action="store_true", help="also run the generation smoke test")
    return parser


def _options(p: argparse.ArgumentParser, *groups: str) -> None:
    """Options shared by several commands, by group; every command gets ``--json``."""
    if "model" in groups:
        p.add_argument("model", metavar="MODEL", help=".model file, HF directory, or hub id")
        p.add_argument("--revision", help="hub revision (branch, tag or commit) for a hub id")
    if "profile" in groups:
        choice = p.add_mutually_exclusive_group()
        choice.add_argument(
            "--profile",
            metavar="NAME|FILE",
            help="built-in profile name or TOML file (default: the family of the hub id, or "
            "the one family whose config.json model_type and vocab_size the directory has)",
        )
        choice.add_argument(
            "--no-profile",
            action="store_true",
            help="no family expectations: the generic checks only, and the pass carries that "
            "caveat" + ("" if "required" in groups else " (the default where none applies)"),
        )
    if "smoke" in groups:
        p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
        p.add_argument(
            "--dtype",
            choices=("auto", "float16", "bfloat16", "float32"),
            default="auto",
            help="auto: float16 on CUDA, float32 on CPU",
        )
        p.add_argument("--max-new-tokens", type=options.count(1), default=128, metavar="N")
        p.add_argument(
            "--random-weights",
            action="store_true",
            help="build the architecture from config.json with random weights",
        )
        p.add_argument(
            "--tiny",
            action="store_true",
            help="shrink to 2 layers x 64 hidden, same vocab (implies --random-weights)",
        )
    shown = p.add_mutually_exclusive_group() if "format" in groups else p
    shown.add_argument("--json", action="store_true", help="print JSON instead of tables")
    if "format" in groups:
        shown.add_argument(
            "--format",
            choices=FORMATS,
            default="text",
            help="text (default), json (= --json), github (workflow-command annotations), "
            "markdown (a summary), junit (XML)",
        )
        p.add_argument(
            "--output", type=options.file_name, metavar="FILE", help="write it to FILE instead"
        )
    if "reports" in groups:
        p.add_argument(
            "--html",
            type=options.file_name,
            metavar="FILE",
            help="also write a self-contained HTML report here (the verdict, the divergence "
            "kinds per candidate, the inputs, the counterexamples aligned side by side)",
        )
        p.add_argument(
            "--dump",
            type=options.file_name,
            metavar="FILE.jsonl",
            help="also write every diverging line here, one JSON object per line, in input "
            "order (not only the shortest counterexamples)",
        )
