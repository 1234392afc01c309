"""Writing a report in the format asked for (``--format``), to stdout or a file (``--output``).

Text and JSON are what they always were; ``github`` is :mod:`tokcheck.report.github`'s workflow
commands, ``markdown`` :mod:`tokcheck.report.markdown`'s summary, ``junit`` the JUnit XML of the
report's test cases. A file is written atomically, with the mode a plain ``open()`` leaves.
Besides the format asked for, :func:`step_summary` appends the Markdown summary to GitHub's
step summary when ``GITHUB_STEP_SUMMARY`` names one, and :func:`junit_on_error` leaves a JUnit
file even when a run ends in an error (exit 2): a CI system then shows what went wrong.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tokcheck.errors import OutputError, TokcheckError, one_line
from tokcheck.report import output
from tokcheck.report.view import FORMATS, View
from tokcheck.system import atomic
from tokcheck.system.paths import shown

if TYPE_CHECKING:
    from tokcheck.report.cases import Case


def render(view: View, fmt: str) -> str:
    """``view``'s report in format ``fmt`` (one of :data:`~tokcheck.report.view.FORMATS`)."""
    if fmt == "text":
        return view.rendered
    if fmt == "json":
        from tokcheck.provenance import stamped

        buffer = io.StringIO()
        output.print_json(stamped(view.report.to_dict()), buffer)
        return buffer.getvalue().removesuffix("\n")
    if fmt == "junit":
        return junit(view.cases(), view.model)
    if fmt == "github":
        from tokcheck.report.github import workflow_commands

        return workflow_commands(view)
    if fmt == "markdown":
        from tokcheck.report.markdown import summary

        return summary(view)
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def deliver(view: View, fmt: str, path: Path | None = None) -> None:
    """Print ``view``'s report in ``fmt``, or write it to ``path`` atomically."""
    text = render(view, fmt)
    if path is None:
        output.emit(text)
    else:
        data = f"{text}\n".encode("utf-8", "backslashreplace")
        atomic.write_file(path, lambda handle: _write(handle, data))


def show(args: Any, view: View, *, summary: bool = False) -> None:
    """Deliver ``view``'s report as the parsed ``args`` ask (``--format``, ``--json``,
    ``--output``); with ``summary``, append the step summary first (see :func:`step_summary`)."""
    if summary:
        step_summary(view)
    target = getattr(args, "output", None)
    deliver(view, chosen(args), Path(target) if target else None)


def junit(cases: Sequence[Case], model: str) -> str:
    """The JUnit XML of ``cases`` (see :func:`tokcheck.report.cases.junit_xml`)."""
    from tokcheck.report.cases import junit_xml

    buffer = io.BytesIO()
    junit_xml(cases, model).write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue().decode("utf-8")


def step_summary(view: View) -> None:
    """Append the Markdown summary to the file ``GITHUB_STEP_SUMMARY`` names, if it names one
    (a failure to is one warning line on stderr, not a failed run)."""
    if path := os.environ.get("GITHUB_STEP_SUMMARY"):
        from tokcheck.report.github import append_step_summary
        from tokcheck.report.markdown import summary

        append_step_summary(path, summary(view))


def chosen(args: Any) -> str:
    """The format parsed arguments ask for: ``--json`` is ``--format json``."""
    return "json" if getattr(args, "json", False) else str(getattr(args, "format", "text"))


def prepared(args: Any) -> contextlib.AbstractContextManager[None]:
    """Where a command with ``--output`` (and ``--junit``, ``--html``, ``--dump``) runs, ``args``
    its parsed arguments: see :func:`writing`; JUnit XML goes to ``--junit``'s file, and
    ``--output``'s under ``--format junit``. The files the run reads (the model, its
    directory's files, the corpora, the GGUFs, a profile file) are never written over."""
    named = {
        flag: Path(path)
        for flag in ("junit", "output", "html", "dump")
        if (path := getattr(args, flag, None))
    }
    junits = [
        named[f]
        for f in ("junit", "output")
        if f in named and (f == "junit" or chosen(args) == "junit")
    ]
    reads = [
        *(getattr(args, "corpus", None) or []),
        *(getattr(args, "gguf", None) or []),
        *([args.profile] if getattr(args, "profile", None) else []),
    ]
    check_apart({f"--{k}": v for k, v in named.items()}, args.model, reads)
    return writing(list(named.values()), junits, args.command, args.model)


def check_apart(targets: dict[str, Path], model: str, reads: Sequence[str]) -> None:
    """Raise OutputError if two of ``targets`` (by flag) are one file, or one is a file the run
    reads: the model file, an existing file in the model's directory, or one of ``reads``."""
    model_path = Path(model)
    model_key = _identity(model_path)
    read = {_identity(Path(r)): r for r in reversed(reads)}  # the first named, where one twice
    seen: dict[str, str] = {}
    for flag, target in targets.items():
        key = _identity(target)
        if key in seen:
            raise OutputError(
                f"{seen[key]} and {flag} name the same file ({shown(str(target))}): give each its own"
            )
        seen[key] = flag
        if key == model_key or _inside(target, model_path):
            raise OutputError(
                f"{flag} {shown(str(target))}: would write over a file of the model {shown(model)}: "
                "give a path outside it"
            )
        if key in read:
            raise OutputError(
                f"{flag} {shown(str(target))}: would write over {shown(read[key])}, which the run "
                "reads: give another path"
            )


def _identity(path: Path) -> str:
    """What makes two paths one file: the device and inode of one that exists, else the
    absolute path with its links resolved."""
    try:
        if path.exists():
            status = path.stat()
            return f"{status.st_dev}:{status.st_ino}"
        return os.path.realpath(path)
    except (OSError, ValueError):
        return str(path)


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is an existing file within the directory ``directory``."""
    try:
        if not (directory.is_dir() and path.exists()):
            return False
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))
    except (OSError, ValueError):  # a name too long, say: atomic.check_file_target says so
        return False


@contextlib.contextmanager
def writing(
    targets: Sequence[Path], junits: Sequence[Path], command: str, model: str
) -> Iterator[None]:
    """Check now, before any long work, that each of ``targets`` can be written; then run the
    block. If that ends in an error (what the CLI turns into exit 2, the check included), write
    JUnit XML holding one errored case to each of ``junits`` and let the error go on: a CI system
    shows what went wrong. A path that cannot be written is passed over (the error the user
    sees is the one that ended the run); a signal's doing (ending the run with 128 + the signal,
    not 2) leaves nothing."""
    start = time.perf_counter()
    try:
        for target in targets:
            atomic.check_file_target(target)
        yield
    except Exception as e:
        from tokcheck.system.signals import received

        if junits and received() is None:
            from tokcheck.report.cases import ERROR, Case

            case = Case(command, command, ERROR, error_line(e), time.perf_counter() - start)
            data = junit([case], model).encode("utf-8")
            for path in junits:
                with contextlib.suppress(TokcheckError):
                    atomic.write_file(path, lambda handle: _write(handle, data))
        raise


def error_line(error: Exception) -> str:
    """The one line the CLI prints for ``error`` (see ``tokcheck.cli._failed``)."""
    if isinstance(error, TokcheckError):
        return one_line(str(error))
    return one_line(
        f"unexpected {type(error).__name__}: {error} (a tokcheck bug: please report it)"
    )


def _write(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)
