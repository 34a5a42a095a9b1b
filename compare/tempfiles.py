"""Temporary files beside an output: named, locked while written, and removed when a killed run left them.

A temporary name is ``.<name>.<pid>.<random>.tmp``, kept within the file system's name limit
(:func:`temp_prefix`). The file is locked (``flock``) for as long as it is being written, so a
leftover of a killed run (its process gone, no lock held) is recognised and removed by the next
write (:func:`clean_stale`). Used by the atomic writer (:mod:`compare.files`) and the download of
the data (:mod:`compare.data.download`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
from pathlib import Path

from compare.pathsafety import name_max

_TEMP_TAIL = 32  # room for ".<pid>.<8 hex><suffix>" after the prefix


def temp_prefix(target: Path) -> str:
    """``.<name>.``, the name shortened (with a hash of the whole) when a temporary name would not fit."""
    name = target.name
    room = name_max(target.parent) - _TEMP_TAIL - 2
    raw = os.fsencode(name)
    if len(raw) > room:
        digest = hashlib.sha1(raw).hexdigest()[:10]
        name = os.fsdecode(raw[: room - 11]) + "~" + digest
    return f".{name}."


def create_temp(target: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create ``.<name>.<pid>.<random><suffix>`` beside ``target`` (mode 0666 less the umask); return (fd, path).

    The file is locked (``flock``) for as long as ``fd`` is open: a lock outlives neither the
    descriptor nor the process, however it ends, so :func:`clean_stale` can tell a live write
    from a leftover even when the writer's process id means nothing here (another host, another
    PID namespace).
    """
    prefix = temp_prefix(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = target.parent / f"{prefix}{os.getpid()}.{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            continue
        _lock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, path


def _lock(fd: int, operation: int) -> bool:
    """``flock(fd, operation)``: False when another descriptor holds the lock; True when taken or unsupported here."""
    try:
        fcntl.flock(fd, operation)
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks (ENOLCK, EOPNOTSUPP): the process id decides alone
        pass
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def _unused(path: str) -> bool:
    """Whether no live writer holds ``path``'s lock (see :func:`create_temp`)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        return _lock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)  # releases the lock, if taken


def clean_stale(target: Path, suffix: str = ".tmp") -> list[Path]:
    """Remove ``target``'s temporary files left by killed runs: their process is gone and nothing holds their lock.

    No age is asked for: a run started right after a SIGKILL removes the leftover at once.
    """
    pattern = re.compile(re.escape(temp_prefix(target)) + r"(\d+)\.[0-9a-f]{8}" + re.escape(suffix) + r"\Z")
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and _unused(entry.path):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed
