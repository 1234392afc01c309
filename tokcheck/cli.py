"""The ``tokcheck`` command: parse arguments, call the library, render, pick the exit code.

Exit codes, for every command: 0 passed, 1 a check failed, 2 unusable input or usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from tokcheck import render
from tokcheck.errors import TokcheckError

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help=".model file, Hugging Face directory, or hub id")
    p.add_argument("--revision", help="hub revision (branch, tag or commit) for a hub id")


def _add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help="built-in profile name or TOML file (default: selected from the hub id, else none)",
    )


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tokcheck", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("inspect", help="summarise a sentencepiece model and its HF files")
    _add_model(p)
    _add_json(p)

    p = sub.add_parser("check", help="validate a model against its family's profile")
    _add_model(p)
    _add_profile(p)
    _add_json(p)

    p = sub.add_parser("profiles", help="list the built-in profiles")
    _add_json(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from tokcheck import __version__

        print(__version__)
        return EXIT_PASSED
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(_COMMANDS[args.command](args))
    except TokcheckError as e:
        print(f"tokcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tokcheck: interrupted", file=sys.stderr)
        return 130


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from tokcheck.proto import SentencePieceModel
    from tokcheck.resolve import resolve

    resolved = resolve(args.model, revision=args.revision)
    return resolved, SentencePieceModel.load(resolved.model_file)


def _profile(args: argparse.Namespace, resolved: Any) -> Any:
    from tokcheck.profiles import load_profile, profile_for_hub_id

    if args.profile:
        return load_profile(args.profile)
    return profile_for_hub_id(resolved.hub_id) if resolved.hub_id else None


def _cmd_inspect(args: argparse.Namespace) -> int:
    from tokcheck.inspection import inspect_model

    resolved, model = _load(args)
    report = inspect_model(resolved, model)
    if args.json:
        render.print_json(report)
        return EXIT_PASSED
    skip = {"whitespace_encodings", "tokenizer_config", "special_tokens_map", "config", "piece_types"}
    rows = [(k, v) for k, v in report.items() if k not in skip]
    rows += [(f"pieces of type {k}", v) for k, v in report["piece_types"].items()]
    rows += [(f"encode({s!r})", v) for s, v in (report["whitespace_encodings"] or {}).items()]
    print(render.table(("property", "value"), rows, title=f"sentencepiece model {report['source']}"))
    for name in ("tokenizer_config", "config"):
        if report[name]:
            print()
            print(render.table(("key", "value"), list(report[name].items()), title=f"{name}.json"))
    return EXIT_PASSED


def _cmd_check(args: argparse.Namespace) -> int:
    from tokcheck.checks import run_checks

    resolved, model = _load(args)
    report = run_checks(model, resolved, _profile(args, resolved))
    if args.json:
        render.print_json(report.to_dict())
    else:
        rows = [("PASS" if c.passed else "FAIL", c.name, c.expected, c.actual) for c in report.checks]
        print(render.table(("", "check", "expected", "actual"), rows,
                           title=f"{report.source} — profile: {report.profile or 'none (generic checks only)'}"))
        for s in report.skipped:
            print(f"skipped {s.name}: {s.reason}")
        for c in report.checks:
            if not c.passed:
                print(f"FAIL {c.name}: {c.message}")
        print("passed" if report.passed else f"failed: {', '.join(report.failed)}")
    return EXIT_PASSED if report.passed else EXIT_FAILED


def _cmd_profiles(args: argparse.Namespace) -> int:
    from tokcheck.profiles import BUILTIN_PROFILES

    if args.json:
        render.print_json([p.to_dict() for p in BUILTIN_PROFILES.values()])
        return EXIT_PASSED
    rows = [
        (p.name, p.vocab_size, p.byte_fallback, p.add_dummy_prefix, p.remove_extra_whitespaces,
         len(p.members), p.source)
        for p in BUILTIN_PROFILES.values()
    ]
    headers = ("profile", "pieces", "byte_fallback", "dummy_prefix", "remove_ws", "members", "model card")
    print(render.table(headers, rows))
    return EXIT_PASSED


_COMMANDS = {"inspect": _cmd_inspect, "check": _cmd_check, "profiles": _cmd_profiles}


if __name__ == "__main__":
    sys.exit(main())
