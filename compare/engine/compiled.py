"""Compiled PyTorch behind the runner protocol: ``autograd+compile[cpu,float64]`` (``torch.compile``).

The net is :class:`impl_torch.TorchTwoLayerNet`, called functionally
(``torch.func.functional_call``) so that its weights are inputs of the compiled function:
the gradient is ``torch.func.grad_and_value`` of the exact mean cross-entropy, and a
training step is that gradient followed by the SGD update ``W - lr * grad``, both compiled
whole (``fullgraph=True``, static shapes). The first call of a compiled function compiles
it; its wall time is kept apart as ``compile_seconds`` and never mixed into a step time.

Backend: ``inductor`` (generated C++ on the CPU) needs a C++ compiler; without one the
runner uses ``aot_eager`` (the same traced graphs, run by eager kernels) and its label
says so: ``autograd+compile[cpu,float64,aot_eager]``.

Usage::

    info = compiled_info("float64")
    r = CompiledTorchRunner(info, params, activation="sigmoid")
    grads = r.gradient(x, t)                  # book layout, float64 numpy
    rec = r.train(data, batches, 0.1, eval_at, snapshot_at=[10000])
    r.compile_seconds                         # the last compilation (first call) of train or timed_gradient
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from compare.data import Dataset
from compare.engine.builtin_runners import DeviceData, device_finish
from compare.engine.protocol import MethodInfo, NotProvided
from compare.engine.training import SteppedRunner

FAMILY = "autograd+compile"
INDUCTOR, FALLBACK = "inductor", "aot_eager"


def compile_backend() -> str:
    """``inductor`` when torch finds a C++ compiler for its generated code, else ``aot_eager``."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception:  # no compiler found, or a torch without this helper: the backend that needs none
        return FALLBACK
    return INDUCTOR


def compiled_info(dtype: str, device: str = "cpu", backend: str = INDUCTOR) -> MethodInfo:
    """The row of compiled autograd; the backend is named in the label unless it is inductor."""
    tail = "" if backend == INDUCTOR else f",{backend}"
    return MethodInfo(f"{FAMILY}[{device},{dtype}{tail}]", FAMILY, "exact", dtype, device, "torch")


