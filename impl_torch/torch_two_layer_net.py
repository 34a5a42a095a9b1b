"""The book's two-layer net as a ``torch.nn.Module``, with gradients by autograd.

Reference: Deep Learning from Scratch, ch. 4/5 (the same net as ``impl_numpy``).

Layout: the book (and ``impl_numpy``) keeps ``W1`` as (input, hidden) and
computes ``x @ W1``; ``nn.Linear`` keeps ``weight`` as (out, in) and computes
``x @ weight.T``. So ``fc1.weight = W1.T`` and ``fc2.weight = W2.T``: the
transpose happens in :meth:`TorchTwoLayerNet.load_params` on the way in and in
:meth:`TorchTwoLayerNet.export_params` / :meth:`gradient` on the way out, and
nowhere else.

The loss is ``F.cross_entropy`` on the logits: the exact mean cross-entropy
(log-sum-exp), the same function the numpy net's ``loss`` and ``gradient`` use.

Usage::

    net = TorchTwoLayerNet.from_params(params, activation="sigmoid", device="auto", dtype="float64")
    grads = net.gradient(x, t)   # dict of numpy arrays, book layout
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from impl_numpy import validation

DTYPES = {"float64": torch.float64, "float32": torch.float32}
DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_dtype(dtype: str | torch.dtype | np.dtype | type) -> torch.dtype:
    """``"float64"``/``"float32"`` (or the numpy/torch dtype of that name) as a torch dtype."""
    if dtype is None:
        raise validation.ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got None")
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype)
    if name not in DTYPES:
        raise validation.ConfigError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    return DTYPES[name]


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """The devices this torch can use here, CPU first."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if mps_available():
        found.append("mps")
    return found


