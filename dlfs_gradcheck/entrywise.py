"""Entry-by-entry comparisons: the kink rule, full mode, and the entries shown in a report.

:func:`compare_derivative` compares one analytic derivative (of an entry, or along a
direction) with the reference, retrying with smaller steps when the step straddles a
kink (see :mod:`dlfs_gradcheck.core` for the rule); :func:`check_entries` does it
for a set of entries of one parameter; :func:`full_mode` checks every entry (or a
seeded sample). Used by :mod:`dlfs_gradcheck.core` and :mod:`dlfs_gradcheck.fast`.
With an :class:`EntryShard`, each rank of a job computes its share of a parameter's entries
and the shares are gathered as float64 rows (``--ranks N``: :mod:`compare.gradcheck.ranks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dlfs_gradcheck.metrics import Tolerance, rel_error
from dlfs_gradcheck.probe import Probe
from dlfs_gradcheck.report import EntryResult, ParamResult

KINK_RETRIES = 3  # retries of a comparison that straddles a kink ...
KINK_SHRINK = 8.0  # ... each with the step divided by this


@dataclass(frozen=True)
class Tolerances:
    entry: Tolerance  # one entry (full mode, and narrowing's last step)
    tested: Tolerance  # the code under test's allowed error per entry (fast mode's sigma term)
    reference: Tolerance  # the error of one reference derivative at the base step


@dataclass(frozen=True)
class Outcome:
    """One comparison of an analytic derivative with the reference, after any kink retries."""

    status: str  # "pass", "fail", "kink" (on a kink, the analytic value is one side's slope) or "unresolved"
    value: float  # the reference derivative at the last step tried
    err: float  # |analytic - value|
    allowed: float  # the allowed error at that step
    straddled: bool  # the base step straddled a kink (then "pass" means a smaller step verified it)


def compare_derivative(
    probe: Probe,
    name: str,
    idx: np.ndarray,
    u: np.ndarray,
    t0: float,
    analytic: float,
    allowed: Callable[[float, float], float],
    ref_error: Callable[[float, float], float],
) -> Outcome:
    """Compare ``analytic`` with the reference derivative along ``u``, applying the kink rule.

    ``allowed(value, shrink)`` is the allowed error of the comparison for a
    reference ``value`` computed with the step ``t0 / shrink``; ``ref_error`` is
    the part of it that belongs to the reference alone, which judges whether the
    one-sided derivatives agree (they do not involve the code under test).
    """
    t = t0
    on_a_side = False
    for attempt in range(KINK_RETRIES + 1):
        est = probe.derivative(name, idx, u, t)
        tol = allowed(est.value, t0 / t)
        err = abs(analytic - est.value)
        if err <= tol:
            return Outcome("pass", est.value, err, tol, straddled=attempt > 0)
        if not probe.finite_difference:
            break
        d_plus, d_minus = probe.one_sided(name, idx, u, est)
        if not abs(d_plus - d_minus) > 2 * ref_error(est.value, t0 / t):  # smooth here
            # Before calling it a mismatch, allow for the reference's own truncation error at this
            # entry, estimated from the step and half the step (a function with a large third
            # derivative here); a wrong value still fails by more than twice that.
            tol += 2 * probe.truncation(name, idx, u, est)
            status = "pass" if err <= tol else "fail"
            return Outcome(status, est.value, err, tol, straddled=attempt > 0)
        on_a_side = min(abs(analytic - d_plus), abs(analytic - d_minus)) <= 2 * tol
        t /= KINK_SHRINK  # not smooth: a smaller step may keep clear of the kink
    if not probe.finite_difference:
        return Outcome("fail", est.value, err, tol, straddled=False)
    if on_a_side:  # not smooth at any step tried, and the analytic value is the slope of one side
        return Outcome("kink", est.value, err, tol, straddled=True)
    return Outcome("unresolved", est.value, err, tol, straddled=True)  # kinks on both sides, or a wrong value


@dataclass
class Entries:
    """Entry-by-entry results for a set of flat indices of one parameter."""

    idx: np.ndarray  # (k,) flat indices
    analytic: np.ndarray  # (k,)
    numerical: np.ndarray  # (k,) the reference at the last step tried
    rel: np.ndarray  # (k,) dlfs_gradcheck.metrics.rel_error
    allowed: np.ndarray  # (k,) the allowed |analytic - numerical| at the step the value came from
    mismatch: np.ndarray  # (k,) bool
    kink: np.ndarray  # (k,) bool: the entry's base step straddled a kink (not a failure)


class EntryShard(Protocol):
    """Splits full mode's entries over the ranks of a job and gathers their results (every rank gets all).

    Only plain float64 arrays cross processes: each rank holds the same probe, so the reference
    derivative of an entry is computed identically wherever it is computed.
    """

    def split(self, k: int) -> tuple[int, int]:
        """This rank's positions ``[lo, hi)`` of ``k`` entries."""

    def beat(self, position: int) -> None:
        """Called before each entry this rank computes (liveness for the job's watchdog)."""

    def gather(self, rows: np.ndarray, k: int, n_evals: int) -> tuple[np.ndarray, int]:
        """Every rank's ``rows`` ((hi - lo, 3) each) as one (k, 3) array in order, and the loss evaluations summed."""


