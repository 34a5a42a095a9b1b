"""The book's numerical gradient: central differences, one element at a time.

Reference: Deep Learning from Scratch, ch. 4 (``numerical_gradient``). For each
element ``x[k]``: ``(f(x + h·e_k) - f(x - h·e_k)) / (2h)``, then ``x[k]`` is put
back. This costs two evaluations of ``f`` per element: 2P for a gradient of P
parameters. The fast exact variant for the two-layer net is in
:mod:`impl_numpy.fast_numerical`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from impl_numpy.validation import DtypeError, check_step


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference gradient of ``f`` at ``x``, perturbing ``x`` in place.

    Parameters
    ----------
    f : callable
        Takes ``x`` (or ignores it and reads a net's parameters, as the book's
        ``lambda W: net.loss(x, t)`` does) and returns a scalar.
    x : ndarray of a float dtype, any shape
        Perturbed element by element and restored afterwards, also when ``f``
        raises.
    h : float
        The step. ``1e-4`` is the book's choice and suits float64; in float32 it
        is mostly rounding noise (see ``docs/why-backprop.md``).

    Returns
    -------
    ndarray, same shape and dtype as ``x``
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise DtypeError(f"numerical_gradient needs a float ndarray to perturb in place, got {kind}")
    h = check_step(h)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        grad[idx] = _central_difference(f, x, idx, h)
        it.iternext()
    return grad


def numerical_gradient_at(
    f: Callable[[np.ndarray], float], x: np.ndarray, flat_indices: np.ndarray, h: float = 1e-4
) -> np.ndarray:
    """The book's central differences at the given flat indices of ``x`` only: (k,) values.

    Each entry costs exactly what it costs in :func:`numerical_gradient` (two
    evaluations of ``f``), so timing k entries and scaling by P / k estimates the
    full loop.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise DtypeError("numerical_gradient_at needs a float ndarray to perturb in place")
    h = check_step(h)
    out = np.empty(len(flat_indices), dtype=x.dtype)
    for j, flat in enumerate(flat_indices):
        out[j] = _central_difference(f, x, np.unravel_index(int(flat), x.shape), h)
    return out


def _central_difference(f: Callable[[np.ndarray], float], x: np.ndarray, idx: tuple[int, ...], h: float) -> float:
    """``(f(x + h e_idx) - f(x - h e_idx)) / 2h``, with ``x[idx]`` restored even if ``f`` raises."""
    tmp = x[idx]
    try:
        x[idx] = tmp + h
        fxh1 = f(x)  # f(x + h)
        x[idx] = tmp - h
        fxh2 = f(x)  # f(x - h)
    finally:
        x[idx] = tmp  # restore, even if f raised
    return (fxh1 - fxh2) / (2 * h)
