"""Timing like a benchmark: warm-up, auto-ranged loops, median and spread.

One measurement = ``runs`` runs of ``loops`` calls each; the per-call time of a
run is its wall time / loops. ``loops`` is chosen so a run lasts at least
``min_run_s`` (short calls are timed in batches, so timer resolution and call
overhead do not dominate). Reported: median, interquartile range (IQR) and
minimum over runs. ``sync`` (e.g. ``torch.cuda.synchronize``) is called before
starting and before stopping the clock, so queued device work is counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NOISY_IQR = 0.10  # IQR above this fraction of the median is marked as noisy


@dataclass(frozen=True)
class Timing:
    median_s: float  # median per-call time over runs
    iqr_s: float  # interquartile range of per-call times
    min_s: float  # fastest run's per-call time
    runs: int
    loops: int  # calls per run

    @property
    def noisy(self) -> bool:
        return self.iqr_s > NOISY_IQR * self.median_s


def measure(
    fn: Callable[[], object],
    *,
    sync: Callable[[], None] | None = None,
    runs: int = 7,
    min_run_s: float = 0.02,
    warmup: int = 2,
    max_loops: int = 10_000,
) -> Timing:
    """Time ``fn()``; see the module docstring."""

    def run(loops: int) -> float:
        if sync:
            sync()
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        if sync:
            sync()
        return time.perf_counter() - start

    for _ in range(warmup):
        run(1)
    loops = 1
    while loops < max_loops:  # auto-range: grow until one run lasts min_run_s
        elapsed = run(loops)
        if elapsed >= min_run_s:
            break
        loops = min(max_loops, max(loops * 2, int(loops * min_run_s / max(elapsed, 1e-9) * 1.2)))
    return summarize([run(loops) / loops for _ in range(runs)], loops)


def summarize(per_call: list[float], loops: int = 1) -> Timing:
    """Median, IQR and minimum of per-call times measured elsewhere (one run each)."""
    arr = np.asarray(per_call, dtype=np.float64)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return Timing(float(med), float(q3 - q1), float(arr.min()), len(arr), loops)
