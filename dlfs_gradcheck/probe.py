"""Loss evaluations around a point and the reference derivatives built from them.

A :class:`Probe` owns float64 copies of the parameters (complex128 for the complex
step), shifts a set of entries of one parameter along a direction ``u``, calls the
loss and puts the entries back. From those values it forms the reference
derivative along ``u`` (``u`` = one scaled unit vector for a single entry, a
signed Gaussian vector for a block):

- ``central``:    ``D(t) = (f(x + t u) - f(x - t u)) / 2t``                 2 evaluations
- ``richardson``: ``(4 D(t/2) - D(t)) / 3`` (removes the ``t²`` term)        4 evaluations
- ``complex``:    ``Im f(x + i t u) / t`` (no subtraction, no cancellation)  1 evaluation

Default steps (``ε`` is float64's, because the reference is always evaluated in
float64; each entry's step is further scaled by ``max(1, |x|)``):

- central ``ε^(1/3) ≈ 6.1e-6``: balances truncation ``t² f'''/6`` with rounding ``ε |f| / t``;
- richardson ``ε^(1/5) ≈ 7.4e-4``: its truncation is ``O(t⁴)``, so the balance moves to a larger step;
- complex ``1e-20``: no subtraction, so any tiny step works.

For kinks, :meth:`Probe.one_sided` gives the two one-sided derivatives
``D± = ±(4 f(x ± t/2 u) - 3 f(x) - f(x ± t u)) / t`` (second order, like the central
difference), which agree at a smooth point and differ at a kink.

The reference's own error is estimated from the loss itself, not only from a model:

- **rounding** (:meth:`Probe.noise`): the spread of the loss's rounding near the point, from the
  difference table of the loss at 9 equally spaced points a hair apart (Moré and Wild,
  "Estimating computational noise", SIAM J. Sci. Comput. 2011): the smooth part of the k-th
  differences vanishes like ``δ^k``, rounding does not, so the higher orders measure it;
- **truncation** (:meth:`Probe.truncation`): for one derivative, from the estimates at steps ``t``
  and ``t/2`` (the ``t²`` term of the central difference shrinks 4× when the step halves).

A loss that returns two values at one point (something random left on) is refused
(:class:`NonDeterministicError`): no reference can be computed from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from dlfs_gradcheck.errors import DtypeError, NonDeterministicError, NonFiniteError, ShapeError
from dlfs_gradcheck.metrics import FLOAT64_EPS

REFERENCES = ("central", "richardson", "complex")
NOISE_POINTS = 8  # loss evaluations (besides the point itself) of the noise estimate
NOISE_STEP = 1e-9  # their spacing, relative to max(1, |x|) per entry: far below any step, far above ε

LossFn = Callable[[dict[str, np.ndarray]], object]


def setup_evals(reference: str) -> int:
    """Loss evaluations a check makes before comparing anything: the point twice (is it deterministic?),
    then the noise estimate (finite differences) or the complex-safety probes (complex step: one call with
    complex params, then one direction by the complex step and by central differences; more steps, smaller,
    only where a kink lies within the first)."""
    return 2 + (4 if reference == "complex" else NOISE_POINTS)


def default_step(reference: str) -> float:
    """The base step ``h`` of a reference (before the ``max(1, |x|)`` scaling); see the module docstring."""
    if reference == "central":
        return FLOAT64_EPS ** (1 / 3)
    if reference == "richardson":
        return FLOAT64_EPS ** (1 / 5)
    return 1e-20


@dataclass
class Estimate:
    """A reference derivative along one direction, and the loss values it came from."""

    value: float  # the reference derivative along u
    step: float  # t
    f_plus: float | None = None  # f(x + t u) (finite differences only)
    f_minus: float | None = None  # f(x - t u)
    f_plus_half: float | None = None  # f(x + t/2 u), filled by richardson or one_sided
    f_minus_half: float | None = None  # f(x - t/2 u)


def to_scalar(value: object, *, complex_ok: bool) -> float | complex:
    """The loss value as a Python float (or complex), refusing reduced precision and non-scalars."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.size != 1:
        raise ShapeError(f"loss_fn must return a scalar, got an array of shape {arr.shape}")
    if arr.dtype.kind == "c":
        if not complex_ok:
            raise DtypeError("loss_fn returned a complex value for real parameters")
        if arr.dtype != np.complex128:
            raise DtypeError(f"loss_fn returned {arr.dtype}; the reference must be computed in complex128")
        return complex(arr.reshape(()))
    if arr.dtype.kind not in "fiu":
        raise DtypeError(f"loss_fn must return a real number, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        raise DtypeError(f"loss_fn returned {arr.dtype}; the reference must be computed in float64")
    return float(arr.reshape(()))


class Probe:
    """Evaluates ``loss_fn`` at shifted copies of ``params`` (never the caller's arrays).

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params) -> scalar``; gets float64 arrays (complex128 for the
        complex step) of the same shapes as ``params`` and must not modify them.
    params : mapping of name -> float64 ndarray
        The point. Copied.
    reference : {"central", "richardson", "complex"}
    step : float
        The base step ``h``.
    """

    def __init__(self, loss_fn: LossFn, params: Mapping[str, np.ndarray], reference: str, step: float) -> None:
        self.loss_fn = loss_fn
        self.reference = reference
        self.step = step
        self.n_evals = 0
        self.base = {k: np.array(v, dtype=np.float64, order="C") for k, v in params.items()}
        self.f0 = self._call({k: v.copy() for k, v in self.base.items()}, complex_ok=False)
        if not np.isfinite(self.f0):
            raise NonFiniteError(f"loss_fn returned {self.f0} at the given params")
        again = self._call({k: v.copy() for k, v in self.base.items()}, complex_ok=False)
        if again != self.f0:
            raise NonDeterministicError(
                f"loss_fn returns different values at the same point ({self.f0!r}, then {again!r}): something random "
                "is left on (dropout? a fresh random draw?), so no reference derivative can be computed from it"
            )
        work_dtype = np.complex128 if reference == "complex" else np.float64
        self.work = {k: v.astype(work_dtype) for k, v in self.base.items()}  # shifted in place, then restored
        if reference == "complex":
            self._check_complex_safe()

    @property
    def finite_difference(self) -> bool:
        return self.reference != "complex"

    def _call(self, params: dict[str, np.ndarray], *, complex_ok: bool) -> float | complex:
        self.n_evals += 1
        return to_scalar(self.loss_fn(params), complex_ok=complex_ok)

    def _check_complex_safe(self) -> None:
        """The complex step needs a loss that takes complex params and keeps the imaginary part."""
        hint = "reference='complex' needs a complex-safe loss_fn; use reference='richardson' for this one"
        try:
            value = self.loss_fn(self.work)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise DtypeError(f"{hint} (with complex128 params it raised {type(exc).__name__}: {exc})") from exc
        self.n_evals += 1
        if not np.iscomplexobj(value.detach().cpu().numpy() if hasattr(value, "detach") else value):
            raise DtypeError(f"{hint} (with complex128 params it returned a real value)")
        self._check_analytic(hint)

    def _check_analytic(self, hint: str) -> None:
        """The complex step differentiates only an analytic loss: along one direction it must agree with a
        central or one-sided difference at one of three steps. ``np.conj``, ``abs`` or ``.real`` inside
        the loss keep it complex but break that: the complex step then measures another function."""
        rng = np.random.default_rng(1)
        u = {k: np.maximum(1.0, np.abs(v)) * rng.standard_normal(v.shape) for k, v in self.base.items()}
        tiny = 1e-20

        def at(shift: complex) -> float | complex:
            return self._call({k: self.base[k] + shift * u[k] for k in self.base}, complex_ok=True)

        by_complex = complex(at(1j * tiny)).imag / tiny
        for t in (1e-6, 1e-8, 1e-10):  # smaller steps cross fewer kinks (a ReLU's inputs near 0)
            f_plus, f_minus = float(np.real(at(t))), float(np.real(at(-t)))
            by_central = (f_plus - f_minus) / (2 * t)
            # at a kink the complex step takes one side's slope: a one-sided difference is as good a witness
            sides = (by_central, (f_plus - self.f0) / t, (self.f0 - f_minus) / t)
            # differences: truncation ~t |f''|, rounding ~eps |f| / t; 1e-3 of the slope is far above both
            allowed = 1e-3 * max(abs(by_central), abs(by_complex)) + 1e-15 * max(1.0, abs(self.f0)) / t
            if any(abs(by_complex - side) <= allowed for side in sides):
                return
        raise DtypeError(
            f"{hint} (along a direction its complex step gives {by_complex:.6g} where differences give "
            f"{by_central:.6g}: np.conj, abs or .real inside the loss make it non-analytic)"
        )

    def loss_at(self, name: str, idx: np.ndarray, delta: np.ndarray) -> float | complex:
        """``f`` with ``params[name].flat[idx]`` shifted by ``delta`` (same length as ``idx``)."""
        flat = self.work[name].reshape(-1)  # a view: the work arrays are C-contiguous
        base = self.base[name].reshape(-1)
        flat[idx] = base[idx] + delta
        try:
            value = self._call(self.work, complex_ok=self.reference == "complex")
        finally:
            flat[idx] = base[idx]
        if self.reference == "complex" and not isinstance(value, complex):
            raise DtypeError("reference='complex' needs a complex-safe loss_fn: it returned a real value")
        if not np.isfinite(value):
            raise NonFiniteError(f"loss_fn returned {value} {self._where(name, idx, delta)}")
        return value

    def _where(self, name: str, idx: np.ndarray, delta: np.ndarray) -> str:
        """Words for a shifted point: ``with W1[2, 3] shifted by -6.1e-06`` or ``with b2 shifted along a direction``."""
        shape = self.base[name].shape
        if len(idx) == 1:
            index = ", ".join(str(int(i)) for i in np.unravel_index(int(idx[0]), shape)) if shape else ""
            shift = complex(delta[0]) if np.iscomplexobj(delta) else float(delta[0])
            return f"with {name}[{index}] shifted by {shift:.2g}"
        return f"with {len(idx)} entries of {name} shifted along a direction (step {float(np.max(np.abs(delta))):.2g})"

    def derivative(self, name: str, idx: np.ndarray, u: np.ndarray, t: float) -> Estimate:
        """The reference derivative of ``f`` along ``u`` (nonzero on ``idx`` only) with step ``t``."""
        if self.reference == "complex":
            value = self.loss_at(name, idx, 1j * t * u)
            return Estimate(value=value.imag / t, step=t)
        f_plus = self.loss_at(name, idx, t * u)
        f_minus = self.loss_at(name, idx, -t * u)
        d_full = (f_plus - f_minus) / (2 * t)
        est = Estimate(value=d_full, step=t, f_plus=f_plus, f_minus=f_minus)
        if self.reference == "richardson":
            est.f_plus_half = self.loss_at(name, idx, 0.5 * t * u)
            est.f_minus_half = self.loss_at(name, idx, -0.5 * t * u)
            d_half = (est.f_plus_half - est.f_minus_half) / t
            est.value = (4 * d_half - d_full) / 3
        return est

    def noise(self, seed: int = 0) -> float:
        """The standard deviation of the loss's rounding near the point (0 for the complex step).

        The loss at ``x + i δ u``, ``i = 0 .. NOISE_POINTS``, along one seeded Gaussian direction
        ``u`` over every entry (scaled by ``max(1, |x|)``, ``δ = NOISE_STEP``); from their
        difference table ``σ_k² = (k!)² / (2k)! · mean((Δ^k f)²)``, which is the noise's variance
        for pure noise; the median of ``σ_3 .. σ_6`` (the smooth part is ~``δ^k`` there).
        """
        if not self.finite_difference:
            return 0.0
        rng = np.random.default_rng([seed, 2])
        values = [self.f0]
        directions = {k: rng.standard_normal(v.shape) * np.maximum(1.0, np.abs(v)) for k, v in self.base.items()}
        for i in range(1, NOISE_POINTS + 1):
            shifted = {k: self.base[k] + (i * NOISE_STEP) * directions[k] for k in self.base}
            value = self._call(shifted, complex_ok=False)
            if not np.isfinite(value):
                return 0.0  # the loss is not finite a hair away: the model's rounding is all there is
            values.append(value)
        table = np.asarray(values, dtype=np.float64) - self.f0  # differences are unchanged, and the squares stay finite
        sigmas = []
        for k in range(1, 7):
            table = np.diff(table)
            if k >= 3:
                gamma = math.factorial(k) ** 2 / math.factorial(2 * k)
                scale = float(np.max(np.abs(table), initial=0.0))
                rms = scale * math.sqrt(float(np.mean((table / scale) ** 2))) if scale > 0 else 0.0
                sigmas.append(math.sqrt(gamma) * rms)
        return float(np.median(sigmas))

    def truncation(self, name: str, idx: np.ndarray, u: np.ndarray, est: Estimate) -> float:
        """An estimate of the truncation error of ``est`` (finite differences), from its step and half the step.

        Central: ``D(t) - D(t/2) ≈ (3/4) c t²`` for ``D(t) = f' + c t²``, so ``D(t)``'s error is
        ``4/3 |D(t) - D(t/2)|``. Richardson (``est`` already combines both): ``|R - D(t/2)|``, the
        error of the better of its two parts, a generous bound on its own.
        """
        t = est.step
        if est.f_plus_half is None:
            est.f_plus_half = self.loss_at(name, idx, 0.5 * t * u)
            est.f_minus_half = self.loss_at(name, idx, -0.5 * t * u)
        d_half = (est.f_plus_half - est.f_minus_half) / t
        if self.reference == "richardson":
            return abs(est.value - d_half)
        return 4.0 / 3.0 * abs(est.value - d_half)

    def one_sided(self, name: str, idx: np.ndarray, u: np.ndarray, est: Estimate) -> tuple[float, float]:
        """Second-order one-sided derivatives ``(D+, D-)`` along ``u`` at ``est``'s step (finite differences only)."""
        t = est.step
        if est.f_plus_half is None:
            est.f_plus_half = self.loss_at(name, idx, 0.5 * t * u)
            est.f_minus_half = self.loss_at(name, idx, -0.5 * t * u)
        f0 = self.f0
        d_plus = (4 * est.f_plus_half - 3 * f0 - est.f_plus) / t
        d_minus = -(4 * est.f_minus_half - 3 * f0 - est.f_minus) / t
        return d_plus, d_minus

    def modified(self) -> list[str]:
        """Names of work arrays that ``loss_fn`` changed (it must not write to its arguments)."""
        return [k for k in self.base if not np.array_equal(self.work[k].real, self.base[k])]
