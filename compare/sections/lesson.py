"""The float32 lesson: the numerical gradient's error against the step h, in float64 and float32.

Run: ``python -m compare.run --only lesson`` (a plain ``python -m compare.run`` includes it).

The book's central difference ``(f(x + h) - f(x - h)) / 2h`` (Deep Learning from Scratch,
ch. 4) has two errors that pull in opposite directions:

- truncation, about ``h² |f'''| / 6``: it falls as h shrinks;
- rounding: each loss value carries about ``ε |L|`` of rounding error (ε: the dtype's
  machine epsilon, L ≈ 2.3 at the start), and dividing by 2h magnifies it to about
  ``ε |L| / h``: it rises as h shrinks. Once h is below the spacing of floats near a
  weight, ``x + h`` rounds back to ``x``, the difference is 0 and the gradient is lost.

Their sum is smallest near ``h ≈ ε^(1/3)``: about 6e-6 in float64 (ε = 2.2e-16) but
about 5e-3 in float32 (ε = 1.2e-7). The book's ``h = 1e-4`` sits near float64's best and
deep in float32's rounding arm, so a float32 numerical gradient with it is mostly noise.
On a log-log plot of error against h each dtype draws a V.

Measured on the run's own net and first batch: the book's loop on a seeded sample of k
entries, with the net held in float64 and in float32, for h = 1e-1 ... 1e-10. The error is
taken against float64 backprop (exact up to float64 rounding) at the weights and inputs as
each dtype holds them (rounded to float32 for the float32 rows), so that rounding the inputs
is not counted as the differences' error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.config import DTYPES, RunConfig
from compare.data import Dataset
from compare.engine.gradient_timing import sample_entries
from compare.report.model import LessonRow, LessonSection
from impl_numpy import TwoLayerNet

H_VALUES = tuple(10.0**-e for e in range(1, 11))  # 1e-1 ... 1e-10

SAMPLE = 100  # entries on which the book's loop runs per (dtype, h): 2 loss evaluations each


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    """``a`` rounded to ``dtype`` and back to float64."""
    return np.asarray(a).astype(dtype).astype(np.float64)


def _reference(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    entries: Mapping[str, np.ndarray],
    dtype: str,
    activation: str,
) -> np.ndarray:
    """(k,) exact float64 backprop on the sampled entries, at the weights and inputs as ``dtype`` holds them.

    Rounding the inputs to float32 is then not counted as the float32 differences' error.
    """
    ref_net = TwoLayerNet.from_params({k: _rounded(v, dtype) for k, v in params.items()}, activation=activation)
    exact = ref_net.gradient(_rounded(x, dtype), t)
    return np.concatenate([exact[k].ravel()[idx] for k, idx in entries.items()])  # (k,)


def _row(
    net: TwoLayerNet,
    x: np.ndarray,
    t: np.ndarray,
    entries: Mapping[str, np.ndarray],
    h: float,
    ref: np.ndarray,
    scale: np.ndarray,
    dtype: str,
) -> LessonRow:
    """The book loop's error at step ``h`` on the sampled entries, against ``ref`` (both (k,))."""
    got = net.numerical_gradient_at(x, t, entries, h)
    values = np.concatenate([np.asarray(got[k], dtype=np.float64) for k in entries])  # (k,)
    err = np.abs(values - ref)
    return LessonRow(
        dtype=dtype,
        h=float(h),
        max_abs=float(err.max()),
        rel=float(err.max() / scale.max()),
        median_abs=float(np.median(err)),
    )


def h_sweep(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    activation: str = "sigmoid",
    hs: Sequence[float] = H_VALUES,
    dtypes: Sequence[str] = DTYPES,
    sample: int = SAMPLE,
    seed: int = 0,
    book_h: float = 1e-4,
) -> LessonSection:
    """Error of the book's numerical gradient for each dtype and step h.

    Parameters
    ----------
    params : W1 (D, H), b1 (H,), W2 (H, C), b2 (C,), float64, book layout
    x : (N, D) inputs
    t : (N,) class indices
    sample : entries (drawn uniformly over all parameters, seeded) on which to difference;
        all of them when ``sample`` >= P

    book_h : the run's step, marked in the tables

    Returns the rows (one per dtype and h: max_abs, rel = max_abs / grad_max, median_abs),
    the largest and median |entry| of the exact gradient over the sampled entries, the best h
    per dtype and each dtype's ε.
    """
    shapes = {k: np.shape(v) for k, v in params.items()}
    n_params = sum(int(np.prod(s)) for s in shapes.values())
    entries = sample_entries(shapes, min(sample, n_params), seed)
    scale = np.abs(_reference(params, x, t, entries, "float64", activation))  # the gradient's own size
    rows = []
    for dtype in dtypes:
        ref = _reference(params, x, t, entries, dtype, activation)
        net = TwoLayerNet.from_params(params, activation=activation, dtype=dtype)
        rows += [_row(net, x, t, entries, h, ref, scale, dtype) for h in hs]
    best = {}
    for dtype in dtypes:
        mine = [r for r in rows if r.dtype == dtype]
        best[dtype] = min(mine, key=lambda r: r.max_abs).h
    w1 = shapes["W1"]
    return LessonSection(
        shape=f"{w1[0]}-{w1[1]}-{shapes['W2'][1]}",
        activation=activation,
        batch_size=int(np.shape(x)[0]),
        entries=int(ref.size),
        n_params=n_params,
        grad_max=float(scale.max()),
        grad_median=float(np.median(scale)),
        best=best,
        eps={d: float(np.finfo(d).eps) for d in dtypes},
        rows=rows,
        book_h=book_h,
    )


def run_section(cfg: RunConfig, data: Dataset, params: Mapping[str, np.ndarray], batch: np.ndarray) -> LessonSection:
    """The ``lesson`` section of a run: the sweep on the run's net and first batch."""
    x, t = data.x_train[batch], data.t_train[batch]
    return h_sweep(params, x, t, activation=cfg.activation, seed=cfg.seed, book_h=cfg.h)
