"""Timing like a benchmark: warm-up, auto-ranged loops, median and spread.

One measurement = ``runs`` runs of ``loops`` calls each; the per-call time of a
run is its wall time / loops. ``loops`` is chosen so a run lasts at least
``min_run_s`` (short calls are timed in batches, so timer resolution and call
overhead do not dominate). Reported: median, interquartile range (IQR) and
minimum over runs, and every run's per-call time (``samples_s``: a saved report can be
judged again from them, e.g. by a rank test against another run's). ``sync`` (e.g.
``torch.cuda.synchronize``) is called before starting and before stopping the clock, so
queued device work is counted.

:func:`time_rounds` times several calls against each other in interleaved rounds (A, B, C,
A, B, C, ...), each round running a call in blocks long enough for thread pools to settle;
:func:`ratio_spread` gives a ratio's median and spread over rounds and whether it drifted.
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
    samples_s: tuple[float, ...] = ()  # every run's per-call time, in the order run

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
    loops = _loops_for(run, min_run_s, max_loops)  # auto-range: grow until one run lasts min_run_s
    return summarize([run(loops) / loops for _ in range(runs)], loops)


def summarize(per_call: list[float], loops: int = 1) -> Timing:
    """Median, IQR and minimum of per-call times measured elsewhere (one run each), the times kept."""
    arr = np.asarray(per_call, dtype=np.float64)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return Timing(float(med), float(q3 - q1), float(arr.min()), len(arr), loops, tuple(float(v) for v in arr))


# -- interleaved rounds ---------------------------------------------------------------------------

DRIFT_FLOOR = 0.05  # a half-to-half change below 5% of the median is never called drift


@dataclass(frozen=True)
class RoundTimes:
    per_round: list[float]  # per-call seconds in each round: the fastest of that round's repeated blocks
    spread: list[float]  # each round's (max - min) / median of its blocks: the spread within a round
    loops: int  # calls per block


@dataclass(frozen=True)
class Spread:
    """A series over rounds (a time or a ratio): its median, quartiles, extremes and drift."""

    median: float
    q1: float
    q3: float
    lo: float
    hi: float
    first_half: float  # median of the first half of the rounds
    second_half: float  # median of the second half (the middle round of an odd count left out)
    within: float  # the spread within a round that drift is judged against (relative)

    @property
    def drift(self) -> float:
        """How far the second half moved from the first, relative to the median."""
        return abs(self.second_half - self.first_half) / self.median if self.median else 0.0

    @property
    def drifting(self) -> bool:
        return self.drift > max(self.within, DRIFT_FLOOR)


def _loops_for(run: Callable[[int], float], min_s: float, max_loops: int) -> int:
    """The number of calls whose block lasts at least ``min_s`` (grown from 1)."""
    loops = 1
    while loops < max_loops:
        elapsed = run(loops)
        if elapsed >= min_s:
            break
        loops = min(max_loops, max(loops * 2, int(loops * min_s / max(elapsed, 1e-9) * 1.2)))
    return loops


def time_rounds(
    calls: dict[str, Callable[[], object]],
    *,
    rounds: int,
    repeats: int = 3,
    min_block_s: float = 0.1,
    warmup: int = 2,
    syncs: dict[str, Callable[[], None] | None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    max_loops: int = 100_000,
) -> dict[str, RoundTimes]:
    """Time every call in interleaved rounds: A, B, C, A, B, C, ...; never call by call.

    Within a round each call runs ``repeats`` blocks of ``loops`` calls back to back (a
    block lasts at least ``min_block_s``, so thread pools settle before the clock counts),
    then the next call's blocks run; the round's time is its fastest block (the one least
    disturbed by other work on the machine). Drift between rounds (a neighbour's load,
    clock changes) then shows as a spread of the per-round ratios instead of a bias.
    """
    syncs = syncs or {}

    def block(name: str, loops: int) -> float:
        fn, sync = calls[name], syncs.get(name)
        if sync:
            sync()
        start = clock()
        for _ in range(loops):
            fn()
        if sync:
            sync()
        return clock() - start

    loops = {}
    for name in calls:
        for _ in range(warmup):
            block(name, 1)
        loops[name] = _loops_for(lambda n, name=name: block(name, n), min_block_s, max_loops)
    per_round: dict[str, list[float]] = {name: [] for name in calls}
    spread: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name in calls:
            times = [block(name, loops[name]) / loops[name] for _ in range(repeats)]
            med = float(np.median(times))
            per_round[name].append(min(times))
            spread[name].append((max(times) - min(times)) / med if med else 0.0)
    return {name: RoundTimes(per_round[name], spread[name], loops[name]) for name in calls}


def spread_of(values: list[float], within: float) -> Spread:
    """The :class:`Spread` of a series over rounds, drift judged against ``within``."""
    arr = np.asarray(values, dtype=np.float64)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    half = len(arr) // 2
    first, second = (arr[:half], arr[len(arr) - half :]) if half else (arr, arr)
    return Spread(
        float(med), float(q1), float(q3), float(arr.min()), float(arr.max()),
        float(np.median(first)), float(np.median(second)), within,
    )  # fmt: skip


def ratio_spread(a: RoundTimes, b: RoundTimes | None = None, scale: float = 1.0) -> Spread:
    """``a / b / scale`` per round (``a / scale`` without ``b``), drift judged against the rounds' own spread."""
    if b is None:
        ratios = [x / scale for x in a.per_round]
        within = float(np.median(a.spread))
    else:
        ratios = [x / y / scale for x, y in zip(a.per_round, b.per_round, strict=True)]
        within = float(np.median(np.add(a.spread, b.spread)))  # relative spreads add, to first order, in a ratio
    return spread_of(ratios, within)
