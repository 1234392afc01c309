"""The ``tokcheck`` command: parse arguments, call the library, render, pick the exit code.

Exit codes, for every command: 0 passed, 1 a check failed, 2 unusable input or usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from tokcheck import render
from tokcheck.candidates import CANDIDATE_NAMES
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

    p = sub.add_parser("compare", help="compare every Hugging Face loading path with sentencepiece")
    _add_model(p)
    _add_inputs(p)
    p.add_argument(
        "--candidate",
        action="append",
        metavar="NAME",
        help=f"only this candidate (repeatable): {', '.join(CANDIDATE_NAMES)}",
    )
    p.add_argument(
        "--show", type=_positive, default=5, metavar="K", help="examples shown per candidate"
    )
    _add_json(p)

    p = sub.add_parser("roundtrip", help="Hypothesis round-trip properties of the reference")
    _add_model(p)
    p.add_argument(
        "--examples", type=_positive, default=1000, metavar="N", help="examples per property"
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="Hypothesis seed (replays a failure)"
    )
    _add_json(p)

    p = sub.add_parser(
        "smoke", help="load the model, generate from its card's prompt, check the output"
    )
    _add_model(p)
    _add_profile(p)
    _add_smoke_options(p)
    p.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed")
    _add_json(p)

    p = sub.add_parser("export", help="write a verified, exact fast tokenizer for the model")
    _add_model(p)
    p.add_argument("outdir", metavar="OUTDIR", help="directory to write (must be new or empty)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a non-empty OUTDIR, and write even if verification finds divergences",
    )
    p.add_argument(
        "--examples", type=_positive, default=2000, metavar="N", help="generated strings verified"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the generated strings")
    _add_json(p)

    p = sub.add_parser("gate", help="check + compare + roundtrip (+ smoke): one verdict for CI")
    _add_model(p)
    _add_profile(p)
    _add_inputs(p)
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    p.add_argument("--smoke", action="store_true", help="also run the generation smoke test")
    _add_smoke_options(p)
    _add_json(p)
    return parser


def _add_smoke_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument(
        "--dtype",
        choices=("auto", "float16", "bfloat16", "float32"),
        default="auto",
        help="auto: float16 on CUDA, float32 on CPU",
    )
    p.add_argument("--max-new-tokens", type=_positive, default=128, metavar="N")
    p.add_argument(
        "--random-weights",
        action="store_true",
        help="build the architecture from config.json with random weights (no weights needed)",
    )
    p.add_argument(
        "--tiny",
        action="store_true",
        help="shrink to 2 layers x 64 hidden, same vocab (implies --random-weights)",
    )


def _smoke_runner(args: argparse.Namespace, resolved: Any, model: Any, profile: Any) -> Any:
    from tokcheck.smoke import run_smoke

    return lambda: run_smoke(
        resolved,
        model,
        profile,
        device=args.device,
        dtype=args.dtype,
        max_new_tokens=args.max_new_tokens,
        random_weights=args.random_weights,
        tiny=args.tiny,
        seed=args.seed,
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tokcheck.errors import ExportRefusedError
    from tokcheck.export import export
    from tokcheck.probes import BUILTIN_PROBES

    resolved, model = _load(args)
    try:
        result = export(
            model,
            resolved,
            Path(args.outdir),
            force=args.force,
            texts=BUILTIN_PROBES,
            examples=args.examples,
            seed=args.seed,
        )
    except ExportRefusedError as e:
        print(f"tokcheck: refused: {e}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        render.print_json(result.to_dict())
        return EXIT_PASSED if result.ties_only else EXIT_FAILED
    ties = sum(d.tie for d in result.divergences)
    real = len(result.divergences) - ties
    print(f"wrote {result.outdir}: {', '.join(result.files)}")
    if result.exact:
        verdict = "exact"
    elif not real:
        verdict = f"exact except {ties} float32 ties (sentencepiece rounds path scores)"
    else:
        verdict = f"{real} divergences (written with --force)"
    print(f"verified against sentencepiece on {result.texts_checked} texts: {verdict}")
    for d in result.divergences[:5]:
        print(f"  {d.describe()}")
    return EXIT_PASSED if result.ties_only else EXIT_FAILED


def _cmd_smoke(args: argparse.Namespace) -> int:
    resolved, model = _load(args)
    report = _smoke_runner(args, resolved, model, _profile(args, resolved))()
    if args.json:
        render.print_json(report.to_dict())
        return EXIT_PASSED if report.passed else EXIT_FAILED
    figures = [
        ("weights", report.weights),
        ("device", report.device),
        ("dtype", report.dtype),
        ("parameters", f"{report.parameters:,}" if report.parameters else None),
        ("load s", report.load_s),
        ("prompt tokens", report.prompt_tokens),
        ("new tokens", report.new_tokens),
        ("warm-up generate s", report.warmup_s),
        ("timed generate s", report.generate_s),
        ("tokens/s", report.tokens_per_s),
        ("peak GPU memory bytes", report.peak_gpu_memory_bytes),
    ]
    title = (
        f"smoke {report.directory} — profile: {report.profile or 'none'} ({report.prompt_format})"
    )
    print(render.table(("figure", "value"), figures, title=title))
    print(f"\nprompt: {report.prompt!r}\noutput: {report.output!r}\n")
    if report.losses is not None:
        rows = [
            (r["path"], r.get("class", "-"), r.get("ids"), r.get("same_ids"), r.get("loss"))
            if "error" not in r
            else (r["path"], r["error"], None, None, None)
            for r in report.losses
        ]
        headers = ("path", "class", "ids", "same ids", "loss")
        print(render.table(headers, rows, title="teacher-forced loss of a short reference text"))
        print()
    print(render_checks(report))
    return EXIT_PASSED if report.passed else EXIT_FAILED


def render_checks(report: Any, *, title: str | None = None) -> str:
    """A check table, the skipped checks, what to do about each failure, and the verdict."""
    rows = [("PASS" if c.passed else "FAIL", c.name, c.expected, c.actual) for c in report.checks]
    out = [render.table(("", "check", "expected", "actual"), rows, title=title)]
    out += [f"skipped {s.name}: {s.reason}" for s in report.skipped]
    out += [f"FAIL {c.name}: {c.message}" for c in report.checks if not c.passed]
    out.append("passed" if report.passed else f"failed: {', '.join(report.failed)}")
    return "\n".join(out)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--corpus",
        action="append",
        default=[],
        metavar="FILE",
        help="UTF-8 text, one input per line (repeatable)",
    )
    p.add_argument(
        "--examples", type=_positive, default=1000, metavar="N", help="Hypothesis-generated strings"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="Hypothesis seed")


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
    except BrokenPipeError:
        # The reader went away (`tokcheck inspect MODEL | head`): stop quietly, as cat does.
        # Point stdout at devnull so the interpreter's final flush cannot fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


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
    skip = {
        "whitespace_encodings",
        "tokenizer_config",
        "special_tokens_map",
        "config",
        "piece_types",
    }
    rows = [(k, v) for k, v in report.items() if k not in skip]
    rows += [(f"pieces of type {k}", v) for k, v in report["piece_types"].items()]
    rows += [(f"encode({s!r})", v) for s, v in (report["whitespace_encodings"] or {}).items()]
    print(
        render.table(("property", "value"), rows, title=f"sentencepiece model {report['source']}")
    )
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
        title = f"{report.source} — profile: {report.profile or 'none (generic checks only)'}"
        print(render_checks(report, title=title))
    return EXIT_PASSED if report.passed else EXIT_FAILED


def _cmd_profiles(args: argparse.Namespace) -> int:
    from tokcheck.profiles import BUILTIN_PROFILES

    if args.json:
        render.print_json([p.to_dict() for p in BUILTIN_PROFILES.values()])
        return EXIT_PASSED
    rows = [
        (
            p.name,
            p.vocab_size,
            p.byte_fallback,
            p.add_dummy_prefix,
            p.remove_extra_whitespaces,
            len(p.members),
            p.source,
        )
        for p in BUILTIN_PROFILES.values()
    ]
    headers = (
        "profile",
        "pieces",
        "byte_fallback",
        "dummy_prefix",
        "remove_ws",
        "members",
        "model card",
    )
    print(render.table(headers, rows))
    return EXIT_PASSED


def _cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tokcheck.compare import compare

    resolved, model = _load(args)
    corpora = [Path(c) for c in args.corpus]
    with Progress(corpora, enabled=not args.json) as progress:
        report = compare(
            resolved,
            model,
            corpora=corpora,
            examples=args.examples,
            seed=args.seed,
            candidates=args.candidate,
            max_examples_shown=args.show,
            progress=progress.advance,
        )
    if args.json:
        render.print_json(report.to_dict())
    else:
        print(render_compare(report))
    return EXIT_PASSED if report.passed else EXIT_FAILED


def render_compare(report: Any) -> str:
    from tokcheck.compare import export_advice

    data = report.to_dict()
    rows = [
        (
            c["name"],
            c["class"] + (f" (= {c['same_as']})" if c["same_as"] else ""),
            c["lines"],
            c["mismatched"],
            c["unk_introduced"],
            c["decode_mismatched"],
            c["whitespace_collapsed"],
        )
        for c in data["candidates"]
    ]
    headers = (
        "candidate",
        "class",
        "lines",
        "mismatched",
        "unk_introduced",
        "decode_mismatched",
        "whitespace_collapsed",
    )
    out = [
        render.table(
            headers,
            rows,
            title=f"reference: sentencepiece {data['versions']['sentencepiece']}; "
            f"transformers {data['versions']['transformers']}",
        )
    ]
    for u in report.unavailable:
        out.append(
            f"{'FAIL' if u in report.load_failures else 'not compared'}: {u.name}: {u.reason}"
        )
    for c in report.candidates:
        if c.same_as or not c.examples:
            continue
        out.append(f"\n{c.name}: {len(c.examples)} shortest counterexample(s)")
        for e in c.examples:
            out.append(
                f"  {e.origin}: {e.text[:80]!r} (first divergence at token {e.first_divergence})"
            )
            out.append(f"    sentencepiece: {e.reference_pieces} {e.reference_ids}")
            out.append(f"    {c.name + ':':14} {e.candidate_pieces} {e.candidate_ids}")
            if e.reference_decoded != e.candidate_decoded:
                out.append(
                    f"    decoded: {e.reference_decoded[:80]!r} vs {e.candidate_decoded[:80]!r}"
                )
    skipped = data["inputs"]["skipped_lines"]
    if skipped:
        out.append(
            f"skipped {len(skipped)} line(s) that are not UTF-8: "
            + ", ".join(f"{s['path']}:{s['line']}" for s in skipped[:10])
        )
    out.extend(f"warning: {w}" for w in report.warnings)
    mb = data["inputs"]["bytes"] / 1e6
    out.append(f"{data['inputs']['lines']} lines ({mb:.2f} MB) in {data['elapsed_s']:.2f} s")
    if report.passed:
        out.append(f"passed: {', '.join(report.judged)} matches sentencepiece")
    elif report.load_failures:
        out.append(
            f"failed: {', '.join(u.name for u in report.load_failures)} raises when loading "
            f"under transformers {data['versions']['transformers']}; {export_advice()}"
        )
    else:
        out.append(
            f"failed: {', '.join(report.judged)} diverges from sentencepiece; {export_advice()}"
        )
    return "\n".join(out)


def _cmd_roundtrip(args: argparse.Namespace) -> int:
    from tokcheck.roundtrip import roundtrip

    _, model = _load(args)
    report = roundtrip(
        model,
        examples=args.examples,
        seed=args.seed,
        replay_hint=f"tokcheck roundtrip {args.model}",
    )
    if args.json:
        render.print_json(report.to_dict())
    else:
        print(render_roundtrip(report))
    return EXIT_PASSED if report.passed else EXIT_FAILED


def render_roundtrip(report: Any) -> str:
    rows = [
        ("PASS" if p.passed else "FAIL", p.name, p.examples, p.counterexample)
        for p in report.properties
    ]
    out = [
        render.table(
            ("", "property", "examples", "minimal counterexample"),
            rows,
            title=f"round-trip properties of {report.source} (seed {report.seed})",
        )
    ]
    for p in report.properties:
        if not p.passed:
            out.append(f"FAIL {p.name}: {p.detail}")
            out.append(f"  replay: {p.replay}")
    out.append("passed" if report.passed else "failed")
    return "\n".join(out)


def _cmd_gate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tokcheck.gate import run_gate, write_junit

    resolved, model = _load(args)
    profile = _profile(args, resolved)
    corpora = [Path(c) for c in args.corpus]
    with Progress(corpora, enabled=not args.json) as progress:
        report = run_gate(
            resolved,
            model,
            profile,
            corpora=corpora,
            examples=args.examples,
            seed=args.seed,
            smoke=_smoke_runner(args, resolved, model, profile) if args.smoke else None,
            progress=progress.advance,
        )
    if args.junit:
        write_junit(report, Path(args.junit))
    if args.json:
        render.print_json(report.to_dict())
    else:
        details = {
            "check": f"profile {report.check.profile or 'none'}; failed: {', '.join(report.check.failed) or '-'}",
            "compare": "; ".join(
                [
                    f"{c.name}: {c.mismatched}/{c.lines} differ"
                    for c in report.compare.candidates
                    if not c.same_as
                ]
                + [f"{u.name}: failed to load" for u in report.compare.unavailable if u.failed]
            )
            or "no candidates",
            "roundtrip": ", ".join(
                f"{p.name} {'ok' if p.passed else 'FAILED'}" for p in report.roundtrip.properties
            ),
        }
        if report.smoke is not None:
            details["smoke"] = (
                ", ".join(c.name for c in report.smoke.checks if not c.passed) or "ok"
            )
        rows = [
            ("PASS" if ok else "FAIL", step, details[step]) for step, ok in report.verdicts.items()
        ]
        print(render.table(("", "step", "detail"), rows, title=f"tokcheck gate {report.reference}"))
        for step in report.next_steps:
            print(f"next: {step}")
        print("gate passed" if report.passed else "gate failed")
    return EXIT_PASSED if report.passed else EXIT_FAILED


class Progress:
    """A progress bar on stderr for long runs; silent under --json, in CI, or off a terminal."""

    def __init__(self, corpora: Sequence[Any], *, enabled: bool) -> None:
        import os

        self.enabled = enabled and sys.stderr.isatty() and not os.environ.get("CI")
        self.total = sum(p.stat().st_size for p in corpora if p.is_file())
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.enabled and self.total:
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            self._bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("comparing", total=self.total)
        return self

    def advance(self, consumed: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=consumed)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


_COMMANDS = {
    "inspect": _cmd_inspect,
    "check": _cmd_check,
    "profiles": _cmd_profiles,
    "compare": _cmd_compare,
    "roundtrip": _cmd_roundtrip,
    "gate": _cmd_gate,
    "smoke": _cmd_smoke,
    "export": _cmd_export,
}


if __name__ == "__main__":
    sys.exit(main())
