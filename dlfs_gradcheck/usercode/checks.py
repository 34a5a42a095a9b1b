"""Checks on what a user's net returns, and the two cross-entropies its loss is recognised by.

numpy only. Every check raises :class:`ImplementationFailure` with one line naming the
parameter and what is wrong (a transposed shape says so: the classic ``x @ dout`` slip).

A net's ``predict`` returns one of two kinds of output (:data:`OUTPUTS`): ``"logits"`` (the book's
ch. 5, whose ``SoftmaxWithLoss`` applies the softmax) or ``"probabilities"`` (the book's ch. 4,
whose ``predict`` ends in ``softmax``). The losses here take the kind into account: the exact
cross-entropy of probabilities ``p`` is ``-mean(log p[t])``, which is the exact cross-entropy of
the logits they came from.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from dlfs_gradcheck.usercode.failures import ImplementationFailure, SpecError, from_exception
from dlfs_gradcheck.usercode.isolation import is_real_interrupt
from impl_numpy.functions import cross_entropy, relu, sigmoid, softmax
from impl_numpy.validation import PARAM_NAMES  # noqa: F401  (the book's parameter names, one list for the project)

BOOK_EPS = 1e-7  # the book's cross_entropy_error adds this inside the log
OUTPUTS = ("logits", "probabilities")  # what a predict returns


def binds(user_cls: type, *args: object) -> bool:
    """Whether ``user_cls(*args)`` binds to its ``__init__`` (True when the signature cannot be read)."""
    try:
        inspect.signature(user_cls).bind(*args)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): let the call say what is wrong
        return True
    return True


def unchanged(a: np.ndarray, b: object) -> bool:
    """``b`` still holds ``a``'s values (NaN equal to NaN), in ``a``'s shape."""
    return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def book_shapes(d: int, h: int, c: int) -> dict[str, tuple[int, ...]]:
    """The book's layout: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
    return {"W1": (d, h), "b1": (h,), "W2": (h, c), "b2": (c,)}


def check_gradients(
    method: str, grads: object, shapes: Mapping[str, tuple[int, ...]], where: str, dtype: np.dtype | None = None
) -> dict:
    """``grads`` must map each book name to a finite float array of the book's shape; returns it as arrays.

    With the params' ``dtype``, an array of a less precise float (float32 for float64 params) is a
    failure too: its rounding alone exceeds the params' tolerance.
    """
    if not isinstance(grads, Mapping):
        raise ImplementationFailure(
            method, f"returned {type(grads).__name__}, expected a dict of W1, b1, W2, b2", where, error="type"
        )
    try:  # the mapping is the user's object: reading it runs their code
        values = {name: np.asarray(grads[name]) for name in PARAM_NAMES if name in grads}
    except BaseException as e:
        if is_real_interrupt(e):
            raise
        raise from_exception(method, e) from None
    out = {}
    for name in PARAM_NAMES:
        if name not in values:
            raise ImplementationFailure(method, f"returned no {name!r}", where, error="missing", params=(name,))
        value = values[name]
        want = shapes[name]
        if value.shape != want:
            hint = " (the transpose: x @ dout for x.T @ dout?)" if value.shape == want[::-1] else ""
            raise ImplementationFailure(
                method, f"{name} has shape {value.shape}, expected {want}{hint}", where, error="shape", params=(name,)
            )
        if value.dtype.kind in "iub":
            raise ImplementationFailure(
                method,
                f"{name} has dtype {value.dtype}: a gradient cut to whole numbers (float arrays expected)",
                where,
                error="type",
                params=(name,),
            )
        if value.dtype.kind != "f":
            raise ImplementationFailure(method, f"{name} has dtype {value.dtype}", where, error="type", params=(name,))
        if dtype is not None and value.dtype.itemsize < np.dtype(dtype).itemsize:
            raise ImplementationFailure(
                method,
                f"{name} is {value.dtype} while the params are {np.dtype(dtype)}: rounded to {value.dtype}, beyond "
                f"{np.dtype(dtype)}'s tolerance (return arrays of the params' dtype)",
                where,
                error="dtype",
                params=(name,),
            )
        out[name] = value
    bad = [n for n in PARAM_NAMES if not np.all(np.isfinite(out[n]))]
    if bad:
        counts = ", ".join(f"{n} ({np.count_nonzero(~np.isfinite(out[n]))} entries)" for n in bad)
        raise ImplementationFailure(method, f"NaN or inf in {counts}", where, error="non-finite", params=tuple(bad))
    return out


