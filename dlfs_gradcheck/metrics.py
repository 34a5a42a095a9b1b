"""How two gradients (or loss series) are compared: one definition, used everywhere.

Relative error of entry i, for values ``a_i`` (method A) and ``b_i`` (method B)::

    rel_i = |a_i - b_i| / max(|a_i|, |b_i|, atol / rtol)      (0 when a_i == b_i)

and a comparison passes when ``max_i rel_i <= rtol``. Entries smaller than the
floor ``atol / rtol`` are measured against the floor, so for them the check is
effectively ``|a_i - b_i| <= atol``: a near-zero entry (e.g. the gradient of a
weight fed by an almost-blank pixel) cannot fail on noise that is negligible at
the parameter's scale, and an exactly-zero entry on both sides counts as 0.

Tolerances per method pair and dtype (see :func:`gradient_tolerance`):

- exact vs exact (backprop vs autograd), float64: ``rtol = 1e-12``,
  ``atol = 1e-15``. Both are a few dozen float64 roundings (ε = 2.2e-16) of the
  same formulas; observed differences are ~1e-16 relative.
- anything computed in float32 vs a float64 exact reference: ``rtol = 1e-4``,
  ``atol = 1e-7``. float32 has ε = 1.2e-7 and the affine layers sum up to a few
  hundred products per entry, so ~1e-6 relative is typical; 1e-4 leaves margin.
- the numerical gradient (central differences, ``h``) vs an exact one, float64:
  ``rtol = 1e-6`` for the truncation error ``h² f'''/6`` (~1e-8 relative at
  h = 1e-4, with a 100× margin for curvature) and
  ``atol = 10 ε max(1, |L|) / h + h² / 6``. The first term is rounding: each loss
  value carries ~ε|L| of rounding error, and dividing by 2h magnifies it. The
  second is the truncation error of entries whose gradient is small while their
  third derivative is not: ``b2``'s gradient ``mean(p - onehot)`` nearly cancels
  on a class-balanced batch, but ``f''' = mean(p (1 - p) (1 - 2p))`` (≈ 0.07 at
  initialisation) does not, which gives ~1e-10 of error on a ~3e-5 entry. Along
  one logit the cross-entropy's third derivative is at most 1/(6√3) ≈ 0.1, so
  ``|f'''| <= 1`` leaves a 10× margin for inputs and activations of order 1.
  This is the limit of central differences in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT64_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Tolerance:
    rtol: float  # relative tolerance on max_rel
    atol: float  # absolute tolerance for near-zero entries; the floor is atol / rtol

    @property
    def floor(self) -> float:
        return self.atol / self.rtol


@dataclass(frozen=True)
class Diff:
    """The largest differences between two arrays of the same shape."""

    max_abs: float  # max_i |a_i - b_i|
    max_rel: float  # max_i rel_i (definition above)
    worst_index: tuple[int, ...]  # index of the entry with the largest rel_i
    a_value: float  # a at worst_index
    b_value: float  # b at worst_index
    n: int  # entries compared
    n_bad: int  # entries with rel_i > rtol

    def ok(self, tol: Tolerance) -> bool:
        return bool(np.isfinite(self.max_rel) and self.max_rel <= tol.rtol)


def rel_error(a: np.ndarray, b: np.ndarray, tol: Tolerance | None = None) -> np.ndarray:
    """``rel_i`` of the module docstring, entry by entry (same shape as ``a``; a NaN counts as ``inf``).

    Without ``tol`` there is no floor: the plain ``|a - b| / max(|a|, |b|)`` (0 where both are 0)
    that the checker's tables show beside each entry.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    abs_err = np.abs(a - b)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(b)), tol.floor if tol is not None else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(abs_err == 0, 0.0, abs_err / denom)
    return np.where(np.isnan(rel), np.inf, rel)  # a NaN on one side is the worst possible


