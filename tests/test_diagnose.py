"""Each diagnosis on a planted bug of a real backprop gradient; a correct gradient gets none."""

from __future__ import annotations

import numpy as np
import pytest

from dlfs_gradcheck.diagnose import Context, diagnose
from impl_numpy import TwoLayerNet, init_params
from impl_numpy.functions import softmax

N = 20  # batch size


@pytest.fixture(scope="module")
def case() -> tuple[dict, dict, dict]:
    """(params, exact gradient, book-loss gradient) of a 6-5-3 net (D != H, so W1 is not square)."""
    rng = np.random.default_rng(0)
    params = init_params(6, 5, 3, weight_init_std=0.5, seed=1)
    x, t = rng.random((N, 6)), rng.integers(0, 3, size=N)
    net = TwoLayerNet.from_params(params)
    exact = net.gradient(x, t)
    # The gradient of the book's loss (1e-7 inside the log), by float64 central differences
    # on the probabilities: d/dz of -mean(log(p_t + 1e-7)) = mean over rows of p ⊙ (q_t e - e_t) scaled.
    z = net.predict(x)
    p = softmax(z)
    pt = p[np.arange(N), t]
    w = pt / (pt + 1e-7)  # (N,) the book loss's weight on each row's gradient
    dz = (p - np.eye(3)[t]) * w[:, None] / N  # (N, C)
    h1 = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
    da = (dz @ params["W2"].T) * h1 * (1 - h1)
    book = {"W1": x.T @ da, "b1": da.sum(0), "W2": h1.T @ dz, "b2": dz.sum(0)}
    return params, exact, book


def pairs_of(analytic: dict, reference: dict) -> dict:
    return {k: (analytic[k], reference[k]) for k in reference}


def codes(found) -> list[tuple[str, tuple[str, ...]]]:
    return [(d.code, d.params) for d in found]


def test_correct_gradient_gets_none(case):
    _, exact, _ = case
    assert diagnose(pairs_of(exact, exact), failed=[], context=Context(batch_size=N)) == []
    # Even asked about every parameter, a gradient equal to the reference fits no pattern.
    assert diagnose(pairs_of(exact, exact), failed=list(exact), context=Context(batch_size=N)) == []


def test_missing_division_by_batch_size(case):
    _, exact, _ = case
    bad = {k: v * N for k, v in exact.items()}
    (d,) = diagnose(pairs_of(bad, exact), failed=list(exact), context=Context(batch_size=N))
    assert d.code == "scaled" and d.params == ("W1", "b1", "W2", "b2")
    assert "batch size" in d.message and "/ batch_size" in d.message


def test_doubled_division_by_batch_size(case):
    _, exact, _ = case
    bad = {k: v / N for k, v in exact.items()}
    (d,) = diagnose(pairs_of(bad, exact), failed=list(exact), context=Context(batch_size=N))
    assert d.code == "scaled" and "twice" in d.message


def test_sign_flip(case):
    _, exact, _ = case
    bad = {k: -v for k, v in exact.items()}
    assert codes(diagnose(pairs_of(bad, exact), failed=list(exact))) == [("sign", ("W1", "b1", "W2", "b2"))]


def test_transposed_parameter(case):
    _, exact, _ = case
    bad = dict(exact, W2=exact["W2"].T.copy())
    assert codes(diagnose(pairs_of(bad, exact), failed=["W2"])) == [("transpose", ("W2",))]


def test_zero_and_ignored(case):
    _, exact, _ = case
    bad = dict(exact, b1=np.zeros_like(exact["b1"]))
    found = diagnose(pairs_of(bad, exact), failed=["b1"])
    assert ("zero", ("b1",)) in codes(found)
    detached = dict(exact, W2=np.zeros_like(exact["W2"]))  # the reference sees no dependence on W2
    assert codes(diagnose(pairs_of(exact, detached), failed=["W2"])) == [("ignored", ("W2",))]


def test_hidden_layer_only(case):
    _, exact, _ = case
    rng = np.random.default_rng(3)
    bad = dict(exact, W1=exact["W1"] * rng.uniform(0.5, 1.5, size=exact["W1"].shape))  # a wrong mask: no one factor
    found = diagnose(pairs_of(bad, exact), failed=["W1"], context=Context(batch_size=N))
    assert codes(found) == [("hidden-only", ("W1",))]


def test_book_loss_is_small_and_smooth(case):
    _, exact, book = case
    failed = ["W2", "b2"]
    found = diagnose(pairs_of(exact, book), failed=failed, context=Context(batch_size=N, log_loss=True))
    assert codes(found) == [("small-smooth", ("W2", "b2"))]
    assert "1e-7" in found[0].message
    # The same numbers from a loss without a log (a generic check) never blame the book's 1e-7 ...
    (plain,) = diagnose(pairs_of(exact, book), failed=failed, context=Context(batch_size=N))
    assert plain.code == "small-smooth" and "1e-7" not in plain.message and "log" not in plain.message
    # ... and in float32 the same mismatch is named float32 rounding.
    (low,) = diagnose(pairs_of(exact, book), failed=failed, context=Context(batch_size=N, dtype="float32"))
    assert low.code == "float32-rounding" and "float32 rounding" in low.message and "1e-7" not in low.message


def test_only_the_failing_parameters_are_named(case):
    _, exact, _ = case
    bad = dict(exact, W2=exact["W2"] * 3.0)
    assert codes(diagnose(pairs_of(bad, exact), failed=["W2"])) == [("scaled", ("W2",))]
