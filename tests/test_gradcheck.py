"""The gradient checker (compare.gradcheck), and the project's nets checked with it.

Run: ``python -m pytest tests/test_gradcheck.py``.

Tolerances here are the checker's own defaults (documented in
``dlfs_gradcheck.core`` and ``dlfs_gradcheck.metrics.reference_tolerance``) unless a
test states one: the point of most tests is that the defaults separate correct
gradients from planted bugs. The 784-50-10 tests use batches of 8 and fast mode
(about 35 loss evaluations per check when nothing fails).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compare import registry
from compare.data import make_synthetic
from compare.gradcheck import (
    GradProblem,
    assert_gradients,
    check_gradients,
    numpy_net_problem,
    torch_module_problem,
    torch_net_problem,
)
from compare.gradcheck.command import main
from compare.gradcheck.command_options import build_parser
from compare.gradcheck.command_options import parse_args as gradcheck_args
from compare.registry.framework_info import Framework
from dlfs_gradcheck.errors import ConfigError, DtypeError, NonFiniteError, ShapeError
from dlfs_gradcheck.metrics import EXACT_F64, LOW_PRECISION, Tolerance, loosest, reference_tolerance
from dlfs_gradcheck.probe import NOISE_POINTS, setup_evals
from impl_numpy import init_params

EPS64 = float(np.finfo(np.float64).eps)
BOOK = (784, 50, 10)


def batch(sizes: tuple[int, int, int], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded synthetic batch: x (n, D) in [0, 1], t (n,) class indices."""
    d, _, c = sizes
    data = make_synthetic(n_train=n, n_test=1, input_size=d, n_classes=c, seed=seed)
    return data.x_train, data.t_train


# One BLAS / torch thread for the whole module: the checks make thousands of small calls,
# which a second thread on a busy 2-core machine mostly slows down (conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def book_point() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The book's 784-50-10 initial weights and a batch of 8."""
    x, t = batch(BOOK, 8)
    return init_params(*BOOK, seed=0), x, t


