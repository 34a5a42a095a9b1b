"""Input validation shared by the numpy and torch nets, with specific exceptions.

Every exception derives from :class:`NetInputError` (a ``ValueError``), so a
command line can turn any of them into one line on stderr. Messages name the
array and the problem, e.g. ``W1 has shape (64, 50) but x has 784 features``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")


class NetInputError(ValueError):
    """Base class: an input the nets cannot use."""


class ShapeError(NetInputError):
    """An array's shape does not fit the net (or the other arrays)."""


class LabelError(NetInputError):
    """Labels out of range, of the wrong kind, or not one-hot."""


class NonFiniteError(NetInputError):
    """NaN or Inf in inputs or parameters."""


class DtypeError(NetInputError, TypeError):
    """An integer, boolean or object array where floats are needed."""


class ConfigError(NetInputError):
    """An unknown activation, device or dtype, or a device that is not there."""


ACTIVATIONS = ("sigmoid", "relu")


def check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return activation


def check_float_array(name: str, a: object, *, allow_complex: bool = False) -> np.ndarray:
    """``a`` as an ndarray of a float (or complex) dtype with only finite values."""
    arr = np.asarray(a)
    kinds = "fc" if allow_complex else "f"
    if arr.dtype.kind not in kinds:
        wanted = "a float or complex" if allow_complex else "a float"
        raise DtypeError(f"{name} must have {wanted} dtype, got {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NonFiniteError(f"{name} contains {bad} NaN or Inf value(s)")
    return arr


def check_params(params: Mapping[str, object], *, allow_complex: bool = False) -> dict[str, np.ndarray]:
    """Validate a book-layout params dict: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
    if not isinstance(params, Mapping):
        raise ShapeError(f"params must be a dict of arrays, got {type(params).__name__}")
    keys = set(params)
    if keys != set(PARAM_NAMES):
        missing = sorted(set(PARAM_NAMES) - keys)
        extra = sorted(keys - set(PARAM_NAMES))
        raise ShapeError(f"params must have exactly W1, b1, W2, b2 (missing {missing}, unexpected {extra})")
    out = {k: check_float_array(k, params[k], allow_complex=allow_complex) for k in PARAM_NAMES}
    w1, b1, w2, b2 = (out[k] for k in PARAM_NAMES)
    if w1.ndim != 2 or w2.ndim != 2 or b1.ndim != 1 or b2.ndim != 1:
        raise ShapeError(
            f"W1 and W2 must be 2-D and b1, b2 1-D, got W1 {w1.shape}, b1 {b1.shape}, W2 {w2.shape}, b2 {b2.shape}"
        )
    if b1.shape[0] != w1.shape[1]:
        raise ShapeError(f"b1 has shape {b1.shape} but W1 {w1.shape} has {w1.shape[1]} hidden units")
    if w2.shape[0] != w1.shape[1]:
        raise ShapeError(f"W2 has shape {w2.shape} but W1 {w1.shape} has {w1.shape[1]} hidden units")
    if b2.shape[0] != w2.shape[1]:
        raise ShapeError(f"b2 has shape {b2.shape} but W2 {w2.shape} has {w2.shape[1]} outputs")
    return out


def check_step(h: object) -> float:
    """A finite-difference step: a finite real number > 0 (``h = 0`` divides by zero)."""
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not (0 < h < math.inf):
        raise ConfigError(f"the step h must be a finite number > 0, got {h!r}")
    return float(h)


def check_init(weight_init_std: object, seed: object) -> None:
    """Initial-weight settings: a finite std >= 0 and a seed that is an integer >= 0 (or None: fresh entropy)."""
    if isinstance(weight_init_std, bool) or not isinstance(weight_init_std, numbers.Real):
        raise ConfigError(f"weight_init_std must be a number, got {weight_init_std!r}")
    if not (0 <= weight_init_std < math.inf):
        raise ConfigError(f"weight_init_std must be finite and >= 0, got {weight_init_std!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")


def check_label_range(t: np.ndarray, n_classes: int) -> None:
    """Class indices in ``[0, n_classes)``: two reductions over the batch, cheap enough for every step."""
    if t.dtype.kind not in "iu" or t.ndim != 1:
        raise LabelError(f"labels must be class indices, an integer (N,) array, got {t.dtype} {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        raise LabelError(f"labels must lie in [0, {n_classes}), got values from {t.min()} to {t.max()}")


def check_inputs(x: object, input_size: int) -> np.ndarray:
    """Validate a batch of inputs: a finite float array of shape (N, input_size)."""
    arr = check_float_array("x", x)
    if arr.ndim != 2 or arr.shape[1] != input_size or arr.shape[0] == 0:
        raise ShapeError(f"x must have shape (N >= 1, {input_size}) to fit W1, got {arr.shape}")
    return arr


def check_labels(t: object, n: int, n_classes: int) -> np.ndarray:
    """Validate labels for N samples; return class indices (N,) as intp.

    Accepts integer class indices (N,) in ``[0, n_classes)`` or one-hot rows
    (N, n_classes) of zeros and a single one.
    """
    arr = np.asarray(t)
    if arr.ndim == 1:
        if arr.dtype.kind not in "iu":
            raise LabelError(f"class-index labels must be integers, got dtype {arr.dtype}")
        if arr.shape[0] != n:
            raise ShapeError(f"t has {arr.shape[0]} labels but x has {n} rows")
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise LabelError(f"labels must lie in [0, {n_classes}), got values from {arr.min()} to {arr.max()}")
        return arr.astype(np.intp, copy=False)
    if arr.ndim == 2:
        if arr.shape != (n, n_classes):
            raise ShapeError(f"one-hot labels must have shape ({n}, {n_classes}), got {arr.shape}")
        if arr.dtype.kind not in "iuf" or not np.all((arr == 0) | (arr == 1)) or not np.all(arr.sum(axis=1) == 1):
            raise LabelError("one-hot labels must be rows of zeros with a single one")
        return np.argmax(arr, axis=1).astype(np.intp)
    raise LabelError(f"labels must be class indices (N,) or one-hot (N, C), got shape {arr.shape}")


def check_batch(x: object, t: object, input_size: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate a batch ``(x, t)``; return ``x`` and the labels as class indices."""
    xa = check_inputs(x, input_size)
    return xa, check_labels(t, xa.shape[0], n_classes)
