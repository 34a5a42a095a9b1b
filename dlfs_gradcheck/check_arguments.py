"""What a gradient check is given, checked before any loss is evaluated: the options, the point, the gradients.

Usage::

    check_options(mode, reference, eps, rtol, atol, max_entries, directions, worst, seed, sharded=False)
    theirs = validate_params(params)  # copies, in their own dtype
    grads = validate_grads(grad_fn({k: v.copy() for k, v in theirs.items()}), theirs)

Every refusal is a :class:`dlfs_gradcheck.GradcheckError` naming the parameter or the option;
:func:`dlfs_gradcheck.core.check_gradients` documents which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from dlfs_gradcheck.errors import ConfigError, DtypeError, NonFiniteError, ShapeError
from dlfs_gradcheck.probe import REFERENCES

MODES = ("full", "fast")


def as_array(value: object, what: str) -> np.ndarray:
    """``value`` (an array, a torch tensor, nested lists) as an ndarray; ``what`` names it in errors."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except ValueError as exc:  # ragged nested sequences
        raise ShapeError(f"{what} is not an array of one shape (ragged nested sequences?): {exc}") from None


def validate_params(params: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Copies of ``params`` in their own dtype, after checking names, dtypes and values."""
    if not isinstance(params, Mapping) or not params:
        raise ShapeError(f"params must be a non-empty dict of arrays, got {type(params).__name__}")
    out = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise ShapeError(f"parameter names must be strings, got {name!r}")
        arr = as_array(value, f"parameter {name}")
        if arr.dtype not in (np.float32, np.float64):
            raise DtypeError(f"parameter {name} has dtype {arr.dtype}; gradcheck needs float32 or float64 parameters")
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise NonFiniteError(f"parameter {name} contains {bad} NaN or Inf value(s)")
        out[name] = np.array(arr, order="C")  # a copy
    return out


def validate_grads(grads: object, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The gradients as arrays in their own dtype, after checking them against ``params``."""
    if not isinstance(grads, Mapping):
        raise ShapeError(f"grad_fn must return a dict of arrays, got {type(grads).__name__}")
    missing = [k for k in params if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        problems = [f"no gradient for {missing}"] if missing else []
        problems += [f"gradients for unknown parameters {extra}"] if extra else []
        raise ShapeError(f"grad_fn returned {' and '.join(problems)}")
    out = {}
    for name, p in params.items():
        g = as_array(grads[name], f"the gradient of {name}")
        if g.shape != p.shape:
            raise ShapeError(f"the gradient of {name} has shape {g.shape} but {name} has shape {p.shape}")
        if g.dtype not in (np.float32, np.float64):
            raise DtypeError(f"the gradient of {name} has dtype {g.dtype}; expected float32 or float64")
        bad = int(g.size - np.count_nonzero(np.isfinite(g)))
        if bad:
            raise NonFiniteError(f"the gradient of {name} contains {bad} NaN or Inf value(s)")
        out[name] = g
    return out


def check_options(
    mode: str,
    reference: str,
    eps: float | None,
    rtol: float | None,
    atol: float | None,
    max_entries: int | None,
    directions: int,
    worst: int,
    seed: int,
    *,
    sharded: bool = False,
) -> None:
    """Refuse an unknown mode or reference, a step or tolerance that is not a positive number, a bad count.

    ``sharded``: the check is one rank's share of a job, which only full mode can be.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if reference not in REFERENCES:
        raise ConfigError(f"unknown reference {reference!r}; choose one of {', '.join(REFERENCES)}")
    for name, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        number = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))
        if value is not None and not (number and math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive finite number, got {value!r}")
    counts = (("max_entries", max_entries, 1), ("directions", directions, 1), ("worst", worst, 0), ("seed", seed, 0))
    for name, value, low in counts:
        if value is None and name == "max_entries":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if sharded and mode != "full":
        raise ConfigError("a shard applies to full mode only (fast mode makes too few loss evaluations to share)")
