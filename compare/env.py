"""Thread settings and the run's header: machine, versions, BLAS, devices, revision.

:func:`set_threads` must run before numpy or torch is first imported: BLAS
libraries read their thread count from the environment when they load.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def set_threads(threads: int) -> None:
    """Pin BLAS/OpenMP thread counts (environment now, torch once it is imported)."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():  # any locale
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> str:
    """numpy's BLAS library and version, as numpy reports them."""
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        return "unknown"


def numpy_threads() -> str:
    """BLAS threads numpy actually runs with (threadpoolctl when present, else the environment)."""
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        own = [p for p in pools if "numpy" in p.get("filepath", "")] or pools  # not scipy's copy
        if own:
            return ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in own)
    except ImportError:
        pass
    return os.environ.get("OPENBLAS_NUM_THREADS", "?")


def git_revision() -> str | None:
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None
