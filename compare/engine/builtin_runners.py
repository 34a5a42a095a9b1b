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

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from compare.data import Dataset
from compare.engine.protocol import MethodInfo, TrainRecord, progress_bar
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


class NumpyRunner:
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

    def train(
        self,
        data: Dataset,
        batches: np.ndarray,
        learning_rate: float,
        eval_at: list[int],
        snapshot_at: Iterable[int] = (),
        progress: bool = False,
        time_budget_s: float | None = None,
    ) -> TrainRecord:
        """Train along ``batches``; with ``time_budget_s``, stop after the step that uses it up.

        The weights after the last step made are always kept as a snapshot.
        """
        net = self.net
        start = time.perf_counter()
        x_train, x_test = data.x_train.astype(net.dtype), data.x_test.astype(net.dtype)
        steps = batches.shape[0]
        losses = np.empty(steps)
        evals, snaps = set(eval_at), set(snapshot_at)
        record = TrainRecord(losses, [], np.empty(0), np.empty(0))
        train_acc, test_acc = [], []
        # A diverging run is reported once by the caller (compare.engine.divergence), not warned on per step.
        with np.errstate(over="ignore", invalid="ignore"):
            for i in progress_bar(range(steps), steps, self.info.label, progress):
                idx = batches[i]
                losses[i] = self._step(x_train[idx], data.t_train[idx], learning_rate)  # (B, D), (B,)
                if not math.isfinite(losses[i]):  # diverged: stop here
                    steps = i + 1
                    break
                if i + 1 in snaps:
                    record.snapshots[i + 1] = {k: v.astype(np.float64) for k, v in net.params.items()}
                if i in evals:
                    record.eval_steps.append(i)
                    train_acc.append(net.accuracy(x_train, data.t_train))
                    test_acc.append(net.accuracy(x_test, data.t_test))
                if time_budget_s is not None and time.perf_counter() - start >= time_budget_s:
                    steps = i + 1
                    break
        record.losses = losses[:steps]
        record.snapshots[steps] = {k: v.astype(np.float64) for k, v in net.params.items()}
        record.train_acc, record.test_acc = np.array(train_acc), np.array(test_acc)
        return record


class TorchRunner:
    """``autograd`` on a :class:`impl_torch.TorchTwoLayerNet` on one device."""

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

    def train(
        self,
        data: Dataset,
        batches: np.ndarray,
        learning_rate: float,
        eval_at: list[int],
        snapshot_at: Iterable[int] = (),
        progress: bool = False,
        time_budget_s: float | None = None,  # exact methods train the whole stream
    ) -> TrainRecord:
        torch, net = self.torch, self.net
        dev, dt = net.device, net.dtype
        # The whole data set and batch stream go to the device once; losses and
        # accuracies stay there until the run ends (no per-step host sync).
        x_train = torch.as_tensor(data.x_train).to(dev, dt)
        t_train = torch.as_tensor(data.t_train.astype(np.int64)).to(dev)
        x_test = torch.as_tensor(data.x_test).to(dev, dt)
        t_test = torch.as_tensor(data.t_test.astype(np.int64)).to(dev)
        idx_all = torch.as_tensor(batches.astype(np.int64)).to(dev)  # (steps, B)
        steps = batches.shape[0]
        losses: list = []  # 0-d device tensors, stacked once at the end
        accs: list = []  # (train, test) pairs of 0-d device tensors
        evals, snaps = set(eval_at), set(snapshot_at)
        record = TrainRecord(np.empty(0), [], np.empty(0), np.empty(0))
        for i in progress_bar(range(steps), steps, self.info.label, progress):
            idx = idx_all[i]
            losses.append(net.train_step(x_train[idx], t_train[idx], learning_rate))
            if i + 1 in snaps:
                record.snapshots[i + 1] = net.export_params()  # a host copy, but only a few times per run
            if i in evals:
                with torch.no_grad():
                    train_acc = (net(x_train).argmax(dim=1) == t_train).to(torch.float64).mean()
                    test_acc = (net(x_test).argmax(dim=1) == t_test).to(torch.float64).mean()
                accs.append(torch.stack([train_acc, test_acc]))
                record.eval_steps.append(i)
        # One transfer each, after the run: the only host syncs of the loop (besides snapshots).
        record.losses = torch.stack(losses).to("cpu", torch.float64).numpy() if losses else np.empty(0)
        host_accs = torch.stack(accs).cpu().numpy() if accs else np.empty((0, 2))
        record.train_acc, record.test_acc = host_accs[:, 0].copy(), host_accs[:, 1].copy()
        record.snapshots[steps] = net.export_params()
        return record


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
