"""Fast mode: a few signed Gaussian directions per parameter block, and bisection down to the offending entries.

See :mod:`dlfs_gradcheck.core` for the tolerance ``τ`` and what fast mode is
guaranteed to catch. Costs O(blocks × directions) loss evaluations, plus about
``4 log2(n)`` per offending entry when a block fails.
"""

from __future__ import annotations

import math

import numpy as np

from dlfs_gradcheck.entrywise import Entries, Outcome, Tolerances, check_entries, compare_derivative, entry_results
from dlfs_gradcheck.metrics import allowed_error
from dlfs_gradcheck.probe import Probe
from dlfs_gradcheck.report import DirectionSummary, ParamResult

SIGMA = 4.0  # the code under test's rounding allowance, in standard deviations
LEAF = 4  # narrowing: sub-blocks of at most this many entries are checked entry by entry
FALLBACK = 64  # narrowing: a failing sub-block whose halves both pass is checked entry by entry up to this size
MAX_NODES = 256  # narrowing: at most this many sub-block checks per parameter
MAX_FOUND = 32  # narrowing: stop after this many offending entries
MISS_PROBABILITY = 1e-6  # the miss probability that catch_norm is quoted at


def _direction(probe: Probe, name: str, idx: np.ndarray, u: np.ndarray, a: np.ndarray, tols: Tolerances) -> Outcome:
    """Compare ``Σ a_i u_i`` with the reference derivative along ``u`` (entries ``idx``); see the module docstring."""
    analytic = float(np.dot(a, u))
    per_entry = allowed_error(a, a, tols.tested)  # (k,) the code under test's allowance per entry
    sigma = float(np.sqrt(np.sum((per_entry * u) ** 2)))
    scale = float(np.sum(np.abs(a * u)))

    def ref_error(value: float, shrink: float) -> float:
        ref = tols.reference
        return ref.rtol * max(scale, abs(value)) + ref.atol * shrink  # rounding grows as the step shrinks

    def tau(value: float, shrink: float) -> float:
        return SIGMA * sigma + ref_error(value, shrink)

    return compare_derivative(probe, name, idx, u, probe.step, analytic, tau, ref_error)


def _narrow(probe: Probe, name: str, a: np.ndarray, u: np.ndarray, tols: Tolerances) -> tuple[list[Entries], bool, str]:
    """Bisect a block whose direction ``u`` failed.

    Returns the entry-by-entry checks made, whether the search was exhaustive (then
    the offending entries found are all that this direction shows), and a note.
    """
    checks: list[Entries] = []
    found = 0
    nodes = 0
    lost = 0
    stack = [np.arange(a.size)]
    while stack and found < MAX_FOUND and nodes < MAX_NODES:
        block = stack.pop()
        if len(block) <= LEAF:
            checks.append(check_entries(probe, name, block, a, tols))
            found += int(np.count_nonzero(checks[-1].mismatch))
            continue
        half = len(block) // 2
        failing = []
        for part in (block[:half], block[half:]):
            nodes += 1
            if _direction(probe, name, part, u[part], a[part], tols).status in ("fail", "unresolved"):
                failing.append(part)
        if failing:
            stack.extend(reversed(failing))  # depth first, lower indices first
        elif len(block) <= FALLBACK:
            checks.append(check_entries(probe, name, block, a, tols))
            found += int(np.count_nonzero(checks[-1].mismatch))
        else:
            lost += 1
    notes = []
    if stack and found >= MAX_FOUND:
        notes.append(f"narrowing stopped after {found} offending entries; there may be more")
    elif stack:
        notes.append(f"narrowing stopped after {MAX_NODES} sub-block checks; there may be more offending entries")
    if lost:
        notes.append(f"{lost} failing sub-block(s) of more than {FALLBACK} entries had no failing half")
    if found == 0:
        notes.append(
            "a direction failed but no single entry checked exceeds the per-entry tolerance "
            "(an error spread thinly over many entries)"
        )
    return checks, not stack and not lost, "; ".join(notes)


def _merge(checks: list[Entries]) -> Entries:
    if not checks:
        empty = np.zeros(0)
        return Entries(np.zeros(0, dtype=np.intp), empty, empty, empty, empty, empty.astype(bool), empty.astype(bool))
    return Entries(*(np.concatenate([getattr(c, f) for c in checks]) for f in Entries.__dataclass_fields__))


def _transposed(a: np.ndarray, shape: tuple[int, ...], tried: list[tuple[np.ndarray, Outcome]]) -> bool:
    """A square gradient whose transpose agrees with every conclusive direction (``x @ dout`` for ``x.T @ dout``).

    A transposed square gradient has the right shape, so only the directions can show it: each
    measured the reference's derivative along ``u``, and ``a.T`` matches all of them.
    """
    conclusive = [(u, d) for u, d in tried if d.status in ("pass", "fail")]
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 2 or not conclusive:
        return False
    flipped = a.reshape(shape).T.reshape(-1)
    return all(abs(float(np.dot(flipped, u)) - d.value) <= d.allowed for u, d in conclusive)


