"""Timing tables: one gradient per method × device × dtype, at a given net shape.

Each method computes one full gradient of one batch from the shared initial
weights (its native form: numpy arrays for numpy, device tensors for torch; no
host copies are timed). numpy methods are all timed first, then torch ones —
never interleaved. The book's numerical loop costs 2 loss evaluations per
parameter (~12 s at 784-50-10 here), so unless ``full`` is set it is timed on a
seeded random sample of k parameters and scaled by P / k: each entry costs the
same two forward passes, so the estimate is the full loop's time up to noise. A user's own
``numerical_gradient`` cannot be run on a sample: it is timed in one call (its row says 1 run),
not 7 plus a warm-up, which at 784-50-10 would take minutes.

The sampled call and its P / k scale come from one function (:func:`_timed_call`), so that the
scaling cannot be lost between them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compare.config import param_count
from compare.engine.builtin_runners import NUMERICAL
from compare.engine.plugin_runner import FAMILY as PLUGIN
from compare.engine.protocol import Runner
from compare.engine.timer import measure, summarize
from compare.report.model import TimingRow
from impl_numpy.validation import PARAM_NAMES


@dataclass(frozen=True)
class Shape:
    input_size: int
    hidden_size: int
    output_size: int
    batch_size: int

    @property
    def n_params(self) -> int:
        return param_count(self.input_size, self.hidden_size, self.output_size)

    def __str__(self) -> str:
        return f"{self.input_size}-{self.hidden_size}-{self.output_size} x{self.batch_size}"


def sample_entries(shapes: dict[str, tuple[int, ...]], k: int, seed: int) -> dict[str, np.ndarray]:
    """k distinct flat indices drawn uniformly over all parameters, grouped by parameter."""
    sizes = [int(np.prod(shapes[name])) for name in PARAM_NAMES]
    chosen = np.sort(np.random.default_rng(seed).choice(sum(sizes), size=k, replace=False))
    out, start = {}, 0
    for name, size in zip(PARAM_NAMES, sizes, strict=True):
        picked = chosen[(chosen >= start) & (chosen < start + size)] - start
        if picked.size:
            out[name] = picked
        start += size
    return out


def by_framework(runners: Sequence[Runner]) -> list[Runner]:
    """``runners`` grouped by framework, groups in the order they first appear, order kept within a group.

    The run lists its methods in the registry's order (:mod:`compare.registry`), so numpy's are
    timed first, then torch's, and so on: two frameworks' thread pools never take turns.
    """
    first: dict[str, int] = {}
    for r in runners:
        first.setdefault(r.info.framework, len(first))
    return sorted(runners, key=lambda r: first[r.info.framework])


def time_runners(
    runners: Sequence[Runner],
    x: np.ndarray,
    t: np.ndarray,
    shape: Shape,
    *,
    threads: int,
    full: bool = False,
    sample: int = 200,
    seed: int = 0,
    runs: int | None = None,
) -> list[TimingRow]:
    """Time each runner's gradient at one shape, framework by framework; ratios filled in.

    The book's loop (family ``numerical``) is timed on a seeded sample of ``sample``
    parameters and scaled by P / k unless ``full``. ``runs`` overrides the number of timed
    runs (default: 7 for a numerical method, 9 for an exact one: the fewest with which a rank test of
    two saved runs can still call a change beyond noise among tens of rows, :mod:`compare.report.diff`).
    """
    p_total = shape.n_params
    rows = []
    for r in by_framework(runners):
        info = r.info
        sampled = info.family == NUMERICAL and not full  # the book's loop, on a sample unless full
        fn, sync, counted = _timed_call(r, x, t, shape, sample if sampled else p_total, seed)
        slow = info.kind == "numerical"
        if slow and info.family == PLUGIN and runs is None:  # a user's own loop, not sampled: one call, as it is
            timing = summarize([_one_call(fn, sync)])
        else:
            timing = measure(fn, sync=sync, runs=runs or (7 if slow else 9), warmup=1 if slow else 3)
        scale = p_total / counted  # 1 unless sampled: every parameter costs the same two forward passes
        rows.append(
            TimingRow(
                method=info.family,
                label=info.label,
                device=info.device,
                dtype=info.dtype,
                threads=threads,
                shape=str(shape),
                n_params=p_total,
                median_s=timing.median_s * scale,
                iqr_s=timing.iqr_s * scale,
                min_s=timing.min_s * scale,
                samples_s=[v * scale for v in timing.samples_s],  # every run kept: a saved report can be judged again
                runs=timing.runs,
                loops=timing.loops,
                noisy=timing.noisy,
                estimated=counted < p_total,
                sampled=counted,
                ratio_fastest=float("nan"),
                ratio_numerical=float("nan"),
                compile_s=getattr(r, "compile_seconds", None),  # set by timed_gradient (JAX, torch.compile)
            )
        )
    fill_ratios(rows)
    return rows


def _one_call(fn, sync) -> float:
    """Seconds of one call of ``fn`` (synced after, if ``sync``)."""
    start = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - start


def _timed_call(r: Runner, x: np.ndarray, t: np.ndarray, shape: Shape, sample: int, seed: int):
    """(call, sync, parameters it covers): the whole gradient, or the book's loop on ``sample`` of them."""
    if sample >= shape.n_params:
        fn, sync = r.timed_gradient(x, t)
        return fn, sync, shape.n_params
    h, shapes = shape.hidden_size, {"W1": (shape.input_size, shape.hidden_size), "b1": (shape.hidden_size,)}
    shapes |= {"W2": (h, shape.output_size), "b2": (shape.output_size,)}
    entries = sample_entries(shapes, sample, seed)
    return r.timed_gradient_at(x, t, entries), None, sample  # type: ignore[attr-defined]


def fill_ratios(rows: list[TimingRow]) -> None:
    """Each row's median against the fastest and against the book's loop of its shape."""
    if not rows:
        return
    fastest = min(r.median_s for r in rows)
    numerical = [r.median_s for r in rows if r.method == NUMERICAL]
    for r in rows:
        r.ratio_fastest = r.median_s / fastest
        r.ratio_numerical = r.median_s / numerical[0] if numerical else float("nan")
