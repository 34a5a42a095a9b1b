"""The tolerances of a gradient check, and the refusal of a check whose reference cannot resolve the gradient.

Usage::

    tols = tolerances(reference, dtype, probe.f0, step, rtol, atol, noise)  # before comparing
    check_resolution(results, probe.f0, reference, step, noise)            # after: LossScaleError or nothing

:mod:`dlfs_gradcheck.core` explains both: the tolerance an entry is judged by (the looser of the
tested dtype's and the reference's own error), and why a loss too large or too flat for its
reference is refused rather than passed. A step the reference cannot use is refused here too.
"""

from __future__ import annotations

from dlfs_gradcheck.entrywise import Tolerances
from dlfs_gradcheck.errors import ConfigError, LossScaleError
from dlfs_gradcheck.metrics import FLOAT64_EPS, Tolerance, gradient_tolerance, loosest, reference_tolerance
from dlfs_gradcheck.report import ParamResult

MAX_REFERENCE_RTOL = 1e-3  # a reference must resolve 0.1 % of the derivatives it checks


def tolerances(
    reference: str,
    dtype: str,
    loss_value: float,
    step: float,
    rtol: float | None,
    atol: float | None,
    noise: float = 0.0,
) -> Tolerances:
    """The :class:`Tolerances` of a check; see :mod:`dlfs_gradcheck.core`. ``noise``: the loss's measured rounding."""
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


def check_resolution(results: list[ParamResult], loss: float, reference: str, step: float, noise: float = 0.0) -> None:
    """Refuse a check whose reference cannot resolve the derivatives it compares (see :mod:`dlfs_gradcheck.core`).

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
