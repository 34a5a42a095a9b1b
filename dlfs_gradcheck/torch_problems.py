"""Ready-made problems for torch code: this project's torch net, any ``torch.nn.Module``, any function of tensors.

Usage::

    torch_net_problem(params, x, t, activation="relu", dtype="float32").assert_ok(mode="fast")
    torch_module_problem(module, torch.nn.functional.mse_loss, x, y).assert_ok()
    torch_function_problem(MyFunction.apply, x, w).assert_ok(reference="richardson")

Each returns a :class:`dlfs_gradcheck.problems.GradProblem`: autograd in the code's own dtype
and device against a float64 CPU copy of the same code. Complex safety (for
``reference="complex"``): torch's ``F.cross_entropy`` is not complex-safe, so the torch net's
reference for the complex step is the numpy net's forward pass, the same exact cross-entropy
(the command line's report title says so); with ``central`` or ``richardson`` it is a float64
copy of the torch net itself. A generic module or function gets no complex reference (a clear
error). torch is imported when an adapter is called, never when :mod:`dlfs_gradcheck` is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dlfs_gradcheck.core import GradFn
from dlfs_gradcheck.diagnose import Context
from dlfs_gradcheck.errors import ConfigError, DtypeError
from dlfs_gradcheck.probe import LossFn
from dlfs_gradcheck.problems import GradProblem, float_dtype, numpy_loss_fn
from impl_numpy.validation import check_params

if TYPE_CHECKING:
    import torch


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

    dt = float_dtype(dtype)
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

    context = Context(batch_size=len(x), features=x.shape[1], log_loss=True)
    return GradProblem(loss_fn, grad_fn, p, f"torch {activation} {dt.name} on {tested.device.type}", context)


# -- any torch.nn.Module ---------------------------------------------------------------------------


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

    ins, tgts = _as_tuple(inputs), _as_tuple(targets)
    tested = copy.deepcopy(module)
    twin = copy.deepcopy(module).to(device="cpu", dtype=torch.float64)
    names = [n for n, p in tested.named_parameters() if p.requires_grad]
    grad_fn = _module_grad_fn(tested, names, lambda m: loss(m(*ins), *tgts))
    ins64, tgts64 = tuple(_to64(v) for v in ins), tuple(_to64(v) for v in tgts)
    loss_fn = _module_loss_fn(twin, names, lambda m: loss(m(*ins64), *tgts64))
    tested_params = dict(tested.named_parameters())
    params = {n: tested_params[n].detach().cpu().numpy().copy() for n in names}
    return GradProblem(loss_fn, grad_fn, params, label or type(module).__name__)


def _as_tuple(value: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """One tensor as a 1-tuple, a sequence of them as a tuple."""
    import torch

    return (value,) if isinstance(value, torch.Tensor) else tuple(value)


def _to64(v: torch.Tensor) -> torch.Tensor:
    """A CPU copy of ``v`` for the reference: float64 when floating, its own dtype otherwise (labels)."""
    import torch

    v = v.detach().cpu()
    return v.to(torch.float64) if v.is_floating_point() else v


def _module_grad_fn(tested: torch.nn.Module, names: list[str], value_of: Callable) -> GradFn:
    """Autograd of ``value_of(tested)`` with respect to the parameters ``names``, set from the point first."""
    import torch

    tested_params = dict(tested.named_parameters())

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            for n in names:
                tested_params[n].copy_(torch.from_numpy(np.ascontiguousarray(q[n])))
        value = value_of(tested)
        g = torch.autograd.grad(value, [tested_params[n] for n in names], allow_unused=True)
        out = {}
        for n, gi in zip(names, g, strict=True):
            p = tested_params[n]
            out[n] = np.zeros(tuple(p.shape), dtype=q[n].dtype) if gi is None else gi.detach().cpu().numpy()
        return out

    return grad_fn


def _module_loss_fn(twin: torch.nn.Module, names: list[str], value_of: Callable) -> LossFn:
    """``value_of(twin)`` with the float64 twin's parameters ``names`` set from the point; refuses complex ones."""
    import torch

    twin_params = dict(twin.named_parameters())

    def loss_fn(q: dict[str, np.ndarray]) -> torch.Tensor:
        if any(np.iscomplexobj(v) for v in q.values()):
            raise DtypeError("a torch.nn.Module loss is not complex-safe")
        with torch.no_grad():
            for n in names:
                twin_params[n].copy_(torch.from_numpy(q[n]))
            return value_of(twin)

    return loss_fn


