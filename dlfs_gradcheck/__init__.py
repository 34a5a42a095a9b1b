"""Gradient checking: an analytic gradient against a float64 numerical reference.

A package of its own (it never imports ``compare``), so that it works in any repository,
including one with a ``compare.py`` or ``compare/`` of its own; ``compare.gradcheck`` is
the same API under the harness's name. Usage::

    from dlfs_gradcheck import assert_gradients, check_gradients, numpy_net_problem

    report = check_gradients(loss_fn, grad_fn, params, mode="fast", reference="complex")
    print(report.table())                     # or report.to_dict() for JSON
    numpy_net_problem(params, x, t, activation="relu").assert_ok(mode="fast")

    dlfs-gradcheck --activation relu --dtype float32 --mode fast --reference complex

``loss_fn(params) -> scalar`` gets float64 (or complex128) copies of the
parameters, ``grad_fn(params) -> dict`` (the code under test) gets copies in their
own dtype; the caller's arrays are never touched. Modes: ``full`` compares every
entry (or a seeded sample), ``fast`` a few signed Gaussian directions per parameter
and narrows a failing parameter down to its offending entries. References:
``central`` differences, ``richardson`` extrapolation, or the ``complex`` step
``Im f(x + ih) / h`` for complex-safe losses. See :mod:`dlfs_gradcheck.core`
for the tolerances, the kink rule and what fast mode is guaranteed to catch.

Everything is loaded on first use: ``import dlfs_gradcheck`` (and the pytest plugin it
registers) costs nothing until a name is used; the checker itself needs numpy only, and
torch or jax when their adapters are called. ``dlfs_gradcheck.__version__`` is the version of the
``dlfs-compare`` distribution that ships it (``"0+unknown"`` when not installed).

Reference: Deep Learning from Scratch, ch. 4.5 (gradient check); Squire and
Trapp, "Using complex variables to estimate derivatives of real functions" (1998).
"""

from __future__ import annotations

import importlib

# name -> the module of this package that defines it
_LAZY = {
    "MODES": "check_arguments",
    "assert_gradients": "core",
    "check_gradients": "core",
    "ConfigError": "errors",
    "DtypeError": "errors",
    "GradcheckError": "errors",
    "LossScaleError": "errors",
    "NonDeterministicError": "errors",
    "NonFiniteError": "errors",
    "ShapeError": "errors",
    "REFERENCES": "probe",
    "default_step": "probe",
    "DirectionSummary": "report",
    "EntryResult": "report",
    "GradcheckReport": "report",
    "ParamResult": "report",
    "GradProblem": "problems",
    "numpy_loss_fn": "problems",
    "numpy_net_problem": "problems",
    "torch_function_problem": "torch_problems",
    "torch_module_problem": "torch_problems",
    "torch_net_problem": "torch_problems",
    "book_net_problem": "net_problems",
    "torch_module_net_problem": "net_problems",
    "jax_problem": "jax_problems",
}


def _version() -> str:
    """The installed ``dlfs-compare`` distribution's version; ``"0+unknown"`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dlfs-compare")
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> object:
    if name == "__version__":  # of the dlfs-compare distribution that ships this package
        return _version()
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
