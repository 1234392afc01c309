"""The ``tokcheck`` command: parse arguments, call the library, render, pick the exit code.

Exit codes, for every command: 0 passed, 1 a check failed, 2 unusable input or usage error.
This module is the one boundary where errors become that one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from tokcheck import options
from tokcheck.errors import ExportRefusedError, StdoutError, TokcheckError, one_line
from tokcheck.parser import build_parser
from tokcheck.report import formats, output, render
from tokcheck.report.view import View, checked, compared
from tokcheck.system import startup
from tokcheck.usage import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_PASSED, EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (the program's arguments if None) and return its exit code."""
    try:
        return _main(argv)
    finally:
        if argv is None:
            # The program is ending: a Ctrl-C from now on (while the interpreter joins worker
            # pools at exit) ends it by the default action, instead of a KeyboardInterrupt
            # traceback from an exit handler after the verdict was printed.
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(signal.SIGINT, signal.SIG_DFL)


def _main(argv: Sequence[str] | None) -> int:
    from tokcheck.system.signals import Terminated, terminating

    try:
        # Ctrl-C from here on raises KeyboardInterrupt, handled below, where the program's start
        # had it end the process (see tokcheck.__main__).
        startup.release()
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None and not args.version:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        with terminating():  # SIGTERM and SIGHUP unwind as Ctrl-C does
            if args.version:
                from tokcheck.provenance import versions

                said = versions().items()
                output.emit("\n".join(f"{name} {v or 'not installed'}" for name, v in said))
                code = EXIT_PASSED
            else:
                _hypothesis_storage()
                code = int(_COMMANDS[args.command](args))
        output.flush_stdout()  # a full disk is reported here, not by the interpreter at exit
        return code
    except (KeyboardInterrupt, Terminated, MemoryError, RecursionError, Exception) as e:
        return _failed(e)


def _failed(error: BaseException) -> int:
    """The exit code for what ended a command, after its one line on stderr."""
    from tokcheck.system.signals import Terminated, received

    if isinstance(error, KeyboardInterrupt):
        print("tokcheck: interrupted", file=sys.stderr)
        return 130
    # A signal's doing, whatever caught it on the way and raised something else instead.
    ended = error if isinstance(error, Terminated) else received()
    if ended is not None:
        print(f"tokcheck: {ended}", file=sys.stderr)
        return ended.exit_code  # 128 + the signal: 143 for SIGTERM, 129 for SIGHUP
    if isinstance(error, StdoutError):
        _stdout_to_devnull()
        return _error(str(error))
    if isinstance(error, TokcheckError):
        return _error(str(error))
    if isinstance(error, BrokenPipeError):
        # The reader went away (`tokcheck inspect MODEL | head`): stop quietly, as cat does.
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    # A failure nobody anticipated still ends as one line and exit 2 rather than a traceback
    # that CI would read as a failed check; TOKCHECK_DEBUG=1 shows the traceback.
    if os.environ.get("TOKCHECK_DEBUG"):
        raise error
    return _error(f"unexpected {type(error).__name__}: {error} (a tokcheck bug: please report it)")


def _stdout_to_devnull() -> None:
    """Point stdout at devnull, so the interpreter's final flush of what could not be written
    cannot fail again (and print "Exception ignored" after the one error line)."""
    # (OSError, ValueError): stdout is no file descriptor (captured in a test, say).
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _hypothesis_storage() -> None:
    """Point Hypothesis's caches at tokcheck's user cache instead of ./.hypothesis.

    compare and roundtrip draw strings with Hypothesis, which otherwise writes its Unicode
    tables into the current directory, i.e. into the repository a user runs tokcheck in. Only
    the command line does this; as a library tokcheck leaves the caller's Hypothesis alone.
    """
    from tokcheck.model.resolve import user_cache_dir

    cache = user_cache_dir() / "tokcheck" / "hypothesis"
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache))


