"""Standard streams as outputs: ``-``, ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N``.

Such a path names a descriptor the process already holds, and is written through it as it is
(:func:`stream_fd`, :func:`write_stream`): a shell's redirection is neither replaced nor truncated.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys

from compare.pathsafety import OutputError

STDOUT = "-"  # the output path that means standard output
_STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}
_FD_PATH = re.compile(r"/(?:dev/fd|proc/self/fd)/([0-9]+)\Z")


def stream_fd(path: object) -> int | None:
    """The descriptor an output path names: 1 for ``-`` and ``/dev/stdout``, N for ``/dev/fd/N``; else None.

    Such a path is written through the descriptor this process holds, never reopened: opening
    ``/dev/stdout`` anew would truncate a file the shell appends to, and replacing its target by a
    rename would leave the shell's redirection on a deleted file.
    """
    if path == STDOUT:  # the string a command line gives; Path("-") is a file named "-"
        return 1
    if not isinstance(path, (str, os.PathLike)):
        return None
    text = os.fspath(path)
    match = _FD_PATH.match(text) if isinstance(text, str) else None
    return int(match.group(1)) if match else _STREAMS.get(text)


def stream_name(fd: int) -> str:
    return {1: "standard output", 2: "standard error"}.get(fd, f"file descriptor {fd}")


def takes_stdout(*paths: object) -> bool:
    """True when one of the output ``paths`` is standard output (the text report then goes to standard error)."""
    return any(stream_fd(p) == 1 for p in paths if p is not None)


def check_stream(fd: int, shown_as: str) -> None:
    try:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        raise OutputError(f"cannot write {shown_as}: {stream_name(fd)} is not open") from None
    if mode == os.O_RDONLY:
        raise OutputError(f"cannot write {shown_as}: {stream_name(fd)} is open for reading only")


def write_stream(fd: int, data: bytes, shown_as: str) -> None:
    """``data`` written through the open descriptor ``fd``, after what Python's own streams hold."""
    check_stream(fd, shown_as)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as e:
        raise OutputError(f"cannot write {shown_as} ({stream_name(fd)}): {e.strerror or e}") from None
