"""The gradient check itself: full mode (entry by entry) and fast mode (Gaussian directions per block).

Usage::

    report = check_gradients(loss_fn, grad_fn, params, mode="fast", reference="complex")
    assert report.ok, report.table()

``loss_fn(params) -> scalar`` is the function whose gradient is checked; it is
always called with float64 copies of the parameters (complex128 ones for the
complex step), so the reference derivative is computed in float64 even when the
code under test runs in float32. ``grad_fn(params) -> dict`` is the code under
test; it is called once, with copies of the parameters in their own dtype. Neither
ever sees the caller's arrays.

**Tolerance.** An entry passes when ``dlfs_gradcheck.metrics.rel_error <= rtol``, i.e.
``|analytic - numerical| <= max(rtol max(|analytic|, |numerical|), atol)``. By
default ``(rtol, atol)`` is the looser of two tolerances (``dlfs_gradcheck.metrics``):
the code under test's dtype (``EXACT_F64`` = 1e-12 / 1e-15 for float64,
``LOW_PRECISION`` = 1e-4 / 1e-7 for float32) and the reference's own error
(:func:`dlfs_gradcheck.metrics.reference_tolerance`). Given ``rtol`` / ``atol`` replace
both. The reference's rounding per loss value is the larger of ``ε max(1, |L|)`` and the
loss's rounding noise measured near the point (:meth:`dlfs_gradcheck.probe.Probe.noise`, full
mode with finite differences), and in full mode an entry that would fail at a smooth point is
first allowed twice the reference's truncation error there, estimated from the step and half
the step (:meth:`dlfs_gradcheck.probe.Probe.truncation`): a correct gradient of a function with
a large third derivative, or of a loss summed from many cancelling terms, is not failed.

**Kinks** (finite-difference references only). When a comparison at step ``h``
fails, the two second-order one-sided derivatives
``D± = ±(4 f(x ± h/2) - 3 f(x) - f(x ± h)) / h`` decide why. At a smooth point
both equal ``f'`` up to ``O(h²)`` and rounding, so they agree within twice the
reference's own error (the code under test plays no part in them): the mismatch
is genuine and the entry fails. If they differ by
more, the ``±h`` step straddles a non-differentiable point (a ReLU input crossing
0), and the comparison is repeated with the step divided by 8, up to 3 times (to
``h/512``, the rounding allowance growing with ``1/step``): a correct value passes
once the step keeps clear of the kink, a wrong one fails as soon as the step lands
on smooth ground. If the derivative is not smooth at any of these steps, the point
sits on the kink (within ``h/512``): it is a kink when the analytic value equals
one of the one-sided derivatives at the smallest step within twice the allowed
error (the slope on one side, which is what backprop reports), and fails
otherwise. Entries whose ``±h`` step straddled a kink are counted as kinks and
are never failures; a wrong value at a kink still fails. The complex step never
straddles: it evaluates the loss at the real point (relu branches on the real
part), so it has no kinks. Blind spot: a kink almost exactly a third of the way
along the ``+h`` (or ``-h``) step makes ``D+`` (``D-``) look smooth, and the entry
fails instead of being retried; it needs the kink within about
``allowed error / jump in slope`` of that spot.

**Full mode** compares every entry (or, with ``max_entries``, a seeded uniform
sample without replacement of that many entries per parameter, drawn with
``numpy.random.default_rng([seed, position of the parameter])``): 2 loss
evaluations per entry (central), 4 (richardson) or 1 (complex), plus up to 2
per failing entry (the kink test) and the same again per retry.

**Fast mode** treats each parameter as one block. For each of ``directions``
signed Gaussian vectors ``v`` (``numpy.random.default_rng([seed, position, 1])``)
it takes ``u = max(1, |x|) * v`` and compares the analytic directional
derivative ``A = Σ g_i u_i`` with the reference ``R`` along ``u``. A direction
passes when ``|A - R| <= τ`` with::

    τ = 4 sqrt(Σ (e_i u_i)²)          e_i: the code under test's allowed error per entry
      + rtol_ref max(Σ |g_i u_i|, |R|) + atol_ref

The first term is four standard deviations of ``ε·u`` for rounding errors ``ε_i``
of up to ``e_i`` with any signs; the others are the reference's error
(:func:`dlfs_gradcheck.metrics.reference_tolerance`). That is O(blocks × directions)
loss evaluations. The kink rule above applies to directions too (with ``τ`` as
the allowed error): a direction that straddles a kink is retried with smaller
steps; one that stays on a kink with the analytic value equal to a one-sided
slope is a kink direction, unverified, left out of the guarantee below (the
report counts them, and says when no direction was conclusive). One that stays
on kinks matching neither slope (kinks on both sides) is narrowed down like a
failure, and fails the block only if that finds offending entries. When a
direction fails, the block fails, and it is narrowed down by bisection: the same ``u`` restricted to each half of
the block's entries (in flat order) is checked with that half's ``τ``; halves
that fail are split again (depth first) until at most 4 entries remain, which are
checked entry by entry as in full mode. A single wrong entry's contribution
``e_k u_k`` is the same in every sub-block that contains it while ``τ`` shrinks,
so the path to it keeps failing: about ``4 log2(n)`` loss evaluations per
offending entry. Narrowing stops after ``worst`` offending entries.

**A check that cannot be made is refused** (:class:`LossScaleError`, naming the
loss value). The reference's rounding error for one entry's derivative is its
``atol`` over the entry's step scale ``max(1, |x|)`` (``ε max(1, |L|) / h`` up to a
constant: it grows with the loss's size, whatever the loss differences are). When it
exceeds 0.1 % of the largest derivative compared in a parameter, or a parameter
measured nothing above it (a zero gradient, or one the loss's rounding hides) while
it exceeds 0.1 % of the smallest well-resolved parameter's derivatives, a wrong
gradient could pass: ``loss = 1e12 + f(p)`` (rounding ~1e-4 per value, differences
~1e-7) is refused instead of passing a gradient of zeros; ``1e12 * f(p)`` is not.
So, with the default tolerances, **a full-mode check that is not refused fails every
entry off by more than 0.2 % of the largest derivative of its parameter** (at most
0.1 % from the tolerance, 0.1 % from the reference) **plus twice the reference's measured
truncation error at that entry**, usually far less (the table's "× allowed" says how
far). The complex step does not subtract loss values and is immune to an offset.

**What fast mode is guaranteed to catch.** Let ``e`` be the error of the gradient
under test in one block (the difference from the true gradient). If the legitimate
errors stay within their allowances, a direction passes only when
``|e·u| <= 2τ``; since ``e·u = Σ e_i s_i v_i`` is normal with standard deviation
``σ = ||e ∘ s||_2`` (``s = max(1, |x|)``), that has probability at most
``2τ sqrt(2/π) / σ``, and all ``m`` independent directions pass with probability
at most ``(2τ sqrt(2/π) / σ)^m``. So an error with ``σ >= catch_norm =
2 sqrt(2/π) τ 1e6^(1/m)`` is missed with probability at most 1e-6 (51 τ for the
default ``m = 4``); the report gives ``τ`` and ``catch_norm`` per block. This
holds for any shape of error, one entry or all of them (one wrong entry ``k``:
``σ = |e_k| max(1, |x_k|)``). Measured on the book's 784-50-10 sigmoid net
(weights 0.01·randn, float64, batch 8): for ``W1``, ``τ`` is 3.5e-8 (central),
2.8e-8 (richardson) and 1.7e-12 (complex), so ``catch_norm`` is 1.7e-6, 1.4e-6
and 8.6e-11. A 1% error on a ``W1`` entry of RMS size (3.7e-4) is 3.7e-6: 2.1×,
2.7× and 4e4× above ``catch_norm``. At batch 100, and with ReLU (whose larger
gradient scales ``τ`` and the 1% error alike), the ratios stay 2-3× and 4e4-6e4×. In
float32 the code under test's allowance dominates (``atol`` = 1e-7 per entry:
``τ`` ≈ 8e-5 and ``catch_norm`` ≈ 4e-3 for ``W1``, more than its largest entry),
so float32 fast mode catches wrong blocks (a missing factor, a sign, a
transpose, zeros) but not a 1% error in one of 39,200 entries: check that in
float64.

Longer than 300 lines, and 60 for ``check_gradients``: the checker's options, refusals and
tolerances are documented and applied in one place.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from dlfs_gradcheck.diagnose import Context, diagnose
from dlfs_gradcheck.entrywise import EntryShard, Tolerances, full_mode
from dlfs_gradcheck.errors import ConfigError, DtypeError, LossScaleError, NonFiniteError, ShapeError
from dlfs_gradcheck.fast import fast_mode
from dlfs_gradcheck.metrics import FLOAT64_EPS, Tolerance, gradient_tolerance, loosest, reference_tolerance
from dlfs_gradcheck.probe import REFERENCES, LossFn, Probe, default_step
from dlfs_gradcheck.report import GradcheckReport, ParamResult

MODES = ("full", "fast")
GradFn = Callable[[dict[str, np.ndarray]], Mapping[str, object]]
MAX_REFERENCE_RTOL = 1e-3  # a reference must resolve 0.1 % of the derivatives it checks

# -- validation ------------------------------------------------------------------------------------


def _as_array(value: object, what: str) -> np.ndarray:
    """``value`` (an array, a torch tensor, nested lists) as an ndarray; ``what`` names it in errors."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except ValueError as exc:  # ragged nested sequences
        raise ShapeError(f"{what} is not an array of one shape (ragged nested sequences?): {exc}") from None


