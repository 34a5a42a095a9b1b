"""Where a forward pass that names the book's hidden layer goes wrong: the layer, or ``predict``.

A ``predict`` that matches neither the book's sigmoid nor its ReLU net is taken for a design of
its own, unless the class itself says which hidden layer it means: a layer object of class
``Relu`` or ``Sigmoid`` (the book's ch. 5 ``layers``), or a call ``sigmoid(...)`` / ``relu(...)`` in
``predict``'s source (ch. 4). Then its forward pass is wrong, and :func:`forward_fault` says where:
for a layered net, the first layer whose ``forward`` does not compute what the book's does (run
layer by layer on the book's own intermediate values); otherwise ``predict`` itself. Usage::

    fault = forward_fault(net, x)   # ImplementationFailure | None
"""

from __future__ import annotations

import inspect
import re

import numpy as np

from dlfs_gradcheck.usercode.failures import ImplementationFailure, definition_of
from impl_numpy.functions import relu, sigmoid

HIDDEN = {"relu": relu, "sigmoid": sigmoid}
SHOWN = {"relu": "ReLU", "sigmoid": "sigmoid"}
FORMULAS = {"relu": "max(0, x)", "sigmoid": "1 / (1 + exp(-x))", "affine": "x @ W + b"}
FLOAT32_LEVEL = 1e-5  # off by more than float64 rounding, within this: float32 rounding (ε 6e-8) with margin


def _layers(net) -> dict:
    held = inspect.getattr_static(net.net, "layers", None)
    return dict(held) if isinstance(held, dict) else {}


def named_hidden(net) -> str | None:
    """``"relu"`` or ``"sigmoid"`` when the class names that hidden layer (a layer's class, or a call in predict)."""
    kinds = {type(layer).__name__.lower() for layer in _layers(net).values()} & set(HIDDEN)
    if len(kinds) == 1:
        return kinds.pop()
    try:
        source = inspect.getsource(inspect.getattr_static(type(net.net), "predict"))
    except (OSError, TypeError, AttributeError):
        return None
    calls = {c.lower() for c in re.findall(r"\b(sigmoid|relu)\s*\(", source, flags=re.IGNORECASE)}
    return calls.pop() if len(calls) == 1 else None


def on_copies(net) -> bool:
    """An affine layer holds an array shaped like its weight or bias that is not the user's array itself."""
    arrays, names = net.arrays(), iter(("W1", "b1", "W2", "b2"))
    for layer in _layers(net).values():
        if type(layer).__name__.lower() != "affine" or not hasattr(layer, "__dict__"):
            continue
        held = [a for a in vars(layer).values() if isinstance(a, np.ndarray)]
        for n in (next(names, None), next(names, None)):
            if n is None:
                return False
            same_shape = [a for a in held if a.shape == arrays[n].shape]
            if same_shape and not any(np.shares_memory(a, arrays[n]) for a in same_shape):
                return True
    return False


def _wrong_layer(net, x: np.ndarray) -> tuple[str, str, object, bool] | None:
    """(layer name, kind, its forward, off by float32 rounding only) of the first layer off the book's computation."""
    params = iter((("W1", "b1"), ("W2", "b2")))
    held = net.params()
    h = np.asarray(x, dtype=np.float64)
    tol = 1e-10 if net.dtype == np.float64 else 1e-4
    for name, layer in _layers(net).items():
        kind = type(layer).__name__.lower()
        if kind == "affine":
            w, b = next(params, (None, None))
            if w is None:
                return None
            want = h @ held[w] + held[b]
            size = np.abs(h) @ np.abs(held[w]) + np.abs(held[b])  # what rounding of x @ W + b scales with
        elif kind in HIDDEN:
            want = HIDDEN[kind](h)
            size = np.maximum(np.abs(h), np.abs(want))
        else:
            return None  # a layer the book's net does not have: no verdict on it here
        forward = getattr(layer, "forward", None)
        try:
            got = np.asarray(net.box.call(f"{name}.forward", forward, h.copy()), dtype=np.float64)
        except (ImplementationFailure, TypeError, ValueError):
            return None
        if got.shape != want.shape or not np.all(np.abs(got - want) <= tol * size):
            rounding = got.shape == want.shape and np.all(np.abs(got - want) <= FLOAT32_LEVEL * size)
            return name, kind, forward, bool(rounding and net.dtype == np.float64)
        h = want
    return None


def forward_fault(net, x: np.ndarray) -> ImplementationFailure | None:
    """A failure when predict names the book's hidden layer yet is not the book's net; see the module docstring."""
    hidden = named_hidden(net)
    if hidden is None or on_copies(net):  # on copies of the weights: probing's not-read check says so
        return None
    wrong = _wrong_layer(net, x)
    if wrong is not None:
        name, kind, forward, rounding = wrong
        how = (
            f"computes {FORMULAS[kind]} only to float32 rounding: a float32 array inside it (an astype(np.float32)?) "
            "loses half the digits of a float64 net"
            if rounding
            else f"does not compute {FORMULAS[kind]}"
        )
        return ImplementationFailure(
            "predict",
            f"is not the book's {SHOWN[hidden]} net at the shared weights: its layer {name}.forward {how} (checked "
            "layer by layer on the book's own values)",
            definition_of(forward),
            error="wrong-forward",
        )
    return ImplementationFailure(
        "predict",
        f"calls {hidden} but is not the book's {SHOWN[hidden]} net at the shared weights (affine, {hidden}, affine, "
        "softmax): its forward pass computes something else",
        definition_of(getattr(net.net, "predict", None)),
        error="wrong-forward",
    )
