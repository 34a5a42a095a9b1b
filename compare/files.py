"""Output files, written atomically: the one writer of every command.

Every file is written to a temporary file beside its target (:mod:`compare.tempfiles`) and moved
into place with ``os.replace``, with SIGINT/SIGTERM held off meanwhile, so a reader never sees
half a file and an interrupted run leaves the old file (or none) and no temporary file behind.
The writer keeps an existing target's permission bits (and owner, when run as root); a new file
gets the umask's mode, like any file a program creates. It refuses what
:mod:`compare.pathsafety` refuses (devices, FIFOs, directories, names over the limit; a symbolic
link is followed). In an output folder (``--csv``, ``--plot``) it removes only files the
folder's manifest lists as written by a run and unchanged since (:mod:`compare.manifest`).

A standard stream is the exception: ``-`` (standard output), ``/dev/stdout``, ``/dev/stderr`` and
``/dev/fd/N`` are written through the descriptor the process holds (:mod:`compare.streams`).
What is checked before any work is in :mod:`compare.preflight`.

Usage::

    write_atomic("r.json", text)
    write_atomic("-", text)  # standard output
    write_files("tables", {"gradients.csv": text}, owned=("gradients.csv", "timing.csv"))
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path

from compare.manifest import MANIFEST, manifest_text, read_manifest, remove_if_unchanged
from compare.pathsafety import OutputError, check_file, final_path, shown
from compare.signals import deferred_interrupts
from compare.streams import stream_fd, write_stream
from compare.tempfiles import clean_stale, create_temp


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write ``text`` (UTF-8) or bytes to ``path`` via a temporary file beside it and ``os.replace``.

    A standard stream (:func:`stream_fd`) is written through its open descriptor instead.

    Raises :class:`OutputError` naming the file when it cannot be written (the old file stays).
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    fd = stream_fd(path)
    if fd is not None:  # "-", /dev/stdout, /dev/fd/N: through the open descriptor, not replaced
        write_stream(fd, data, shown(path))
        return
    target = final_path(path)
    with deferred_interrupts():  # a signal now takes effect once the file is whole or gone
        try:
            check_file(target, shown(path))
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
        remove_if_unchanged(folder / name, earlier[name])
    write_atomic(folder / MANIFEST, manifest_text(listed))
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