def with_bug(problem: GradProblem, bug: Callable[[dict[str, np.ndarray]], None]) -> GradProblem:
    """The same problem with ``bug`` applied (in place) to a copy of each gradient the code returns."""

    def grad_fn(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        grads = {k: np.array(v) for k, v in problem.grad_fn(params).items()}
        bug(grads)
        return grads

    return GradProblem(problem.loss_fn, grad_fn, problem.params, problem.label + " (planted bug)")


def typical_entry(g: np.ndarray) -> int:
    """Flat index of the entry whose size is closest to the gradient's RMS: neither large nor tiny."""
    rms = np.sqrt(np.mean(g**2))
    return int(np.argmin(np.abs(np.abs(g).reshape(-1) - rms)))


# -- planted bugs: fast mode at 784-50-10 -----------------------------------------------------------


def bug_one_entry(grads: dict[str, np.ndarray]) -> None:
    grads["W1"].flat[typical_entry(grads["W1"])] *= 1.01  # one entry of 39,200 off by 1%


def bug_transposed(grads: dict[str, np.ndarray]) -> None:
    grads["W2"] = np.ascontiguousarray(grads["W2"].T).reshape(grads["W2"].shape)  # (C, H) data read as (H, C)


def bug_missing_batch(grads: dict[str, np.ndarray]) -> None:
    for k in grads:
        grads[k] *= 8  # the batch size: (y - t) instead of (y - t) / N


def bug_sign(grads: dict[str, np.ndarray]) -> None:
    grads["W1"] *= -1  # a sign error in the activation's derivative flips everything below it
    grads["b1"] *= -1


def bug_zero_bias(grads: dict[str, np.ndarray]) -> None:
    grads["b1"][:] = 0


PLANTED = {
    "one W1 entry off by 1%": (bug_one_entry, {"W1"}),
    "W2 gradient transposed": (bug_transposed, {"W2"}),
    "missing 1/batch": (bug_missing_batch, {"W1", "b1", "W2", "b2"}),
    "sign error": (bug_sign, {"W1", "b1"}),
    "zeros for b1": (bug_zero_bias, {"b1"}),
}


@pytest.mark.parametrize("reference", ["central", "richardson", "complex"])
@pytest.mark.parametrize("name", list(PLANTED))
def test_fast_mode_catches_each_planted_bug(book_point, name: str, reference: str) -> None:
    params, x, t = book_point
    bug, broken = PLANTED[name]
    problem = numpy_net_problem(params, x, t, activation="sigmoid")
    report = with_bug(problem, bug).check(mode="fast", reference=reference)
    assert not report.ok, report.table()
    assert set(report.failed) == broken, report.table()
    for p in report.params:
        if p.name in broken:  # narrowed down to offending entries, each shown with both values
            assert p.mismatches >= 1 and p.worst, report.table()
            assert all(e.status == "mismatch" and e.abs_err > 0 for e in p.worst)


@pytest.mark.parametrize("name", [n for n in PLANTED if n != "one W1 entry off by 1%"])
def test_float32_fast_mode_catches_the_wrong_blocks(book_point, name: str) -> None:
    """In float32 the allowance for the code under test hides a 1% error in one entry, not a wrong block."""
    params, x, t = book_point
    bug, broken = PLANTED[name]
    problem = numpy_net_problem(params, x, t, activation="relu", dtype="float32")
    report = with_bug(problem, bug).check(mode="fast", reference="central")
    assert set(report.failed) == broken, report.table()


def test_fast_mode_names_the_one_wrong_entry(book_point) -> None:
    params, x, t = book_point
    problem = numpy_net_problem(params, x, t)
    g = problem.grad_fn(problem.params)["W1"]
    k = typical_entry(g)
    report = with_bug(problem, bug_one_entry).check(mode="fast", reference="central")
    w1 = report["W1"]
    assert w1.mismatches == 1, report.table()
    (entry,) = w1.worst
    assert entry.index == np.unravel_index(k, g.shape)
    assert entry.analytic == pytest.approx(1.01 * g.flat[k], rel=1e-12)
    assert entry.numerical == pytest.approx(g.flat[k], rel=1e-6)  # central differences: ~1e-7 here
    assert entry.abs_err == pytest.approx(0.01 * abs(g.flat[k]), rel=1e-4)
    assert entry.rel_err == pytest.approx(0.01 / 1.01, rel=1e-4)  # plain relative error, no floor
    assert entry.ratio == pytest.approx(1.01, rel=1e-6)  # analytic / numerical
    assert entry.times_allowed > 1
    assert f"[{entry.index[0]}, {entry.index[1]}]" in report.table()


def test_a_transposed_square_w2_is_caught() -> None:
    """With hidden == output the transposed gradient has W2's shape: a value check must catch it."""
    sizes = (784, 10, 10)
    x, t = batch(sizes, 8)
    problem = numpy_net_problem(init_params(*sizes, weight_init_std=0.1, seed=1), x, t)
    report = with_bug(problem, lambda g: g.update(W2=g["W2"].T.copy())).check(mode="fast", reference="complex")
    assert report.failed == ["W2"], report.table()


def test_fast_mode_costs_blocks_times_directions_evaluations() -> None:
    """Evaluations do not grow with the parameter count: the set-up's + blocks × directions × per-reference."""
    for sizes in [(20, 5, 3), BOOK]:
        x, t = batch(sizes, 4)
        problem = numpy_net_problem(init_params(*sizes, seed=0), x, t)
        for reference, per_direction in [("central", 2), ("richardson", 4), ("complex", 1)]:
            report = problem.check(mode="fast", reference=reference, directions=3)
            assert report.ok, report.table()
            # set-up: the point twice, then the noise estimate (8) or the complex-safety probes (4)
            assert report.n_loss_evals == setup_evals(reference) + 4 * 3 * per_direction
    assert (setup_evals("central"), setup_evals("complex")) == (2 + NOISE_POINTS, 6)


def test_fast_mode_directions_are_signed_gaussians_one_block_at_a_time() -> None:
    """Each evaluation moves one parameter only, along a vector with both signs, of unit-variance entries."""
    params = {"W": np.full((40, 30), 0.5), "b": np.full(30, -0.25)}
    moves: list[tuple[list[str], np.ndarray]] = []

    def loss(p: dict[str, np.ndarray]) -> float:
        moved = [k for k in p if not np.array_equal(p[k], params[k])]
        if moved:
            moves.append((moved, p[moved[0]] - params[moved[0]]))
        return quadratic(p)

    check_gradients(loss, quadratic_grad, params, mode="fast", reference="central", directions=3)
    noise, moves = moves[:NOISE_POINTS], moves[NOISE_POINTS:]  # the noise estimate moves everything a hair
    assert all(m == ["W", "b"] and np.abs(d).max() < 1e-7 for m, d in noise)
    assert [m for m, _ in moves] == [["W"]] * 6 + [["b"]] * 6  # ± each of 3 directions, block by block
    for _, delta in moves:
        v = delta.reshape(-1) / np.abs(delta).max()
        assert (v > 0).mean() == pytest.approx(0.5, abs=0.2) and (v < 0).mean() == pytest.approx(0.5, abs=0.2)
    h = EPS64 ** (1 / 3)
    w_directions = [d.reshape(-1) / h for _, d in moves[:6:2]]  # the + steps: u = v, since |x| <= 1
    assert all(np.std(u) == pytest.approx(1.0, abs=0.1) for u in w_directions)
    assert abs(np.corrcoef(w_directions[0], w_directions[1])[0, 1]) < 0.2  # independent directions


def test_fast_mode_guarantee_covers_the_planted_entry(book_point) -> None:
    """The quoted catch_norm (miss probability <= 1e-6) is below a 1% error on a typical W1 entry."""
    params, x, t = book_point
    problem = numpy_net_problem(params, x, t)
    g = problem.grad_fn(problem.params)["W1"]
    one_percent = 0.01 * abs(g.flat[typical_entry(g)])  # |x| <= 1 here, so the step scale s is 1
    for reference in ["central", "richardson", "complex"]:
        d = problem.check(mode="fast", reference=reference)["W1"].directions
        assert d is not None and d.catch_norm < one_percent, (reference, d, one_percent)
        assert d.catch_norm == pytest.approx(2 * math.sqrt(2 / math.pi) * d.tau * 1e6 ** (1 / 4))


@settings(max_examples=12)
@given(
    sizes=st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(2, 4)),
    n=st.integers(1, 5),
    std=st.floats(0.1, 2.0),
    seed=st.integers(0, 2**16),
    which=st.integers(0, 3),
    pick=st.floats(0, 1),
)
def test_fast_mode_finds_a_one_percent_error_anywhere(sizes, n, std, seed, which, pick) -> None:
    """Random small nets, a 1% error in a random entry that is not negligible (>= 1e-3 of its block's max)."""
    x, t = batch(sizes, n, seed)
    problem = numpy_net_problem(init_params(*sizes, weight_init_std=std, seed=seed), x, t, activation="sigmoid")
    name = ["W1", "b1", "W2", "b2"][which]
    g = problem.grad_fn(problem.params)[name].reshape(-1)
    candidates = np.flatnonzero(np.abs(g) >= 1e-3 * np.max(np.abs(g)))
    assume(candidates.size > 0)  # an all-zero block has nothing to get wrong by 1%
    k = int(candidates[min(int(pick * candidates.size), candidates.size - 1)])
    assert problem.check(mode="fast", reference="complex", seed=seed).ok

    def bug(grads: dict[str, np.ndarray]) -> None:
        grads[name].flat[k] *= 1.01

    report = with_bug(problem, bug).check(mode="fast", reference="complex", seed=seed)
    assert report.failed == [name], report.table()
    shape = problem.params[name].shape
    assert [np.ravel_multi_index(e.index, shape) for e in report[name].worst] == [k]


