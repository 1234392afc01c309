"""Write outputs so that nobody ever sees them half-written.

A file is written to a temporary name in its own directory and renamed over the target; a
directory is built in a staging directory beside the target and renamed into place. Staging
directories are named ``.NAME.tokcheck-PID-HEX.tmp``: one left behind by a killed run (its PID
no longer running) is removed by the next run that writes NAME.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from tokcheck.errors import OutputError
from tokcheck.system.paths import reason, shown

_STAGING = re.compile(r"\.(?P<name>.+)\.tokcheck-(?P<host>[^.]*)-(?P<pid>\d{1,9})-[0-9a-f]+\.tmp")


def check_outdir(outdir: Path, force: bool) -> None:
    """Raise OutputError unless ``outdir`` may be written: absent, empty, or ``force``."""
    _refuse_unreachable(outdir)
    if outdir.is_symlink() or (outdir.exists() and not outdir.is_dir()):
        raise OutputError(f"{outdir}: exists and is not a directory")
    try:
        occupied = outdir.is_dir() and any(outdir.iterdir())
    except OSError as e:
        raise OutputError(f"{outdir}: cannot read the directory: {e.strerror or e}") from e
    if occupied and not force:
        raise OutputError(f"{outdir}: exists and is not empty; pass --force to replace it")


def _refuse_unreachable(path: Path) -> None:
    """Raise OutputError when the system cannot even look for ``path`` (a name longer than the
    file system allows, a directory this user may not search); nothing there is fine."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as e:
        raise OutputError(f"{shown(str(path))}: {reason(e, path)}") from e


def write_error(outdir: Path, e: OSError) -> OutputError:
    """The one-line error for ``e``, met while writing OUTDIR's files in its staging directory
    (removed after, so OUTDIR is as it was): what went wrong and, where it helps, what to do."""
    reason = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "free space there or give an OUTDIR on another file system"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "give an OUTDIR you can write"
    else:
        advice = "check the file system"
    return OutputError(
        f"{outdir}: cannot write the export: {reason}; {advice} (OUTDIR is unchanged)"
    )


def check_file_target(path: Path) -> None:
    """Raise OutputError now, before any long work, if ``path`` cannot be written later.

    Only a regular file (or nothing) is replaced: a symlink, a pipe or a device at ``path`` is
    refused rather than swapped for a file. Writability is tried, not guessed from modes.
    """
    directory = path.parent
    if not str(path) or path.name in ("", ".", ".."):
        raise OutputError(f"{str(path)!r}: give a file name")
    _refuse_unreachable(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise OutputError(
            f"{path}: is a {'directory' if path.is_dir() else 'link or special file'}; "
            "give the path of a regular file"
        )
    if not directory.is_dir():
        raise OutputError(f"{path}: directory {directory} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise OutputError(f"{path}: cannot write in {directory}: {e.strerror or e}") from e
    os.close(fd)
    os.unlink(probe)


def write_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``
    (:func:`replacing`). The file gets the mode a plain ``open()`` would leave: an existing
    file's, else 0666 less the umask (not mkstemp's 0600, which would hide a CI report from the
    user who uploads it).
    """
    with replacing(path) as handle:
        try:
            write(handle)
        except OSError as e:
            raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A temporary file beside ``path`` to write in the block (a long one: a whole run), with
    the mode :func:`write_file` says: renamed over ``path`` when the block ends, removed when
    it raises, so that ``path`` is as it was. An error the block raises goes on as it is."""
    check_file_target(path)
    tmp: str | None = None
    inside = False
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, _file_mode(path))
            inside = True
            yield handle
            inside = False
        os.replace(tmp, path)
    except OSError as e:
        if inside:
            raise  # the block's own
        raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _file_mode(path: Path) -> int:
    """The permission bits ``open(path, "w")`` would leave on ``path``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:  # not there yet (check_file_target refused everything but a regular file)
        return 0o666 & ~umask()


def umask() -> int:
    """The process's umask, read without changing it where Linux says it (os.umask can only
    be read by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def staging_dir(outdir: Path) -> Path:
    """A new directory beside ``outdir`` (same file system, so the final rename is atomic),
    created with the user's umask rather than mkdtemp's 0700; stale ones are removed first."""
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(outdir)
        while True:
            name = f".{outdir.name}.tokcheck-{_host()}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
            staging = outdir.parent / name
            try:
                staging.mkdir()
                return staging
            except FileExistsError:
                continue
    except OSError as e:
        raise write_error(outdir, e) from e


def remove_stale_staging(outdir: Path) -> list[Path]:
    """Remove the staging directories for ``outdir`` whose writing process has gone.

    Only directories (never links) named by this host are considered: a process id says
    nothing about another machine sharing the file system.
    """
    removed = []
    for entry in outdir.parent.glob(f".{glob.escape(outdir.name)}.tokcheck-*.tmp"):
        match = _STAGING.fullmatch(entry.name)
        if (
            match
            and match["name"] == outdir.name
            and match["host"] == _host()
            and entry.is_dir()
            and not entry.is_symlink()
            and not _running(int(match["pid"]))
        ):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _host() -> str:
    """This machine's name as it may appear in a file name (no dots, dashes or slashes)."""
    return re.sub(r"[^A-Za-z0-9]", "", os.uname().nodename)[:32]


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def move_into_place(staging: Path, outdir: Path, force: bool) -> None:
    """Rename ``staging`` to ``outdir``, replacing an existing ``outdir`` only with ``force``."""
    check_outdir(outdir, force)
    old: Path | None = None
    try:
        if outdir.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".old", dir=outdir.parent)
            )
            os.replace(outdir, old / outdir.name)
        os.replace(staging, outdir)
    except OSError as e:
        if old is not None and (old / outdir.name).exists() and not outdir.exists():
            os.replace(old / outdir.name, outdir)
        raise OutputError(f"{outdir}: cannot move the written files into place: {e}") from e
    finally:
        # The set-aside copy goes only once something is back at outdir; otherwise it stays,
        # the user's only copy, in the .old directory beside it.
        if old is not None and outdir.exists():
            shutil.rmtree(old, ignore_errors=True)
