"""A user's ``torch.nn.Module`` behind the same interface as :class:`dlfs_gradcheck.usercode.booknet.BookNet`.

The convention (anything else is refused with one line saying what was expected):

- ``forward(x)`` takes a float batch (N, D) and returns logits (N, C); the loss is the exact
  mean cross-entropy ``F.cross_entropy(logits, t)``, differentiated by autograd;
- the module holds exactly two ``nn.Linear`` layers with biases, first D -> H then H -> C
  in registration order, and no other parameters;
- the book's weights map onto them transposed: ``linear1.weight = W1.T`` (H, D),
  ``linear1.bias = b1``, ``linear2.weight = W2.T`` (C, H), ``linear2.bias = b2``. The hidden
  activation is whatever ``forward`` does: the shared weights are copied into the two
  layers and the module's own ``forward`` runs.

Built from a class as ``cls(input_size, hidden_size, output_size)``. Its constructor and
``forward`` run in the file's :class:`~dlfs_gradcheck.usercode.isolation.Sandbox`, like a book-style
class's methods. torch is imported only here, and only when a module is plugged in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dlfs_gradcheck.usercode.checks import book_shapes, check_gradients, check_logits, detect_activation, exact_loss
from dlfs_gradcheck.usercode.failures import (
    ImplementationFailure,
    NotProvided,
    SpecError,
    definition_of,
)
from dlfs_gradcheck.usercode.isolation import Sandbox

EXPECTED = "two nn.Linear layers with bias (D -> H, then H -> C, in registration order) and no other parameters"


class TorchModuleNet:
    """A user's module with two ``nn.Linear`` layers; see the module docstring."""

    framework = "torch"
    provided = ("predict", "loss", "accuracy", "gradient")
    not_provided = ("numerical_gradient",)
    loss_kind = "exact"
    output = "logits"
    not_read: tuple[str, ...] = ()
    deterministic = True
    stale_gradient = False  # autograd builds the graph in the same call: never stale
    faults: tuple = ()  # its loss is F.cross_entropy of its forward, its accuracy the argmax: nothing to disagree

    def __init__(
        self, module: object, *, label: str | None = None, dtype: str | None = None, sandbox: Sandbox | None = None
    ) -> None:
        import torch

        self.torch = torch
        self.box = sandbox or Sandbox()
        if not isinstance(module, torch.nn.Module):
            raise SpecError(f"{label or type(module).__name__}: not a torch.nn.Module")
        self.label = label or type(module).__name__
        self.module = module if dtype is None else module.to(getattr(torch, dtype))
        self.layers = _two_linears(self.module, self.label)
        first, second = self.layers
        self.sizes = (first.in_features, first.out_features, second.out_features)  # (D, H, C)
        self.shapes = book_shapes(*self.sizes)
        self.dtype = np.dtype(str(first.weight.dtype).removeprefix("torch."))
        self.device = first.weight.device.type
        self.formats: dict[str, str] = {}
        self.activation: str | None = None
        self.notes: list[str] = []
        self._where = definition_of(type(self.module).forward)

    @classmethod
    def build(
        cls,
        user_cls: type,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        label: str | None = None,
        dtype: str | None = None,
        sandbox: Sandbox | None = None,
    ) -> TorchModuleNet:
        """``user_cls(input_size, hidden_size, output_size)``, wrapped; its sizes must match."""
        box = sandbox or Sandbox()
        with box.session():
            module = box.call("__init__", user_cls, input_size, hidden_size, output_size)
        net = cls(module, label=label or user_cls.__name__, dtype=dtype, sandbox=box)
        if net.sizes != (input_size, hidden_size, output_size):
            raise SpecError(
                f"{net.label}: its layers are {net.sizes[0]} -> {net.sizes[1]} -> {net.sizes[2]}, "
                f"expected {input_size} -> {hidden_size} -> {output_size}"
            )
        return net

    # -- state -------------------------------------------------------------------------
    def _pairs(self) -> list[tuple[str, object, bool]]:
        first, second = self.layers
        return [
            ("W1", first.weight, True),
            ("b1", first.bias, False),
            ("W2", second.weight, True),
            ("b2", second.bias, False),
        ]

    def load(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy the book-layout ``params`` into the two layers (weights transposed), in place."""
        torch = self.torch
        with torch.no_grad():
            for name, p, transposed in self._pairs():
                value = np.asarray(params[name])
                p.copy_(torch.from_numpy(np.ascontiguousarray(value.T if transposed else value)))

    def sgd_step(self, grads: Mapping[str, np.ndarray], learning_rate: float) -> None:
        """``W -= learning_rate * grad`` on the module's parameters (book-layout ``grads``), in place."""
        torch = self.torch
        with torch.no_grad():
            for name, p, transposed in self._pairs():
                g = np.asarray(grads[name])
                p.sub_(learning_rate * torch.from_numpy(np.ascontiguousarray(g.T if transposed else g)).to(p))

    def params(self) -> dict[str, np.ndarray]:
        """float64 copies in the book's layout."""
        out = {}
        for name, p, transposed in self._pairs():
            value = p.detach().cpu().numpy().astype(np.float64)
            out[name] = value.T.copy() if transposed else value
        return out

    def probe(self, x: np.ndarray, t: np.ndarray) -> None:
        """The hidden activation, if the forward pass is a sigmoid or ReLU net (labels and loss are fixed)."""
        with self.session():
            self.activation = detect_activation(self.predict(x), self.params(), x, self.dtype)

    def session(self):
        """A use of the user's code (numpy's random state is put back when it ends)."""
        return self.box.session()

    def findings(self, method: str) -> tuple:
        """Nothing is found wrong by probing a module (autograd runs its own forward pass)."""
        return ()

    def found(self) -> str:
        """What was found, in one line (as for a book-style class)."""
        layer = f" of a {self.activation} hidden layer" if self.activation else " (a net of its own design)"
        dtype = (
            f"; params are {self.dtype.name}: compared at {self.dtype.name} tolerances"
            if self.dtype.name != "float64"
            else ""
        )
        return f"found: forward returns logits{layer}{dtype}"

    # -- calls -----------------------------------------------------------------------
    def _tensors(self, x: np.ndarray, t: np.ndarray | None = None) -> tuple[object, object]:
        torch = self.torch
        dev, dt = self.layers[0].weight.device, self.layers[0].weight.dtype
        xt = torch.as_tensor(np.asarray(x)).to(dev, dt)
        tt = None if t is None else torch.as_tensor(np.asarray(t, dtype=np.int64)).to(dev)
        return xt, tt

    def _forward(self, xt: object) -> object:
        return self.box.call("forward", self.module, xt)

    def predict(self, x: np.ndarray) -> np.ndarray:
        xt, _ = self._tensors(x)
        with self.torch.no_grad():
            z = self._forward(xt)
        return check_logits("forward", z.detach().cpu().numpy(), len(x), self.sizes[2], self._where)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return exact_loss(self.predict(x), t)

    exact_loss = loss

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        return float(np.mean(np.argmax(self.predict(x), axis=1) == t))

    def autograd_loss(self, x: np.ndarray, t: np.ndarray) -> tuple[object, object]:
        """(loss tensor, logits tensor) with the graph, for a backward pass."""
        import torch.nn.functional as F

        xt, tt = self._tensors(x, t)
        z = self._forward(xt)
        if tuple(z.shape) != (len(x), self.sizes[2]):
            raise ImplementationFailure(
                "forward",
                f"returned shape {tuple(z.shape)}, expected ({len(x)}, {self.sizes[2]})",
                self._where,
                error="shape",
            )
        return F.cross_entropy(z, tt), z

    def raw_gradient(self, method: str, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Autograd of the exact cross-entropy through the module, book layout, float64."""
        if method != "gradient":
            raise NotProvided(f"{self.label} has no {method}")
        value, _ = self.autograd_loss(x, t)
        pairs = self._pairs()
        tensors = [p for _, p, _ in pairs]
        grads = self.box.call("backward", lambda: self.torch.autograd.grad(value, tensors, allow_unused=True))
        out = {}
        for (name, p, transposed), g in zip(pairs, grads, strict=True):
            a = np.zeros(tuple(p.shape)) if g is None else g.detach().cpu().numpy().astype(np.float64)
            out[name] = a.T.copy() if transposed else a
        return check_gradients("gradient", out, self.shapes, self._where)

    def gradient(self, x: np.ndarray, t: np.ndarray, method: str = "gradient") -> dict[str, np.ndarray]:
        with self.session():
            return self.raw_gradient(method, x, t)


def _two_linears(module: object, label: str) -> tuple[object, object]:
    """The module's two nn.Linear layers, or a one-line SpecError saying what was expected."""
    import torch

    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    names = [n for n, _ in module.named_parameters()]
    if len(linears) != 2 or any(m.bias is None for m in linears):
        raise SpecError(f"{label}: expected {EXPECTED}; found {len(linears)} nn.Linear and parameters {names}")
    owned = {id(p) for m in linears for p in m.parameters()}
    others = [n for n, p in module.named_parameters() if id(p) not in owned]
    if others:
        raise SpecError(f"{label}: expected {EXPECTED}; it also has {', '.join(others)}")
    first, second = linears
    if first.out_features != second.in_features:
        raise SpecError(
            f"{label}: expected {EXPECTED}; got {first.in_features} -> {first.out_features} and "
            f"{second.in_features} -> {second.out_features}"
        )
    return first, second
