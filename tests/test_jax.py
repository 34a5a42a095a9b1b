"""The JAX net (impl_jax), its harness runner and the checker's JAX adapter, against numpy backprop.

Run: ``python -m pytest tests/test_jax.py`` (skipped without jax: ``pip install ".[jax]"``).
Reference: Deep Learning from Scratch, ch. 4/5. Every gradient comparison goes
through :func:`helpers.assert_grads_close` with the project's named tolerances
(:mod:`dlfs_gradcheck.metrics`, where they are derived).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_grads_close

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

from compare.data import Dataset  # noqa: E402
from compare.engine.protocol import batch_stream, epoch_steps  # noqa: E402
from compare.gradcheck import jax_problem  # noqa: E402
from compare.jax_runner import JaxRunner, jax_available  # noqa: E402
from dlfs_gradcheck.metrics import EXACT_F64, LOW_PRECISION, Tolerance  # noqa: E402
from impl_jax import JaxTwoLayerNet, available_devices  # noqa: E402
from impl_numpy import ConfigError, LabelError, ShapeError, TwoLayerNet, init_params  # noqa: E402

Params = dict[str, np.ndarray]  # book layout: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
Problem = tuple[Params, np.ndarray, np.ndarray]  # (params, x (N, D), t (N,))
ACTIVATIONS = ["sigmoid", "relu"]
LR = 0.1  # the book's learning rate
# Losses and weights along a float64 trajectory: each step adds differences of a few
# float64 roundings (~1e-16 relative), which SGD carries along; over a few hundred steps
# they stay far below 1e-10, the harness's agreement bound for exact float64 methods.
TRAJECTORY_F64 = Tolerance(rtol=1e-10, atol=1e-15)


@pytest.fixture(params=["digits-64-10-10", "random-5-4-3"])
def problem(request: pytest.FixtureRequest) -> Problem:
    """The book's init on a digits batch of 100, or a small net in its non-linear range."""
    if request.param == "digits-64-10-10":
        x, t = request.getfixturevalue("digits_batch")
        return request.getfixturevalue("digits_params"), x, t
    return request.getfixturevalue("small_problem")


@pytest.fixture
def digits_params_h50() -> Params:
    """The book's initial weights for a 64-50-10 net (the book's hidden size)."""
    return init_params(64, 50, 10, seed=3)


def numpy_trajectory(params: Params, data: Dataset, batches: np.ndarray, activation: str, snaps: set[int]):
    """numpy backprop along ``batches``: losses (steps,), the net, and float64 params after each n in ``snaps``."""
    net = TwoLayerNet.from_params(params, activation=activation)
    losses, kept = [], {}
    for i, idx in enumerate(batches):
        losses.append(net.train_step(data.x_train[idx], data.t_train[idx], LR))
        if i + 1 in snaps:
            kept[i + 1] = {k: v.copy() for k, v in net.params.items()}
    return np.array(losses), net, kept


# -- gradients, loss, accuracy ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_jax_grad_matches_numpy_backprop(problem: Problem, activation: str, dtype: str) -> None:
    # float64: the same formulas in float64 (EXACT_F64, 1e-12); float32 against the float64
    # backprop: float32 rounding through sums of up to a hundred products (LOW_PRECISION, 1e-4).
    params, x, t = problem
    expected = TwoLayerNet.from_params(params, activation=activation).gradient(x, t)
    got = JaxTwoLayerNet.from_params(params, activation=activation, dtype=dtype).gradient(x, t)
    assert all(g.dtype == np.float64 for g in got.values())
    tol = EXACT_F64 if dtype == "float64" else LOW_PRECISION
    assert_grads_close(got, expected, tol, f"jax.grad {dtype}", "numpy backprop float64")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_and_accuracy_match_numpy(problem: Problem, activation: str) -> None:
    params, x, t = problem
    np_net = TwoLayerNet.from_params(params, activation=activation)
    j_net = JaxTwoLayerNet.from_params(params, activation=activation)
    # The loss: the same float64 formula (EXACT_F64); accuracy: a count over N rows, exact.
    assert_grads_close({"loss": j_net.loss(x, t)}, {"loss": np_net.loss(x, t)}, EXACT_F64, "jax", "numpy")
    assert j_net.accuracy(x, t) == np_net.accuracy(x, t)


