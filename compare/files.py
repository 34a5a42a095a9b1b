"""Output files: checked before any work, written atomically. The one writer of every command.

Every file is written to a temporary file beside its target and moved into place with
``os.replace``, with SIGINT/SIGTERM held off meanwhile, so a reader never sees half a file and an
interrupted run leaves the old file (or none) and no temporary file behind. The writer

- refuses a target that exists and is not a regular file (a device such as ``/dev/null``,
  a FIFO, a directory); a symbolic link is followed and its regular target replaced;
- keeps an existing target's permission bits (and owner, when run as root); a new file
  gets the umask's mode, like any file a program creates;
- keeps temporary names within the file system's name limit, and refuses a name over it
  before any work; temporary names carry the writer's process id, so leftovers of a killed
  run (``.<name>.<pid>.<random>.tmp``) are recognised and removed by the next write.

Usage::

    check_outputs([Output("--json", "r.json"), Output("--csv", "tables", suffix=".csv")])  # before work
    write_atomic("r.json", text)

Longer than 300 lines: it is the one writer of every command, and each of its refusals
(devices, FIFOs, symlinks, long names, conflicting outputs, stale temporary files) belongs with
it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import secrets
import stat
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compare.cli import deferred_interrupts
from compare.terminal import printable


class OutputError(OSError):
    """An output path that cannot be written."""


NAME_MAX_FALLBACK = 255  # bytes in one path component on Linux, macOS and Windows file systems
_TEMP_TAIL = 32  # room for ".<pid>.<8 hex><suffix>" after the prefix
STALE_AFTER_S = 60.0  # a leftover temporary file this old, of a process that is gone, is removed


def shown(path: object) -> str:
    """A path for a message: control characters escaped."""
    return printable(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else path)


def _name_max(folder: Path) -> int:
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


# -- temporary files ---------------------------------------------------------------------------


def temp_prefix(target: Path) -> str:
    """``.<name>.``, the name shortened (with a hash of the whole) when a temporary name would not fit."""
    name = target.name
    room = _name_max(target.parent) - _TEMP_TAIL - 2
    raw = os.fsencode(name)
    if len(raw) > room:
        digest = hashlib.sha1(raw).hexdigest()[:10]
        name = os.fsdecode(raw[: room - 11]) + "~" + digest
    return f".{name}."


def create_temp(target: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create ``.<name>.<pid>.<random><suffix>`` beside ``target`` (mode 0666 less the umask); return (fd, path)."""
    prefix = temp_prefix(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = target.parent / f"{prefix}{os.getpid()}.{secrets.token_hex(4)}{suffix}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def clean_stale(target: Path, suffix: str = ".tmp", min_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove ``target``'s temporary files left by killed runs (process gone, older than ``min_age_s``)."""
    pattern = re.compile(re.escape(temp_prefix(target)) + r"(\d+)\.[0-9a-f]{8}" + re.escape(suffix) + r"\Z")
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime >= min_age_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


# -- checks before any work --------------------------------------------------------------------


def _final(path: str | os.PathLike[str]) -> Path:
    """The file that writing ``path`` changes: symbolic links followed."""
    if not os.fspath(path):
        raise OutputError("an output path must not be empty")
    return Path(os.path.realpath(path))


def _check_file(target: Path, shown_as: str) -> None:
    if len(os.fsencode(target.name)) > _name_max(target.parent):
        raise OutputError(
            f"cannot write {shown_as}: file name too long ({len(os.fsencode(target.name))} bytes; "
            f"the limit here is {_name_max(target.parent)})"
        )
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"cannot write {shown_as}: it exists and is {file_kind(st.st_mode)}")
    if not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {shown_as}: it exists and is read-only")


def _probe(folder: Path, shown_as: str) -> None:
    if not folder.is_dir():
        raise OutputError(f"cannot write {shown_as}: directory {shown(folder)} does not exist")
    with deferred_interrupts():
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)


