"""The files a distributed job is passed through: one JSON spec, ``.npy`` arrays, atomic writes.

A job lives in a private directory. The parent writes ``spec.json`` and the input
arrays; each rank reads them; rank 0 writes the outputs; every rank keeps a small
heartbeat file fresh so the parent can tell a hung job from a slow one. Arrays go
through ``np.save`` / ``np.load(allow_pickle=False)`` and everything else through
JSON: nothing is pickled. Every write is a temporary file then ``os.replace``, so a
reader never sees half a file.

No torch here: the parent reads and writes these files without importing it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

SPEC = "spec.json"
RESULT = "result.json"  # written last by rank 0: its presence means every output array is complete
FAILURES = "failures.json"  # written by the launcher process when a rank failed


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: Path, obj: Mapping) -> None:
    """``obj`` as JSON at ``path``, atomically."""
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    _atomic(Path(path), lambda fh: fh.write(data))


def write_text(path: Path, text: str) -> None:
    """``text`` (UTF-8) at ``path``, atomically."""
    data = text.encode()
    _atomic(Path(path), lambda fh: fh.write(data))


def read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_array(job: Path, name: str, array: np.ndarray) -> None:
    """``job / f"{name}.npy"``, atomically (no pickle: object arrays are refused)."""
    arr = np.asarray(array)
    if arr.dtype.hasobject:
        raise TypeError(f"array {name!r} has dtype object; only plain numeric arrays are passed to ranks")
    _atomic(Path(job) / f"{name}.npy", lambda fh: np.save(fh, arr, allow_pickle=False))


def read_array(job: Path, name: str) -> np.ndarray:
    return np.load(Path(job) / f"{name}.npy", allow_pickle=False)


def write_arrays(job: Path, prefix: str, arrays: Mapping[str, np.ndarray]) -> None:
    for key, arr in arrays.items():
        write_array(job, f"{prefix}{key}", arr)


def read_arrays(job: Path, prefix: str, keys: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
    return {key: read_array(job, f"{prefix}{key}") for key in keys}


# -- heartbeats and errors -----------------------------------------------------------------
def beat_path(job: Path, rank: int) -> Path:
    return Path(job) / f"beat_rank{rank}.json"


def error_path(job: Path, rank: int) -> Path:
    return Path(job) / f"error_rank{rank}.json"


class Heartbeat:
    """Tells the parent this rank still moves: ``beat(step)`` rewrites a tiny file at most every ``every_s``."""

    def __init__(self, job: Path, rank: int, every_s: float = 0.5) -> None:
        self.path = beat_path(job, rank)
        self.every_s = every_s
        self.last = -float("inf")

    def beat(self, step: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.every_s:
            write_json(self.path, {"step": int(step), "time": time.time()})
            self.last = now


def read_beats(job: Path, world: int) -> dict[int, dict]:
    """``{rank: {"step", "time"}}`` for the ranks that have beaten at least once."""
    beats = {}
    for rank in range(world):
        try:
            beats[rank] = read_json(beat_path(job, rank))
        except (FileNotFoundError, json.JSONDecodeError):
            continue
    return beats
