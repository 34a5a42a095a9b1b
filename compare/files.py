"""Output files: checked before any work, written atomically. The one writer of every command.

Every file is written to a temporary file beside its target and moved into place with
``os.replace``, with SIGINT/SIGTERM held off meanwhile, so a reader never sees half a file and an
interrupted run leaves the old file (or none) and no temporary file behind. The writer

- refuses a target that exists and is not a regular file (a device such as ``/dev/null``,
  a FIFO, a directory); a symbolic link is followed and its regular target replaced;
- refuses, before any work, an output that is one of the run's inputs (the ``--impl`` file,
  the saved report shown, the MNIST files read), symbolic and hard links followed;
- keeps an existing target's permission bits (and owner, when run as root); a new file
  gets the umask's mode, like any file a program creates;
- keeps temporary names within the file system's name limit, and refuses a name over it
  before any work; temporary names carry the writer's process id and are locked while
  written, so leftovers of a killed run (``.<name>.<pid>.<random>.tmp``, the process gone, no
  lock held) are recognised and removed by the next write;
- in an output folder (``--csv``, ``--plot``), removes only files it can prove a run wrote:
  those listed in the folder's manifest (``.dlfs-compare-manifest.json``) and unchanged since.

A standard stream is the exception: ``-`` (standard output), ``/dev/stdout``, ``/dev/stderr`` and
``/dev/fd/N`` name a descriptor the process already holds, and are written through it as it is
(see :func:`stream_fd`): a shell's redirection is neither replaced nor truncated, and two outputs
cannot both name one stream.

Usage::

    check_outputs([Output("--json", "r.json"), Output("--csv", "tables", ".csv", ("gradients.csv",))],
                  [Input("the --impl file", "mine.py")])  # before work
    write_atomic("r.json", text)
    write_atomic("-", text)  # standard output

Longer than 300 lines: it is the one writer of every command, and each of its refusals
(devices, FIFOs, symlinks, long names, conflicting outputs, outputs over inputs, stale temporary
files, files it did not write) belongs with it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import re
import secrets
import stat
import sys
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compare.cli import deferred_interrupts
from compare.terminal import printable


class OutputError(OSError):
    """An output path that cannot be written."""


NAME_MAX_FALLBACK = 255  # bytes in one path component on Linux, macOS and Windows file systems
_TEMP_TAIL = 32  # room for ".<pid>.<8 hex><suffix>" after the prefix


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


# -- standard streams --------------------------------------------------------------------------

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


def _check_stream(fd: int, shown_as: str) -> None:
    try:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        raise OutputError(f"cannot write {shown_as}: {stream_name(fd)} is not open") from None
    if mode == os.O_RDONLY:
        raise OutputError(f"cannot write {shown_as}: {stream_name(fd)} is open for reading only")


def _write_stream(fd: int, data: bytes, shown_as: str) -> None:
    """``data`` written through the open descriptor ``fd``, after what Python's own streams hold."""
    _check_stream(fd, shown_as)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as e:
        raise OutputError(f"cannot write {shown_as} ({stream_name(fd)}): {e.strerror or e}") from None


def _check_streams(outputs: Sequence[Output]) -> None:
    """Refuse two outputs on one stream, and a directory output (``--csv -``) on any."""
    seen: dict[int, Output] = {}
    for o in outputs:
        fd = stream_fd(o.path)
        if fd is None:
            continue
        if o.suffix is not None:
            raise OutputError(f"{o.option} writes several files into a directory, not to {stream_name(fd)}")
        if fd in seen:
            raise OutputError(f"{seen[fd].option} and {o.option} would both write to {stream_name(fd)}; choose one")
        _check_stream(fd, shown(o.path))
        seen[fd] = o


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
    fd = stream_fd(path)
    if fd is not None:  # a standard stream: written through its descriptor
        if directory:
            raise OutputError(f"cannot write into {shown(path)}: a directory is needed, not {stream_name(fd)}")
        _check_stream(fd, shown(path))
        return
    target = _final(path)
    shown_as = shown(path)
    try:
        if directory:
            if os.path.islink(path) and not os.path.exists(path):  # mkdir cannot make it: refused now, not after
                raise OutputError(
                    f"cannot write into {shown_as}: a symbolic link to {os.readlink(path)}, which does not exist"
                )
            if target.exists() and not target.is_dir():
                raise OutputError(f"cannot write into {shown_as}: it exists and is not a directory")
            if len(os.fsencode(target.name)) > _name_max(target.parent):
                raise OutputError(f"cannot write into {shown_as}: name too long")
            _probe(target if target.is_dir() else target.parent, shown_as)
        else:
            text = os.fspath(path)
            if text.endswith((os.sep, "/")) or os.path.basename(text) in (".", ".."):  # "x/." is the folder x
                raise OutputError(f"cannot write {shown_as}: it names a folder; give a file's path")
            _check_file(target, shown_as)
            _probe(target.parent, shown_as)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write {shown_as}: {e.strerror or e}") from None