def test_export_is_a_float64_copy_and_the_net_copies_its_params(small_problem: Problem) -> None:
    params, x, t = small_problem
    before = {k: v.copy() for k, v in params.items()}
    net = JaxTwoLayerNet.from_params(params, dtype="float64")
    params["W1"] += 1.0  # the caller's array changes after the net was built
    exported = net.export_params()
    assert_grads_close(exported, before, Tolerance(rtol=1e-300, atol=1e-300), "export", "params as given")
    exported["W1"][:] = 0.0  # and changing the export does not reach the net
    assert_grads_close(net.export_params(), before, Tolerance(rtol=1e-300, atol=1e-300), "export", "params as given")
    assert JaxTwoLayerNet.from_params(before, dtype="float32").export_params()["W1"].dtype == np.float64


# -- training ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_train_step_follows_numpy_and_returns_a_device_scalar(digits: Dataset, digits_params_h50: Params, activation):
    np_net = TwoLayerNet.from_params(digits_params_h50, activation=activation)
    j_net = JaxTwoLayerNet.from_params(digits_params_h50, activation=activation)
    xd, td = j_net.to_device_batch(digits.x_train[:100], digits.t_train[:100])
    seconds = j_net.compile_step(xd, td)
    assert seconds > 0.0
    assert j_net.compile_step(xd, td) == seconds  # compiled once for these shapes: the same timing comes back
    for step in range(3):
        rows = slice(100 * step, 100 * (step + 1))
        xd, td = j_net.to_device_batch(digits.x_train[rows], digits.t_train[rows])
        value = j_net.train_step(xd, td, LR)
        assert isinstance(value, jax.Array) and value.shape == ()
        expected = np_net.train_step(digits.x_train[rows], digits.t_train[rows], LR)
        # Three float64 steps from the same weights: a few roundings apart (EXACT_F64).
        assert_grads_close({"loss": float(value)}, {"loss": expected}, EXACT_F64, "jax step", "numpy step")
    assert_grads_close(j_net.export_params(), np_net.params, EXACT_F64, "jax after 3 steps", "numpy after 3 steps")


@pytest.mark.parametrize(("activation", "chunk"), [("sigmoid", 250), ("sigmoid", 7), ("relu", 64)])
def test_trajectory_follows_numpy_backprop(digits: Dataset, digits_params_h50: Params, activation: str, chunk: int):
    steps = 300
    batches = batch_stream(digits.train_size, 100, steps, seed=0)  # (300, 100)
    eval_at = epoch_steps(digits.train_size, 100, steps)  # every 15 steps on digits
    snaps = {1, 100, 173}
    expected, np_net, np_snaps = numpy_trajectory(digits_params_h50, digits, batches, activation, snaps)
    net = JaxTwoLayerNet.from_params(digits_params_h50, activation=activation)
    x_tr, t_tr, x_te, t_te = digits.x_train, digits.t_train, digits.x_test, digits.t_test
    result = net.train_stream(x_tr, t_tr, x_te, t_te, batches, LR, eval_at, sorted(snaps), chunk=chunk)
    assert result.losses.shape == (steps,)
    assert_grads_close({"loss": result.losses}, {"loss": expected}, TRAJECTORY_F64, "jax", "numpy backprop")
    assert set(result.snapshots) == snaps | {steps}
    for n in sorted(snaps):
        assert_grads_close(result.snapshots[n], np_snaps[n], TRAJECTORY_F64, f"jax after {n}", f"numpy after {n}")
    assert_grads_close(result.snapshots[steps], np_net.params, TRAJECTORY_F64, "jax final", "numpy final")


def test_accuracy_is_recorded_after_the_update_of_each_eval_step(digits: Dataset, digits_params_h50: Params) -> None:
    # After step i's update: the accuracies equal numpy's on the weights after i + 1 steps.
    # Exact equality: the weights agree to ~1e-15, far inside every argmax margin here.
    steps, eval_at = 40, [0, 14, 39, 40, 1000]  # 40 and 1000 never come
    batches = batch_stream(digits.train_size, 100, steps, seed=5)
    wanted = {i + 1 for i in eval_at if i < steps}
    _, _, np_snaps = numpy_trajectory(digits_params_h50, digits, batches, "sigmoid", wanted)
    net = JaxTwoLayerNet.from_params(digits_params_h50)
    x_tr, t_tr, x_te, t_te = digits.x_train, digits.t_train, digits.x_test, digits.t_test
    result = net.train_stream(x_tr, t_tr, x_te, t_te, batches, LR, eval_at, chunk=16)
    assert result.eval_steps == [0, 14, 39]
    for row, i in enumerate(result.eval_steps):
        ref = TwoLayerNet.from_params(np_snaps[i + 1])
        assert result.train_acc[row] == ref.accuracy(x_tr, t_tr), f"train accuracy after step {i}"
        assert result.test_acc[row] == ref.accuracy(x_te, t_te), f"test accuracy after step {i}"


