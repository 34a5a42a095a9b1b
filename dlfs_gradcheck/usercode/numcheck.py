"""A user's ``numerical_gradient``, checked against the exact gradient of the loss it differentiates.

``compare.run`` compares it with backprop (its ``[numerical]`` rows), or with the gradient of the
book's loss when that is the class's loss (``1e-7`` inside the log), at the tolerance
:func:`dlfs_gradcheck.metrics.gradient_tolerance` gives central differences with the book's step
``h = 1e-4``; ReLU entries whose ``±h`` step crosses a kink are left out. :func:`check_numerical`
does the same for the checker, so a numerical gradient one command fails, the other fails too.
Usage::

    verdict = check_numerical(net, x, t)   # ImplementationFailure when it is wrong or crashes
    print(verdict.line)                    # what was checked and how it came out, or why not
    judge_numerical(net, got, x, t)        # the same verdict on a numerical gradient already computed

An exact reference exists only when ``predict`` is the book's sigmoid or ReLU net (found by
probing), the loss is its exact or the book's cross-entropy, and the params are float64 (float32
central differences are rounding noise, as the lesson's float32 row shows); otherwise the line
says why it was not checked. It costs the class's own two loss evaluations per entry: one whose
estimate exceeds :data:`COST_LIMIT_S` is not run, and the line says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dlfs_gradcheck.metrics import diff, gradient_tolerance, relu_kink_mask
from dlfs_gradcheck.usercode.checks import BOOK_EPS, PARAM_NAMES, book_loss_gradient, exact_loss
from dlfs_gradcheck.usercode.failures import ImplementationFailure, definition_of

BOOK_H = 1e-4  # the book's step (common/gradient.py)
COST_LIMIT_S = 60.0  # a numerical gradient estimated to take longer is not run (the line says so)
LOSS_NAMES = {"exact": "the exact cross-entropy", "book": "the book's loss (1e-7 inside the log)"}


@dataclass(frozen=True)
class NumericalVerdict:
    """Whether the class's ``numerical_gradient`` was checked, and one line saying how it came out or why not."""

    checked: bool
    line: str


def _why_not(net) -> str:
    if "numerical_gradient" not in net.provided:
        return "not provided"
    if not net.deterministic:
        return "the loss changes from call to call"
    if net.activation is None or "predict" not in net.provided:
        return "predict is not the book's sigmoid or ReLU net, so there is no exact gradient to compare it with"
    if net.loss_kind not in LOSS_NAMES:
        return "its loss is not a cross-entropy of predict"
    if net.dtype != np.float64:
        return rounding_noise(net.dtype.name)
    return ""


def rounding_noise(dtype: str) -> str:
    """Why a numerical gradient through a ``dtype`` loss is not checked (the harness says it in the same words)."""
    return f"{dtype} central differences are rounding noise"


def check_numerical(net, x: np.ndarray, t: np.ndarray) -> NumericalVerdict:
    """Check ``net.numerical_gradient`` (a probed BookNet at the point to check) at ``x`` (N, D), ``t`` (N,)."""
    why = _why_not(net)
    if why:
        return NumericalVerdict(False, f"numerical_gradient: not checked ({why})")
    entries = sum(a.size for a in net.arrays().values())
    start = time.perf_counter()
    with net.session():
        net.loss(x, t)
    estimate = 2 * entries * (time.perf_counter() - start)
    if estimate > COST_LIMIT_S:
        return NumericalVerdict(
            False,
            f"numerical_gradient: not checked (about {estimate:.0f} s for {entries} entries at these sizes; smaller "
            "--sizes check it)",
        )
    return judge_numerical(net, net.gradient(x, t, "numerical_gradient"), x, t)


def judge_numerical(net, got: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray) -> NumericalVerdict:
    """The verdict on ``got``, what ``net.numerical_gradient`` returned at its current weights (the harness has it).

    Raises :class:`ImplementationFailure` naming their ``numerical_gradient`` when it is wrong.
    """
    why = _why_not(net)
    if why:
        return NumericalVerdict(False, f"numerical_gradient: not checked ({why})")
    params = net.params()
    reference = book_loss_gradient(params, x, t, net.activation, BOOK_EPS if net.loss_kind == "book" else 0.0)
    tol = gradient_tolerance("numerical", "exact", "float64", loss_value=exact_loss(net.output_of(x), t, net.output))
    kinks = relu_kink_mask(params, x, BOOK_H) if net.activation == "relu" else None
    diffs = {k: diff(got[k], reference[k], tol, None if kinks is None else ~kinks[k]) for k in PARAM_NAMES}
    bad = [k for k in PARAM_NAMES if diffs[k].n_bad]
    loss_name = LOSS_NAMES[net.loss_kind]
    if bad:
        d = diffs[bad[0]]
        raise ImplementationFailure(
            "numerical_gradient",
            f"differs from the exact gradient of {loss_name}: {', '.join(bad)}; worst {bad[0]}{list(d.worst_index)} "
            f"= {d.a_value:.6g}, exact {d.b_value:.6g} (relative error {d.max_rel:.2g}, central differences with "
            f"h = 1e-4 allow {tol.rtol:g}){_hint(got, reference, bad)}",
            definition_of(getattr(net.net, "numerical_gradient", None)),
            error="wrong-numerical",
            params=tuple(bad),
        )
    worst = max(d.max_rel for d in diffs.values())
    return NumericalVerdict(
        True,
        f"numerical_gradient: ok, the exact gradient of {loss_name} within central differences' error (worst "
        f"relative error {worst:.1e}, allowed {tol.rtol:g})",
    )


def _hint(got: dict[str, np.ndarray], reference: dict[str, np.ndarray], bad: list[str]) -> str:
    """What the wrong entries look like: a parameter left alone, or the whole gradient scaled."""
    zero = [k for k in bad if not np.any(got[k]) and np.any(reference[k])]
    if zero:
        return (
            f": {', '.join(zero)} all zeros, the loss did not change when it was stepped (another array stepped, or "
            "a copy of it?)"
        )
    g = np.concatenate([got[k].ravel() for k in bad])
    r = np.concatenate([reference[k].ravel() for k in bad])
    scale = float(g @ r / (r @ r)) if r.any() else float("nan")
    residual = np.linalg.norm(g - scale * r) / max(np.linalg.norm(g), 1e-300)
    if np.isfinite(scale) and residual < 1e-3 and abs(scale - 1.0) > 1e-3:
        why = " (f(x+h) - f(x-h)) / h instead of / 2h?" if abs(scale - 2.0) < 1e-3 else ""
        return f": {scale:.4g} × the exact gradient{why}"
    return ""
