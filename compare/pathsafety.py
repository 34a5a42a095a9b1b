"""Path safety of an output: what a path names, and whether a file can be written there.

A target that exists and is not a regular file (a device such as ``/dev/null``, a FIFO, a
directory) is refused; a symbolic link is followed (:func:`final_path`) and its regular target
replaced; a name over the file system's limit is refused before any work. Messages name paths
with control characters escaped (:func:`shown`). Used by the writer (:mod:`compare.files`) and
the checks before any work (:mod:`compare.preflight`).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from compare.signals import deferred_interrupts
from compare.terminal import printable


class OutputError(OSError):
    """An output path that cannot be written."""


NAME_MAX_FALLBACK = 255  # bytes in one path component on Linux, macOS and Windows file systems


def shown(path: object) -> str:
    """A path for a message: control characters escaped."""
    return printable(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else path)


def name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return NAME_MAX_FALLBACK


def file_kind(mode: int) -> str:
    """What a file of this mode is, for a message: ``a directory``, ``a FIFO``, ``a device``."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def final_path(path: str | os.PathLike[str]) -> Path:
    """The file that writing ``path`` changes: symbolic links followed."""
    if not os.fspath(path):
        raise OutputError("an output path must not be empty")
    return Path(os.path.realpath(path))


def check_file(target: Path, shown_as: str) -> None:
    if len(os.fsencode(target.name)) > name_max(target.parent):
        raise OutputError(
            f"cannot write {shown_as}: file name too long ({len(os.fsencode(target.name))} bytes; "
            f"the limit here is {name_max(target.parent)})"
        )
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"cannot write {shown_as}: it exists and is {file_kind(st.st_mode)}")
    if not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {shown_as}: it exists and is read-only")


def probe_folder(folder: Path, shown_as: str) -> None:
    if not folder.is_dir():
        raise OutputError(f"cannot write {shown_as}: directory {shown(folder)} does not exist")
    with deferred_interrupts():
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