def test_snapshots_out_of_range_are_ignored_and_the_final_one_is_kept(digits: Dataset, digits_params_h50: Params):
    batches = batch_stream(digits.train_size, 100, 10, seed=1)
    net = JaxTwoLayerNet.from_params(digits_params_h50)
    data = (digits.x_train, digits.t_train, digits.x_test, digits.t_test)
    result = net.train_stream(*data, batches, LR, [], [0, 3, 10, 11, -2], chunk=4)
    assert sorted(result.snapshots) == [3, 10]
    assert result.eval_steps == [] and result.train_acc.shape == (0,)


def test_time_budget_stops_after_the_first_chunk_and_progress_is_reported(digits: Dataset, digits_params_h50: Params):
    batches = batch_stream(digits.train_size, 100, 50, seed=2)
    data = (digits.x_train, digits.t_train, digits.x_test, digits.t_test)
    seen: list[int] = []
    net = JaxTwoLayerNet.from_params(digits_params_h50)
    full = net.train_stream(*data, batches, LR, [0, 30], [12], chunk=8, on_chunk=seen.append)
    assert seen == [8, 12, 20, 28, 36, 44, 50]  # chunks end at the snapshot and at the last step
    net = JaxTwoLayerNet.from_params(digits_params_h50)
    cut = net.train_stream(*data, batches, LR, [0, 30], [12], chunk=8, time_budget_s=0.0)  # spent at once
    assert cut.losses.shape == (8,) and sorted(cut.snapshots) == [8] and cut.eval_steps == [0]
    assert_grads_close({"loss": cut.losses}, {"loss": full.losses[:8]}, TRAJECTORY_F64, "cut run", "full run")


# -- bad input --------------------------------------------------------------------------------------


def test_bad_configuration_and_input_raise_clear_errors(digits: Dataset, digits_params: Params) -> None:
    with pytest.raises(ConfigError, match="unknown device"):
        JaxTwoLayerNet.from_params(digits_params, device="tpu0")
    with pytest.raises(ConfigError, match="unknown dtype"):
        JaxTwoLayerNet.from_params(digits_params, dtype="float16")
    if "gpu" not in available_devices():
        with pytest.raises(ConfigError, match="no GPU"):
            JaxTwoLayerNet.from_params(digits_params, device="gpu")
    net = JaxTwoLayerNet.from_params(digits_params)
    with pytest.raises(ShapeError, match="64-10-10"):
        net.load_params(init_params(64, 11, 10))
    with pytest.raises(LabelError):
        net.gradient(digits.x_train[:4], np.array([0, 1, 2, 10]))
    data = (digits.x_train, digits.t_train, digits.x_test, digits.t_test)
    with pytest.raises(ShapeError, match="batch indices"):
        net.train_stream(*data, np.array([[0, digits.train_size]]), LR)
    with pytest.raises(ShapeError, match="steps >= 1"):
        net.train_stream(*data, np.zeros((0, 100), dtype=int), LR)
    with pytest.raises(ConfigError, match="chunk"):
        net.train_stream(*data, np.zeros((2, 3), dtype=int), LR, chunk=0)


# -- the harness runner -----------------------------------------------------------------------------