def check_logits(method: str, z: object, rows: int, classes: int, where: str) -> np.ndarray:
    """``predict`` must give finite (N, C) logits."""
    value = np.asarray(z)
    if value.shape != (rows, classes):
        raise ImplementationFailure(
            method, f"returned shape {value.shape}, expected ({rows}, {classes})", where, error="shape"
        )
    if value.dtype.kind not in "fiu" or not np.all(np.isfinite(value)):
        raise ImplementationFailure(method, "returned NaN, inf or non-numbers", where, error="non-finite")
    return value


def check_scalar(method: str, value: object, where: str) -> float:
    """``loss`` and ``accuracy`` must give one finite number."""
    try:
        number = float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        raise ImplementationFailure(
            method, f"returned {type(value).__name__}, expected a number", where, error="type"
        ) from None
    if not np.isfinite(number):
        raise ImplementationFailure(method, f"returned {number}", where, error="non-finite")
    return number


def exact_loss(z: np.ndarray, t: np.ndarray, output: str = "logits") -> float:
    """Exact mean cross-entropy of ``predict``'s output ``z`` (N, C), labels as indices (N,)."""
    z = np.asarray(z, dtype=np.float64)
    if output == "probabilities":
        with np.errstate(divide="ignore"):  # a probability of 0 is an infinite loss, as it should be
            return float(-np.mean(np.log(z[np.arange(len(t)), t])))
    return float(cross_entropy(z, t))


def book_loss(z: np.ndarray, t: np.ndarray, output: str = "logits") -> float:
    """The book's ``-mean(log(p[t] + 1e-7))`` of ``predict``'s output ``z`` (N, C), labels as indices."""
    z = np.asarray(z, dtype=np.float64)
    p = z if output == "probabilities" else softmax(z)  # (N, C)
    return float(-np.mean(np.log(p[np.arange(len(t)), t] + BOOK_EPS)))


def as_logits(z: np.ndarray, output: str) -> np.ndarray:
    """Logits for ``predict``'s output: probabilities become log-probabilities (a valid set of logits)."""
    if output != "probabilities":
        return z
    with np.errstate(divide="ignore"):
        return np.log(z)


def book_loss_gradient(
    params: Mapping[str, np.ndarray], x: np.ndarray, t: np.ndarray, activation: str, eps: float = BOOK_EPS
) -> dict:
    """The exact gradient of the book's loss (``eps = 1e-7`` inside the log), float64, book layout.

    With ``p = softmax(z)`` and ``q = p[t]``, ``d/dz -log(q + 1e-7) = q / (q + 1e-7) (p - onehot)``:
    backprop of the exact loss with each row's ``dz`` scaled by ``q / (q + 1e-7)``. This is
    what a numerical gradient through the book's ``loss`` converges to. ``eps = 0``: the exact
    cross-entropy's gradient (what backprop computes).
    """
    p64 = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    a1 = x @ p64["W1"] + p64["b1"]  # (N, H)
    z1 = sigmoid(a1) if activation == "sigmoid" else relu(a1)  # (N, H)
    p = softmax(z1 @ p64["W2"] + p64["b2"])  # (N, C)
    q = p[np.arange(n), t]  # (N,)
    dz = p.copy()
    dz[np.arange(n), t] -= 1.0
    dz *= (q / (q + eps))[:, None] / n  # (N, C)
    da = dz @ p64["W2"].T  # (N, H)
    da *= z1 * (1.0 - z1) if activation == "sigmoid" else (a1 > 0)
    return {"W1": x.T @ da, "b1": da.sum(axis=0), "W2": z1.T @ dz, "b2": dz.sum(axis=0)}


def one_hot(t: np.ndarray, classes: int) -> np.ndarray:
    """(N,) class indices -> (N, C) float one-hot rows, as the book's ``load_mnist(one_hot_label=True)``."""
    out = np.zeros((len(t), classes))
    out[np.arange(len(t)), t] = 1.0
    return out


def loss_tolerance(*arrays: np.ndarray) -> float:
    """Relative tolerance for one loss computed two ways from ``arrays`` (params, outputs): the least precise."""
    low = any(np.asarray(a).dtype == np.float32 for a in arrays)
    return 1e-5 if low else 1e-10  # float32's ε with margin for a sum over the batch, or a few float64 roundings


