"""The exceptions tokcheck raises, in one place.

Every error a user can cause derives from :class:`TokcheckError`; the CLI turns it into one line
on stderr and exit code 2. A failed *check* is a verdict, not an error: checks return results,
and a failed result is exit code 1. Where a verdict must interrupt the caller (export refuses to
write), it is raised as a :class:`Verdict`, which no ``except TokcheckError`` catches.
"""

from __future__ import annotations

from typing import Any


def one_line(message: str) -> str:
    """``message`` on one line, as the CLI prints every error: runs of whitespace, newlines
    included (a library's multi-line text), become one space."""
    return " ".join(message.split())


class TokcheckError(Exception):
    """Unusable input or usage: the CLI prints the message on one line and exits 2."""


class ModelFileError(TokcheckError):
    """The model file is missing, empty, truncated, or not a sentencepiece ModelProto."""


class ModelNotFoundError(TokcheckError):
    """A MODEL argument names no file, no model directory and no resolvable hub id."""


class ProfileError(TokcheckError):
    """A profile name is unknown or a profile TOML file is invalid."""


class CorpusError(TokcheckError):
    """A corpus file cannot be read."""


class OutputError(TokcheckError):
    """An output location cannot be written (exists without --force, not writable, ...)."""


class StdoutError(OutputError):
    """Standard output cannot be written (a full disk, say): the report is lost, exit 2."""


class MissingDependencyError(TokcheckError):
    """An optional dependency (torch, for example) is needed but not installed."""


class RuntimeDied(TokcheckError):
    """A runtime that runs a candidate in a child process (llama.cpp, node) died while it ran,
    after it had loaded: a failure of that candidate, which compare reports and goes on without.

    ``how`` is how it ended (its signal or exit code, and what it wrote); ``index`` the item of
    the request it died on, where known, and ``doing`` what it was asked (``encoding``...);
    ``stale`` when it had died on an earlier request, so that this one says nothing of where.
    Outside compare it is an error like any other (one line, exit 2).
    """

    def __init__(
        self,
        runtime: str,
        how: str,
        *,
        index: int | None = None,
        doing: str = "running",
        stale: bool = False,
    ) -> None:
        super().__init__(f"{runtime} ended: {how}")
        self.runtime, self.how, self.stale = runtime, how, stale
        self.index, self.doing = index, doing

    def located(self, index: int | None, doing: str | None = None) -> RuntimeDied:
        """The same death, placed at item ``index`` of another batch (None: not known)."""
        return RuntimeDied(
            self.runtime, self.how, index=index, doing=doing or self.doing, stale=self.stale
        )

    def reason(self, where: str = "") -> str:
        """What ended the runtime, while doing what and ``where`` in the input (if known)."""
        if self.stale:
            return str(self)
        doing = f"{self.doing} {where}" if where else self.doing
        return f"{self.runtime} ended while {doing}: {self.how}"


class Verdict(Exception):
    """A check ran and failed, raised where the caller must not go on: exit 1, never 2."""


class ExportRefusedError(Verdict):
    """The exported tokenizer diverges from sentencepiece: a failed check (exit 1), not bad input.

    ``result`` is the :class:`tokcheck.export.run.ExportResult` with the judge's findings.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result
