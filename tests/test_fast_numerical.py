"""The fast numerical gradient computes the book loop's central differences, with less work.

Both evaluate (L(θ + h e_k) - L(θ - h e_k)) / 2h for every parameter with the same h
and the same loss, so their truncation errors are identical and only rounding
separates them. dlfs_gradcheck.metrics.same_differences_tolerance states the check:
1e-9 relative above the book loop's own rounding floor 10 ε max(1, |L|) / h.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_grads_close
from hypothesis import given
from hypothesis import strategies as st

from dlfs_gradcheck.metrics import numerical_tolerance, same_differences_tolerance
from impl_numpy import TwoLayerNet, init_params
from impl_numpy import fast_numerical as fn


def _book_and_fast(params, x, t, activation: str, h: float = 1e-4):
    net = TwoLayerNet.from_params(params, activation=activation)
    return net.loss(x, t), net.numerical_gradient(x, t, h=h), fn.fast_numerical_gradient(params, x, t, activation, h)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_fast_equals_the_book_loop_on_digits(digits_batch, activation: str) -> None:
    x, t = digits_batch
    params = init_params(64, 10, 10, seed=3)
    loss, book, fast = _book_and_fast(params, x, t, activation)
    assert_grads_close(fast, book, same_differences_tolerance(loss, 1e-4), "fast", "book loop")


@given(
    d=st.integers(1, 6),
    hidden=st.integers(1, 5),
    c=st.integers(2, 4),
    n=st.integers(1, 7),
    activation=st.sampled_from(["sigmoid", "relu"]),
    seed=st.integers(0, 2**16),
)
def test_fast_equals_the_book_loop_on_random_small_nets(d, hidden, c, n, activation, seed) -> None:
    # Large weights and biases (std 1) put units in their non-linear range and ReLU
    # pre-activations near 0, where the ±h steps cross the kink: both methods must cross it alike.
    rng = np.random.default_rng(seed)
    params = init_params(d, hidden, c, weight_init_std=1.0, seed=seed)
    params["b1"] = rng.normal(size=hidden)
    params["b2"] = rng.normal(size=c)
    x = rng.normal(size=(n, d))
    t = rng.integers(0, c, size=n)
    loss, book, fast = _book_and_fast(params, x, t, activation)
    assert_grads_close(fast, book, same_differences_tolerance(loss, 1e-4), "fast", "book loop")


def test_the_direct_sum_fallback_gives_the_same_differences(monkeypatch: pytest.MonkeyPatch) -> None:
    # Inputs of size ~1000 and weights of std 3 make |u W2| ~ 1 (u = h x for ReLU), too large
    # for the truncated series (no K <= 12 bounds its remainder by 1e-20): the direct sum over
    # classes is used instead.
    rng = np.random.default_rng(5)
    params = init_params(4, 3, 3, weight_init_std=3.0, seed=5)
    x = 1000 * rng.normal(size=(6, 4))
    t = rng.integers(0, 3, size=6)
    calls = []
    original = fn._direct_class_sum

    def spy(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(fn, "_direct_class_sum", spy)
    loss, book, fast = _book_and_fast(params, x, t, "relu")
    assert calls, "the fallback was not exercised"
    assert_grads_close(fast, book, same_differences_tolerance(loss, 1e-4), "fast", "book loop")


def test_chunking_does_not_change_the_result(digits_batch) -> None:
    # One W1 row per chunk versus all rows at once. Each chunk picks its own number of series
    # terms (remainder <= 1e-20 either way), so only rounding may differ: a few ulps.
    x, t = digits_batch
    params = init_params(64, 10, 10, seed=1)
    tiny = fn.fast_numerical_gradient(params, x, t, "sigmoid", max_bytes=1)
    whole = fn.fast_numerical_gradient(params, x, t, "sigmoid", max_bytes=2**30)
    for k in tiny:
        np.testing.assert_allclose(tiny[k], whole[k], rtol=1e-12, atol=1e-18)


def test_fast_is_close_to_backprop_like_any_central_difference(digits_batch) -> None:
    x, t = digits_batch
    params = init_params(64, 10, 10, seed=2)
    net = TwoLayerNet.from_params(params)
    fast = net.numerical_gradient_fast(x, t)
    assert_grads_close(fast, net.gradient(x, t), numerical_tolerance(net.loss(x, t), 1e-4), "fast", "backprop")


def test_params_are_not_modified(digits_batch) -> None:
    x, t = digits_batch
    params = init_params(64, 10, 10, seed=2)
    before = {k: v.copy() for k, v in params.items()}
    fn.fast_numerical_gradient(params, x, t, "relu")
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_series_terms_bound() -> None:
    # The chosen K bounds the remainder r^(K+1)/(K+1)! e^r by SERIES_TOL, and K-1 would not.
    for r in (1e-8, 1e-6, 1e-4, 1e-3, 1e-2):
        k = fn._series_terms(r)
        assert k is not None
        assert r ** (k + 1) / math.factorial(k + 1) * math.exp(r) <= fn.SERIES_TOL
        if k > 1:
            assert r**k / math.factorial(k) * math.exp(r) > fn.SERIES_TOL
    assert fn._series_terms(0.0) == 1
    assert fn._series_terms(10.0) is None