# Status codes of an entry's row (float64, so that rows can be gathered as one array).
_PASS, _STRADDLED, _KINK, _MISMATCH = 0.0, 1.0, 2.0, 3.0


def _entry_row(probe: Probe, name: str, k: int, a_k: float, x_k: float, tols: Tolerances) -> tuple[float, ...]:
    """(reference value, allowed error, status code) of entry ``k``: step ``h max(1, |x_k|)``."""
    s_k = max(1.0, abs(x_k))  # the step is h s_k: the rounding of the loss values is divided by it

    def ref_error(value: float, shrink: float) -> float:
        ref = tols.reference
        return max(ref.rtol * max(abs(a_k), abs(value)), ref.atol * shrink / s_k)

    def allowed(value: float, shrink: float) -> float:
        tested = max(tols.entry.rtol * max(abs(a_k), abs(value)), tols.tested.atol)
        return max(tested, ref_error(value, shrink))

    out = compare_derivative(probe, name, np.array([k]), np.ones(1), probe.step * s_k, a_k, allowed, ref_error)
    if out.status in ("fail", "unresolved"):
        code = _MISMATCH
    elif out.status == "kink":
        code = _KINK
    else:
        code = _STRADDLED if out.straddled else _PASS
    return out.value, out.allowed, code


def check_entries(
    probe: Probe, name: str, idx: np.ndarray, a: np.ndarray, tols: Tolerances, shard: EntryShard | None = None
) -> Entries:
    """Reference derivative of each entry in ``idx``, compared with ``a[idx]``; with ``shard``, this rank's share."""
    x = probe.base[name].reshape(-1)
    analytic = a[idx]
    lo, hi = (0, len(idx)) if shard is None else shard.split(len(idx))
    evals = probe.n_evals
    rows = np.empty((hi - lo, 3))  # (n, 3): reference value, allowed error, status code
    for j in range(lo, hi):
        if shard is not None:
            shard.beat(j)
        rows[j - lo] = _entry_row(probe, name, int(idx[j]), float(analytic[j]), float(x[idx[j]]), tols)
    if shard is not None:
        rows, total = shard.gather(rows, len(idx), probe.n_evals - evals)  # (k, 3)
        probe.n_evals = evals + total
    numerical, allowed_at, code = rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2]
    rel = rel_error(analytic, numerical, tols.entry)
    kink = (code == _KINK) | (code == _STRADDLED)
    return Entries(idx, analytic, numerical, rel, allowed_at, code == _MISMATCH, kink)


def entry_results(
    name: str, shape: tuple[int, ...], e: Entries, select: np.ndarray, status: str, n: int
) -> list[EntryResult]:
    """Up to ``n`` entries of ``e`` where ``select`` holds, the largest multiple of the allowed error first."""
    order = np.flatnonzero(select)
    times = np.abs(e.analytic - e.numerical) / np.maximum(e.allowed, np.finfo(np.float64).tiny)  # (k,)
    order = order[np.argsort(-times[order], kind="stable")][:n]
    out = []
    for j in order:
        index = tuple(int(i) for i in np.unravel_index(int(e.idx[j]), shape)) if shape else ()
        st = status if status != "auto" else ("mismatch" if e.mismatch[j] else "ok")
        a, b = float(e.analytic[j]), float(e.numerical[j])
        out.append(EntryResult(name, index, a, b, abs(a - b), float(e.allowed[j]), st))
    return out


def full_mode(
    probe: Probe,
    name: str,
    shape: tuple[int, ...],
    a: np.ndarray,
    tols: Tolerances,
    rng: np.random.Generator,
    max_entries: int | None,
    worst: int,
    shard: EntryShard | None = None,
) -> ParamResult:
    """Check every entry of one parameter (or a seeded sample of ``max_entries``); ``shard``: this rank's share."""
    size = a.size
    sampled = max_entries is not None and size > max_entries
    idx = np.sort(rng.choice(size, size=max_entries, replace=False)) if sampled else np.arange(size)
    e = check_entries(probe, name, idx, a, tols, shard)
    kept = ~e.kink
    abs_err = np.abs(e.analytic - e.numerical)
    x = probe.base[name].reshape(-1)[idx]  # (k,)
    whole = (a.reshape(shape), e.numerical.reshape(shape)) if not sampled else (e.analytic, e.numerical)
    return ParamResult(
        name=name,
        shape=shape,
        size=size,
        checked=len(idx),
        sampled=sampled,
        mismatches=int(np.count_nonzero(e.mismatch)),
        resolution=tols.reference.atol / float(np.min(np.maximum(1.0, np.abs(x)), initial=np.inf)) if size else 0.0,
        magnitude=float(max(np.max(np.abs(e.analytic), initial=0.0), np.max(np.abs(e.numerical), initial=0.0))),
        compared=whole,
        kinks=int(np.count_nonzero(e.kink)),
        max_abs=float(np.max(abs_err[kept], initial=0.0)),
        max_rel=float(np.max(e.rel[kept], initial=0.0)),
        ok=not e.mismatch.any(),
        worst=entry_results(name, shape, e, kept, "auto", worst),
        kink_entries=entry_results(name, shape, e, e.kink, "kink", worst),
        note=f"sample of {len(idx)} entries (seeded)" if sampled else "",
    )