def resolve_device(device: str, dtype: torch.dtype = torch.float64) -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then CPU; a named device must exist."""
    if device not in DEVICES:
        raise validation.ConfigError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if mps_available() and dtype != torch.float64 else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise validation.ConfigError("device 'cuda' requested but torch sees no CUDA device here")
    if device == "mps":
        if not mps_available():
            raise validation.ConfigError("device 'mps' requested but torch sees no MPS device here")
        if dtype == torch.float64:
            raise validation.ConfigError("device 'mps' does not support float64; use --dtype float32")
    return torch.device(device)


class TorchTwoLayerNet(nn.Module):
    """``fc1 -> sigmoid | relu -> fc2`` giving logits; ``fc*.weight`` is (out, in).

    ``TorchTwoLayerNet(784, 50, 10)`` starts from the book's initial weights
    (:func:`impl_numpy.init_params`, seeded), like the numpy net;
    :meth:`from_params` starts from given (shared) weights. Neither draws from
    torch's global random generator.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        activation: str = "sigmoid",
        device: str = "auto",
        dtype: str | torch.dtype = "float64",
        seed: int = 0,
        params: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        self.activation = validation.check_activation(activation)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device, self.dtype)
        if params is None:
            from impl_numpy import init_params

            params = init_params(input_size, hidden_size, output_size, weight_init_std=weight_init_std, seed=seed)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        kw = {"device": self.device, "dtype": self.dtype}
        # skip_init: no random draw, the weights are copied in right below.
        self.fc1 = nn.utils.skip_init(nn.Linear, input_size, hidden_size, **kw)
        self.act = nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()
        self.fc2 = nn.utils.skip_init(nn.Linear, hidden_size, output_size, **kw)
        self.load_params(params)

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, np.ndarray],
        *,
        activation: str = "sigmoid",
        device: str = "auto",
        dtype: str | torch.dtype = "float64",
    ) -> TorchTwoLayerNet:
        """A net holding a copy of book-layout numpy ``params`` (W1 (D, H) becomes fc1.weight (H, D))."""
        p = validation.check_params(params)
        (d, h), c = p["W1"].shape, p["W2"].shape[1]
        return cls(d, h, c, activation=activation, device=device, dtype=dtype, params=p)

    @torch.no_grad()
    def load_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy book-layout numpy params into the module (transposing W1, W2)."""
        p = validation.check_params(params)
        expected = (self.input_size, self.hidden_size, self.output_size)
        got = (*p["W1"].shape, p["W2"].shape[1])
        if got != expected:
            raise validation.ShapeError(
                f"params are for a {got[0]}-{got[1]}-{got[2]} net, this one is {'-'.join(map(str, expected))}"
            )
        self.fc1.weight.copy_(torch.from_numpy(np.ascontiguousarray(p["W1"].T)))  # (H, D) <- (D, H).T
        self.fc1.bias.copy_(torch.from_numpy(p["b1"]))
        self.fc2.weight.copy_(torch.from_numpy(np.ascontiguousarray(p["W2"].T)))  # (C, H) <- (H, C).T
        self.fc2.bias.copy_(torch.from_numpy(p["b2"]))

    def export_params(self) -> dict[str, np.ndarray]:
        """Book-layout float64 numpy copies: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
        return self._book_layout(
            self.fc1.weight.detach(), self.fc1.bias.detach(), self.fc2.weight.detach(), self.fc2.bias.detach()
        )

    @staticmethod
    def _book_layout(w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor) -> dict[str, np.ndarray]:
        def host(a: torch.Tensor) -> np.ndarray:
            return a.to("cpu", torch.float64).numpy().copy()

        return {"W1": host(w1.T), "b1": host(b1), "W2": host(w2.T), "b2": host(b2)}  # (out, in).T -> (in, out)

    # -- inputs ------------------------------------------------------------------------
    def to_device_batch(self, x: object, t: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate a numpy batch and move it to this net's device and dtype (labels as int64 indices)."""
        xa, ta = validation.check_batch(x, t, self.input_size, self.output_size)
        xt = torch.as_tensor(xa).to(self.device, self.dtype)
        tt = torch.as_tensor(ta.astype(np.int64)).to(self.device)
        return xt, tt

    # -- forward -----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for ``x`` (N, D) already on the device."""
        return self.fc2(self.act(self.fc1(x)))

    def loss(self, x: object, t: object) -> float:
        """Exact mean cross-entropy, as a Python float."""
        xt, tt = self.to_device_batch(x, t)
        with torch.no_grad():
            return float(F.cross_entropy(self(xt), tt))

    def accuracy(self, x: object, t: object) -> float:
        xt, tt = self.to_device_batch(x, t)
        with torch.no_grad():
            return float((self(xt).argmax(dim=1) == tt).to(torch.float64).mean())

    def gradient(self, x: object, t: object) -> dict[str, np.ndarray]:
        """Autograd gradient of :meth:`loss` as float64 numpy arrays in book layout."""
        xt, tt = self.to_device_batch(x, t)
        w = [self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias]
        loss = F.cross_entropy(self(xt), tt)
        g = torch.autograd.grad(loss, w)
        return self._book_layout(*g)

    # -- training ----------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, t: torch.Tensor, learning_rate: float) -> torch.Tensor:
        """One SGD step on a device batch; returns the pre-update loss as a 0-d tensor (no host sync)."""
        w1, b1, w2, b2 = w = [self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias]
        # The same layers as forward(), called through torch.nn.functional: the hot loop
        # skips nn.Module's call machinery (hooks), about a tenth of a 784-50-10 step on a CPU.
        act = torch.sigmoid if self.activation == "sigmoid" else torch.relu
        logits = F.linear(act(F.linear(x, w1, b1)), w2, b2)  # (N, C)
        loss = F.cross_entropy(logits, t)  # fused log-softmax + NLL, the exact cross-entropy
        g = torch.autograd.grad(loss, w)
        with torch.no_grad():
            torch._foreach_add_(w, g, alpha=-learning_rate)  # one fused SGD update, in place
        return loss.detach()
