"""The manifest of an output folder (``--csv``, ``--plot``): the files runs wrote there, with their SHA-256.

A run removes or replaces only files it can prove a run wrote: those listed in the folder's
manifest (:data:`MANIFEST`, plain JSON) and unchanged since. Read by the checks before any work
(:mod:`compare.preflight`), written by :func:`compare.files.write_files`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from compare.pathsafety import OutputError, shown

MANIFEST = ".dlfs-compare-manifest.json"  # in each output folder: the files runs wrote there (see write_files)
MANIFEST_FORMAT = 1


def is_manifest(path: Path) -> bool:
    """``path`` holds a manifest a run wrote (its JSON says so), not some file of the user's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("written_by") == "dlfs-compare"


def manifest_text(files: Mapping[str, str]) -> str:
    """The manifest listing ``files`` (name -> SHA-256), as JSON text."""
    manifest = {"format": MANIFEST_FORMAT, "written_by": "dlfs-compare", "files": dict(sorted(files.items()))}
    return json.dumps(manifest, indent=2) + "\n"


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


def digest_of(path: Path) -> str | None:
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


def remove_if_unchanged(stale: Path, digest: str) -> None:
    """Remove a file an earlier run wrote, if it still holds exactly what was written."""
    if digest_of(stale) != digest:
        return  # gone, replaced by something else, or edited since: not ours to remove
    try:
        stale.unlink()
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise OutputError(f"cannot remove the stale {shown(stale)}: {e.strerror or e}") from None
