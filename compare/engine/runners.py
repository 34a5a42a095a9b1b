"""The gradient methods the harness compares, each a black box over shared weights.

A :class:`Method` names one way to get the gradient — ``numerical`` (the book's
central-difference loop, numpy, always float64), ``numerical-fast`` (the same
differences, ~100× less work: :mod:`impl_numpy.fast_numerical`), ``backprop``
(numpy layers) or ``autograd`` (torch, on a device) — and a dtype. :func:`runner` builds a fresh
net for it from the shared initial params (a copy: nothing is aliased), which
can then give one gradient (book layout, float64 numpy) or train along a batch
stream.

numpy and torch never run interleaved here: a trajectory runs whole, then the
next one starts (interleaving makes both thread pools fight: ~30× slower).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from compare.data import Dataset
from impl_numpy import TwoLayerNet
from impl_numpy.checks import PARAM_NAMES

NUMERICAL = "numerical"
NUMERICAL_FAST = "numerical-fast"
BACKPROP = "backprop"
AUTOGRAD = "autograd"


@dataclass(frozen=True)
class Method:
    name: str  # numerical | numerical-fast | backprop | autograd
    dtype: str = "float64"  # float64 | float32 (numerical is always float64)
    device: str = "cpu"  # torch device for autograd; numpy methods run on the CPU

    @property
    def kind(self) -> str:
        """``"numerical"`` (finite differences) or ``"exact"`` (backprop, autograd)."""
        return "numerical" if self.name.startswith(NUMERICAL) else "exact"

    @property
    def framework(self) -> str:
        return "torch" if self.name == AUTOGRAD else "numpy"

    @property
    def label(self) -> str:
        """Short unique name for tables, e.g. ``autograd[cpu,float32]``."""
        if self.framework == "torch":
            return f"{self.name}[{self.device},{self.dtype}]"
        return self.name if self.dtype == "float64" else f"{self.name}[{self.dtype}]"


@dataclass
class TrainRecord:
    """What one method's training run produced."""

    losses: np.ndarray  # (steps,) loss at each step, on the weights before that step's update
    eval_steps: list[int]  # steps i after whose update accuracy was measured (book: i % iter_per_epoch == 0)
    train_acc: np.ndarray  # (len(eval_steps),)
    test_acc: np.ndarray  # (len(eval_steps),)
    snapshots: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # params after n updates
    seconds: float = 0.0  # wall time of the whole run


def epoch_steps(train_size: int, batch_size: int, iters: int) -> list[int]:
    """The steps at which the book records accuracy: ``i % iter_per_epoch == 0``.

    ``iter_per_epoch = max(train_size / batch_size, 1)`` is a float, exactly as in
    ``train_neuralnet.py`` (so a train size that is not a multiple of the batch
    size gives few records: 1437 / 100 fires only at i = 0).
    """
    iter_per_epoch = max(train_size / batch_size, 1)
    return [i for i in range(iters) if i % iter_per_epoch == 0]


def batch_stream(train_size: int, batch_size: int, iters: int, seed: int) -> np.ndarray:
    """The book's batches, drawn once: ``iters`` rows of ``batch_size`` indices with replacement.

    One seeded generator makes the whole (iters, batch_size) index array, and
    every method receives the same rows.
    """
    rng = np.random.default_rng((seed, 1))  # its own stream, apart from the weights' default_rng(seed)
    return rng.integers(0, train_size, size=(iters, batch_size))  # (iters, B)


def _progress(iterable: Iterable[int], total: int, desc: str, enabled: bool) -> Iterable[int]:
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, mininterval=0.5)


class NumpyRunner:
    """``numerical``, ``numerical-fast`` or ``backprop`` on a numpy :class:`TwoLayerNet`."""

    def __init__(self, method: Method, params: Mapping[str, np.ndarray], activation: str, h: float = 1e-4) -> None:
        self.method = method
        self.h = h
        self.net = TwoLayerNet.from_params(params, activation=activation, dtype=method.dtype)

    def _numerical(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        if self.method.name == NUMERICAL_FAST:
            return self.net.numerical_gradient_fast(x, t, h=self.h)
        return self.net.numerical_gradient(x, t, h=self.h)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        grads = self._numerical(x, t) if self.method.kind == "numerical" else self.net.gradient(x, t)
        return {k: np.asarray(g, dtype=np.float64).copy() for k, g in grads.items()}

    def gradient_fn(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Callable[[], None] | None]:
        """A zero-argument call computing one gradient natively (for timing), and its sync (none)."""
        x = x.astype(self.net.dtype)
        if self.method.kind == "numerical":
            return (lambda: self._numerical(x, t)), None
        return (lambda: self.net._backprop(x, t)), None

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
        x_train = data.x_train.astype(net.dtype)
        x_test = data.x_test.astype(net.dtype)
        steps = batches.shape[0]
        losses = np.empty(steps)
        evals = set(eval_at)
        snaps = set(snapshot_at)
        record = TrainRecord(losses, [], np.empty(0), np.empty(0))
        train_acc, test_acc = [], []
        desc = self.method.label
        for i in _progress(range(steps), steps, desc, progress):
            idx = batches[i]
            xb, tb = x_train[idx], data.t_train[idx]  # (B, D), (B,)
            if self.method.kind == "numerical":
                losses[i] = net.loss(xb, tb)
                grads = self._numerical(xb, tb)
                for k in PARAM_NAMES:
                    net.params[k] -= learning_rate * grads[k]
            else:
                losses[i] = net.train_step(xb, tb, learning_rate)
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
        record.train_acc = np.array(train_acc)
        record.test_acc = np.array(test_acc)
        return record


class TorchRunner:
    """``autograd`` on a :class:`impl_torch.TorchTwoLayerNet` on one device."""

    def __init__(self, method: Method, params: Mapping[str, np.ndarray], activation: str) -> None:
        import torch

        from impl_torch import TorchTwoLayerNet

        self.torch = torch
        self.method = method
        self.net = TorchTwoLayerNet.from_params(params, activation=activation, device=method.device, dtype=method.dtype)

    def sync(self) -> None:
        if self.net.device.type == "cuda":
            self.torch.cuda.synchronize()
        elif self.net.device.type == "mps":
            self.torch.mps.synchronize()

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        return self.net.gradient(x, t)

    def gradient_fn(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Callable[[], None] | None]:
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
    ) -> TrainRecord:
        torch = self.torch
        net = self.net
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
        evals = set(eval_at)
        snaps = set(snapshot_at)
        record = TrainRecord(np.empty(0), [], np.empty(0), np.empty(0))
        for i in _progress(range(steps), steps, self.method.label, progress):
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
        record.train_acc = host_accs[:, 0].copy()
        record.test_acc = host_accs[:, 1].copy()
        return record


def runner(method: Method, params: Mapping[str, np.ndarray], activation: str, h: float = 1e-4):
    """A fresh runner for ``method`` holding a copy of ``params``."""
    if method.framework == "torch":
        return TorchRunner(method, params, activation)
    return NumpyRunner(method, params, activation, h)
