"""The project's own methods as runners (:mod:`compare.engine.protocol`): numpy and PyTorch.

- ``numerical``: the book's central-difference loop (numpy, always float64: 2P loss evaluations);
- ``numerical-fast``: the same differences with ~100× less work (:mod:`impl_numpy.fast_numerical`);
- ``backprop``: the book's chapter-5 layers (numpy), float64 or float32;
- ``autograd``: :class:`impl_torch.TorchTwoLayerNet` on one device, float64 or float32.

:func:`builtin_runner` builds a fresh runner from the shared initial params (a copy:
nothing is aliased). numpy and torch never run interleaved here: a trajectory runs whole,
then the next one starts (interleaving makes both thread pools fight: ~30× slower).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from compare.data import Dataset
from compare.engine.protocol import MethodInfo
from compare.engine.training import SteppedRunner
from impl_numpy import TwoLayerNet
from impl_numpy.validation import PARAM_NAMES

NUMERICAL = "numerical"
NUMERICAL_FAST = "numerical-fast"
BACKPROP = "backprop"
AUTOGRAD = "autograd"
NUMPY_FAMILIES = (NUMERICAL, NUMERICAL_FAST, BACKPROP)
# (params, x, t, activation, h) -> the book's numerical gradient computed elsewhere (on local ranks)
ShardedGradient = Callable[[Mapping[str, np.ndarray], np.ndarray, np.ndarray, str, float], dict[str, np.ndarray]]


def builtin_info(family: str, dtype: str = "float64", device: str = "cpu") -> MethodInfo:
    """The :class:`MethodInfo` of one of the project's own methods, with its table label."""
    if family == AUTOGRAD:
        return MethodInfo(f"{family}[{device},{dtype}]", family, "exact", dtype, device, "torch")
    if family not in NUMPY_FAMILIES:
        raise ValueError(f"unknown method {family!r}")
    kind = "exact" if family == BACKPROP else "numerical"
    label = family if dtype == "float64" else f"{family}[{dtype}]"
    return MethodInfo(label, family, kind, dtype, "cpu", "numpy")


