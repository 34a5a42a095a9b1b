"""The checker for any JAX loss: ``jax.grad(fn)`` against a float64 (or complex128) reference of ``fn`` itself.

Usage::

    def fn(p):                                   # jax.numpy code, params dict -> scalar
        z = jnp.tanh(x @ p["W"] + p["b"])
        return jnp.mean((z - y) ** 2)

    jax_problem(fn, {"W": w, "b": b}).assert_ok(mode="fast", reference="complex")

The code under test is ``jax.grad(fn)`` at the params in their own dtype
(float32 or float64); the reference evaluates the same ``fn`` with float64 params,
or complex128 ones for the complex step. JAX keeps those dtypes because importing
:mod:`impl_jax` turns on ``jax_enable_x64``; data ``fn`` closes over in float32 is
promoted to float64 in the reference, but a reference that comes back in float32
(e.g. ``fn`` casts to float32) is refused by the checker.

Complex step: jax's ``matmul``, ``exp``, ``log``, ``tanh``, ``jax.nn.sigmoid``,
``jax.nn.softmax``, ``jax.nn.logsumexp``, ``take_along_axis`` and ``jax.nn.relu`` /
``jnp.maximum`` (which order complex numbers by their real part first) carry the
imaginary part, so the book's net written with them is complex-safe. ``jnp.abs``,
``.real`` and casts to a real dtype drop it. If the loss then comes back real, the
checker refuses ``reference="complex"`` with a clear error; if only part of ``fn``
drops it, the complex reference is wrong for the parameters behind that part and
the check fails them. For any such ``fn``, ``reference="richardson"`` (no complex
numbers needed, ~1e-10 relative) is the reference to use.

JAX is imported when :func:`jax_problem` is called, never when
:mod:`dlfs_gradcheck` is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from dlfs_gradcheck.problems import GradProblem
from impl_numpy.validation import DtypeError, ShapeError


def jax_problem(
    fn: Callable[[dict], object],
    params: Mapping[str, object],
    *,
    label: str = "",
    jit: bool = True,
) -> GradProblem:
    """``jax.grad(fn)`` at ``params`` as a :class:`GradProblem`.

    Parameters
    ----------
    fn : callable
        ``fn(params) -> scalar``, written in ``jax.numpy``; ``params`` is a dict of
        arrays (name -> array). Must be deterministic.
    params : dict
        name -> float32 or float64 array (numpy or jax): the point, in the dtype
        whose gradient is tested. Copied; never modified.
    label : str
        For report titles (default: ``jax`` and ``fn``'s name).
    jit : bool
        Compile ``fn`` and ``jax.grad(fn)`` with ``jax.jit`` (the checker calls the
        loss many times); pass ``False`` for an ``fn`` with Python control flow on
        values, which cannot be traced.

    Returns
    -------
    GradProblem
        ``params`` as numpy copies in their own dtype.
    """
    # isort: off
    import impl_jax  # noqa: F401  (first: jax with float64 enabled, or the install hint when jax is missing)
    import jax
    import jax.numpy as jnp

    # isort: on

    point = _point(params)
    grad = jax.grad(fn)
    loss = fn
    if jit:
        grad, loss = jax.jit(grad), jax.jit(fn)

    def to_jax(q: Mapping[str, np.ndarray]) -> dict:
        return {k: jnp.asarray(v) for k, v in q.items()}  # dtypes kept (x64 is on)

    def grad_fn(q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = grad(to_jax(q))
        return {k: np.asarray(g[k]) for k in q}

    def loss_fn(q: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(loss(to_jax(q)))

    name = label or f"jax {getattr(fn, '__name__', type(fn).__name__)}"
    return GradProblem(loss_fn, grad_fn, point, name)


def _point(params: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Numpy copies of ``params`` in their own dtype, refused unless a non-empty dict of float32 or float64 arrays."""
    if not isinstance(params, Mapping) or not params:
        raise ShapeError(f"params must be a non-empty dict of arrays, got {type(params).__name__}")
    point = {}
    for name, value in params.items():
        arr = np.array(value)  # a copy, numpy or jax alike
        if arr.dtype not in (np.float32, np.float64):
            raise DtypeError(f"parameter {name} has dtype {arr.dtype}; jax_problem needs float32 or float64")
        point[name] = arr
    return point
