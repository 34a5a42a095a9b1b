"""How fast a method's time grows with the size of the net: a fitted slope, its range, and whether to quote it.

The slope is fitted by least squares on ``log(time)`` against ``log(P)`` (:func:`fit_slope`).
Whether the run's times support quoting it is decided with the fit (:func:`judge_slope`), and
stored in the fit's ``claim``: the slope's range (:func:`slope_range`) is the lowest and highest
slope when each size's time moves anywhere in a band as wide as its interquartile range (median
± IQR / 2), widened by two standard errors of the points' scatter about the line (an outlier, or
load that changed while the sizes were timed one after another, shows there and not in any one
size's IQR). A slope is quoted as measured only with at least three sizes, a range at most
:data:`SLOPE_WIDTH` wide, and a value a net's cost can take (:data:`PLAUSIBLE_SLOPES`).

Usage::

    fit = fit_slope([1_000, 10_000, 100_000], [0.01, 1.0, 100.0])  # fit.slope == 2.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compare.report.model import (
    MIN_SIZES,
    PLAUSIBLE_SLOPES,
    SLOPE_WIDTH,
)


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares line ``log(time) = slope · log(P) + intercept``."""

    slope: float  # time grows as P ** slope
    intercept: float  # log(time in s) at P = 1
    r2: float  # fraction of the variance of log(time) the line explains (1 = a perfect power law)
    n: int  # points fitted


def fit_slope(sizes: Sequence[float], seconds: Sequence[float]) -> SlopeFit:
    """Fit ``time ∝ size ** slope`` by least squares on the logarithms.

    Parameters
    ----------
    sizes : (n,) positive numbers (parameter counts P), at least two distinct
    seconds : (n,) positive times

    Raises ``ValueError`` when the data cannot define a slope.
    """
    x = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(seconds, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"sizes and seconds must be two 1-d sequences of one length, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("sizes and seconds must be positive and finite")
    if np.unique(x).size < 2:
        raise ValueError("a slope needs at least two different sizes")
    lx, ly = np.log(x), np.log(y)
    design = np.stack([lx, np.ones_like(lx)], axis=1)  # (n, 2)
    (slope, intercept), *_ = np.linalg.lstsq(design, ly, rcond=None)
    residual = ly - (slope * lx + intercept)
    spread = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 1.0
    return SlopeFit(float(slope), float(intercept), r2, int(x.size))


@dataclass(frozen=True)
class SlopeRange:
    """How far the run's own spread lets a fitted slope move."""

    low: float  # the band's lowest slope minus two standard errors of the scatter
    high: float  # the band's highest slope plus two standard errors
    band: float  # width of the slopes reachable inside the sizes' IQR bands alone
    scatter: float  # standard error of the slope from the points' scatter about the line (0 with two sizes)


def slope_range(sizes: Sequence[float], medians: Sequence[float], iqrs: Sequence[float]) -> SlopeRange:
    """The slope's range: each time anywhere in median ± IQR / 2, and ± 2 standard errors of the fit.

    The least-squares slope is ``Σ w_i · log(t_i)`` with ``w_i = (log P_i - mean) / Σ (log P_j - mean)²``,
    so its extremes over the bands take each time at the end of its band that ``w_i``'s sign favours.
    A band reaching zero or below leaves the slope unbounded (``-inf``, ``inf``).
    """
    lx = np.log(np.asarray(sizes, dtype=np.float64))  # (n,)
    med = np.asarray(medians, dtype=np.float64)
    half = np.asarray(iqrs, dtype=np.float64) / 2
    centred = lx - lx.mean()
    sxx = float(np.sum(centred**2))
    w = centred / sxx  # (n,)
    low_t, high_t = med - half, med + half
    if np.any(low_t <= 0) or not np.all(np.isfinite(high_t)):
        return SlopeRange(-np.inf, np.inf, np.inf, 0.0)
    ly_lo, ly_hi = np.log(low_t), np.log(high_t)
    band_high = float(np.sum(np.where(w > 0, w * ly_hi, w * ly_lo)))
    band_low = float(np.sum(np.where(w > 0, w * ly_lo, w * ly_hi)))
    ly = np.log(med)
    slope = float(np.sum(w * ly))
    residual = ly - ly.mean() - slope * centred
    n = lx.size
    scatter = float(np.sqrt(np.sum(residual**2) / (n - 2) / sxx)) if n > 2 else 0.0
    return SlopeRange(band_low - 2 * scatter, band_high + 2 * scatter, band_high - band_low, scatter)


def judge_slope(slope: float, sizes: int, spread: SlopeRange | None) -> str:
    """Whether the run's times support quoting ``slope`` as measured, and if not why (a :class:`ScalingFit` claim).

    ``measured``; ``few-sizes`` (fewer than :data:`MIN_SIZES`); ``noisy`` (the sizes' own IQRs
    leave the range wider than :data:`SLOPE_WIDTH`); ``scatter`` (the points' scatter about the
    line does); ``implausible`` (narrow, but outside :data:`PLAUSIBLE_SLOPES`).
    """
    if spread is None or sizes < MIN_SIZES or np.isnan(slope):
        return "few-sizes"
    if not spread.high - spread.low <= SLOPE_WIDTH:  # nan or inf included
        return "noisy" if not spread.band <= 4 * spread.scatter else "scatter"
    low, high = PLAUSIBLE_SLOPES
    return "measured" if low <= slope <= high else "implausible"
