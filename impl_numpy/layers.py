"""Backprop layers of the book's chapter 5: Affine, Sigmoid, Relu, SoftmaxWithLoss.

Each layer has ``forward`` (caches what ``backward`` needs) and ``backward``
(takes the upstream gradient, returns the downstream one). ``Affine`` keeps a
*reference* to its ``W`` and ``b``, as in the book, so an in-place SGD update of
the net's params dict is seen by the layer.

``SoftmaxWithLoss`` uses the exact cross-entropy (:func:`cross_entropy`), whose
gradient is exactly ``(softmax(z) - onehot(t)) / N`` — what ``backward`` returns.
"""

from __future__ import annotations

import numpy as np

from impl_numpy.functions import cross_entropy, relu, sigmoid, softmax


class Affine:
    """``out = x @ W + b`` with ``W`` (D_in, D_out), ``b`` (D_out,).

    ``needs_dx=False`` (for a layer fed by the data) skips the input gradient in
    ``backward``, a matrix product as large as the forward one that nobody uses.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, *, needs_dx: bool = True) -> None:
        self.W = W
        self.b = b
        self.needs_dx = needs_dx
        self.x: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x  # (N, D_in)
        out = x @ self.W  # (N, D_out)
        out += self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        self.dW = self.x.T @ dout  # (D_in, D_out)
        self.db = np.sum(dout, axis=0)  # (D_out,)
        return dout @ self.W.T if self.needs_dx else None  # (N, D_in)


class Sigmoid:
    """``out = sigmoid(x)``; ``d out / d x = out * (1 - out)``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = 1.0 - self.out
        dx *= self.out
        dx *= dout
        return dx  # dout * (1 - out) * out


class Relu:
    """``out = max(0, x)``; the gradient is 1 where ``x > 0`` and 0 elsewhere (also at 0)."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x.real <= 0
        return relu(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class SoftmaxWithLoss:
    """Softmax + exact mean cross-entropy; labels as class indices (N,)."""

    def __init__(self) -> None:
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self.loss: float | None = None

    def forward(self, z: np.ndarray, t: np.ndarray) -> float:
        if z.dtype.kind == "c":  # complex step: the complex-safe functions
            self.t, self.y, self.loss = t, softmax(z), cross_entropy(z, t)
            return self.loss
        # softmax and log-sum-exp share one max-shift and one exp (N, C)
        n = z.shape[0]
        m = z.max(axis=1)  # (N,)
        e = z - m[:, None]  # (N, C)
        np.exp(e, out=e)
        s = e.sum(axis=1)  # (N,)
        e /= s[:, None]
        self.t = t
        self.y = e  # softmax (N, C)
        # mean_n (log sum_c exp z_nc - z_n,t_n), the exact cross-entropy
        self.loss = float(np.sum(np.log(s) + m - z[np.arange(n), t])) / n
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self.y.shape[0]
        dz = self.y.copy()  # (N, C)
        dz[np.arange(n), self.t] -= 1.0
        return dz * (dout / n)
