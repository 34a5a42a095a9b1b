"""The problem a check is given (:class:`GradProblem`), and the ready-made one for this project's numpy net.

Each adapter returns a :class:`GradProblem`. Its ``loss_fn`` is a float64 twin
of the code under test (the reference side), its ``grad_fn`` runs the code under
test in its own dtype, and its ``params`` are in that dtype::

    problem = numpy_net_problem(params, x, t, activation="relu", dtype="float32")
    report = problem.check(mode="fast", reference="complex")

Complex safety (for ``reference="complex"``): the numpy net's ``loss`` and ``book_loss``
are complex-safe: every function in :mod:`impl_numpy.functions` (sigmoid, relu, softmax,
log-sum-exp, cross_entropy, cross_entropy_error) branches on real parts only, and
``TwoLayerNet.from_params`` keeps complex parameters complex (the net takes ``W1``'s dtype,
so all four must be complex128, as the checker passes them). ``accuracy`` (argmax) and the
backprop layers are not meant for complex input.

The adapters for torch code are :mod:`dlfs_gradcheck.torch_problems`, for a user's own net
:mod:`dlfs_gradcheck.net_problems`, for JAX :mod:`dlfs_gradcheck.jax_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlfs_gradcheck.core import GradFn, check_gradients
from dlfs_gradcheck.diagnose import Context, Diagnosis
from dlfs_gradcheck.errors import ConfigError
from dlfs_gradcheck.probe import LossFn
from dlfs_gradcheck.report import GradcheckReport
from impl_numpy import TwoLayerNet
from impl_numpy.validation import check_activation, check_params

LOSSES = ("exact", "book")


@dataclass(frozen=True)
class GradProblem:
    """A gradient to check: ``check_gradients(problem.loss_fn, problem.grad_fn, problem.params)``.

    Besides the three callables' triple, a problem carries what is known of the code under test
    before any comparison: ``context`` for the diagnoses (batch size, a log in the loss),
    ``notes`` (what probing a user's class found) and ``findings`` (diagnoses found by probing,
    e.g. a ``gradient`` that reuses the last forward pass), which a failing report lists first.
    """

    loss_fn: LossFn  # float64 / complex128 params -> scalar: the reference side
    grad_fn: GradFn  # params in the tested dtype -> dict of gradients: the code under test
    params: dict[str, np.ndarray]  # the point, in the tested dtype
    label: str  # what this is, for report titles
    context: Context | None = None  # for the diagnoses of a failure
    notes: tuple[str, ...] = ()  # one line each, shown under the report
    findings: tuple[Diagnosis, ...] = ()  # diagnoses known before comparing, shown when the check fails

    def check(self, **options) -> GradcheckReport:
        """:func:`dlfs_gradcheck.check_gradients` on this problem (same options)."""
        options.setdefault("label", self.label)
        options.setdefault("context", self.context)
        report = check_gradients(self.loss_fn, self.grad_fn, self.params, **options)
        report.notes[:0] = list(self.notes)
        if not report.ok:
            report.diagnoses[:0] = list(self.findings)
        return report

    def assert_ok(self, **options) -> GradcheckReport:
        """:meth:`check`, raising ``AssertionError(report.table())`` when the check fails."""
        __tracebackhide__ = True  # pytest: show the table, not this frame
        report = self.check(**options)
        if not report.ok:
            raise AssertionError(report.table())
        return report


def float_dtype(dtype: str | np.dtype | type) -> np.dtype:
    """``dtype`` as a numpy dtype, refused unless float32 or float64."""
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ConfigError(f"unknown dtype {dtype!r}; choose float64 or float32")
    return dt


def numpy_loss_fn(x: np.ndarray, t: np.ndarray, *, activation: str = "sigmoid", loss: str = "exact") -> LossFn:
    """``params -> loss`` of the numpy net on the batch ``(x, t)``; complex-safe.

    ``loss="exact"`` is :meth:`TwoLayerNet.loss` (what backprop differentiates),
    ``loss="book"`` the book's ``cross_entropy_error`` with its ``1e-7``
    (:meth:`TwoLayerNet.book_loss`). The net takes the parameters' dtype:
    float64, or complex128 for the complex step.
    """
    check_activation(activation)
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")

    def loss_fn(params: dict[str, np.ndarray]) -> float:
        net = TwoLayerNet.from_params(params, activation=activation)
        return net.loss(x, t) if loss == "exact" else net.book_loss(x, t)

    return loss_fn


def numpy_net_problem(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    activation: str = "sigmoid",
    dtype: str | np.dtype | type = "float64",
    loss: str = "exact",
) -> GradProblem:
    """The numpy net's backprop (``TwoLayerNet.gradient`` in ``dtype``) against its own loss in float64.

    Parameters
    ----------
    params : dict
        Book layout: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    x : ndarray (N, D)
    t : ndarray (N,) class indices, or (N, C) one-hot
    activation : {"sigmoid", "relu"}
    dtype : {"float64", "float32"}
        The dtype backprop runs in; the reference is float64 regardless.
    loss : {"exact", "book"}
        Which loss the reference differentiates; ``"book"`` reproduces the book's
        mismatch between its numerical gradient and its backprop.
    """
    dt = float_dtype(dtype)
    p = {k: np.array(v, dtype=dt) for k, v in check_params(params).items()}  # (book layout)

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return TwoLayerNet.from_params(q, activation=activation, dtype=dt).gradient(x, t)

    label = f"numpy {activation} {dt.name}" + (" vs the book's loss" if loss == "book" else "")
    context = Context(batch_size=len(x), features=x.shape[1], log_loss=True)
    return GradProblem(numpy_loss_fn(x, t, activation=activation, loss=loss), grad_fn, p, label, context)
