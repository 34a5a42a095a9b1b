"""Compiled PyTorch (``torch.compile``, compare.engine.compiled) against numpy backprop; the --compile rows.

Run: ``python -m pytest tests/test_compiled.py``. Each compiled function compiles on its
first call (a few seconds with a warm on-disk cache, ~20 s cold). Every gradient
comparison goes through :func:`helpers.assert_grads_close` with the project's named
tolerances (:mod:`dlfs_gradcheck.metrics`, where they are derived).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, assert_grads_close

from compare import registry
from compare.data import Dataset
from compare.engine.compiled import FALLBACK, INDUCTOR, CompiledTorchRunner, compile_backend, compiled_info
from compare.engine.protocol import batch_stream
from compare.registry import TORCH_COMPILE
from compare.run import parse_args
from dlfs_gradcheck.metrics import EXACT_F64, LOW_PRECISION, Tolerance
from impl_numpy import TwoLayerNet, init_params

Params = dict[str, np.ndarray]  # book layout: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
LR = 0.1  # the book's learning rate
# Losses and weights along a float64 trajectory: each step adds differences of a few float64
# roundings (~1e-16 relative; the compiled kernels may fuse or reorder them), which SGD carries
# along; over 50 steps they stay far below 1e-10, the harness's bound for exact float64 methods.
TRAJECTORY_F64 = Tolerance(rtol=1e-10, atol=1e-15)


@pytest.fixture(scope="module")
def backend() -> str:
    return compile_backend()


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_gradient_matches_numpy_backprop(
    digits_batch, digits_params: Params, activation: str, dtype: str, backend: str
) -> None:
    # float64: the same formulas in float64 (EXACT_F64, 1e-12); float32 against the float64
    # backprop: float32 rounding through sums of up to a hundred products (LOW_PRECISION, 1e-4).
    x, t = digits_batch
    expected = TwoLayerNet.from_params(digits_params, activation=activation).gradient(x, t)
    runner = CompiledTorchRunner(compiled_info(dtype, backend=backend), digits_params, activation, backend)
    got = runner.gradient(x, t)
    assert all(g.dtype == np.float64 and g.shape == expected[k].shape for k, g in got.items())
    assert_grads_close(got, expected, EXACT_F64 if dtype == "float64" else LOW_PRECISION, runner.info.label, "backprop")
    again = runner.gradient(x, t)  # no state change: the same gradient a second time
    for k in got:
        np.testing.assert_array_equal(again[k], got[k], err_msg=f"second call, {k}")


def test_trajectory_follows_numpy_backprop(digits: Dataset, backend: str) -> None:
    params = init_params(64, 50, 10, seed=3)
    steps = 50
    batches = batch_stream(digits.train_size, 100, steps, seed=3)  # (steps, B)
    eval_at = [0, 7, 49]
    net = TwoLayerNet.from_params(params)
    losses, train_acc = [], []
    for i, idx in enumerate(batches):
        losses.append(net.train_step(digits.x_train[idx], digits.t_train[idx], LR))
        if i in eval_at:
            train_acc.append(net.accuracy(digits.x_train, digits.t_train))
        if i + 1 == 20:
            at20 = {k: v.copy() for k, v in net.params.items()}
    runner = CompiledTorchRunner(compiled_info("float64", backend=backend), params, "sigmoid", backend)
    rec = runner.train(digits, batches, LR, eval_at, snapshot_at=[20])
    assert_close(rec.losses, np.array(losses), TRAJECTORY_F64, "compiled losses vs numpy backprop")
    assert rec.eval_steps == eval_at
    np.testing.assert_array_equal(rec.train_acc, np.array(train_acc))  # the same argmax on equal-to-1e-10 logits
    assert sorted(rec.snapshots) == [20, steps]
    assert_grads_close(rec.snapshots[20], at20, TRAJECTORY_F64, "compiled weights after 20", "numpy")
    assert_grads_close(rec.snapshots[steps], net.params, TRAJECTORY_F64, "compiled final weights", "numpy")
    assert runner.compile_seconds is not None and runner.compile_seconds > 0


def test_timed_gradient_compiles_before_it_returns(digits_batch, digits_params: Params, backend: str) -> None:
    x, t = digits_batch
    runner = CompiledTorchRunner(compiled_info("float64", backend=backend), digits_params, "sigmoid", backend)
    assert runner.compile_seconds is None
    call, sync = runner.timed_gradient(x, t)
    assert runner.compile_seconds is not None and runner.compile_seconds > 0
    grads, _loss = call()  # fc1.weight (H, D), fc1.bias, fc2.weight (C, H), fc2.bias: torch layout, on the device
    sync()
    expected = TwoLayerNet.from_params(digits_params).gradient(x, t)
    assert_close(grads[0].numpy().T, expected["W1"], EXACT_F64, "timed call's W1 gradient")


def test_label_names_a_backend_other_than_inductor() -> None:
    assert compiled_info("float64").label == "autograd+compile[cpu,float64]"
    assert compiled_info("float32", backend=FALLBACK).label == f"autograd+compile[cpu,float32,{FALLBACK}]"
    assert compile_backend() in (INDUCTOR, FALLBACK)


def test_compile_option_adds_the_rows_only_when_asked() -> None:
    plain, compiled = parse_args([]), parse_args(["--compile"])
    assert not plain.switches["torch.compile"] and compiled.switches["torch.compile"]
    assert not TORCH_COMPILE.asked(plain) and TORCH_COMPILE.asked(compiled)
    labels = [e.info.label for e in TORCH_COMPILE.entries(compiled, ["cpu"], ("float64", "float32"))]
    assert [label.split("]")[0] for label in labels] == ["autograd+compile[cpu,float64", "autograd+compile[cpu,float32"]
    assert any(e.info.family == "autograd+compile" for e in registry.entries(compiled, ["cpu"]))
    assert not any(e.info.family == "autograd+compile" for e in registry.entries(plain, ["cpu"]))
