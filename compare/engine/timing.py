"""Timing tables: one gradient per method × device × dtype, at a given net shape.

Each method computes one full gradient of one batch from the shared initial
weights (its native form: numpy arrays for numpy, device tensors for torch; no
host copies are timed). numpy methods are all timed first, then torch ones —
never interleaved. The book's numerical loop costs 2 loss evaluations per
parameter (~12 s at 784-50-10 here), so unless ``full`` is set it is timed on a
seeded random sample of k parameters and scaled by P / k: each entry costs the
same two forward passes, so the estimate is the full loop's time up to noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from compare.engine.runners import NUMERICAL, Method, runner
from compare.engine.timer import Timing, measure
from impl_numpy.checks import PARAM_NAMES


@dataclass(frozen=True)
class Shape:
    input_size: int
    hidden_size: int
    output_size: int
    batch_size: int

    @property
    def n_params(self) -> int:
        d, h, c = self.input_size, self.hidden_size, self.output_size
        return d * h + h + h * c + c

    def __str__(self) -> str:
        return f"{self.input_size}-{self.hidden_size}-{self.output_size} x{self.batch_size}"


@dataclass
class TimingRow:
    method: str  # numerical | backprop | autograd
    device: str
    dtype: str
    threads: int
    shape: str  # "D-H-C xB"
    n_params: int  # P
    median_s: float  # per gradient
    iqr_s: float
    min_s: float
    runs: int
    loops: int
    noisy: bool  # IQR > 10 % of the median
    estimated: bool  # timed on a sample of k parameters and scaled to P
    sampled: int  # k (equal to P when not estimated)
    ratio_fastest: float = float("nan")  # median / fastest median at this shape
    ratio_numerical: float = float("nan")  # median / numerical median at this shape

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


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


def _timed_call(
    method: Method, params: dict, x: np.ndarray, t: np.ndarray, activation: str, h: float, k: int | None, seed: int
) -> tuple[Callable[[], object], Callable[[], None] | None, int]:
    r = runner(method, params, activation, h)
    if method.name == NUMERICAL and k is not None:
        entries = sample_entries({n: p.shape for n, p in params.items()}, k, seed)
        xs = x.astype(np.float64)
        return (lambda: r.net.numerical_gradient_at(xs, t, entries, h)), None, k
    fn, sync = r.gradient_fn(x, t)
    return fn, sync, sum(p.size for p in params.values())


def time_shape(
    methods: list[Method],
    params: dict[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    activation: str,
    h: float,
    threads: int,
    full: bool,
    sample: int,
    seed: int,
    runs: int | None = None,
) -> list[TimingRow]:
    """Time each method's gradient at one shape; numpy methods first, then torch.

    ``runs`` overrides the number of timed runs (default: 5 for a numerical method, 9 for an exact one).
    """
    shape = Shape(params["W1"].shape[0], params["W1"].shape[1], params["W2"].shape[1], x.shape[0])
    p_total = shape.n_params
    rows = []
    ordered = [m for m in methods if m.framework == "numpy"] + [m for m in methods if m.framework == "torch"]
    for m in ordered:
        k = None if (full or sample >= p_total or m.name != NUMERICAL) else sample
        fn, sync, counted = _timed_call(m, params, x, t, activation, h, k, seed)
        slow = m.kind == "numerical"
        n_runs = runs if runs is not None else (5 if slow else 9)
        timing: Timing = measure(fn, sync=sync, runs=n_runs, warmup=1 if slow else 3)
        scale = p_total / counted  # 1 unless sampled
        rows.append(
            TimingRow(
                method=m.name,
                device=m.device,
                dtype=m.dtype,
                threads=threads,
                shape=str(shape),
                n_params=p_total,
                median_s=timing.median_s * scale,
                iqr_s=timing.iqr_s * scale,
                min_s=timing.min_s * scale,
                runs=timing.runs,
                loops=timing.loops,
                noisy=timing.noisy,
                estimated=counted < p_total,
                sampled=counted,
            )
        )
    fastest = min(r.median_s for r in rows)
    numerical = [r.median_s for r in rows if r.method == "numerical"]
    for r in rows:
        r.ratio_fastest = r.median_s / fastest
        r.ratio_numerical = r.median_s / numerical[0] if numerical else float("nan")
    return rows
