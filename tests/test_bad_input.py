"""Bad inputs raise the specific exception of impl_numpy.validation, with a message naming the problem.

Run: ``python -m pytest tests/test_bad_input.py``. Each case runs against the
numpy net and the PyTorch net, through every public entry point that takes it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from impl_numpy import (
    ConfigError,
    DtypeError,
    LabelError,
    NetInputError,
    NonFiniteError,
    ShapeError,
    TwoLayerNet,
    init_params,
)
from impl_torch import TorchTwoLayerNet, resolve_device
from impl_torch.torch_two_layer_net import mps_available

D, H, C, N = 5, 4, 3, 4  # a 5-4-3 net and batches of 4
KINDS = ["numpy", "torch"]


def good_params() -> dict[str, np.ndarray]:
    return init_params(D, H, C, weight_init_std=0.5, seed=0)


def good_x() -> np.ndarray:
    return np.random.default_rng(0).random((N, D))  # (N, D)


def good_t() -> np.ndarray:
    return np.array([0, 2, 1, 2])  # (N,)


def build(kind: str, params: object, **kwargs: object) -> TwoLayerNet | TorchTwoLayerNet:
    """A net of ``kind`` from book-layout ``params`` (the torch one on the CPU unless told)."""
    if kind == "numpy":
        return TwoLayerNet.from_params(params, **kwargs)
    kwargs.setdefault("device", "cpu")
    return TorchTwoLayerNet.from_params(params, **kwargs)


def batch_entry_points(kind: str) -> dict[str, Callable[[object, object], object]]:
    """Every public method of a net of ``kind`` that validates a batch (x, t)."""
    net = build(kind, good_params())
    points: dict[str, Callable[[object, object], object]] = {
        "loss": net.loss,
        "gradient": net.gradient,
        "accuracy": net.accuracy,
    }
    if kind == "numpy":
        points["book_loss"] = net.book_loss
        points["numerical_gradient"] = net.numerical_gradient
    else:
        points["to_device_batch"] = net.to_device_batch
    return points


def expect(exc: type[NetInputError], pattern: str, call: Callable[[], object]) -> None:
    """``call()`` raises exactly ``exc`` (not a sibling), with a message matching ``pattern``."""
    with pytest.raises(exc, match=pattern) as info:
        call()
    assert type(info.value) is exc, f"expected {exc.__name__}, got {type(info.value).__name__}: {info.value}"


def test_every_error_is_a_net_input_error_and_a_value_error() -> None:
    for exc in (ShapeError, LabelError, NonFiniteError, DtypeError, ConfigError):
        assert issubclass(exc, NetInputError) and issubclass(exc, ValueError)
    assert issubclass(DtypeError, TypeError)


@pytest.mark.parametrize("kind", KINDS)
def test_good_batch_passes(kind: str) -> None:
    # The control for every case below: the same net takes the good batch, also one-hot.
    for call in batch_entry_points(kind).values():
        call(good_x(), good_t())
        call(good_x(), np.eye(C)[good_t()])


# -- batches ------------------------------------------------------------------------


def with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[1, 2] = np.nan
    return x


def with_inf(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[0, 0] = -np.inf
    return x


BAD_BATCHES = {
    # name: (x, t, exception, message pattern)
    "x-wrong-width": (np.zeros((N, D + 1)), good_t(), ShapeError, r"x must have shape \(N >= 1, 5\).*got \(4, 6\)"),
    "x-1d": (np.zeros(D), good_t(), ShapeError, r"x must have shape \(N >= 1, 5\).*got \(5,\)"),
    "x-3d": (np.zeros((N, D, 1)), good_t(), ShapeError, r"x must have shape .*got \(4, 5, 1\)"),
    "empty-batch": (np.zeros((0, D)), np.zeros(0, dtype=int), ShapeError, r"got \(0, 5\)"),
    "x-nan": (with_nan(good_x()), good_t(), NonFiniteError, r"x contains 1 NaN or Inf"),
    "x-inf": (with_inf(good_x()), good_t(), NonFiniteError, r"x contains 1 NaN or Inf"),
    "x-integer": (np.ones((N, D), dtype=np.int64), good_t(), DtypeError, r"x must have a float dtype, got int64"),
    "x-bool": (np.ones((N, D), dtype=bool), good_t(), DtypeError, r"x must have a float dtype, got bool"),
    "x-complex": (good_x() + 0j, good_t(), DtypeError, r"x must have a float dtype, got complex128"),
    "labels-out-of-range": (good_x(), np.array([0, 1, 3, 2]), LabelError, r"labels must lie in \[0, 3\).*to 3"),
    "labels-negative": (good_x(), np.array([0, -1, 1, 2]), LabelError, r"labels must lie in \[0, 3\).*from -1"),
    "labels-float": (good_x(), np.array([0.0, 2.0, 1.0, 2.0]), LabelError, r"must be integers, got dtype float64"),
    "labels-count": (good_x(), np.array([0, 1, 2]), ShapeError, r"t has 3 labels but x has 4 rows"),
    "one-hot-wrong-classes": (
        good_x(),
        np.eye(4)[[0, 1, 2, 3]],
        ShapeError,
        r"one-hot labels must have shape \(4, 3\)",
    ),
    "one-hot-wrong-rows": (good_x(), np.eye(C)[[0, 1, 2]], ShapeError, r"one-hot labels must have shape \(4, 3\)"),
    "one-hot-two-ones": (good_x(), np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]), LabelError, "single one"),
    "one-hot-zero-row": (good_x(), np.array([[0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]), LabelError, "single one"),
    "one-hot-fractions": (good_x(), np.full((N, C), 1 / 3), LabelError, "single one"),
    "labels-3d": (good_x(), np.zeros((N, C, 1), dtype=int), LabelError, r"class indices \(N,\) or one-hot \(N, C\)"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_bad_batch(kind: str, case: str) -> None:
    x, t, exc, pattern = BAD_BATCHES[case]
    for call in batch_entry_points(kind).values():
        expect(exc, pattern, lambda call=call: call(x.copy(), t.copy()))


@pytest.mark.parametrize("case", [c for c in BAD_BATCHES if c.startswith("x-") or c == "empty-batch"])
def test_numpy_predict_checks_x(case: str) -> None:
    x, _, exc, pattern = BAD_BATCHES[case]
    net = build("numpy", good_params())
    expect(exc, pattern, lambda: net.predict(x))


# -- parameters ---------------------------------------------------------------------


def changed(**changes: object) -> dict[str, object]:
    """Good params with some entries replaced (``None`` removes the entry)."""
    params: dict[str, object] = dict(good_params())
    for key, value in changes.items():
        if value is None:
            del params[key]
        else:
            params[key] = value
    return params


def poke(name: str, value: float) -> np.ndarray:
    a = good_params()[name].copy()
    a.flat[0] = value
    return a


BAD_PARAMS = {
    "W1-nan": (changed(W1=poke("W1", np.nan)), NonFiniteError, r"W1 contains 1 NaN or Inf"),
    "b2-inf": (changed(b2=poke("b2", np.inf)), NonFiniteError, r"b2 contains 1 NaN or Inf"),
    "W2-integer": (
        changed(W2=np.ones((H, C), dtype=np.int64)),
        DtypeError,
        r"W2 must have a float (or complex )?dtype, got int64",
    ),
    "b1-bool": (changed(b1=np.zeros(H, dtype=bool)), DtypeError, r"b1 must have a float (or complex )?dtype, got bool"),
    "missing-b2": (changed(b2=None), ShapeError, r"missing \['b2'\]"),
    "extra-W3": (changed(W3=np.zeros((C, C))), ShapeError, r"unexpected \['W3'\]"),
    "not-a-dict": ([("W1", np.zeros((D, H)))], ShapeError, r"params must be a dict of arrays, got list"),
    "b1-length": (changed(b1=np.zeros(H + 1)), ShapeError, r"b1 has shape \(5,\) but W1 \(5, 4\) has 4 hidden units"),
    "W2-rows": (changed(W2=np.zeros((H + 1, C))), ShapeError, r"W2 has shape \(5, 3\) but W1 \(5, 4\) has 4 hidden"),
    "b2-length": (changed(b2=np.zeros(C + 2)), ShapeError, r"b2 has shape \(5,\) but W2 \(4, 3\) has 3 outputs"),
    "W1-1d": (changed(W1=np.zeros(D * H)), ShapeError, r"W1 and W2 must be 2-D and b1, b2 1-D"),
    "b1-2d": (changed(b1=np.zeros((1, H))), ShapeError, r"W1 and W2 must be 2-D and b1, b2 1-D"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params(kind: str, case: str) -> None:
    params, exc, pattern = BAD_PARAMS[case]
    expect(exc, pattern, lambda: build(kind, params))


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_torch_load_params_checks_too(case: str) -> None:
    params, exc, pattern = BAD_PARAMS[case]
    net = build("torch", good_params())
    expect(exc, pattern, lambda: net.load_params(params))


@pytest.mark.parametrize("size", [0, -1, 2.5, 3.0, None, True])
def test_init_params_rejects_bad_sizes(size: object) -> None:
    expect(ShapeError, r"hidden_size must be a positive integer", lambda: init_params(D, size, C))


# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", ["tanh", "ReLU", ""])
def test_unknown_activation(kind: str, activation: str) -> None:
    expect(ConfigError, f"unknown activation {activation!r}", lambda: build(kind, good_params(), activation=activation))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["bogus", "float128x"])
def test_unknown_dtype(kind: str, dtype: str) -> None:
    expect(ConfigError, f"unknown dtype {dtype!r}", lambda: build(kind, good_params(), dtype=dtype))


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex64"])
def test_torch_dtype_outside_float64_and_float32(dtype: str) -> None:
    expect(ConfigError, f"unknown dtype {dtype!r}", lambda: build("torch", good_params(), dtype=dtype))


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_numpy_non_float_dtype(dtype: str) -> None:
    expect(DtypeError, f"float .*dtype, got {dtype}", lambda: build("numpy", good_params(), dtype=dtype))


@pytest.mark.parametrize("device", ["tpu", "CPU", "cuda:0", ""])
def test_unknown_device(device: str) -> None:
    expect(ConfigError, f"unknown device {device!r}", lambda: build("torch", good_params(), device=device))
    expect(ConfigError, f"unknown device {device!r}", lambda: TorchTwoLayerNet(D, H, C, device=device))


def test_cuda_when_absent() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here, so asking for it is not an error")
    expect(ConfigError, r"device 'cuda' requested but torch sees no CUDA device", lambda: resolve_device("cuda"))
    expect(ConfigError, r"'cuda' requested", lambda: build("torch", good_params(), device="cuda"))
    assert resolve_device("auto", torch.float32).type in ("cpu", "mps")


def test_mps_when_absent() -> None:
    if mps_available():
        pytest.skip("MPS is present here, so asking for it is not an error")
    expect(ConfigError, r"device 'mps' requested but torch sees no MPS device", lambda: resolve_device("mps"))
    expect(
        ConfigError,
        r"'mps' requested",
        lambda: build("torch", good_params(), device="mps", dtype="float32"),
    )