def test_runner_follows_numpy_and_reports_compile_time(digits: Dataset, digits_params_h50: Params) -> None:
    assert jax_available()
    r = JaxRunner(digits_params_h50, activation="sigmoid", dtype="float64", device="cpu")
    assert (r.info.label, r.info.family, r.info.kind, r.info.framework) == ("jax[cpu,float64]", "jax", "exact", "jax")
    assert r.compile_seconds is None
    x, t = digits.x_train[:100], digits.t_train[:100]
    expected = TwoLayerNet.from_params(digits_params_h50).gradient(x, t)
    assert_grads_close(r.gradient(x, t), expected, EXACT_F64, "runner gradient", "numpy backprop")
    call, sync = r.timed_gradient(x, t)
    assert sync is None and r.compile_seconds > 0.0
    out = call()
    assert_grads_close({k: np.asarray(v) for k, v in out.items()}, expected, EXACT_F64, "timed call", "backprop")
    steps = 30
    batches = batch_stream(digits.train_size, 100, steps, seed=4)
    losses, np_net, _ = numpy_trajectory(digits_params_h50, digits, batches, "sigmoid", set())
    rec = r.train(digits, batches, LR, epoch_steps(digits.train_size, 100, steps), [steps])
    assert r.compile_seconds > 0.0
    assert rec.eval_steps == [0, 15] and rec.train_acc.shape == (2,)
    assert_grads_close({"loss": rec.losses}, {"loss": losses}, TRAJECTORY_F64, "runner", "numpy backprop")
    assert_grads_close(rec.snapshots[steps], np_net.params, TRAJECTORY_F64, "runner final", "numpy final")
    assert JaxRunner(digits_params_h50, dtype="float32").info.label == "jax[cpu,float32]"


# -- the checker's adapter --------------------------------------------------------------------------


def net_loss(x: np.ndarray, t: np.ndarray, first_layer=None):
    """The book's net as a jax function of a params dict; ``first_layer(x, W1, b1)`` replaces x W1 + b1."""
    xj, tj = jnp.asarray(x), jnp.asarray(t)

    def fn(p: dict) -> jax.Array:
        a1 = xj @ p["W1"] + p["b1"] if first_layer is None else first_layer(xj, p["W1"], p["b1"])  # (N, H)
        z = jax.nn.sigmoid(a1) @ p["W2"] + p["b2"]  # (N, C)
        picked = jnp.take_along_axis(z, tj[:, None], axis=1)[:, 0]  # (N,)
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - picked)

    return fn


def planted_first_layer(entry: tuple[int, int]):
    """``x W1 + b1`` whose custom backward pass returns W1's gradient 1% too large at ``entry``."""
    scale = jnp.ones((64, 10)).at[entry].set(1.01)  # (D, H)

    @jax.custom_vjp
    def affine(x, w, b):
        return x @ w + b

    def forward(x, w, b):
        return x @ w + b, (x, w)

    def backward(saved, g):
        x, w = saved
        return g @ w.T, (x.T @ g) * scale.astype(w.dtype), g.sum(axis=0)  # dx, dW (D, H) with the bug, db

    affine.defvjp(forward, backward)
    return affine


@pytest.mark.parametrize("reference", ["complex", "richardson"])
def test_adapter_passes_a_correct_function(digits_batch, digits_params: Params, reference: str) -> None:
    x, t = digits_batch
    report = jax_problem(net_loss(x, t), digits_params).assert_ok(mode="full", reference=reference)
    assert report.dtype == "float64"
    jax_problem(net_loss(x, t), {k: v.astype(np.float32) for k, v in digits_params.items()}).assert_ok(
        mode="fast", reference="complex"
    )  # float32 grads against the float64 reference, float32 tolerance


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_adapter_catches_and_locates_a_planted_wrong_entry(digits_batch, digits_params: Params, mode: str) -> None:
    x, t = digits_batch
    g = np.asarray(jax.grad(net_loss(x, t))({k: jnp.asarray(v) for k, v in digits_params.items()})["W1"])
    rms = np.sqrt(np.mean(g**2))
    entry = np.unravel_index(np.argmin(np.abs(np.abs(g) - rms)), g.shape)  # a typical entry, not a zero one
    problem = jax_problem(net_loss(x, t, planted_first_layer(entry)), digits_params, jit=mode == "fast")
    report = problem.check(mode=mode, reference="complex")
    assert report.failed == ["W1"], report.table()
    (worst, *_) = report["W1"].worst
    assert worst.index == entry and report["W1"].mismatches == 1, report.table()
    assert worst.analytic == pytest.approx(1.01 * g[entry], rel=1e-12)


def test_adapter_refuses_the_complex_step_for_a_function_that_drops_it(digits_params: Params) -> None:
    def fn(p: dict) -> jax.Array:
        return jnp.sum(jnp.abs(p["W1"]) ** 2) + jnp.sum(jnp.abs(p["b2"]) ** 2)  # abs: real for complex input

    problem = jax_problem(fn, digits_params)
    with pytest.raises(TypeError, match="richardson"):
        problem.check(mode="fast", reference="complex")
    problem.assert_ok(mode="fast", reference="richardson")