MANIFEST = ".dlfs-compare-manifest.json"  # in each output folder: the files runs wrote there (see write_files)
MANIFEST_FORMAT = 1
PYTHON_SUFFIXES = (".py", ".pyw", ".pyc", ".pth")  # an output there could be imported (or run) as code


@dataclass(frozen=True)
class Output:
    option: str  # the command-line option, for messages: "--json"
    path: str | os.PathLike[str] | None  # None: the option was not given
    suffix: str | None = None  # a directory output: the suffix of the files written into it (".csv")
    names: tuple[str, ...] = ()  # a directory output: every file it will hold (its manifest is added)

    def files(self) -> list[tuple[str, Path]]:
        """(how a message names it, the file written: links followed) of each file this output writes."""
        assert self.path is not None
        if self.suffix is None:
            return [(f"{self.option} {shown(self.path)}", _final(self.path))]
        inside = (*self.names, MANIFEST)
        return [
            (f"{shown(Path(self.path) / n)} (in {self.option} {shown(self.path)})", _final(Path(self.path) / n))
            for n in inside
        ]


@dataclass(frozen=True)
class Input:
    what: str  # for messages: "the --impl file", "RUN.json"
    path: str | os.PathLike[str]  # a file the command reads


def check_outputs(outputs: Sequence[Output], inputs: Sequence[Input] = ()) -> None:
    """Refuse, before any work, an output that cannot be written, two outputs on one file, or one on an input.

    Every output is checked with :func:`check_writable`, and so is every file a directory output
    will hold (a folder where ``gradients.csv`` should go is refused now, not after the run); a
    file there that a run did not write, or that was edited since, is refused too (it is the
    user's: only what the folder's manifest lists as written, unchanged, is replaced). A
    file output conflicts with another file output at the same path (symbolic links followed),
    with a directory output at its own path, and with a directory output it lies in when it has
    that output's suffix or one of its names (``--json D/gradients.csv --csv D``). No file any
    output writes may be one of ``inputs`` (symbolic links followed, hard links compared by inode):
    the run would replace what it reads, e.g. ``--json mine.py`` with ``--impl mine.py:Net``.
    """
    given = [o for o in outputs if o.path is not None]
    _check_streams(given)
    given = [o for o in given if stream_fd(o.path) is None]
    for o in given:
        check_writable(o.path, directory=o.suffix is not None)
        if o.suffix is not None:
            for label, target in o.files():
                _check_inside(target, label)
    finals = [(o, _final(o.path)) for o in given]
    for i, (a, pa) in enumerate(finals):
        for b, pb in finals[i + 1 :]:
            clash = _clash(a, pa, b, pb) or _clash(b, pb, a, pa)
            if clash:
                raise OutputError(f"{a.option} and {b.option} would both write {shown(clash)}; choose different paths")
    for o in given:
        for label, target in o.files():
            for source in inputs:
                if _same_file(target, source.path):
                    raise OutputError(
                        f"{label} would overwrite {source.what} {shown(source.path)}, which this run reads; "
                        "choose another path"
                    )
    for o in given:
        for label, target in o.files():  # after the inputs: one that is an input is named as such
            if target.suffix.lower() in PYTHON_SUFFIXES:
                raise OutputError(
                    f"{label} names a Python file: Python would import the report as code (a package's "
                    "__init__.py, a module beside yours); choose a name with another suffix"
                )
        if o.suffix is not None:
            _check_owned(o)


