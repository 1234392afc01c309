"""Paths a user gives (a MODEL, a profile, an environment variable), read without surprises.

``Path.expanduser`` raises ``RuntimeError`` on ``~nosuchuser`` (and ``os.path.expanduser``
leaves it as it is), and ``Path.is_file`` raises on a name longer than the file system allows or
on a directory the user may not search. These helpers turn each into a :class:`TokcheckError`
that names the input and says what to do.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from pathlib import Path

from tokcheck.errors import TokcheckError

# Longer names are shown shortened in messages, so that the one error line stays readable.
_SHOWN = 120


def shown(text: str) -> str:
    """``text`` as a message shows it: in full, or its start and end when it is very long."""
    if len(text) <= _SHOWN:
        return text
    return f"{text[:80]}...{text[-30:]} ({len(text)} characters)"


def shell_word(text: str) -> str:
    """``text`` as one word a shell reads back as ``text``, to print in a command to copy:
    quoted as :func:`shlex.quote` does, or as ``$'...'`` (bash, zsh and ksh read it) where it
    holds a character that is not printable, a newline say, so that the command stays on its
    line; with ``./`` before a word that starts with ``-``, which a command would read as an
    option."""
    if text.startswith("-"):
        text = f"./{text}"
    if text.isprintable():
        return shlex.quote(text)
    escaped = "".join(ch if ch.isprintable() and ch not in "\\'" else _escape(ch) for ch in text)
    return f"$'{escaped}'"


def _escape(ch: str) -> str:
    """``ch`` as ``$'...'`` spells it: Python's escapes (``\\n``, ``\\x85``, ``\\u3000``...),
    which bash reads the same, and ``\\'``."""
    return "\\'" if ch == "'" else ch.encode("unicode_escape").decode("ascii")


def expand_user(
    text: str, what: str | None = None, *, error: type[TokcheckError] = TokcheckError
) -> Path:
    """``Path(text)`` with a leading ``~`` or ``~user`` expanded.

    A user that does not exist, or a ``~`` with no home directory to stand for, raises
    ``error`` naming ``what`` (default: the text itself) instead of ``RuntimeError``.
    """
    path = Path(text)
    if not text.startswith("~"):
        return path
    try:
        expanded = path.expanduser()
    except (RuntimeError, KeyError):
        expanded = path
    if not str(expanded).startswith("~"):
        return expanded
    user = text[1:].split("/", 1)[0]
    why = f"there is no user {user!r}" if user else "there is no home directory (HOME is unset)"
    raise error(f"{shown(what or text)}: cannot expand ~{user}: {why}; give the path without ~")


def reason(e: OSError, named: object = None) -> str:
    """Why an operating-system call failed, as the end of a message that names ``named``: no
    errno, and the path the system names only where it is another one."""
    if e.errno == errno.ENAMETOOLONG:
        return "file name too long for the file system; give a shorter path"
    if e.errno in (errno.EACCES, errno.EPERM):
        other = e.filename is not None and str(e.filename) != str(named)
        where = f" ({shown(str(e.filename))})" if other else ""
        return (
            f"permission denied{where}; every directory on the path must be searchable "
            "(x) and the files readable by this user"
        )
    return e.strerror or str(e)


def kind(path: Path) -> str | None:
    """``"file"``, ``"dir"`` or ``"other"`` (following links), or None when nothing is there.

    Anything else the system reports (a name too long, a directory that may not be searched,
    a loop of links) is raised as the ``OSError`` it is, for the caller to name.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(mode):
        return "file"
    return "dir" if stat.S_ISDIR(mode) else "other"