def allowed_error(a: np.ndarray, b: np.ndarray, tol: Tolerance) -> np.ndarray:
    """The largest ``|a_i - b_i|`` that passes: ``rtol max(|a_i|, |b_i|, atol / rtol)``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return tol.rtol * np.maximum(np.maximum(np.abs(a), np.abs(b)), tol.floor)


def loosest(*tols: Tolerance) -> Tolerance:
    """The tolerance that passes whatever any of ``tols`` passes (largest rtol, largest atol)."""
    return Tolerance(rtol=max(t.rtol for t in tols), atol=max(t.atol for t in tols))


def diff(a: np.ndarray, b: np.ndarray, tol: Tolerance, mask: np.ndarray | None = None) -> Diff:
    """Compare ``a`` and ``b`` entry by entry; entries where ``mask`` is False are skipped."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    abs_err = np.abs(a - b)
    rel = rel_error(a, b, tol)
    if mask is not None:
        rel = np.where(mask, rel, 0.0)
        abs_err = np.where(mask, abs_err, 0.0)
    n = int(a.size if mask is None else np.count_nonzero(mask))
    if a.size == 0:
        return Diff(0.0, 0.0, (), 0.0, 0.0, 0, 0)
    worst = np.unravel_index(int(np.argmax(rel)), a.shape)
    return Diff(
        max_abs=float(np.max(abs_err)),
        max_rel=float(rel[worst]),
        worst_index=tuple(int(i) for i in worst),
        a_value=float(a[worst]),
        b_value=float(b[worst]),
        n=n,
        n_bad=int(np.count_nonzero(rel > tol.rtol)),
    )


EXACT_F64 = Tolerance(rtol=1e-12, atol=1e-15)
LOW_PRECISION = Tolerance(rtol=1e-4, atol=1e-7)


def numerical_tolerance(loss_value: float, h: float) -> Tolerance:
    """Central differences (float64) vs an exact gradient; see the module docstring."""
    rounding = 10 * FLOAT64_EPS * max(1.0, abs(loss_value)) / h  # loss rounding, magnified by 1 / 2h
    truncation = h**2 / 6  # h² |f'''| / 6 with |f'''| <= 1
    return Tolerance(rtol=1e-6, atol=rounding + truncation)


def same_differences_tolerance(loss_value: float, h: float) -> Tolerance:
    """Two computations of the *same* central differences (the book's loop and the fast one).

    Their truncation error is identical, so only rounding separates them:
    ``rtol = 1e-9`` above the book loop's rounding floor ``atol = 10 ε max(1, |L|) / h``
    (each of its loss values carries ~ε|L|; the fast variant's error is far smaller).
    """
    return Tolerance(rtol=1e-9, atol=10 * FLOAT64_EPS * max(1.0, abs(loss_value)) / h)


def gradient_tolerance(kind_a: str, kind_b: str, dtype: str, *, loss_value: float = 1.0, h: float = 1e-4) -> Tolerance:
    """The tolerance for comparing a gradient of kind ``kind_a`` with one of ``kind_b``.

    ``kind_*`` is ``"exact"`` (backprop, autograd) or ``"numerical"`` (central
    differences, always computed in float64); ``dtype`` is the lower precision
    of the two computations.
    """
    if "numerical" in (kind_a, kind_b):
        both = kind_a == kind_b
        tol = same_differences_tolerance(loss_value, h) if both else numerical_tolerance(loss_value, h)
        if dtype != "float64":  # one side computed on float32 params: float32 noise dominates
            return Tolerance(max(tol.rtol, LOW_PRECISION.rtol), max(tol.atol, LOW_PRECISION.atol))
        return tol
    return EXACT_F64 if dtype == "float64" else LOW_PRECISION


REFERENCES = ("central", "richardson", "complex")


