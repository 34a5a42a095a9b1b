"""Activation and loss functions of the two-layer net, in numpy.

Reference: Deep Learning from Scratch, ch. 3 (sigmoid, softmax) and ch. 4
(cross-entropy). Every function here is *complex-safe*: it accepts complex arrays
and branches only on the real part, so the complex-step derivative
``Im f(x + i·h) / h`` works through it. (``cross_entropy_error`` with its ``1e-7``
is complex-safe too, but ``argmax``-based helpers such as accuracy are not.)

Which loss is which:
- ``cross_entropy`` is the exact mean cross-entropy of the logits, computed as
  log-sum-exp minus the true-class logit. Every implementation in this project
  uses it, so the numerical gradient, backprop and autograd differentiate the
  same function.
- ``cross_entropy_error`` is the book's version, ``-sum(t * log(y + 1e-7)) / N``
  on softmax probabilities. Its gradient is *not* ``(y - t) / N`` (the book's
  backprop), so it is kept for fidelity only.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-a))`` without overflow or warnings.

    Real input: ``exp(-a)`` may exceed the float range for ``a < -709``; that
    intermediate is allowed to become ``inf`` silently, giving the correct
    limit ``1 / inf = 0`` (three passes over the data, the fast path of every
    training step). Complex input (the complex step) branches on the real part
    and only ever computes ``exp(-|a|) <= 1``, so nothing overflows at all.
    """
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64)
    if a.dtype.kind == "f":
        with np.errstate(over="ignore"):
            out = np.exp(-a)
        out += 1.0
        return np.reciprocal(out, out=out)
    neg = a.real < 0
    e = np.exp(np.where(neg, a, -a))  # exp(-|a|), in (0, 1]
    s = 1.0 / (1.0 + e)
    return np.where(neg, e * s, s)


def relu(a: np.ndarray) -> np.ndarray:
    """``max(0, a)``, taking the real part's sign for complex input."""
    a = np.asarray(a)
    return np.where(a.real > 0, a, 0)


def logsumexp(z: np.ndarray) -> np.ndarray:
    """Row-wise ``log(sum(exp(z)))`` shifted by the row maximum: (N, C) -> (N,)."""
    m = np.max(z.real, axis=1, keepdims=True)  # (N, 1)
    return m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits ``z`` (N, C), shifted by each row's maximum."""
    z = np.asarray(z)
    if z.ndim == 1:
        return softmax(z[None, :])[0]
    m = np.max(z.real, axis=1, keepdims=True)  # (N, 1)
    e = np.exp(z - m)  # (N, C), largest entry of each row is exp(0) = 1
    return e / np.sum(e, axis=1, keepdims=True)


def labels_to_indices(t: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Class indices (N,) from labels given as indices (N,) or one-hot rows (N, C).

    No validation beyond the shape: callers that take user input validate first
    (see :mod:`impl_numpy.validation`).
    """
    t = np.asarray(t)
    if t.ndim == 2:
        return np.argmax(t, axis=1)
    return t.astype(np.intp, copy=False)


def cross_entropy(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Exact mean cross-entropy of logits ``z`` (N, C) against labels ``t``.

    ``t`` holds class indices (N,) or one-hot rows (N, C). The value is
    ``mean_n(logsumexp(z_n) - z_n[t_n])``: no ``1e-7``, no overflow, and its
    gradient with respect to ``z`` is exactly ``(softmax(z) - onehot(t)) / N``.
    """
    z = np.asarray(z)
    idx = labels_to_indices(t)
    n = z.shape[0]
    picked = z[np.arange(n), idx]  # (N,) true-class logits
    return np.mean(logsumexp(z) - picked)


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The book's cross-entropy on *probabilities* ``y``, with ``1e-7`` in the log.

    Kept for fidelity with ch. 4; see the module docstring for why the project's
    gradients do not differentiate it.
    """
    y = np.asarray(y)
    t = np.asarray(t)
    if y.ndim == 1:  # a single sample, as in the book
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot labels -> class indices
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n