def _check_owned(o: Output) -> None:
    """A directory output replaces only files a run wrote there, unchanged since (its manifest says which)."""
    folder = Path(o.path)
    manifest = folder / MANIFEST
    if manifest.is_symlink() or (os.path.lexists(manifest) and not _is_manifest(manifest)):
        what = "a symbolic link" if manifest.is_symlink() else "not a manifest a run wrote"
        raise OutputError(
            f"{o.option} {shown(folder)} would replace {shown(manifest)}, which is {what}; move it or choose "
            "another folder"
        )
    written = read_manifest(folder)
    for name in o.names:
        target = folder / name
        if not os.path.lexists(target):
            continue
        if name not in written:
            why = f"was not written by a run (the folder's {MANIFEST} does not list it)"
        elif _digest_of(target) != written[name]:
            why = "was changed since a run wrote it"
        else:
            continue
        raise OutputError(
            f"{o.option} {shown(folder)} would replace {shown(target)}, which {why}; move it or choose another folder"
        )


def _check_inside(target: Path, label: str) -> None:
    try:
        _check_file(target, label)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write {label}: {e.strerror or e}") from None


def _clash(a: Output, pa: Path, b: Output, pb: Path) -> Path | None:
    if a.suffix is None and b.suffix is None and (pa == pb or _same_file(pa, pb)):  # hard links: one file
        return pa
    if a.suffix is None and b.suffix is not None and pa.parent == pb:
        if pa.suffix == b.suffix or pa.name in (*b.names, MANIFEST):
            return pa
    return None


def _same_file(target: Path, source: str | os.PathLike[str]) -> bool:
    """Whether writing ``target`` (links already followed) would change the file ``source``."""
    if not os.fspath(source):
        return False
    if target == Path(os.path.realpath(source)):
        return True
    try:
        return os.path.samefile(target, source)  # a hard link, or the same file through a bind mount
    except OSError:  # one of them does not exist (yet)
        return False


# -- writing -----------------------------------------------------------------------------------


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write ``text`` (UTF-8) or bytes to ``path`` via a temporary file beside it and ``os.replace``.

    A standard stream (:func:`stream_fd`) is written through its open descriptor instead.

    Raises :class:`OutputError` naming the file when it cannot be written (the old file stays).
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    fd = stream_fd(path)
    if fd is not None:  # "-", /dev/stdout, /dev/fd/N: through the open descriptor, not replaced
        _write_stream(fd, data, shown(path))
        return
    target = _final(path)
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

    The directory is created only when there is something to write. Beside the files, the
    folder's manifest (:data:`MANIFEST`, plain JSON) lists every file a run wrote there with its
    SHA-256. A file this call did not write is removed only when it is stale: named in ``owned``
    (every name this writer may write), listed in the manifest by an earlier run, and unchanged
    since. Any other file, the user's own ``timing.csv`` included, is never touched.
    """
    if not contents:
        return []
    folder = Path(directory)
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {shown(folder)}: {e.strerror or e}") from None
    earlier = read_manifest(folder)
    listed = {name: digest for name, digest in earlier.items() if name not in owned}  # other writers' files
    written = []
    for name, content in contents.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        write_atomic(folder / name, data)
        listed[name] = hashlib.sha256(data).hexdigest()
        written.append(folder / name)
    for name in sorted(set(earlier) & set(owned) - set(contents)):
        _remove_if_unchanged(folder / name, earlier[name])
    manifest = {"format": MANIFEST_FORMAT, "written_by": "dlfs-compare", "files": dict(sorted(listed.items()))}
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return written


def _is_manifest(path: Path) -> bool:
    """``path`` holds a manifest a run wrote (its JSON says so), not some file of the user's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("written_by") == "dlfs-compare"


def read_manifest(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 of the files earlier runs wrote in ``folder``; empty without a readable manifest."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("files") if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT else None
    if not isinstance(entries, dict):
        return {}
    plain = (n for n in entries if isinstance(n, str) and n not in ("", ".", "..") and "/" not in n and "\0" not in n)
    return {name: entries[name] for name in plain if isinstance(entries[name], str)}


def _digest_of(path: Path) -> str | None:
    """SHA-256 of the regular file at ``path`` (a symbolic link is not followed), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        digest = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_if_unchanged(stale: Path, digest: str) -> None:
    """Remove a file an earlier run wrote, if it still holds exactly what was written."""
    if _digest_of(stale) != digest:
        return  # gone, replaced by something else, or edited since: not ours to remove
    try:
        stale.unlink()
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise OutputError(f"cannot remove the stale {shown(stale)}: {e.strerror or e}") from None


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