def check_writable(path: str | os.PathLike[str], *, directory: bool = False) -> None:
    """Fail now (before any work) if ``path`` cannot be written; nothing is created.

    A file's directory must exist. An output directory (``--csv``, ``--plot``) may be new,
    but then its parent must exist; it is created only when the results are written.
    """
    target = _final(path)
    shown_as = shown(path)
    try:
        if directory:
            if target.exists() and not target.is_dir():
                raise OutputError(f"cannot write into {shown_as}: it exists and is not a directory")
            if len(os.fsencode(target.name)) > _name_max(target.parent):
                raise OutputError(f"cannot write into {shown_as}: name too long")
            _probe(target if target.is_dir() else target.parent, shown_as)
        else:
            _check_file(target, shown_as)
            _probe(target.parent, shown_as)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write {shown_as}: {e.strerror or e}") from None


@dataclass(frozen=True)
class Output:
    option: str  # the command-line option, for messages: "--json"
    path: str | os.PathLike[str] | None  # None: the option was not given
    suffix: str | None = None  # a directory output: the suffix of the files written into it (".csv")


def check_outputs(outputs: Sequence[Output]) -> None:
    """Check every output with :func:`check_writable`, then refuse two that would write the same file.

    A file output conflicts with another file output at the same path (symbolic links followed),
    with a directory output at its own path, and with a directory output it lies in when it has
    that output's suffix (``--json D/gradients.csv --csv D``: the directory holds the CSV files).
    """
    given = [o for o in outputs if o.path is not None]
    for o in given:
        check_writable(o.path, directory=o.suffix is not None)
    finals = [(o, _final(o.path)) for o in given]
    for i, (a, pa) in enumerate(finals):
        for b, pb in finals[i + 1 :]:
            clash = _clash(a, pa, b, pb) or _clash(b, pb, a, pa)
            if clash:
                raise OutputError(f"{a.option} and {b.option} would both write {shown(clash)}; choose different paths")


def _clash(a: Output, pa: Path, b: Output, pb: Path) -> Path | None:
    if a.suffix is None and pa == pb:
        return pa
    if a.suffix is None and b.suffix is not None and pa.parent == pb and pa.suffix == b.suffix:
        return pa
    return None


# -- writing -----------------------------------------------------------------------------------


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write ``text`` (UTF-8) or bytes to ``path`` via a temporary file beside it and ``os.replace``.

    Raises :class:`OutputError` naming the file when it cannot be written (the old file stays).
    """
    target = _final(path)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    with deferred_interrupts():  # a signal now takes effect once the file is whole or gone
        try:
            _check_file(target, shown(path))
            clean_stale(target)
            _replace(target, data)
        except OutputError:
            raise
        except OSError as e:
            raise OutputError(f"cannot write {shown(path)}: {e.strerror or e}") from None


def _replace(target: Path, data: bytes) -> None:
    fd, tmp = create_temp(target)
    try:
        try:
            st = os.stat(target)
        except FileNotFoundError:
            st = None
        if st is not None:  # keep what the owner chose
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
                os.fchown(fd, st.st_uid, st.st_gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def write_files(
    directory: str | os.PathLike[str], contents: Mapping[str, str | bytes], owned: Collection[str] = ()
) -> list[Path]:
    """Write each ``name -> content`` into ``directory`` atomically; return the paths written.

    The directory is created only when there is something to write. Files named in ``owned``
    (every name this command may write there) that this call did not write are removed: they
    are stale results of an earlier run and must not be mixed with these.
    """
    if not contents:
        return []
    folder = Path(directory)
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {shown(folder)}: {e.strerror or e}") from None
    written = []
    for name, content in contents.items():
        write_atomic(folder / name, content)
        written.append(folder / name)
    for name in set(owned) - set(contents):
        stale = folder / name
        try:
            if stale.is_file() and not stale.is_symlink():
                stale.unlink()
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise OutputError(f"cannot remove the stale {shown(stale)}: {e.strerror or e}") from None
    return written


def _json_safe(value: object) -> object:
    """NaN and infinities become null (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def to_json(report: dict) -> str:
    return json.dumps(_json_safe(report), indent=2, allow_nan=False) + "\n"