# -- correct implementations pass ----------------------------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("reference", ["central", "complex"])
def test_correct_float32_implementations_pass(book_point, activation: str, reference: str) -> None:
    params, x, t = book_point
    for problem in (
        numpy_net_problem(params, x, t, activation=activation, dtype="float32"),
        torch_net_problem(params, x, t, activation=activation, dtype="float32"),
    ):
        report = problem.assert_ok(mode="fast", reference=reference)
        assert report.dtype == "float32"
        assert report.tolerance == loosest(LOW_PRECISION, reference_tolerance(reference, report.loss, report.step))
    numpy_net_problem(params, x, t, activation=activation, dtype="float32").assert_ok(
        mode="full", reference=reference, max_entries=40
    )


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_the_project_nets_pass_in_float64(activation: str) -> None:
    """Every entry of a 12-6-4 net, numpy backprop and torch autograd, against all three references."""
    sizes = (12, 6, 4)
    x, t = batch(sizes, 6)
    params = init_params(*sizes, weight_init_std=0.5, seed=3)  # non-linear range of the activations
    for problem in (
        numpy_net_problem(params, x, t, activation=activation),
        torch_net_problem(params, x, t, activation=activation),
    ):
        for reference in ["central", "richardson", "complex"]:
            report = problem.assert_ok(mode="full", reference=reference)
            assert all(p.checked == p.size and not p.sampled for p in report.params)


