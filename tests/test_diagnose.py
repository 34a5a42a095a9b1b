"""Each diagnosis on a planted bug of a real backprop gradient; a correct gradient gets none."""

from __future__ import annotations

import numpy as np
import pytest

from dlfs_gradcheck.diagnose import Context, diagnose, factor_text
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


def test_multiplied_instead_of_divided_by_batch_size(case):
    _, exact, _ = case
    bad = {k: v * N * N for k, v in exact.items()}
    (d,) = diagnose(pairs_of(bad, exact), failed=list(exact), context=Context(batch_size=N))
    assert d.code == "scaled" and "batch size squared: multiplied by the batch size where it should divide" in d.message


def test_divided_by_the_input_size_instead_of_the_batch_size(case):
    _, exact, _ = case
    bad = {k: v * N / 6 for k, v in exact.items()}  # D = 6: x.shape[1] where x.shape[0] belongs
    (d,) = diagnose(pairs_of(bad, exact), failed=list(exact), context=Context(batch_size=N, features=6))
    assert d.code == "scaled" and "divided by x.shape[1] where x.shape[0] (the batch) belongs" in d.message
    (plain,) = diagnose(pairs_of(bad, exact), failed=list(exact), context=Context(batch_size=N))
    assert "x.shape" not in plain.message  # the input size unknown: no guess


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
    mask = rng.uniform(
        0.5, 1.5, size=exact["b1"].shape
    )  # a wrong hidden backward: each unit's dout off by its own factor
    bad = dict(exact, W1=exact["W1"] * mask, b1=exact["b1"] * mask)
    found = diagnose(pairs_of(bad, exact), failed=["W1", "b1"], context=Context(batch_size=N))
    assert codes(found) == [("hidden-only", ("W1", "b1"))]
    assert "dout @ W2.T" in found[0].message


@pytest.mark.parametrize(("name", "line"), [("W1", "x.T @ dout"), ("b1", "summed over the batch"), ("W2", "x.T")])
def test_one_parameter_of_a_layer_alone_is_its_own_line(case, name, line):
    """Its partner, computed from the same upstream gradient, agrees: the activation cannot be the cause."""
    _, exact, _ = case
    rng = np.random.default_rng(3)
    bad = dict(exact, **{name: exact[name] * rng.uniform(0.5, 1.5, size=exact[name].shape)})
    found = diagnose(pairs_of(bad, exact), failed=[name], context=Context(batch_size=N))
    assert codes(found) == [("own-line", (name,))]
    assert line in found[0].message and "activation" not in found[0].message


def test_a_parameter_with_a_diagnosis_of_its_own_gets_no_location(case):
    _, exact, _ = case
    detached = dict(exact, b1=np.zeros_like(exact["b1"]))  # the loss does not read b1
    assert codes(diagnose(pairs_of(exact, detached), failed=["b1"])) == [("ignored", ("b1",))]


@pytest.mark.parametrize("k", [1.000001, 0.9999993, 1.0001, 1 / 1.001])  # below 1e-5 and up to 1e-3 off
def test_a_factor_just_off_one_is_named_as_a_factor_not_a_different_function(case, k):
    """Below 1e-5 of the norm a mismatch is "small"; when one constant explains it, that constant is named."""
    _, exact, _ = case
    bad = {n: v * k for n, v in exact.items()}
    found = diagnose(pairs_of(bad, exact), failed=list(exact), context=Context(batch_size=N, log_loss=True))
    assert codes(found) == [("scaled", tuple(exact))]
    assert f"× {factor_text(k)}" in found[0].message and "1e-7" not in found[0].message


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


def test_the_book_loss_gap_when_known_names_the_1e7_only_for_that_gap(case):
    """With the 1e-7's own effect known (the book's net), the mismatch must be that effect to be named so."""
    _, exact, book = case
    gap = {k: book[k] - exact[k] for k in exact}
    context = Context(batch_size=N, log_loss=True, log_gap=gap)
    (found,) = diagnose(pairs_of(exact, book), failed=list(exact), context=context)  # the reference has the 1e-7
    assert found.code == "small-smooth" and "exactly the book's 1e-7" in found.message
    (found,) = diagnose(pairs_of(book, exact), failed=list(exact), context=context)  # the analytic side has it
    assert "exactly the book's 1e-7" in found.message
    # Another smooth mismatch of the same size (the gap on W2 only, doubled elsewhere) is not the 1e-7.
    other = {k: exact[k] + (gap[k] if k == "W2" else 2 * gap[k]) for k in exact}
    (found,) = diagnose(pairs_of(other, exact), failed=list(exact), context=context)
    assert found.code == "small-smooth" and "not the book's 1e-7" in found.message


def test_patternless_float32_rounding_in_a_float64_gradient_is_named_as_such(case):
    """A float32 step inside a float64 backward pass: a ~1e-8 mismatch with no pattern, never the 1e-7."""
    _, exact, book = case
    rounded = dict(exact, W1=exact["W1"].astype(np.float32).astype(np.float64))
    assert not np.array_equal(rounded["W1"], exact["W1"])
    found, *located = diagnose(pairs_of(rounded, exact), failed=["W1"], context=Context(batch_size=N, log_loss=True))
    assert found.code == "float32-rounding" and "a float32 array inside it" in found.message
    assert [d.code for d in located] == ["own-line"]  # b1 agrees: W1's own line
    assert "1e-7" not in found.message
    # The book's 1e-7 is as small but lies along the gradient: not rounding.
    found, *_ = diagnose(pairs_of(exact, book), failed=["W1"], context=Context(batch_size=N, log_loss=True))
    assert found.code == "small-smooth"


def test_only_the_failing_parameters_are_named(case):
    _, exact, _ = case
    bad = dict(exact, W2=exact["W2"] * 3.0)
    # The factor, and where it must sit: b2 agrees, so in W2's own line.
    assert codes(diagnose(pairs_of(bad, exact), failed=["W2"])) == [("scaled", ("W2",)), ("own-line", ("W2",))]