def reference_tolerance(reference: str, loss_value: float, h: float, noise: float = 0.0) -> Tolerance:
    """Error of a float64 reference derivative (what :mod:`dlfs_gradcheck` compares against).

    ``h`` is the base step (each entry's step is ``h max(1, |x|)``, never smaller);
    ``loss_value`` is the loss at the point; ``noise`` the measured rounding noise of one loss
    value near the point (:meth:`dlfs_gradcheck.probe.Probe.noise`; 0 when not measured). Each
    ``rtol`` is a truncation model with a 100× margin, each ``atol`` the rounding of the loss
    values magnified by the step, with a 10× margin. The rounding of one loss value is taken as
    ``max(ε max(1, |L|), noise)``: a loss summed from many large terms that cancel (a loss near 0
    made of thousands of O(1) terms) carries far more rounding than ``ε |L|``, and the measured
    noise says how much:

    - ``central``, ``(f(x+h) - f(x-h)) / 2h``: ``atol = 10 r / h + h²/6`` as in
      :func:`numerical_tolerance`, with ``rtol = 100 h²`` instead of the fixed 1e-6 (equal at the book's
      ``h = 1e-4``; 3.7e-9 at the default ``h = ε^(1/3)``). Measured on the
      784-50-10 net, the relative truncation error is below ``h²`` per entry
      and about ``2 h²`` along a Gaussian direction of a block.
    - ``richardson``, ``(4 D(h/2) - D(h)) / 3``: ``rtol = 1e4 h⁴`` (3e-9 at the
      default ``h = ε^(1/5)``; measured: ~1 h⁴ per entry, ~100 h⁴ along a
      direction, whose step moves every hidden pre-activation at once);
      ``atol = 30 r / h`` (r the rounding of one loss value): the combination weighs the loss values
      by up to 4/3h, about 2.7× the central difference's rounding.
    - ``complex``, ``Im f(x + ih) / h``: no subtraction, so no rounding that grows
      as the step shrinks; ``atol = 1e-18``, ``rtol = max(1e-13, 100 h²)`` (measured
      ~1e-15 relative and 3e-17 absolute on the 784-50-10 net at ``h = 1e-20``).
      Its truncation error is ``h² f'''/6``, like the central difference's, so a
      large step (``h = 1``) gets the bound it deserves and the checker refuses it.
    """
    per_value = max(FLOAT64_EPS * max(1.0, abs(loss_value)), noise)  # rounding of one loss value
    if reference == "central":
        return Tolerance(rtol=100 * h**2, atol=10 * per_value / h + h**2 / 6)
    if reference == "richardson":
        return Tolerance(rtol=1e4 * h**4, atol=30 * per_value / h + h**4 / 6)
    if reference == "complex":
        return Tolerance(rtol=max(1e-13, 100 * h**2), atol=1e-18)
    raise ValueError(f"unknown reference {reference!r}; choose one of {', '.join(REFERENCES)}")


def relu_kink_mask(params: dict[str, np.ndarray], x: np.ndarray, h: float) -> dict[str, np.ndarray]:
    """Entries whose ±h step can move a ReLU pre-activation across 0 (True = kink-affected).

    Perturbing ``W1[d, j]`` by ±h moves hidden pre-activation ``a[n, j]`` by
    ``±h·x[n, d]``, perturbing ``b1[j]`` moves it by ±h; when some ``|a[n, j]|`` is
    within that reach, the central difference straddles the kink and measures a
    mix of the two one-sided slopes, not the derivative. ``W2`` and ``b2`` act
    after the ReLU and are never affected.
    """
    a = x @ params["W1"] + params["b1"]  # (N, H) hidden pre-activations
    # W1[d, j] is affected when some n has |a[n, j]| <= h * |x[n, d]|.
    reach = h * np.abs(x)  # (N, D)
    w1 = np.zeros(params["W1"].shape, dtype=bool)
    near = np.abs(a) <= h * max(1.0, float(np.max(np.abs(x), initial=0.0)))  # (N, H): candidates only
    for j in np.flatnonzero(near.any(axis=0)):
        rows = np.abs(a[:, j])[:, None] <= reach  # (N, D)
        w1[:, j] = rows.any(axis=0)
    b1 = (np.abs(a) <= h).any(axis=0)  # (H,)
    return {
        "W1": w1,
        "b1": b1,
        "W2": np.zeros(params["W2"].shape, dtype=bool),
        "b2": np.zeros(params["b2"].shape, dtype=bool),
    }