def test_complex_step_agrees_with_backprop_to_1e_13(book_point) -> None:
    """rtol = 1e-13 (with the float64 atol 1e-15): measured ~4e-15 (sigmoid) and ~5e-14 (relu) at 784-50-10."""
    params, x, t = book_point
    for activation in ["sigmoid", "relu"]:
        problem = numpy_net_problem(params, x, t, activation=activation)
        report = problem.assert_ok(mode="full", reference="complex", rtol=1e-13, max_entries=150)
        assert report.max_rel <= 1e-13
        assert report.tolerance == Tolerance(rtol=1e-13, atol=EXACT_F64.atol)


def test_the_books_1e7_loss_mismatch_is_detected_in_float64_full_mode() -> None:
    """Numerical gradient of the book's loss (with 1e-7) vs backprop (which drops it): W2 and b2 differ by ~6e-8."""
    sizes = (64, 10, 10)
    x, t = batch(sizes, 50)
    params = init_params(*sizes, seed=0)
    book = numpy_net_problem(params, x, t, loss="book").check(mode="full", reference="central")
    assert {"W2", "b2"} <= set(book.failed), book.table()
    assert book["b2"].max_abs > 10 * book.tolerance.atol
    numpy_net_problem(params, x, t, loss="exact").assert_ok(mode="full", reference="central")


# -- kinks ---------------------------------------------------------------------------------------


def relu_sum(params: dict[str, np.ndarray]) -> float:
    """``sum(relu(w)) + sum(w²)/2``: a kink at 0 in every entry."""
    w = params["w"]
    return np.sum(np.where(w.real > 0, w, 0)) + np.sum(w * w) / 2