def _validate_params(params: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Copies of ``params`` in their own dtype, after checking names, dtypes and values."""
    if not isinstance(params, Mapping) or not params:
        raise ShapeError(f"params must be a non-empty dict of arrays, got {type(params).__name__}")
    out = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise ShapeError(f"parameter names must be strings, got {name!r}")
        arr = _as_array(value, f"parameter {name}")
        if arr.dtype not in (np.float32, np.float64):
            raise DtypeError(f"parameter {name} has dtype {arr.dtype}; gradcheck needs float32 or float64 parameters")
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise NonFiniteError(f"parameter {name} contains {bad} NaN or Inf value(s)")
        out[name] = np.array(arr, order="C")  # a copy
    return out


def _validate_grads(grads: object, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The gradients as arrays in their own dtype, after checking them against ``params``."""
    if not isinstance(grads, Mapping):
        raise ShapeError(f"grad_fn must return a dict of arrays, got {type(grads).__name__}")
    missing = [k for k in params if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        problems = [f"no gradient for {missing}"] if missing else []
        problems += [f"gradients for unknown parameters {extra}"] if extra else []
        raise ShapeError(f"grad_fn returned {' and '.join(problems)}")
    out = {}
    for name, p in params.items():
        g = _as_array(grads[name], f"the gradient of {name}")
        if g.shape != p.shape:
            raise ShapeError(f"the gradient of {name} has shape {g.shape} but {name} has shape {p.shape}")
        if g.dtype not in (np.float32, np.float64):
            raise DtypeError(f"the gradient of {name} has dtype {g.dtype}; expected float32 or float64")
        bad = int(g.size - np.count_nonzero(np.isfinite(g)))
        if bad:
            raise NonFiniteError(f"the gradient of {name} contains {bad} NaN or Inf value(s)")
        out[name] = g
    return out


def _check_options(
    mode: str,
    reference: str,
    eps: float | None,
    rtol: float | None,
    atol: float | None,
    max_entries: int | None,
    directions: int,
    worst: int,
    seed: int,
) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if reference not in REFERENCES:
        raise ConfigError(f"unknown reference {reference!r}; choose one of {', '.join(REFERENCES)}")
    for name, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        number = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))
        if value is not None and not (number and math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive finite number, got {value!r}")
    counts = (("max_entries", max_entries, 1), ("directions", directions, 1), ("worst", worst, 0), ("seed", seed, 0))
    for name, value, low in counts:
        if value is None and name == "max_entries":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def tolerances(
    reference: str,
    dtype: str,
    loss_value: float,
    step: float,
    rtol: float | None,
    atol: float | None,
    noise: float = 0.0,
) -> Tolerances:
    """The :class:`Tolerances` of a check; see the module docstring. ``noise``: the loss's measured rounding."""
    tested = gradient_tolerance("exact", "exact", dtype)
    try:
        ref = reference_tolerance(reference, loss_value, step)
    except OverflowError:  # a step like 1e300: h² has no float
        raise ConfigError(
            f"eps={step:g} is unusable with the {reference} reference: its error bound overflows; leave eps unset "
            "for the default step"
        ) from None
    # A step so large (truncation) or so small (rounding) that the reference's own error bound
    # would let a wrong gradient through is refused rather than reported as a pass.
    if (
        rtol is None
        and atol is None
        and (ref.rtol > MAX_REFERENCE_RTOL or ref.atol > MAX_REFERENCE_RTOL * max(1.0, abs(loss_value)))
    ):
        raise ConfigError(
            f"eps={step:g} is unusable with the {reference} reference: its error bound (rtol {ref.rtol:.2g}, "
            f"atol {ref.atol:.2g}) would pass a wrong gradient; leave eps unset for the default step"
        )
    ref = reference_tolerance(reference, loss_value, step, noise)  # the step is usable: now with the loss's noise
    entry = loosest(tested, ref)
    if rtol is None and atol is None:
        return Tolerances(entry=entry, tested=tested, reference=ref)
    given = Tolerance(
        rtol=entry.rtol if rtol is None else float(rtol), atol=entry.atol if atol is None else float(atol)
    )
    return Tolerances(entry=given, tested=given, reference=given)


# -- the public functions ------------------------------------------------------------------------


def check_gradients(
    loss_fn: LossFn,
    grad_fn: GradFn,
    params: Mapping[str, object],
    *,
    mode: str = "full",
    reference: str = "central",
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    max_entries: int | None = None,
    directions: int = 4,
    worst: int = 5,
    label: str = "",
    shard: EntryShard | None = None,
    context: Context | None = None,
) -> GradcheckReport:
    """Check ``grad_fn`` against a float64 numerical derivative of ``loss_fn`` at ``params``.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params) -> scalar``: float64 (or complex128) arrays in, a float
        (complex) out; a float32 result is refused. Must not modify its argument.
    grad_fn : callable
        ``grad_fn(params) -> dict``: the code under test, called once with copies
        of ``params`` in their own dtype; returns arrays (numpy or torch) of the
        parameters' shapes.
    params : dict of name -> float32 or float64 array, any shapes
        The point. Never modified. float32 parameters (or float32 gradients)
        make float32 the tested dtype, which sets the default tolerance.
    mode : {"full", "fast"}
        ``full``: every entry (or ``max_entries`` per parameter); ``fast``:
        ``directions`` Gaussian directions per parameter, narrowed down on failure.
    reference : {"central", "richardson", "complex"}
        How the float64 reference derivative is computed (``complex`` needs a
        complex-safe ``loss_fn``).
    eps : float, optional
        Base step ``h``; each entry's step is ``h max(1, |x|)``. Default: see
        :func:`dlfs_gradcheck.probe.default_step`.
    rtol, atol : float, optional
        Replace the default per-entry tolerance (see the module docstring).
    seed : int
        Seeds the fast-mode directions and the full-mode sample.
    max_entries : int, optional
        Full mode: check a seeded sample of this many entries of each larger parameter.
    directions : int
        Fast mode: directions per parameter block.
    worst : int
        Entries listed per parameter (and fast mode's narrowing stops after this many offenders).
    label : str
        A name for the report's title.
    shard : EntryShard, optional
        Full mode on the ranks of a job: every rank calls this with the same arguments and
        computes its share of each parameter's entries (see :mod:`compare.gradcheck.ranks`);
        the report is the one a single process gives.
    context : dlfs_gradcheck.diagnose.Context, optional
        What is known beyond the numbers (the batch size, whether the loss has a log), for the
        diagnoses of a failure.

    Returns
    -------
    GradcheckReport
        ``.ok``, ``.table()``, ``.to_dict()``, and one :class:`ParamResult` per parameter.

    Raises
    ------
    ShapeError, DtypeError, NonFiniteError, ConfigError, LossScaleError
        (all :class:`dlfs_gradcheck.GradcheckError`, a ``ValueError``) for
        mismatched names or shapes (a ragged gradient included), non-float dtypes,
        NaN or Inf in parameters, gradients or the loss (at the point or any
        shifted point), a ``loss_fn`` that is not complex-safe under
        ``reference="complex"``, a bad option (a step the reference cannot use,
        ``True`` for a number), or a loss too large (or flat) for the reference to
        resolve its gradient; the message names the parameter or the loss value.
    """
    start = time.perf_counter()
    _check_options(mode, reference, eps, rtol, atol, max_entries, directions, worst, seed)
    if shard is not None and mode != "full":
        raise ConfigError("a shard applies to full mode only (fast mode makes too few loss evaluations to share)")
    theirs = _validate_params(params)
    grads = _validate_grads(grad_fn({k: v.copy() for k, v in theirs.items()}), theirs)
    low = any(a.dtype == np.float32 for a in (*theirs.values(), *grads.values()))
    dtype = "float32" if low else "float64"
    step = default_step(reference) if eps is None else float(eps)
    probe = Probe(loss_fn, theirs, reference, step)
    noise = probe.noise(seed) if rtol is None and atol is None else 0.0
    tols = tolerances(reference, dtype, probe.f0, step, rtol, atol, noise)
    results = []
    for position, (name, g) in enumerate(grads.items()):
        a = g.astype(np.float64).reshape(-1)  # (size,)
        shape = theirs[name].shape
        if mode == "full":
            rng = np.random.default_rng([seed, position])
            results.append(full_mode(probe, name, shape, a, tols, rng, max_entries, worst, shard))
        else:
            rng = np.random.default_rng([seed, position, 1])
            results.append(fast_mode(probe, name, shape, a, tols, rng, directions, worst))
    changed = probe.modified()
    if changed:
        raise ShapeError(f"loss_fn modified its argument ({', '.join(changed)}); it must not write to params")
    check_resolution(results, probe.f0, reference, step, noise)
    failed = [p.name for p in results if not p.ok]
    pairs = {p.name: p.compared for p in results if p.compared is not None and np.size(p.compared[0])}
    context = replace(context or Context(), dtype=dtype)
    return GradcheckReport(
        mode=mode,
        reference=reference,
        step=step,
        dtype=dtype,
        seed=seed,
        loss=probe.f0,
        tolerance=tols.entry,
        params=results,
        n_loss_evals=probe.n_evals,
        seconds=time.perf_counter() - start,
        label=label,
        diagnoses=diagnose(pairs, failed, context, agreed=[p.name for p in results if p.ok and p.size]),
        noise=noise,
    )


def assert_gradients(loss_fn: LossFn, grad_fn: GradFn, params: Mapping[str, object], **options) -> GradcheckReport:
    """:func:`check_gradients`, raising ``AssertionError(report.table())`` when the check fails.

    Returns the report when it passes. Options as for :func:`check_gradients`.
    """
    __tracebackhide__ = True  # pytest: show the table, not this frame
    report = check_gradients(loss_fn, grad_fn, params, **options)
    if not report.ok:
        raise AssertionError(report.table())
    return report


# -- is the check meaningful at all? -------------------------------------------------------------


def check_resolution(results: list[ParamResult], loss: float, reference: str, step: float, noise: float = 0.0) -> None:
    """Refuse a check whose reference cannot resolve the derivatives it compares (see the module docstring).

    Per parameter, ``resolution`` is the reference's rounding error for one entry's
    derivative and ``magnitude`` the largest derivative compared there. A parameter
    is *resolved* when its resolution is at most 0.1 % of its magnitude, *silent*
    when its magnitude is within its resolution (nothing measurable: a zero
    gradient, or one the loss's rounding hides). A parameter in between, or a silent
    one whose resolution is above 0.1 % of the smallest resolved magnitude, or no
    resolved parameter at all, means a wrong gradient could pass: LossScaleError.
    """
    resolved = [p.magnitude for p in results if p.resolution <= MAX_REFERENCE_RTOL * p.magnitude]
    smallest = min(resolved, default=0.0)
    for p in results:
        if p.resolution <= MAX_REFERENCE_RTOL * p.magnitude:
            continue
        silent = p.magnitude <= p.resolution
        if silent and resolved and p.resolution <= MAX_REFERENCE_RTOL * smallest:
            continue
        largest = max(q.magnitude for q in results)
        scale = p.magnitude if not silent else (smallest if resolved else largest)
        raise LossScaleError(_resolution_message(p, scale, loss, reference, step, bool(resolved), noise))


def _resolution_message(
    p: ParamResult, scale: float, loss: float, reference: str, step: float, any_ok: bool, noise: float
) -> str:
    if scale == 0 and abs(loss) <= 1:
        return (
            f"the loss ({loss:.6g}) does not change measurably when the parameters change (every derivative "
            "compared is 0 within the reference's rounding): there is nothing to check"
        )
    advice = "subtract a constant from the loss (only its differences matter)" if abs(loss) > 1 else "scale it up"
    if reference != "complex":
        advice += ", or use reference='complex', which does not subtract loss values"
    size = "large" if abs(loss) > 1 else "small"
    what = "it must check" if any_ok else "it saw"
    return (
        f"the loss value {loss:.6g} is too {size} for its gradient: each loss evaluation carries about "
        f"{max(FLOAT64_EPS * max(1.0, abs(loss)), noise):.2g} of rounding, so the {reference} reference (h={step:.2g}) "
        f"resolves {p.name}'s derivatives only to ±{p.resolution:.2g}, more than {MAX_REFERENCE_RTOL:g} of the "
        f"derivatives {what} ({scale:.2g}); a wrong gradient could pass. {advice[0].upper()}{advice[1:]}"
    )
