"""Thread settings and the run's header: machine, load, versions, BLAS, devices, the project's version and revision.

:func:`set_threads` runs before the command computes anything: a BLAS that loads later reads the
count from the environment, one already loaded (numpy, when a parser read the framework registry)
is limited in place with threadpoolctl, and torch is told directly.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def set_threads(threads: int) -> None:
    """Pin BLAS/OpenMP thread counts: in the environment, read by a BLAS as it loads, and in those already loaded.

    A command whose parser reads the framework registry has loaded numpy by now, whose BLAS read
    the environment before this was set: threadpoolctl limits it in place, and torch is told directly.
    """
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads, user_api="blas")  # stays in force: nothing restores it
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def load_average() -> list[float] | None:
    """The system's load average over 1, 5 and 15 minutes (``os.getloadavg``), or None where there is none.

    The number of processes running or waiting for a CPU, averaged: above the CPUs this process may
    use, other work competes with the run's threads and its timings spread.
    """
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # Windows has no load average
        return None


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


def package_version() -> str:
    """The installed dlfs-compare's version (``"0+unknown"`` when it runs from a folder never installed)."""
    import compare

    return compare.__version__


def _names_this_project(pyproject: str) -> bool:
    """True when a pyproject.toml's ``[project]`` table has ``name = "dlfs-compare"``."""
    section = ""
    for raw in pyproject.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            section = line
        elif section == "[project]" and re.fullmatch(r"name\s*=\s*[\"']dlfs-compare[\"']", line):
            return True
    return False


def own_checkout() -> Path | None:
    """The folder that holds ``compare/`` when it is this project's source tree (its pyproject.toml names it)."""
    root = Path(__file__).resolve().parent.parent
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return root if _names_this_project(pyproject) else None


def git_revision() -> str | None:
    """The short commit of the project's own checkout; None anywhere else.

    Only when the package runs from its source tree and that tree is the top of a git repository:
    an installed copy (site-packages, or a vendored copy) inside some other repository must not
    record that repository's commit as its own.
    """
    root = own_checkout()
    if root is None:
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != root:
        return None
    return lines[1]
