"""Ready-made (loss_fn, grad_fn, params) triples for this project's nets and for any ``torch.nn.Module``.

Each adapter returns a :class:`GradProblem`. Its ``loss_fn`` is a float64 twin
of the code under test (the reference side), its ``grad_fn`` runs the code under
test in its own dtype, and its ``params`` are in that dtype::

    problem = numpy_net_problem(params, x, t, activation="relu", dtype="float32")
    report = problem.check(mode="fast", reference="complex")

Complex safety (for ``reference="complex"``):

- the numpy net's ``loss`` and ``book_loss`` are complex-safe: every function in
  :mod:`impl_numpy.functions` (sigmoid, relu, softmax, log-sum-exp,
  cross_entropy, cross_entropy_error) branches on real parts only, and
  ``TwoLayerNet.from_params`` keeps complex parameters complex (the net takes
  ``W1``'s dtype, so all four must be complex128, as the checker passes them).
  ``accuracy`` (argmax) and the backprop layers are not meant for complex input;
- torch's ``F.cross_entropy`` is not, so the torch net's reference for the
  complex step is the numpy net's forward pass, the same exact cross-entropy
  (the command line's report title says so); with ``central`` or
  ``richardson`` it is a float64 copy of the torch net itself;
- a generic ``torch.nn.Module`` gets no complex reference (a clear error).

Longer than 300 lines and 60 for ``torch_module_problem`` and ``torch_function_problem``: each
adapter keeps its float64 twin of the loss, its gradient under test and its input checks
together, where they can be read against each other.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dlfs_gradcheck.core import GradFn, check_gradients
from dlfs_gradcheck.diagnose import Context, Diagnosis
from dlfs_gradcheck.errors import ConfigError, DtypeError
from dlfs_gradcheck.probe import LossFn
from dlfs_gradcheck.report import GradcheckReport
from impl_numpy import TwoLayerNet
from impl_numpy.validation import check_activation, check_params

if TYPE_CHECKING:
    import torch

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


def _float_dtype(dtype: str | np.dtype | type) -> np.dtype:
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
    dt = _float_dtype(dtype)
    p = {k: np.array(v, dtype=dt) for k, v in check_params(params).items()}  # (book layout)

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return TwoLayerNet.from_params(q, activation=activation, dtype=dt).gradient(x, t)

    label = f"numpy {activation} {dt.name}" + (" vs the book's loss" if loss == "book" else "")
    context = Context(batch_size=len(x), log_loss=True)
    return GradProblem(numpy_loss_fn(x, t, activation=activation, loss=loss), grad_fn, p, label, context)


def torch_net_problem(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    activation: str = "sigmoid",
    dtype: str = "float64",
    device: str = "cpu",
) -> GradProblem:
    """The torch net's autograd (``TorchTwoLayerNet.gradient`` in ``dtype`` on ``device``) against float64.

    The reference is a float64 CPU copy of the same torch net; for complex
    parameters (the complex step) it is the numpy net's forward pass, the same
    exact cross-entropy, because torch's ``cross_entropy`` is not complex-safe.
    Parameters and gradients are in the book's layout (``W1`` (D, H); the torch
    net transposes internally).
    """
    from impl_torch import TorchTwoLayerNet

    dt = _float_dtype(dtype)
    p = {k: np.array(v, dtype=dt) for k, v in check_params(params).items()}
    tested = TorchTwoLayerNet.from_params(p, activation=activation, device=device, dtype=dt.name)
    twin = TorchTwoLayerNet.from_params(p, activation=activation, device="cpu", dtype="float64")
    complex_loss = numpy_loss_fn(x, t, activation=activation)

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tested.load_params(q)
        g = tested.gradient(x, t)  # float64 copies of the dtype's values
        return {k: v.astype(dt) for k, v in g.items()}

    def loss_fn(q: dict[str, np.ndarray]) -> float:
        if any(np.iscomplexobj(v) for v in q.values()):
            return complex_loss(q)
        twin.load_params(q)
        return twin.loss(x, t)

    context = Context(batch_size=len(x), log_loss=True)
    return GradProblem(loss_fn, grad_fn, p, f"torch {activation} {dt.name} on {tested.device.type}", context)


def torch_module_problem(
    module: torch.nn.Module,
    loss: Callable[..., torch.Tensor],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | Sequence[torch.Tensor] = (),
    *,
    label: str = "",
) -> GradProblem:
    """Autograd of ``loss(module(*inputs), *targets)`` with respect to the module's parameters.

    Parameters
    ----------
    module : torch.nn.Module
        float32 or float64 parameters, on any device. Never modified: the code
        under test runs on a deep copy, the reference on a float64 CPU deep copy
        (floating-point ``inputs`` and ``targets`` are cast to float64 for it).
        The forward pass must be deterministic (e.g. dropout off: ``module.eval()``).
    loss : callable
        ``loss(output, *targets) -> 0-d tensor``, e.g. ``torch.nn.functional.mse_loss``.
    inputs, targets : tensor or sequence of tensors

    Returns
    -------
    GradProblem
        ``params`` maps ``named_parameters()`` names (those with ``requires_grad``)
        to numpy copies in the module's dtype.
    """
    import torch

    ins = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    tgts = (targets,) if isinstance(targets, torch.Tensor) else tuple(targets)
    tested = copy.deepcopy(module)
    twin = copy.deepcopy(module).to(device="cpu", dtype=torch.float64)
    names = [n for n, p in tested.named_parameters() if p.requires_grad]
    tested_params = dict(tested.named_parameters())
    twin_params = dict(twin.named_parameters())

    def to64(v: torch.Tensor) -> torch.Tensor:
        v = v.detach().cpu()
        return v.to(torch.float64) if v.is_floating_point() else v

    ins64 = tuple(to64(v) for v in ins)
    tgts64 = tuple(to64(v) for v in tgts)

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            for n in names:
                tested_params[n].copy_(torch.from_numpy(np.ascontiguousarray(q[n])))
        value = loss(tested(*ins), *tgts)
        g = torch.autograd.grad(value, [tested_params[n] for n in names], allow_unused=True)
        out = {}
        for n, gi in zip(names, g, strict=True):
            p = tested_params[n]
            out[n] = np.zeros(tuple(p.shape), dtype=q[n].dtype) if gi is None else gi.detach().cpu().numpy()
        return out

    def loss_fn(q: dict[str, np.ndarray]) -> torch.Tensor:
        if any(np.iscomplexobj(v) for v in q.values()):
            raise DtypeError("a torch.nn.Module loss is not complex-safe")
        with torch.no_grad():
            for n in names:
                twin_params[n].copy_(torch.from_numpy(q[n]))
            return loss(twin(*ins64), *tgts64)

    params = {n: tested_params[n].detach().cpu().numpy().copy() for n in names}
    return GradProblem(loss_fn, grad_fn, params, label or type(module).__name__)


def torch_function_problem(fn: Callable[..., object], *inputs: object, seed: int = 0, label: str = "") -> GradProblem:
    """Autograd of ``fn(*inputs)`` with respect to its floating-point tensor inputs.

    ``fn`` is a function (a custom ``torch.autograd.Function``'s ``apply`` included)
    or a ``torch.nn.Module`` (its parameters stay fixed: only the inputs vary). A
    non-scalar output (or a tuple of outputs) is reduced to ``Σ w ∘ output`` with a
    fixed seeded Gaussian ``w`` per output, so the check covers the whole backward
    pass (a vector-Jacobian product), not one column of it.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        Deterministic. The code under test runs on the inputs' dtype and device;
        the reference on float64 CPU copies (a module: a float64 CPU deep copy).
    *inputs : tensors or other arguments
        Floating-point tensors are the variables, named ``input0``, ``input1``, ...
        by position; anything else (integer labels, flags) is passed through.
    seed : int
        Seeds ``w``.

    Returns
    -------
    GradProblem
        ``params`` maps ``inputN`` to numpy copies of the floating inputs.
    """
    import torch

    which = [i for i, v in enumerate(inputs) if isinstance(v, torch.Tensor) and v.is_floating_point()]
    if not which:
        raise ConfigError("torch_function_problem needs at least one floating-point tensor input")
    names = {i: f"input{i}" for i in which}
    twin = copy.deepcopy(fn).to(device="cpu", dtype=torch.float64) if isinstance(fn, torch.nn.Module) else fn
    weights: list[np.ndarray] = []

    def scalar(out: object, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        outs = (out,) if isinstance(out, torch.Tensor) else tuple(out)  # type: ignore[arg-type]
        if not weights:  # one fixed seeded cotangent per output, drawn on first use
            rng = np.random.default_rng([seed, 2])
            weights.extend(rng.standard_normal(tuple(o.shape)) for o in outs)
        terms = [(o * torch.as_tensor(w, dtype=dtype, device=device)).sum() for o, w in zip(outs, weights, strict=True)]
        return torch.stack(terms).sum()

    def args(q: dict[str, np.ndarray], dtype: torch.dtype | None, device: torch.device | None) -> list[object]:
        out = list(inputs)
        for i in which:
            v = inputs[i]
            out[i] = torch.tensor(q[names[i]], dtype=dtype or v.dtype, device=device or v.device)  # type: ignore[union-attr]
        return out

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        xs = args(q, None, None)
        leaves = [xs[i].requires_grad_(True) for i in which]  # type: ignore[union-attr]
        first = leaves[0]
        value = scalar(fn(*xs), first.dtype, first.device)
        g = torch.autograd.grad(value, leaves, allow_unused=True)
        return {
            names[i]: np.zeros(q[names[i]].shape, dtype=q[names[i]].dtype) if gi is None else gi.detach().cpu().numpy()
            for i, gi in zip(which, g, strict=True)
        }

    def loss_fn(q: dict[str, np.ndarray]) -> torch.Tensor:
        if any(np.iscomplexobj(v) for v in q.values()):
            raise DtypeError("a torch function is not complex-safe")
        xs = args(q, torch.float64, torch.device("cpu"))
        xs = [
            v.detach().cpu().to(torch.float64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for v in xs
        ]
        with torch.no_grad():
            return scalar(twin(*xs), torch.float64, torch.device("cpu"))

    params = {names[i]: inputs[i].detach().cpu().numpy().copy() for i in which}  # type: ignore[union-attr]
    owner = getattr(fn, "__self__", None)  # a custom autograd.Function's apply: name the Function
    what = label or getattr(owner if isinstance(owner, type) else fn, "__qualname__", "") or type(fn).__name__
    return GradProblem(loss_fn, grad_fn, params, f"{what} w.r.t. its inputs")