def fast_mode(
    probe: Probe,
    name: str,
    shape: tuple[int, ...],
    a: np.ndarray,
    tols: Tolerances,
    rng: np.random.Generator,
    directions: int,
    worst: int,
) -> ParamResult:
    """Check one parameter block along ``directions`` Gaussian directions; narrow it down when one fails."""
    size = a.size
    scale = np.maximum(1.0, np.abs(probe.base[name].reshape(-1)))  # (size,) per-entry step scale
    tried = _along_directions(probe, name, a, tols, rng, directions if size else 0, scale)
    failed = [(u, d) for u, d in tried if d.status == "fail"]
    unresolved = [(u, d) for u, d in tried if d.status == "unresolved"]
    note = ""
    checks: list[Entries] = []
    complete = True
    if failed or unresolved:
        u, _ = max(failed or unresolved, key=lambda ud: ud[1].err / ud[1].allowed)
        checks, complete, note = _narrow(probe, name, a, u, tols)
    e = _merge(checks)
    confirmed = bool(e.mismatch.any())
    summary = _summary(tried, confirmed, size)
    note = _note(note, tried, summary, confirmed, size)
    kept = ~e.kink
    abs_err = np.abs(e.analytic - e.numerical)
    compared = (e.analytic[kept], e.numerical[kept])
    if failed and _transposed(a, shape, tried):  # what the diagnoses see: the reference, as the directions say
        compared = (a.reshape(shape), a.reshape(shape).T)
    return ParamResult(
        name=name,
        shape=shape,
        size=size,
        checked=len(e.idx),
        sampled=False,
        mismatches=int(np.count_nonzero(e.mismatch)),
        complete=complete,
        resolution=tols.reference.atol / float(np.min(scale, initial=np.inf)) if size else 0.0,
        magnitude=_magnitude(a, e, tried),
        compared=compared,
        kinks=summary.kinks + int(np.count_nonzero(e.kink)),
        max_abs=float(np.max(abs_err[kept], initial=0.0)),
        max_rel=float(np.max(e.rel[kept], initial=0.0)),
        ok=summary.failed == 0,
        worst=entry_results(name, shape, e, e.mismatch, "mismatch", worst),
        kink_entries=entry_results(name, shape, e, e.kink, "kink", worst),
        directions=summary,
        note=note,
    )


def _along_directions(
    probe: Probe,
    name: str,
    a: np.ndarray,
    tols: Tolerances,
    rng: np.random.Generator,
    count: int,
    scale: np.ndarray,
) -> list[tuple[np.ndarray, Outcome]]:
    """``count`` signed Gaussian directions ``u`` (scaled like the steps) and the comparison along each."""
    everything = np.arange(a.size)
    tried: list[tuple[np.ndarray, Outcome]] = []
    for _ in range(count):
        u = scale * rng.standard_normal(a.size)  # (size,) signed Gaussian, scaled like the steps
        tried.append((u, _direction(probe, name, everything, u, a, tols)))
    return tried


def _summary(tried: list[tuple[np.ndarray, Outcome]], confirmed: bool, size: int) -> DirectionSummary:
    """What the directions showed: failures, kinks, the largest ratio to ``τ``, and ``catch_norm``.

    Directions on kinks on both sides (``unresolved``) count as failures when narrowing confirmed
    an offending entry, and as unverified kinks otherwise.
    """
    n_failed = sum(1 for _, d in tried if d.status == "fail")
    n_unresolved = sum(1 for _, d in tried if d.status == "unresolved")
    conclusive = [d for _, d in tried if d.status in ("pass", "fail")]
    tau = max((d.allowed for d in conclusive), default=0.0)
    if conclusive:
        catch = 2 * math.sqrt(2 / math.pi) * tau * MISS_PROBABILITY ** (-1 / len(conclusive))
    else:
        catch = math.inf
    unverified = sum(1 for _, d in tried if d.status == "kink") + (0 if confirmed else n_unresolved)
    return DirectionSummary(
        count=len(tried),
        failed=n_failed + (n_unresolved if confirmed else 0),
        kinks=unverified + sum(1 for _, d in tried if d.status == "pass" and d.straddled),
        unverified=unverified,
        max_ratio=max((d.err / d.allowed for d in conclusive), default=0.0),
        tau=tau,
        catch_norm=catch if size else 0.0,
    )


def _note(
    note: str, tried: list[tuple[np.ndarray, Outcome]], summary: DirectionSummary, confirmed: bool, size: int
) -> str:
    """The narrowing's ``note``, or why unresolved directions count as kinks; and advice when nothing was conclusive."""
    n_failed = sum(1 for _, d in tried if d.status == "fail")
    n_unresolved = sum(1 for _, d in tried if d.status == "unresolved")
    if n_unresolved and not n_failed and not confirmed:
        note = (
            f"{n_unresolved} direction(s) not smooth at any step, matching neither one-sided slope "
            "(kinks on both sides); narrowing found no offending entry, so they count as kinks"
        )
    conclusive = [d for _, d in tried if d.status in ("pass", "fail")]
    if size and not conclusive and not summary.failed:
        advice = "no direction was conclusive (kinks): use reference='complex' or full mode"
        note = f"{note}; {advice}" if note else advice
    return note


def _magnitude(a: np.ndarray, e: Entries, tried: list[tuple[np.ndarray, Outcome]]) -> float:
    """The largest derivative seen: of the gradient, along a direction (RMS-like), or of the entries compared."""
    magnitude = max(
        float(np.max(np.abs(a), initial=0.0)),
        max((abs(d.value) / np.linalg.norm(u) for u, d in tried if np.any(u)), default=0.0),  # RMS-like
        float(np.max(np.abs(e.numerical), initial=0.0)),
    )
    return float(magnitude)