def relu_sum_grad(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    w = params["w"]
    return {"w": (w > 0).astype(w.dtype) + w}


def test_entries_straddling_a_kink_are_counted_not_failed() -> None:
    h = EPS64 ** (1 / 3)
    w = np.array([0.3 * h, -0.6 * h, 0.5, -0.5, 0.1 * h])  # three entries within one step of the kink at 0
    report = assert_gradients(relu_sum, relu_sum_grad, {"w": w}, mode="full", reference="central")
    assert report["w"].kinks == 3
    assert sorted(e.index for e in report["w"].kink_entries) == [(0,), (1,), (4,)]
    assert report.to_dict()["params"][0]["kinks"] == 3
    assert "kink" in report.table()
    complex_step = assert_gradients(relu_sum, relu_sum_grad, {"w": w}, mode="full", reference="complex")
    assert complex_step["w"].kinks == 0  # evaluated at the real point: nothing straddles


def test_directions_that_straddle_a_kink_are_verified_with_smaller_steps() -> None:
    h = EPS64 ** (1 / 3)
    w = np.array([0.05 * h, 0.5, -0.5])  # the kink 0.05 h away: most directions' ±h steps cross it
    report = assert_gradients(relu_sum, relu_sum_grad, {"w": w}, mode="fast", reference="central", directions=6)
    d = report["w"].directions
    assert d is not None and d.kinks >= 4 and d.unverified == 0, report.table()
    assert math.isfinite(d.catch_norm)
    broken = check_gradients(relu_sum, lambda p: {"w": 0.9 * relu_sum_grad(p)["w"]}, {"w": w}, mode="fast")
    assert broken.failed == ["w"], broken.table()


def test_a_wrong_value_at_a_kink_still_fails() -> None:
    h = EPS64 ** (1 / 3)
    w = np.array([0.3 * h, 0.5])

    def wrong(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = relu_sum_grad(params)
        g["w"][0] = 0.5  # the true slope is 1 + w (right of the kink) or w (left): neither
        return g

    report = check_gradients(relu_sum, wrong, {"w": w}, mode="full", reference="central")
    assert report["w"].mismatches == 1 and report["w"].kinks == 0, report.table()


def test_high_curvature_is_not_mistaken_for_a_kink() -> None:
    """exp(10 w) has h f'' ~ 6e-4 f: the one-sided slopes differ, but a small error must still fail."""

    def loss(params: dict[str, np.ndarray]) -> float:
        return np.sum(np.exp(10 * params["w"]))

    def grad(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"w": 10 * np.exp(10 * params["w"]) * (1 + 1e-6)}  # 1e-6 relative: ~300× the tolerance

    report = check_gradients(loss, grad, {"w": np.array([0.1, 0.2, 0.3])}, mode="full", reference="central")
    assert report["w"].mismatches == 3 and report["w"].kinks == 0, report.table()


def test_relu_net_with_hidden_inputs_at_the_kink() -> None:
    """Pre-activations placed within one step of 0: full and fast mode pass and count kinks."""
    sizes = (6, 4, 3)
    x, t = batch(sizes, 5)
    params = init_params(*sizes, weight_init_std=0.5, seed=2)
    a = x @ params["W1"]  # (N, H)
    params["b1"] = -a[0] + 1e-9  # sample 0's pre-activations all sit 1e-9 above the kink
    problem = numpy_net_problem(params, x, t, activation="relu")
    full = problem.assert_ok(mode="full", reference="central")
    assert full["b1"].kinks >= 1 and full["W2"].kinks == 0
    fast = problem.assert_ok(mode="fast", reference="central")
    assert fast["b1"].directions is not None and fast["b1"].directions.kinks >= 1
    assert problem.assert_ok(mode="fast", reference="complex")["b1"].kinks == 0
    broken = with_bug(problem, lambda g: g["b1"].__imul__(1.1)).check(mode="full", reference="central")
    assert "b1" in broken.failed, broken.table()


# -- dtypes, steps, copies --------------------------------------------------------------------------


def test_reference_in_float64_code_under_test_in_its_dtype(book_point) -> None:
    params, x, t = book_point
    base = numpy_net_problem(params, x, t, dtype="float32")
    seen: dict[str, set] = {"loss": set(), "grad": set()}

    def loss_fn(p: dict[str, np.ndarray]) -> float:
        seen["loss"].update(v.dtype for v in p.values())
        return base.loss_fn(p)

    def grad_fn(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seen["grad"].update(v.dtype for v in p.values())
        return base.grad_fn(p)

    check_gradients(loss_fn, grad_fn, base.params, mode="fast", reference="central")
    check_gradients(loss_fn, grad_fn, base.params, mode="fast", reference="complex")
    assert seen == {"loss": {np.dtype(np.float64), np.dtype(np.complex128)}, "grad": {np.dtype(np.float32)}}


def test_default_step_follows_the_scale_of_each_entry() -> None:
    points = []

    def loss(params: dict[str, np.ndarray]) -> float:
        points.append(params["w"].copy())
        return float(np.sum(params["w"] ** 3))

    w = np.array([0.5, -100.0])
    check_gradients(loss, lambda p: {"w": 3 * p["w"] ** 2}, {"w": w}, mode="full", reference="central")
    skip = setup_evals("central")  # w itself twice, then the noise estimate's points a hair away
    steps = sorted({float(f"{abs(p - w).max():.6e}") for p in points[skip:]})
    h = EPS64 ** (1 / 3)
    assert steps == pytest.approx([h, 100 * h], rel=1e-5)
    points.clear()
    check_gradients(loss, lambda p: {"w": 3 * p["w"] ** 2}, {"w": w}, mode="full", reference="central", eps=1e-3)
    assert sorted({float(f"{abs(p - w).max():.6e}") for p in points[skip:]}) == pytest.approx([1e-3, 0.1], rel=1e-5)


def test_the_callers_params_are_never_modified(book_point) -> None:
    params, x, t = book_point
    before = {k: v.copy() for k, v in params.items()}
    problem = numpy_net_problem(params, x, t)
    theirs = problem.params

    def grad_fn(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = problem.grad_fn(p)
        for v in p.values():
            v += 1.0  # code under test that scribbles on its input
        return g

    snapshot = {k: v.copy() for k, v in theirs.items()}
    check_gradients(problem.loss_fn, grad_fn, theirs, mode="fast", reference="complex")
    assert all(np.array_equal(theirs[k], snapshot[k]) for k in theirs)
    assert all(np.array_equal(params[k], before[k]) for k in params)


def test_a_loss_that_writes_to_its_argument_is_refused() -> None:
    def loss(p: dict[str, np.ndarray]) -> float:
        value = float(np.sum(p["w"] ** 2))
        p["w"][0] = 7.0
        return value

    with pytest.raises(ShapeError, match="modified its argument.*w"):
        check_gradients(loss, lambda p: {"w": 2 * p["w"]}, {"w": np.ones(3)})


# -- bad input -----------------------------------------------------------------------------------


def quadratic(p: dict[str, np.ndarray]) -> float:
    return float(sum(np.sum(v * v) for v in p.values()))


def quadratic_grad(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: 2 * v for k, v in p.items()}


GOOD = {"W": np.ones((2, 3)), "b": np.zeros(3)}


@pytest.mark.parametrize(
    ("params", "grad_fn", "error", "pattern"),
    [
        (GOOD, lambda p: {"W": 2 * p["W"]}, ShapeError, r"no gradient for \['b'\]"),
        (GOOD, lambda p: {**quadratic_grad(p), "c": np.ones(1)}, ShapeError, r"unknown parameters \['c'\]"),
        (GOOD, lambda p: {"W": 2 * p["W"].T, "b": p["b"]}, ShapeError, r"gradient of W has shape \(3, 2\)"),
        ({"W": np.array([[1.0, np.nan]])}, quadratic_grad, NonFiniteError, "parameter W contains 1 NaN"),
        ({"W": np.array([1.0, np.inf])}, quadratic_grad, NonFiniteError, "parameter W"),
        (GOOD, lambda p: {"W": 2 * p["W"], "b": np.full(3, np.nan)}, NonFiniteError, "gradient of b contains 3 NaN"),
        ({"W": np.arange(3)}, quadratic_grad, DtypeError, "parameter W has dtype int64"),
        ({"W": np.ones(3, dtype=complex)}, quadratic_grad, DtypeError, "parameter W has dtype complex128"),
        ({"W": np.ones(3, dtype=np.float16)}, quadratic_grad, DtypeError, "parameter W has dtype float16"),
        (GOOD, lambda p: {"W": 2 * p["W"], "b": np.zeros(3, dtype=int)}, DtypeError, "gradient of b has dtype"),
        (GOOD, lambda p: [2 * p["W"]], ShapeError, "grad_fn must return a dict"),
        ({}, quadratic_grad, ShapeError, "non-empty dict"),
    ],
)
def test_bad_input_names_the_parameter(params, grad_fn, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        check_gradients(quadratic, grad_fn, params)


def test_bad_losses_and_options() -> None:
    p = {"w": np.ones(3)}
    with pytest.raises(DtypeError, match="float32"):
        check_gradients(lambda q: np.float32(quadratic(q)), quadratic_grad, p)
    with pytest.raises(ShapeError, match="scalar"):
        check_gradients(lambda q: q["w"] * 2, quadratic_grad, p)
    with pytest.raises(NonFiniteError, match="loss_fn returned nan"):
        check_gradients(lambda q: float("nan"), quadratic_grad, p)
    with pytest.raises(DtypeError, match="complex-safe"):  # float() drops the imaginary part
        check_gradients(lambda q: float(np.sum(q["w"].real ** 2)), quadratic_grad, p, reference="complex")
    with pytest.raises(DtypeError, match="complex-safe"):  # raises on complex input
        check_gradients(lambda q: np.sum(np.floor(q["w"]) + q["w"] ** 2), quadratic_grad, p, reference="complex")
    for non_analytic in (
        lambda q: np.sum(np.conj(q["w"]) * q["w"] ** 2),
        lambda q: np.sum(np.abs(q["w"]) ** 2 * q["w"]),
    ):
        # complex all the way, yet the complex step measures another function: said so, never "× 3"
        with pytest.raises(DtypeError, match="non-analytic"):
            check_gradients(
                non_analytic, lambda q: {"w": 3 * q["w"] ** 2}, {"w": np.linspace(-1, 1, 6)}, reference="complex"
            )
    for option in [{"mode": "slow"}, {"reference": "forward"}, {"eps": 0.0}, {"rtol": -1.0}, {"directions": 0}]:
        with pytest.raises(ConfigError):
            check_gradients(quadratic, quadratic_grad, p, **option)


def test_a_nan_loss_at_a_shifted_point_raises_non_finite_error() -> None:
    def loss(p: dict[str, np.ndarray]) -> float:
        with np.errstate(invalid="ignore"):
            return float(np.sum(np.log(p["w"])))  # w[0] - h < 0: nan on one side

    for mode in ("full", "fast"):
        with pytest.raises(NonFiniteError, match=r"loss_fn returned nan with .*w"):
            check_gradients(loss, lambda p: {"w": 1 / p["w"]}, {"w": np.array([1e-6, 1.0])}, mode=mode)


def test_a_ragged_gradient_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="gradient of w is not an array of one shape"):
        check_gradients(quadratic, lambda p: {"w": [[1.0, 2.0], [3.0]]}, {"w": np.ones(3)})


# -- report and JSON -----------------------------------------------------------------------------


def test_to_dict_is_json_and_matches_the_report(book_point) -> None:
    params, x, t = book_point
    report = with_bug(numpy_net_problem(params, x, t), bug_zero_bias).check(mode="fast", reference="complex")
    doc = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert doc["ok"] is False and doc["mode"] == "fast" and doc["reference"] == "complex"
    assert [p["name"] for p in doc["params"]] == ["W1", "b1", "W2", "b2"]
    b1 = doc["params"][1]
    assert b1["ok"] is False and b1["worst"][0]["analytic"] == 0.0 and b1["worst"][0]["status"] == "mismatch"
    assert b1["directions"]["failed"] >= 1 and doc["params"][0]["directions"]["failed"] == 0
    with pytest.raises(AssertionError, match=r"b1 .*FAIL"):
        with_bug(numpy_net_problem(params, x, t), bug_zero_bias).assert_ok(mode="fast", reference="complex")


def test_full_mode_sample_is_seeded_and_documented(book_point) -> None:
    params, x, t = book_point
    problem = numpy_net_problem(params, x, t)
    a = problem.check(mode="full", reference="complex", max_entries=20, seed=5)
    b = problem.check(mode="full", reference="complex", max_entries=20, seed=5)
    assert [e.index for e in a["W1"].worst] == [e.index for e in b["W1"].worst]
    assert a["W1"].sampled and a["W1"].checked == 20 and not a["b2"].sampled and a["b2"].checked == 10
    assert "sample" in a.table()


# -- torch modules -------------------------------------------------------------------------------


def small_module() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    return module, torch.randn(7, 5), torch.randn(7, 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_any_torch_module_with_a_loss(dtype: torch.dtype) -> None:
    module, x, y = small_module()
    module = module.to(dtype)
    before = [p.detach().clone() for p in module.parameters()]
    problem = torch_module_problem(module, torch.nn.functional.mse_loss, x.to(dtype), y.to(dtype))
    assert list(problem.params) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    report = problem.assert_ok(mode="full", reference="richardson")
    assert report.dtype == str(dtype).removeprefix("torch.")
    problem.assert_ok(mode="fast", reference="central")
    assert all(torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))
    broken = with_bug(problem, lambda g: g["2.bias"].__imul__(2.0)).check(mode="fast", reference="central")
    assert broken.failed == ["2.bias"], broken.table()
    with pytest.raises(DtypeError, match="complex-safe"):
        problem.check(reference="complex")


# -- command line --------------------------------------------------------------------------------

SMALL = ["--sizes", "12,5,3", "--batch", "4"]


def test_cli_passes_and_writes_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "gc.json"
    status = main([*SMALL, "--mode", "fast", "--reference", "complex", "--dtype", "float32", "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "gradcheck: ok" in text and "numpy" in text and "torch" in text
    doc = json.loads(out.read_text())
    assert doc["ok"] is True and doc["config"]["dtype"] == "float32"
    assert len(doc["reports"]) >= 2 and {r["dtype"] for r in doc["reports"]} == {"float32"}  # numpy's, torch's, ...
    assert [p.name for p in tmp_path.iterdir()] == ["gc.json"]  # no temporary file left behind


def test_cli_exits_1_when_a_check_fails(tmp_path: Path, capsys) -> None:
    out = tmp_path / "book.json"
    args = ["--sizes", "30,10,10", "--batch", "20", "--impl", "numpy", "--loss", "book", "--max-entries", "0"]
    status = main([*args, "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 1
    assert "FAIL" in text and "mismatch" in text
    assert json.loads(out.read_text())["ok"] is False


@pytest.mark.parametrize(
    "args",
    [
        ["--sizes", "784,50"],
        ["--batch", "0"],
        ["--mode", "slow"],
        ["--reference", "forward"],
        ["--impl", "jax"],
        ["--loss", "book"],
        ["--eps", "nan"],
        ["--json", "/nonexistent-dir/report.json"],
        ["--bogus"],
    ],
)
def test_cli_bad_usage_is_one_line_and_exit_2(args: list[str], capsys) -> None:
    assert main([*SMALL, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_registered_framework_with_a_checker_problem_is_an_impl(monkeypatch, capsys) -> None:
    """A framework registered with a checker problem is an --impl name, checked by default after the others;
    the losses it does not take are refused, naming the nets that take them."""

    def problem(params, x, t, options):  # numpy's own problem under the new framework's label
        made, label = registry.NUMPY.checker_problem(params, x, t, options)
        return made, f"fake ({label})"

    fake = Framework(name="fake", title="a test's framework", group="fakes", checker_problem=problem)
    monkeypatch.setattr(registry, "FRAMEWORKS", (*registry.FRAMEWORKS, fake))
    assert gradcheck_args(SMALL).impls[:2] == ("numpy", "torch") and gradcheck_args(SMALL).impls[-1] == "fake"
    assert gradcheck_args([*SMALL, "--impl", "fake,numpy"]).impls == ("numpy", "fake")
    assert ", fake, or your own class" in " ".join(build_parser().format_help().split())
    assert main([*SMALL, "--impl", "fake", "--mode", "fast"]) == 0
    out = capsys.readouterr().out
    assert "fake (numpy sigmoid float64)" in out and "torch" not in out, out
    assert main([*SMALL, "--impl", "fake", "--loss", "book"]) == 2
    assert capsys.readouterr().err == "error: --loss book applies to the numpy net only; add --impl numpy\n"


def test_python_dash_m_runs_from_the_shell() -> None:
    cmd = [sys.executable, "-m", "compare.gradcheck", *SMALL, "--mode", "fast", "--activation", "relu", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "gradcheck: ok"


@pytest.mark.parametrize(("reference", "eps"), [("central", 0.1), ("central", 1e-30), ("richardson", 1.0)])
def test_a_step_that_would_pass_a_wrong_gradient_is_refused(reference: str, eps: float) -> None:
    # With eps = 0.1 the central reference's truncation bound is 100 h² = 1 (100 %): a doubled
    # gradient would pass. With eps = 1e-30 its rounding bound ε|L|/h is astronomically large.
    x, t = batch((6, 4, 3), 5)
    params = init_params(6, 4, 3, weight_init_std=0.5, seed=1)
    problem = numpy_net_problem(params, x, t)

    def doubled(p: dict) -> dict:
        return {k: 2 * v for k, v in problem.grad_fn(p).items()}

    with pytest.raises(ConfigError, match="unusable"):
        check_gradients(problem.loss_fn, doubled, params, reference=reference, eps=eps)
