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

Where the parts live: :mod:`dlfs_gradcheck.check_arguments` (the options and the point),
:mod:`dlfs_gradcheck.resolution` (the tolerances and the refusals), :mod:`dlfs_gradcheck.entrywise` (full mode),
:mod:`dlfs_gradcheck.fast` (fast mode).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from dlfs_gradcheck.check_arguments import check_options, validate_grads, validate_params
from dlfs_gradcheck.diagnose import Context, diagnose
from dlfs_gradcheck.entrywise import EntryShard, Tolerances, full_mode
from dlfs_gradcheck.errors import ShapeError
from dlfs_gradcheck.fast import fast_mode
from dlfs_gradcheck.probe import LossFn, Probe, default_step
from dlfs_gradcheck.report import GradcheckReport, ParamResult
from dlfs_gradcheck.resolution import check_resolution, tolerances

GradFn = Callable[[dict[str, np.ndarray]], Mapping[str, object]]


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
    loss_fn : ``loss_fn(params) -> scalar``: float64 (or complex128) arrays in, a float (complex) out; a float32
        result is refused. Must not modify its argument.
    grad_fn : ``grad_fn(params) -> dict``: the code under test, called once with copies of ``params`` in their own
        dtype; returns arrays (numpy or torch) of the parameters' shapes.
    params : dict of name -> float32 or float64 array, any shapes: the point, never modified. float32 parameters
        (or float32 gradients) make float32 the tested dtype, which sets the default tolerance.
    mode : ``"full"``: every entry (or ``max_entries`` per parameter, a seeded sample); ``"fast"``: ``directions``
        Gaussian directions per parameter, narrowed down on failure.
    reference : ``"central"``, ``"richardson"`` or ``"complex"`` (needs a complex-safe ``loss_fn``): how the
        float64 reference derivative is computed.
    eps : base step ``h``; each entry's step is ``h max(1, |x|)``. Default: :func:`dlfs_gradcheck.probe.default_step`.
    rtol, atol : replace the default per-entry tolerance (see the module docstring).
    seed : seeds the fast-mode directions and the full-mode sample.
    worst : entries listed per parameter (and fast mode's narrowing stops after this many offenders).
    label : a name for the report's title.
    shard : :class:`EntryShard`, full mode on the ranks of a job: every rank calls this with the same arguments and
        computes its share of each parameter's entries (:mod:`compare.gradcheck.ranks`); the report is the one a
        single process gives.
    context : :class:`dlfs_gradcheck.diagnose.Context`, what is known beyond the numbers (the batch size, whether
        the loss has a log), for the diagnoses of a failure.

    Returns a :class:`GradcheckReport`: ``.ok``, ``.table()``, ``.to_dict()``, one :class:`ParamResult` per parameter.

    Raises ShapeError, DtypeError, NonFiniteError, ConfigError, LossScaleError (all
    :class:`dlfs_gradcheck.GradcheckError`, a ``ValueError``) for mismatched names or shapes (a ragged gradient
    included), non-float dtypes, NaN or Inf in parameters, gradients or the loss (at the point or any shifted point),
    a ``loss_fn`` that is not complex-safe under ``reference="complex"``, a bad option (a step the reference cannot
    use, ``True`` for a number), or a loss too large (or flat) for the reference to resolve its gradient; the message
    names the parameter or the loss value.
    """
    start = time.perf_counter()
    check_options(mode, reference, eps, rtol, atol, max_entries, directions, worst, seed, sharded=shard is not None)
    setup = _setup(loss_fn, grad_fn, params, reference, eps, rtol, atol, seed)
    results = _compare(setup, mode, max_entries, directions, worst, shard)
    _refuse(setup, results)
    return _report(setup, results, mode, label, context, start)


def assert_gradients(loss_fn: LossFn, grad_fn: GradFn, params: Mapping[str, object], **options) -> GradcheckReport:
    """:func:`check_gradients`, raising ``AssertionError(report.table())`` when the check fails.

    Returns the report when it passes. Options as for :func:`check_gradients`.
    """
    __tracebackhide__ = True  # pytest: show the table, not this frame
    report = check_gradients(loss_fn, grad_fn, params, **options)
    if not report.ok:
        raise AssertionError(report.table())
    return report


@dataclass(frozen=True)
class _Setup:
    """A check's validated point and gradients, and what they are compared with."""

    reference: str  # how the reference derivative is computed
    seed: int  # seeds the fast-mode directions and the full-mode sample
    params: dict[str, np.ndarray]  # copies of the point, in their own dtype
    grads: dict[str, np.ndarray]  # the gradients under test, in their own dtype
    dtype: str  # the tested dtype: "float32" when any parameter or gradient is float32, else "float64"
    step: float  # the base step h
    probe: Probe  # loss evaluations around the point
    noise: float  # the loss's measured rounding near the point (0.0 when rtol or atol is given)
    tols: Tolerances  # what an entry (and a direction) is judged by


def _setup(
    loss_fn: LossFn,
    grad_fn: GradFn,
    params: Mapping[str, object],
    reference: str,
    eps: float | None,
    rtol: float | None,
    atol: float | None,
    seed: int,
) -> _Setup:
    """Validate the point, call ``grad_fn`` once, evaluate the loss at the point and settle the tolerances."""
    theirs = validate_params(params)
    grads = validate_grads(grad_fn({k: v.copy() for k, v in theirs.items()}), theirs)
    low = any(a.dtype == np.float32 for a in (*theirs.values(), *grads.values()))
    dtype = "float32" if low else "float64"
    step = default_step(reference) if eps is None else float(eps)
    probe = Probe(loss_fn, theirs, reference, step)
    noise = probe.noise(seed) if rtol is None and atol is None else 0.0
    tols = tolerances(reference, dtype, probe.f0, step, rtol, atol, noise)
    return _Setup(reference, seed, theirs, grads, dtype, step, probe, noise, tols)


def _compare(
    setup: _Setup, mode: str, max_entries: int | None, directions: int, worst: int, shard: EntryShard | None
) -> list[ParamResult]:
    """One :class:`ParamResult` per parameter, in order; each draws from its own seeded generator."""
    results = []
    for position, (name, g) in enumerate(setup.grads.items()):
        a = g.astype(np.float64).reshape(-1)  # (size,)
        shape = setup.params[name].shape
        if mode == "full":
            rng = np.random.default_rng([setup.seed, position])
            results.append(full_mode(setup.probe, name, shape, a, setup.tols, rng, max_entries, worst, shard))
        else:
            rng = np.random.default_rng([setup.seed, position, 1])
            results.append(fast_mode(setup.probe, name, shape, a, setup.tols, rng, directions, worst))
    return results


def _refuse(setup: _Setup, results: list[ParamResult]) -> None:
    """Refuse a ``loss_fn`` that wrote to its argument, and a check its reference cannot resolve."""
    changed = setup.probe.modified()
    if changed:
        raise ShapeError(f"loss_fn modified its argument ({', '.join(changed)}); it must not write to params")
    check_resolution(results, setup.probe.f0, setup.reference, setup.step, setup.noise)


def _report(
    setup: _Setup, results: list[ParamResult], mode: str, label: str, context: Context | None, start: float
) -> GradcheckReport:
    """The report of a check that was made, with the diagnoses of any failure; ``start``: its perf_counter."""
    failed = [p.name for p in results if not p.ok]
    pairs = {p.name: p.compared for p in results if p.compared is not None and np.size(p.compared[0])}
    context = replace(context or Context(), dtype=setup.dtype)
    return GradcheckReport(
        mode=mode,
        reference=setup.reference,
        step=setup.step,
        dtype=setup.dtype,
        seed=setup.seed,
        loss=setup.probe.f0,
        tolerance=setup.tols.entry,
        params=results,
        n_loss_evals=setup.probe.n_evals,
        seconds=time.perf_counter() - start,
        label=label,
        diagnoses=diagnose(pairs, failed, context, agreed=[p.name for p in results if p.ok and p.size]),
        noise=setup.noise,
    )