def _error(message: str) -> int:
    print(f"tokcheck: error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


# What the progress line says during each of the gate's steps (and, for compare, once the last
# of the corpora's bytes is judged).
_GATE_STEPS = {
    "check": ("checking the model",),
    "compare": ("compare: loading tokenizers, judging generated strings", "finishing compare"),
    "roundtrip": ("checking round-trip properties",),
    "smoke": ("running the smoke test",),
}


def _exit(passed: bool) -> int:
    return EXIT_PASSED if passed else EXIT_FAILED


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from tokcheck.model.proto import SentencePieceModel
    from tokcheck.model.resolve import resolve

    resolved = resolve(args.model, revision=args.revision)
    return resolved, SentencePieceModel.load(resolved.model_file)


def _selection(args: argparse.Namespace, resolved: Any, *, required: bool = False) -> Any:
    """The profile the command applies and how it was chosen (tokcheck.model.profiles.select): check
    and gate need one or an explicit --no-profile; compare and smoke do without."""
    from tokcheck.model.profiles import select

    if args.no_profile:
        return select(None, None, None, waived=True)
    return select(args.profile, resolved.hub_id, resolved.config, waived=not required)


def _profile(args: argparse.Namespace, resolved: Any) -> Any:
    return _selection(args, resolved).profile


def _show(args: argparse.Namespace, report: Any, text: Callable[[Any], str]) -> None:
    if args.json:
        from tokcheck.provenance import stamped

        output.print_json(stamped(report if isinstance(report, dict) else report.to_dict()))
    else:
        output.emit(text(report))


def _path(name: str | None) -> Path | None:
    return Path(name) if name else None


def _write_html(args: argparse.Namespace, shown: View) -> None:
    """The HTML report, where ``--html`` asks for one."""
    if args.html:
        from tokcheck.report import html

        html.write(shown, Path(args.html))


def _cmd_inspect(args: argparse.Namespace) -> int:
    from tokcheck.model.inspection import inspect_model

    if args.model.lower().endswith(".gguf"):
        from tokcheck.model.gguf_vocab import read_gguf

        _show(args, read_gguf(Path(args.model)).summary(), render.gguf_inspection)
        return EXIT_PASSED
    resolved, model = _load(args)
    _show(args, inspect_model(resolved, model), render.inspection)
    return EXIT_PASSED


def _cmd_check(args: argparse.Namespace) -> int:
    from tokcheck.checks.rules import run_checks

    with formats.prepared(args):
        resolved, model = _load(args)
        chosen = _selection(args, resolved, required=True)
        start = time.perf_counter()
        report = run_checks(resolved, model, chosen.profile, how=chosen.how)
    title = f"{report.source} — profile: {report.profile or 'none'} ({chosen.how})"
    text = partial(render.checks, title=title)
    formats.show(args, checked(report, args.model, text, time.perf_counter() - start))
    return _exit(report.passed)


def _cmd_profiles(args: argparse.Namespace) -> int:
    from tokcheck.model.profiles import BUILTIN_PROFILES

    items = list(BUILTIN_PROFILES.values())
    if args.json:
        from tokcheck.provenance import stamped

        output.print_json(stamped({"profiles": [p.to_dict() for p in items]}))
    else:
        output.emit(render.profiles(items))
    return EXIT_PASSED


def _cmd_compare(args: argparse.Namespace) -> int:
    from tokcheck.compare.run import compare
    from tokcheck.inputs import exhaustive
    from tokcheck.judge.dump import dumping

    with formats.prepared(args), dumping(_path(args.dump)) as sink:
        resolved, model = _load(args)
        get = partial(getattr, args)
        chosen = options.compare_options(get)
        extra = (lambda: exhaustive.size(model, resolved)["bytes"]) if args.exhaustive else None
        engine = options.engine(get)
        with output.Progress(
            chosen.corpora, enabled=formats.chosen(args) == "text", extra=extra
        ) as bar:
            bar.phase("loading tokenizers, judging generated strings", then="summing up")
            report = compare(
                resolved,
                model,
                chosen,
                profile=_profile(args, resolved),
                engine=engine,
                progress=bar.advance,
                diverging=sink,
            )
    _write_html(args, shown := compared(report, args.model, render.comparison))
    formats.show(args, shown, summary=True)
    return _exit(report.passed)


def _cmd_roundtrip(args: argparse.Namespace) -> int:
    from tokcheck.checks.roundtrip import roundtrip

    _, model = _load(args)
    hint = f"tokcheck roundtrip {args.model}"
    report = roundtrip(model, examples=args.examples, seed=args.seed, replay_hint=hint)
    _show(args, report, render.roundtrip)
    return _exit(report.passed)


def _cmd_smoke(args: argparse.Namespace) -> int:
    resolved, model = _load(args)
    get = partial(getattr, args)
    report = options.smoke_runner(get, resolved, model, _profile(args, resolved))()
    _show(args, report, render.smoke)
    return _exit(report.passed)


def _cmd_export(args: argparse.Namespace) -> int:
    from tokcheck.export.run import export
    from tokcheck.inputs.probes import BUILTIN_PROBES

    resolved, model = _load(args)
    try:
        result = export(
            resolved,
            model,
            Path(args.outdir),
            force=args.force,
            strict=args.strict,
            texts=BUILTIN_PROBES,
            examples=args.examples,
            seed=args.seed,
            show=args.show,
            target=args.target,
        )
    except ExportRefusedError as e:
        result = e.result
    _show(args, result, render.exported)
    return _exit(result.passed)


def _cmd_gate(args: argparse.Namespace) -> int:
    from tokcheck.gate import run_gate, view, write_junit
    from tokcheck.judge.dump import dumping

    with formats.prepared(args), dumping(_path(args.dump)) as sink:
        resolved, model = _load(args)
        chosen = _selection(args, resolved, required=True)
        profile = chosen.profile
        get = partial(getattr, args)
        chosen_options = options.compare_options(get)
        engine = options.engine(get)
        with output.Progress(chosen_options.corpora, enabled=formats.chosen(args) == "text") as bar:
            report = run_gate(
                resolved,
                model,
                profile,
                chosen_options,
                profile_how=chosen.how,
                smoke=options.smoke_runner(get, resolved, model, profile) if args.smoke else None,
                engine=engine,
                progress=bar.advance,
                diverging=sink,
                on_step=lambda name: bar.step(*_GATE_STEPS[name]),
            )
    if args.junit:
        write_junit(report, Path(args.junit))
    _write_html(args, shown := view(report))
    formats.show(args, shown, summary=True)
    return _exit(report.passed)


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
