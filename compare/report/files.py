"""Output files: checked before any work, written atomically.

Every file is written to a temporary file in the target directory and moved
into place with ``os.replace``, so a reader never sees half a report and an
interrupted run leaves the old file (or none) behind.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path


class OutputError(OSError):
    """An output path that cannot be written."""


# -- atomic files ------------------------------------------------------------------------------


def check_writable(path: str | os.PathLike[str], *, directory: bool = False) -> None:
    """Fail now (before any work) if ``path`` cannot be written; nothing is created.

    A file's directory must exist. An output directory (``--csv``, ``--plot``) may be new,
    but then its parent must exist; it is created only when the results are written.
    """
    target = Path(path)
    if not str(path):
        raise OutputError("an output path must not be empty")
    if directory:
        if target.exists() and not target.is_dir():
            raise OutputError(f"cannot write into {target}: it exists and is not a directory")
        folder = target if target.is_dir() else target.parent
    else:
        if target.is_dir():
            raise OutputError(f"cannot write {target}: it is a directory")
        folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: directory {folder} does not exist")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write ``text`` (UTF-8) or bytes to ``path`` via a temporary file in the same directory and ``os.replace``."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        binary = isinstance(text, bytes)
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a report is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