def _forward_tolerance(dtype: np.dtype) -> float:
    return 1e-10 if dtype == np.float64 else 1e-4  # a few roundings of float64, or float32's ε with margin


def detect_forward(
    z: np.ndarray, params: Mapping[str, np.ndarray], x: np.ndarray, dtype: np.dtype
) -> tuple[str | None, str | None]:
    """``(activation, output)`` of the book's net that ``predict``'s output ``z`` comes from at ``params``.

    ``activation`` is ``"sigmoid"`` or ``"relu"`` and ``output`` ``"logits"`` or
    ``"probabilities"`` when ``z`` is that net's logits or their softmax; ``(None, None)`` when it
    is neither (a net of its own design). Logits are compared entry by entry within ``tol`` of the
    sizes rounding scales with (``|x| @ |W| + |b|`` through both layers), not of the largest logit:
    the logits of small initial weights are ~1e-4, and float32 rounding of them must still show.
    """
    tol = _forward_tolerance(dtype)
    x = np.asarray(x, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    a1 = x @ params["W1"] + params["b1"]  # (N, H)
    size1 = np.abs(x) @ np.abs(params["W1"]) + np.abs(params["b1"])  # (N, H): what rounding of a1 scales with
    for name, act in (("sigmoid", sigmoid), ("relu", relu)):
        h = act(a1)
        logits = h @ params["W2"] + params["b2"]  # (N, C)
        size = (size1 + np.abs(h)) @ np.abs(params["W2"]) + np.abs(params["b2"])  # (N, C)
        if z.shape == logits.shape and np.all(np.abs(z - logits) <= tol * size):
            return name, "logits"
        probabilities = softmax(logits)
        if np.allclose(z, probabilities, rtol=tol, atol=tol * float(np.max(probabilities, initial=0.0))):
            return name, "probabilities"
    return None, None


def detect_activation(z: np.ndarray, params: Mapping[str, np.ndarray], x: np.ndarray, dtype: np.dtype) -> str | None:
    """``"sigmoid"`` or ``"relu"`` when ``z`` are the logits (or probabilities) of that hidden layer, else None."""
    return detect_forward(z, params, x, dtype)[0]


def looks_like_probabilities(z: np.ndarray, dtype: np.dtype) -> bool:
    """Rows of non-negative numbers that sum to 1 (within ``dtype``'s rounding)."""
    z = np.asarray(z, dtype=np.float64)
    tol = 1e-8 if dtype == np.float64 else 1e-4
    return bool(z.size) and bool(np.all(z >= 0)) and bool(np.allclose(z.sum(axis=1), 1.0, rtol=0, atol=tol))


def find_params(params: object, label: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The user's ``params`` dict and its four float arrays (identity kept), or a one-line SpecError.

    The arrays must be float32 or float64 and writable: the shared weights are written into them.
    """
    expected = "a dict of numpy float arrays W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)"
    if not isinstance(params, dict):
        raise SpecError(f"{label}: params must be {expected}; got {type(params).__name__}")
    missing = [k for k in PARAM_NAMES if not dict.__contains__(params, k)]
    if missing:
        raise SpecError(f"{label}: params has no {', '.join(missing)}; expected {expected}")
    arrays = {k: dict.__getitem__(params, k) for k in PARAM_NAMES}  # the stored arrays, whatever the dict does
    bad = [k for k, v in arrays.items() if not isinstance(v, np.ndarray) or v.dtype not in (np.float32, np.float64)]
    if bad:
        v = arrays[bad[0]]
        got = f"a {v.dtype} array" if isinstance(v, np.ndarray) else type(v).__name__
        raise SpecError(f"{label}: params[{bad[0]!r}] is {got}; expected {expected} (float32 or float64)")
    frozen = [k for k, v in arrays.items() if not v.flags.writeable]
    if frozen:
        raise SpecError(
            f"{label}: params[{frozen[0]!r}] is read-only; the shared weights are written into the arrays in place"
        )
    w1, b1, w2, b2 = (arrays[k] for k in PARAM_NAMES)
    if (
        w1.ndim != 2
        or w2.ndim != 2
        or b1.shape != (w1.shape[1],)
        or w2.shape[0] != w1.shape[1]
        or b2.shape != (w2.shape[1],)
    ):
        got = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise SpecError(f"{label}: params hold {got}; expected {expected}")
    return params, arrays
