"""Gradient checking: an analytic gradient against a float64 numerical reference.

Usage::

    from compare.gradcheck import assert_gradients, check_gradients, numpy_net_problem

    report = check_gradients(loss_fn, grad_fn, params, mode="fast", reference="complex")
    print(report.table())                     # or report.to_dict() for JSON
    numpy_net_problem(params, x, t, activation="relu").assert_ok(mode="fast")

    python -m compare.gradcheck --activation relu --dtype float32 --mode fast --reference complex

``loss_fn(params) -> scalar`` gets float64 (or complex128) copies of the
parameters, ``grad_fn(params) -> dict`` (the code under test) gets copies in their
own dtype; the caller's arrays are never touched. Modes: ``full`` compares every
entry (or a seeded sample), ``fast`` a few signed Gaussian directions per parameter
and narrows a failing parameter down to its offending entries. References:
``central`` differences, ``richardson`` extrapolation, or the ``complex`` step
``Im f(x + ih) / h`` for complex-safe losses. See :mod:`compare.gradcheck.core`
for the tolerances, the kink rule and what fast mode is guaranteed to catch.

Reference: Deep Learning from Scratch, ch. 4.5 (gradient check); Squire and
Trapp, "Using complex variables to estimate derivatives of real functions" (1998).
"""

from compare.gradcheck.adapters import (
    GradProblem,
    numpy_loss_fn,
    numpy_net_problem,
    torch_module_problem,
    torch_net_problem,
)
from compare.gradcheck.core import MODES, assert_gradients, check_gradients
from compare.gradcheck.jax_adapter import jax_problem  # imports jax only when called
from compare.gradcheck.probe import REFERENCES, default_step
from compare.gradcheck.report import DirectionSummary, EntryResult, GradcheckReport, ParamResult

__all__ = [
    "MODES",
    "REFERENCES",
    "DirectionSummary",
    "EntryResult",
    "GradProblem",
    "GradcheckReport",
    "ParamResult",
    "assert_gradients",
    "check_gradients",
    "default_step",
    "jax_problem",
    "numpy_loss_fn",
    "numpy_net_problem",
    "torch_module_problem",
    "torch_net_problem",
]