class NumpyRunner(SteppedRunner):
    """``numerical``, ``numerical-fast`` or ``backprop`` on a numpy :class:`TwoLayerNet`.

    ``sharded`` (``numerical`` only): what computes :meth:`gradient` instead of this process,
    ``sharded(params, x, t, activation, h)``: the book's loop split over local ranks
    (:func:`compare.distributed.sharded_numerical_gradient`, bit-identical to this process at the
    same thread count). Training steps and timed calls stay in this process.
    """

    def __init__(
        self,
        info: MethodInfo,
        params: Mapping[str, np.ndarray],
        activation: str,
        h: float = 1e-4,
        *,
        sharded: ShardedGradient | None = None,
    ) -> None:
        self.info = info
        self.h = h
        self.activation, self.sharded = activation, sharded
        self.net = TwoLayerNet.from_params(params, activation=activation, dtype=info.dtype)

    def _numerical(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        if self.info.family == NUMERICAL_FAST:
            return self.net.numerical_gradient_fast(x, t, h=self.h)
        return self.net.numerical_gradient(x, t, h=self.h)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        if self.info.family == NUMERICAL and self.sharded is not None:
            return self.sharded(self.net.params, x, t, self.activation, self.h)
        grads = self._numerical(x, t) if self.info.kind == "numerical" else self.net.gradient(x, t)
        return {k: np.asarray(g, dtype=np.float64).copy() for k, g in grads.items()}

    def timed_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], None]:
        """A zero-argument call computing one gradient natively (for timing); no device to sync."""
        x = x.astype(self.net.dtype)
        if self.info.kind == "numerical":
            return (lambda: self._numerical(x, t)), None
        return (lambda: self.net.backprop(x, t)), None

    def timed_gradient_at(self, x: np.ndarray, t: np.ndarray, entries: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """The book's loop on some entries only (``entries[name]``: flat indices), for sampled timing."""
        xs = x.astype(np.float64)
        return lambda: self.net.numerical_gradient_at(xs, t, entries, self.h)

    def _step(self, xb: np.ndarray, tb: np.ndarray, learning_rate: float) -> float:
        """One SGD step; returns the loss before the update."""
        net = self.net
        if self.info.kind != "numerical":
            return net.train_step(xb, tb, learning_rate)
        loss = net.loss(xb, tb)
        grads = self._numerical(xb, tb)
        for k in PARAM_NAMES:
            net.params[k] -= learning_rate * grads[k]
        return loss

    # -- the step interface of the one training loop (compare.engine.training) ---------------------
    def begin(self, data: Dataset, batches: np.ndarray) -> None:
        dtype = self.net.dtype
        self._x_train, self._x_test = data.x_train.astype(dtype), data.x_test.astype(dtype)  # (N, D), (M, D)
        self._t_train, self._t_test, self._batches = data.t_train, data.t_test, batches

    def session(self) -> contextlib.AbstractContextManager:
        # A diverging run is reported once by the caller (compare.engine.divergence), not warned on per step.
        return np.errstate(over="ignore", invalid="ignore")

    def step(self, i: int, learning_rate: float) -> float:
        idx = self._batches[i]
        return self._step(self._x_train[idx], self._t_train[idx], learning_rate)  # (B, D), (B,)

    def accuracy(self) -> tuple[float, float]:
        return self.net.accuracy(self._x_train, self._t_train), self.net.accuracy(self._x_test, self._t_test)

    def export(self) -> dict[str, np.ndarray]:
        return {k: v.astype(np.float64) for k, v in self.net.params.items()}


class TorchRunner(SteppedRunner):
    """``autograd`` on a :class:`impl_torch.TorchTwoLayerNet` on one device."""

    host_losses = False  # losses and accuracies stay on the device until the run ends (no per-step host sync)

    def __init__(self, info: MethodInfo, params: Mapping[str, np.ndarray], activation: str) -> None:
        import torch

        from impl_torch import TorchTwoLayerNet

        self.torch = torch
        self.info = info
        self.net = TorchTwoLayerNet.from_params(params, activation=activation, device=info.device, dtype=info.dtype)

    def sync(self) -> None:
        from compare.engine.devices import sync

        sync(self.net.device.type)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        return self.net.gradient(x, t)

    def timed_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Callable[[], None]]:
        """One autograd gradient on device tensors (no host copies), and the device sync."""
        import torch.nn.functional as F

        xt, tt = self.net.to_device_batch(x, t)
        weights = list(self.net.parameters())

        def grad() -> object:
            return self.torch.autograd.grad(F.cross_entropy(self.net(xt), tt), weights)

        return grad, self.sync

    # -- the step interface of the one training loop (compare.engine.training) ---------------------
    def begin(self, data: Dataset, batches: np.ndarray) -> None:
        self._data = DeviceData(self.torch, data, batches, self.net.device, self.net.dtype)

    def step(self, i: int, learning_rate: float):
        d = self._data
        idx = d.idx[i]  # (B,)
        return self.net.train_step(d.x_train[idx], d.t_train[idx], learning_rate)  # a 0-d device tensor

    def accuracy(self):
        d, torch = self._data, self.torch
        with torch.no_grad():
            train_acc = (self.net(d.x_train).argmax(dim=1) == d.t_train).to(torch.float64).mean()
            test_acc = (self.net(d.x_test).argmax(dim=1) == d.t_test).to(torch.float64).mean()
        return torch.stack([train_acc, test_acc])  # (2,) on the device

    def export(self) -> dict[str, np.ndarray]:
        return self.net.export_params()  # a host copy, but only a few times per run

    def finish(self, losses: list, accuracies: list) -> tuple[np.ndarray, np.ndarray]:
        return device_finish(self.torch, losses, accuracies)


class DeviceData:
    """The data set and the batch stream on a torch device, sent once per run."""

    def __init__(self, torch, data: Dataset, batches: np.ndarray, device, dtype) -> None:
        self.x_train = torch.as_tensor(data.x_train).to(device, dtype)  # (N, D)
        self.t_train = torch.as_tensor(data.t_train.astype(np.int64)).to(device)  # (N,)
        self.x_test = torch.as_tensor(data.x_test).to(device, dtype)  # (M, D)
        self.t_test = torch.as_tensor(data.t_test.astype(np.int64)).to(device)  # (M,)
        self.idx = torch.as_tensor(batches.astype(np.int64)).to(device)  # (steps, B)


def device_finish(torch, losses: list, accuracies: list) -> tuple[np.ndarray, np.ndarray]:
    """Device losses (0-d each) and accuracies ((2,) each) as float64 host arrays: one transfer each."""
    host_losses = torch.stack(losses).to("cpu", torch.float64).numpy() if losses else np.empty(0)
    host_accs = torch.stack(accuracies).cpu().numpy() if accuracies else np.empty((0, 2))
    return host_losses, host_accs


def builtin_runner(
    info: MethodInfo,
    params: Mapping[str, np.ndarray],
    activation: str,
    h: float = 1e-4,
    sharded: ShardedGradient | None = None,
):
    """A fresh runner of one of the project's own methods, holding a copy of ``params``.

    ``sharded``: the book loop's gradient on local ranks (:class:`NumpyRunner`).
    """
    if info.framework == "torch":
        return TorchRunner(info, params, activation)
    return NumpyRunner(info, params, activation, h, sharded=sharded)