# -- any function of tensors -----------------------------------------------------------------------


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
    scalar = _weighted_sum(seed)
    grad_fn = _function_grad_fn(fn, inputs, names, scalar)
    loss_fn = _function_loss_fn(twin, inputs, names, scalar)
    params = {names[i]: inputs[i].detach().cpu().numpy().copy() for i in which}  # type: ignore[union-attr]
    return GradProblem(loss_fn, grad_fn, params, f"{_function_name(fn, label)} w.r.t. its inputs")


def _weighted_sum(seed: int) -> Callable[..., torch.Tensor]:
    """``scalar(out, dtype, device)``: ``Σ w ∘ o`` over the outputs ``o``, one fixed seeded Gaussian ``w`` each."""
    import torch

    weights: list[np.ndarray] = []

    def scalar(out: object, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        outs = (out,) if isinstance(out, torch.Tensor) else tuple(out)  # type: ignore[arg-type]
        if not weights:  # one fixed seeded cotangent per output, drawn on first use
            rng = np.random.default_rng([seed, 2])
            weights.extend(rng.standard_normal(tuple(o.shape)) for o in outs)
        terms = [(o * torch.as_tensor(w, dtype=dtype, device=device)).sum() for o, w in zip(outs, weights, strict=True)]
        return torch.stack(terms).sum()

    return scalar


def _arguments(
    inputs: tuple[object, ...],
    names: dict[int, str],
    q: dict[str, np.ndarray],
    dtype: torch.dtype | None,
    device: torch.device | None,
) -> list[object]:
    """``inputs`` with each floating tensor (position in ``names``) replaced by the point's value, in ``dtype``."""
    import torch

    out = list(inputs)
    for i in names:
        v = inputs[i]
        out[i] = torch.tensor(q[names[i]], dtype=dtype or v.dtype, device=device or v.device)  # type: ignore[union-attr]
    return out


def _function_grad_fn(fn: Callable, inputs: tuple[object, ...], names: dict[int, str], scalar: Callable) -> GradFn:
    """Autograd of the weighted sum of ``fn``'s outputs, on the inputs' own dtype and device."""
    import torch

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        xs = _arguments(inputs, names, q, None, None)
        leaves = [xs[i].requires_grad_(True) for i in names]  # type: ignore[union-attr]
        first = leaves[0]
        value = scalar(fn(*xs), first.dtype, first.device)
        g = torch.autograd.grad(value, leaves, allow_unused=True)
        return {
            names[i]: np.zeros(q[names[i]].shape, dtype=q[names[i]].dtype) if gi is None else gi.detach().cpu().numpy()
            for i, gi in zip(names, g, strict=True)
        }

    return grad_fn


def _function_loss_fn(twin: Callable, inputs: tuple[object, ...], names: dict[int, str], scalar: Callable) -> LossFn:
    """The same weighted sum of the float64 ``twin``'s outputs on float64 CPU inputs; refuses complex ones."""
    import torch

    def loss_fn(q: dict[str, np.ndarray]) -> torch.Tensor:
        if any(np.iscomplexobj(v) for v in q.values()):
            raise DtypeError("a torch function is not complex-safe")
        xs = _arguments(inputs, names, q, torch.float64, torch.device("cpu"))
        xs = [
            v.detach().cpu().to(torch.float64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for v in xs
        ]
        with torch.no_grad():
            return scalar(twin(*xs), torch.float64, torch.device("cpu"))

    return loss_fn


def _function_name(fn: Callable, label: str) -> str:
    """``label``, or the name of ``fn`` (for a custom autograd.Function's ``apply``: the Function's)."""
    owner = getattr(fn, "__self__", None)
    return label or getattr(owner if isinstance(owner, type) else fn, "__qualname__", "") or type(fn).__name__