class CompiledTorchRunner(SteppedRunner):
    """``torch.compile`` of the gradient and of the SGD step of a :class:`~impl_torch.TorchTwoLayerNet`."""

    host_losses = False  # the losses stay on the device until the run ends

    def __init__(
        self, info: MethodInfo, params: Mapping[str, np.ndarray], activation: str, backend: str = INDUCTOR
    ) -> None:
        import torch

        from impl_torch import TorchTwoLayerNet

        self.torch, self.info, self.backend = torch, info, backend
        self.net = TorchTwoLayerNet.from_params(params, activation=activation, device=info.device, dtype=info.dtype)
        self.names = [name for name, _ in self.net.named_parameters()]  # fc1.weight (H, D), fc1.bias, fc2...
        self.compile_seconds: float | None = None
        self._grad: Callable | None = None  # compiled (weights, x, t) -> (grads, loss)
        self._step: Callable | None = None  # compiled (weights, x, t, lr) -> (new weights, loss)

    # -- the functions that are compiled ---------------------------------------------------------
    def _loss(self, weights: tuple, x, t):
        import torch.nn.functional as F

        logits = self.torch.func.functional_call(self.net, dict(zip(self.names, weights, strict=True)), (x,))
        return F.cross_entropy(logits, t)  # (N, C) logits -> the exact mean cross-entropy

    def _grad_and_loss(self, weights: tuple, x, t):
        return self.torch.func.grad_and_value(self._loss)(weights, x, t)

    def _sgd_step(self, weights: tuple, x, t, learning_rate: float):
        grads, loss = self._grad_and_loss(weights, x, t)
        return tuple(w - learning_rate * g for w, g in zip(weights, grads, strict=True)), loss

    def _compile(self, fn: Callable) -> Callable:
        return self.torch.compile(fn, backend=self.backend, fullgraph=True, dynamic=False)

    def _first_call(self, compiled: Callable, *args):
        """Call ``compiled`` once (it compiles), timing it: ``compile_seconds``; NotProvided if it cannot compile."""
        start = time.perf_counter()
        try:
            out = compiled(*args)
        except Exception as e:  # the compiler stack failed: this machine cannot run the method
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise NotProvided(f"torch.compile ({self.backend}) failed: {type(e).__name__}: {first}") from None
        self.sync()
        self.compile_seconds = time.perf_counter() - start
        return out

    # -- the protocol ----------------------------------------------------------------------------
    def sync(self) -> None:
        from compare.engine.devices import sync

        sync(self.net.device.type)

    def _weights(self) -> tuple:
        return tuple(p.detach().clone() for p in self.net.parameters())

    def _book(self, tensors: Iterable) -> dict[str, np.ndarray]:
        """fc1.weight (H, D), fc1.bias, fc2.weight (C, H), fc2.bias as book-layout float64 numpy copies."""
        host = [a.detach().to("cpu", self.torch.float64).numpy() for a in tensors]
        return {"W1": host[0].T.copy(), "b1": host[1].copy(), "W2": host[2].T.copy(), "b2": host[3].copy()}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        xt, tt = self.net.to_device_batch(x, t)
        if self._grad is None:
            self._grad = self._compile(self._grad_and_loss)
            grads, _ = self._first_call(self._grad, self._weights(), xt, tt)
        else:
            grads, _ = self._grad(self._weights(), xt, tt)
        return self._book(grads)

    def timed_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Callable[[], None]]:
        """One compiled gradient on device tensors; compiled here, so no timed call compiles."""
        xt, tt = self.net.to_device_batch(x, t)
        weights = self._weights()
        self._grad = self._grad or self._compile(self._grad_and_loss)
        self._first_call(self._grad, weights, xt, tt)
        grad = self._grad
        return (lambda: grad(weights, xt, tt)), self.sync

    def timed_step(
        self, x: np.ndarray, t: np.ndarray, learning_rate: float = 0.0
    ) -> tuple[Callable[[], object], Callable[[], None]]:
        """One compiled SGD step from the runner's weights (the same weights every call), and the device sync.

        Compiled here (``compile_seconds``). With ``learning_rate=0`` the step's work is that of training.
        """
        xt, tt = self.net.to_device_batch(x, t)
        weights = self._weights()
        self._step = self._step or self._compile(self._sgd_step)
        self._first_call(self._step, weights, xt, tt, learning_rate)
        step = self._step
        return (lambda: step(weights, xt, tt, learning_rate)), self.sync

    # -- the step interface of the one training loop (compare.engine.training) ---------------------
    def begin(self, data: Dataset, batches: np.ndarray) -> None:
        """The data on the device; the weights as loaded; the step compiled by step 0's call (``compile_seconds``)."""
        net = self.net
        self._data = DeviceData(self.torch, data, batches, net.device, net.dtype)
        self._trained = self._weights()
        self._step = self._step or self._compile(self._sgd_step)

    def step(self, i: int, learning_rate: float):
        d = self._data
        idx = d.idx[i]
        args = (self._trained, d.x_train[idx], d.t_train[idx], learning_rate)  # (B, D), (B,)
        self._trained, loss = self._first_call(self._step, *args) if i == 0 else self._step(*args)
        return loss

    def accuracy(self):
        d, w = self._data, self._trained
        return self.torch.stack([self._accuracy(w, d.x_train, d.t_train), self._accuracy(w, d.x_test, d.t_test)])

    def export(self) -> dict[str, np.ndarray]:
        return self._book(self._trained)

    def finish(self, losses: list, accuracies: list) -> tuple[np.ndarray, np.ndarray]:
        return device_finish(self.torch, losses, accuracies)

    def _accuracy(self, weights: tuple, x, t):
        """Fraction of rows of ``x`` (N, D) whose largest logit is the label, a 0-d float64 tensor (eager)."""
        with self.torch.no_grad():
            logits = self.torch.func.functional_call(self.net, dict(zip(self.names, weights, strict=True)), (x,))
            return (logits.argmax(dim=1) == t).to(self.torch.float64).mean()
