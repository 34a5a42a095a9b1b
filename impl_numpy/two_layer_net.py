"""The book's two-layer net in numpy: numerical gradient and backprop.

Reference: Deep Learning from Scratch, ch. 4 (``two_layer_net.py``, sigmoid) and
ch. 5 (``two_layer_net.py`` built from layers, ReLU).

    input (N, D) -> Affine(W1, b1) -> sigmoid | relu -> Affine(W2, b2) -> logits (N, C)
    loss = exact mean cross-entropy of the logits (see impl_numpy.functions)

Usage::

    params = init_params(784, 50, 10, seed=0)
    net = TwoLayerNet.from_params(params, activation="sigmoid")
    grads = net.gradient(x, t)            # backprop, book layout
    grads = net.numerical_gradient(x, t)  # the book's loop, 2P loss evaluations
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping

import numpy as np

from impl_numpy import validation
from impl_numpy.central_difference import numerical_gradient, numerical_gradient_at
from impl_numpy.fast_numerical import fast_numerical_gradient
from impl_numpy.functions import cross_entropy, cross_entropy_error, relu, sigmoid, softmax
from impl_numpy.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss


def init_params(
    input_size: int, hidden_size: int, output_size: int, *, weight_init_std: float = 0.01, seed: int = 0
) -> dict[str, np.ndarray]:
    """The book's initial weights, seeded: ``weight_init_std * randn``, zero biases, float64.

    This is the one place initial weights come from; every implementation copies
    them, so training one never changes another's weights or these arrays.

    Returns
    -------
    dict with W1 (input_size, hidden_size), b1 (hidden_size,),
    W2 (hidden_size, output_size), b2 (output_size,)
    """
    for name, size in (("input_size", input_size), ("hidden_size", hidden_size), ("output_size", output_size)):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise validation.ShapeError(f"{name} must be a positive integer, got {size!r}")
    validation.check_init(weight_init_std, seed)
    rng = np.random.default_rng(seed)
    return {
        "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
        "b1": np.zeros(hidden_size),
        "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
        "b2": np.zeros(output_size),
    }


class TwoLayerNet:
    """Two-layer net with the book's interface.

    Build it like the book, ``TwoLayerNet(784, 50, 10)``, or from shared weights
    with :meth:`from_params` (which copies them). ``params`` holds W1 (D, H),
    b1 (H,), W2 (H, C), b2 (C,), all of ``dtype``.

    ``loss`` and ``gradient`` differentiate the same function, the exact
    cross-entropy; ``book_loss`` is the book's ``cross_entropy_error`` variant
    (with ``1e-7``), kept for fidelity. Labels may be class indices (N,) or
    one-hot rows (N, C).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        activation: str = "sigmoid",
        seed: int = 0,
        dtype: np.dtype | type | str = np.float64,
    ) -> None:
        params = init_params(input_size, hidden_size, output_size, weight_init_std=weight_init_std, seed=seed)
        self._setup(params, activation, dtype)

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, np.ndarray],
        *,
        activation: str = "sigmoid",
        dtype: np.dtype | type | str | None = None,
    ) -> TwoLayerNet:
        """A net holding a copy of ``params`` (book layout), cast to ``dtype`` (default: their common dtype).

        Complex params are accepted for the complex-step reference: the forward
        pass and the losses are complex-safe (``gradient`` is not meant for them).
        """
        net = cls.__new__(cls)
        checked = validation.check_params(params, allow_complex=True)
        common = np.result_type(*checked.values())  # one complex param makes the net complex
        net._setup(checked, activation, common if dtype is None else dtype)
        return net

    def _setup(self, params: Mapping[str, np.ndarray], activation: str, dtype: np.dtype | type | str) -> None:
        self.activation = validation.check_activation(activation)
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise validation.ConfigError(f"unknown dtype {dtype!r}; use a float dtype such as float64") from None
        if dt.kind not in "fc":
            raise validation.DtypeError(f"the net's dtype must be a float (or complex) dtype, got {dt}")
        self.dtype = dt
        # np.array copies: the net never aliases the caller's arrays.
        self.params = {k: np.array(params[k], dtype=dt) for k in validation.PARAM_NAMES}
        self.input_size, self.hidden_size = self.params["W1"].shape
        self.output_size = self.params["W2"].shape[1]
        self._act = sigmoid if activation == "sigmoid" else relu
        self.layers = [
            Affine(self.params["W1"], self.params["b1"], needs_dx=False),  # fed by the data
            Sigmoid() if activation == "sigmoid" else Relu(),
            Affine(self.params["W2"], self.params["b2"]),
        ]
        self.last_layer = SoftmaxWithLoss()

    # -- validation --------------------------------------------------------------
    def _check(self, x: object, t: object) -> tuple[np.ndarray, np.ndarray]:
        return validation.check_batch(x, t, self.input_size, self.output_size)

    def _cast(self, x: np.ndarray) -> np.ndarray:
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    # -- forward -----------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, C) for inputs ``x`` (N, D)."""
        x = self._cast(validation.check_inputs(x, self.input_size))
        return self._predict(x)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        a1 = x @ p["W1"] + p["b1"]  # (N, H)
        z1 = self._act(a1)  # (N, H)
        return z1 @ p["W2"] + p["b2"]  # (N, C)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """Exact mean cross-entropy (log-sum-exp) of the logits: what ``gradient`` differentiates."""
        x, t = self._check(x, t)
        return cross_entropy(self._predict(self._cast(x)), t)

    def book_loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The book's ``cross_entropy_error(softmax(logits), t)`` with its ``1e-7`` (fidelity only)."""
        x, t = self._check(x, t)
        return cross_entropy_error(softmax(self._predict(self._cast(x))), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of rows whose largest logit is the true class."""
        x, t = self._check(x, t)
        return float(np.mean(np.argmax(self._predict(self._cast(x)), axis=1) == t))

    # -- gradients -----------------------------------------------------------------
    def numerical_gradient(self, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> dict[str, np.ndarray]:
        """The book's numerical gradient of :meth:`loss`: 2 loss evaluations per parameter."""
        f = self._loss_of_params(x, t)
        return {k: numerical_gradient(f, self.params[k], h) for k in validation.PARAM_NAMES}

    def numerical_gradient_fast(self, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> dict[str, np.ndarray]:
        """The same central differences as :meth:`numerical_gradient`, ~100× less work (float64).

        See :mod:`impl_numpy.fast_numerical` for how each perturbed loss is evaluated.
        """
        x, t = self._check(x, t)
        if self.dtype.kind != "f":
            raise validation.DtypeError(f"the fast numerical gradient needs float params, the net holds {self.dtype}")
        return fast_numerical_gradient(self.params, x, t, self.activation, h)

    def numerical_gradient_at(
        self, x: np.ndarray, t: np.ndarray, entries: Mapping[str, np.ndarray], h: float = 1e-4
    ) -> dict[str, np.ndarray]:
        """The book's loop on some entries only: ``entries[name]`` holds flat indices into that param."""
        f = self._loss_of_params(x, t)
        return {k: numerical_gradient_at(f, self.params[k], np.asarray(idx), h) for k, idx in entries.items()}

    def _loss_of_params(self, x: np.ndarray, t: np.ndarray) -> Callable[[np.ndarray], float]:
        """The book's ``lambda W: net.loss(x, t)``: the loss at the params as they are when called."""
        x, t = self._check(x, t)
        x = self._cast(x)

        def f(_: np.ndarray) -> float:
            return cross_entropy(self._predict(x), t)

        return f

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Backprop through the layers: the exact gradient of :meth:`loss`, book layout."""
        x, t = self._check(x, t)
        grads, _ = self.backprop(self._cast(x), t)
        return grads

    def backprop(self, x: np.ndarray, t: np.ndarray, scale: float = 1.0) -> tuple[dict[str, np.ndarray], float]:
        """Forward and backward through the layers; returns (scale * grads, loss).

        No validation (the hot path of training and timing): ``x`` must already be in the
        net's dtype and ``t`` class indices, as :meth:`gradient` passes them.
        """
        affine1, affine2 = self.layers[0], self.layers[2]
        # The layers use whatever arrays ``params`` holds now (also after ``params["W1"] = ...``).
        affine1.W, affine1.b = self.params["W1"], self.params["b1"]
        affine2.W, affine2.b = self.params["W2"], self.params["b2"]
        out = x
        for layer in self.layers:
            out = layer.forward(out)
        loss = self.last_layer.forward(out, t)
        dout = self.last_layer.backward(scale)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {"W1": affine1.dW, "b1": affine1.db, "W2": affine2.dW, "b2": affine2.db}
        return grads, loss

    # -- training --------------------------------------------------------------------
    def train_step(self, x: np.ndarray, t: np.ndarray, learning_rate: float) -> float:
        """One SGD step on a batch ``x`` (N, D) the caller has validated, ``t`` (N,) class indices.

        Returns the loss of the forward pass that produced the gradient, i.e. on
        the weights *before* the update. Only the labels' range is checked here
        (a -1 would silently pick the last class); the rest costs too much per step.
        """
        validation.check_label_range(t, self.output_size)
        # Backprop with dout = learning_rate at the top gives learning_rate * grads
        # throughout (every layer is linear in dout): no extra pass to scale them.
        steps, loss = self.backprop(x, t, scale=learning_rate)
        for k in validation.PARAM_NAMES:
            self.params[k] -= steps[k]  # in place: the layers see it
        return loss
