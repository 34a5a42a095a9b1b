"""Activation and loss functions against their definitions (Deep Learning from Scratch, ch. 3-4).

Run: ``python -m pytest tests/test_functions.py``. Each reference below is written
out from the mathematical definition, not taken from the code under test.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import assert_grads_close
from hypothesis import given
from hypothesis import strategies as st

from dlfs_gradcheck.metrics import Tolerance
from impl_numpy import cross_entropy, cross_entropy_error, relu, sigmoid, softmax

EPS = float(np.finfo(np.float64).eps)  # 2.2e-16
COMPLEX_STEP = 1e-20  # Im f(x + ih) / h has no subtractive cancellation, so h can be tiny


def float_arrays(low: float, high: float, max_dims: int = 3) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of 1 to ``max_dims`` dimensions (sides 1..4) with values in [low, high]."""
    return hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=4),
        elements=st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


@st.composite
def logits_and_labels(draw: st.DrawFn, bound: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, C) with N in 1..5, C in 2..5, values in [-bound, bound], and class indices (N,)."""
    n = draw(st.integers(1, 5))
    c = draw(st.integers(2, 5))
    z = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-bound, bound)))
    t = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.intp)
    return z, t


def softmax_by_definition(z: np.ndarray) -> np.ndarray:
    """``exp(z) / sum(exp(z))`` row by row, without the max shift (safe for |z| <= 30)."""
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)


def one_hot(t: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot rows (N, C) from class indices (N,)."""
    out = np.zeros((t.shape[0], n_classes))
    out[np.arange(t.shape[0]), t] = 1.0
    return out


@contextmanager
def no_float_warnings() -> Iterator[None]:
    """Any warning is an error, and numpy's overflow / invalid / divide-by-zero raise."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        yield


# -- sigmoid --------------------------------------------------------------------------


@given(float_arrays(-30.0, 30.0))
def test_sigmoid_matches_definition_in_safe_range(a: np.ndarray) -> None:
    # For |a| <= 30, 1 / (1 + exp(-a)) neither overflows nor underflows. Both it and
    # the library's two-branch form are a few roundings (exp, add, divide) from the
    # true value: ~3 ulps each, so 2e-15 relative (9 eps) bounds their difference.
    expected = 1.0 / (1.0 + np.exp(-a))
    assert_grads_close(
        {"sigmoid": sigmoid(a)}, {"sigmoid": expected}, Tolerance(rtol=2e-15, atol=1e-300), "sigmoid", "definition"
    )


def test_sigmoid_extreme_inputs_do_not_overflow_or_warn() -> None:
    a = np.array([-1e4, -1000.0, -745.0, -700.0, -40.0, 0.0, 40.0, 700.0, 1000.0, 1e4])
    with no_float_warnings():
        s = sigmoid(a)
        s32 = sigmoid(a.astype(np.float32))  # float32 exp overflows already at 89
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(s32))
    assert s32.dtype == np.float32
    assert s[0] == 0.0 and s[-1] == 1.0
    assert s[5] == 0.5
    # For -700 <= a <= -40, sigmoid(a) = exp(a) / (1 + exp(a)) and exp(a) < 5e-18 < eps / 2,
    # so the true value is exp(a) to well under an ulp: small results keep their relative
    # precision (a 1 - sigmoid(-a) formula would give 0). exp, the addition and the
    # division or reciprocal are each within an ulp: 4 eps relative bounds the difference.
    for i in (3, 4):
        assert abs(s[i] - np.exp(a[i])) <= 4 * EPS * np.exp(a[i]), (a[i], s[i], np.exp(a[i]))
    # Below -709 exp(-a) is past the float64 range; the result may underflow towards 0
    # but must stay in [0, exp(a)] (up to the same 4 eps).
    for i in (0, 1, 2):
        assert 0.0 <= s[i] <= np.exp(a[i]) * (1 + 4 * EPS), (a[i], s[i])


@given(float_arrays(-1e300, 1e300))
def test_sigmoid_any_finite_value_is_in_range_and_symmetric(a: np.ndarray) -> None:
    with no_float_warnings():
        s = sigmoid(a)
        s_neg = sigmoid(-a)
    assert np.all((s >= 0.0) & (s <= 1.0))
    # sigmoid(a) + sigmoid(-a) = 1: each value carries ~1 ulp (<= 1.1e-16) of rounding
    # and the sum one more, so 4.5e-16 (2 eps) bounds the error.
    assert np.max(np.abs(s + s_neg - 1.0)) <= 2 * EPS


def test_sigmoid_dtypes() -> None:
    assert sigmoid(np.zeros(3, dtype=np.float32)).dtype == np.float32
    ints = sigmoid(np.array([0, 1, -1]))
    assert ints.dtype == np.float64
    assert ints[0] == 0.5


# -- relu -----------------------------------------------------------------------------


@given(float_arrays(-1e6, 1e6))
def test_relu_is_max_with_zero(a: np.ndarray) -> None:
    r = relu(a)
    assert r.shape == a.shape and r.dtype == a.dtype
    assert np.array_equal(r, np.maximum(a, 0.0))  # exact: no arithmetic, only a choice
    assert relu(a.astype(np.float32)).dtype == np.float32


# -- softmax --------------------------------------------------------------------------


@given(float_arrays(-10.0, 10.0, max_dims=2).filter(lambda z: z.ndim == 2))
def test_softmax_matches_definition_and_rows_sum_to_one(z: np.ndarray) -> None:
    s = softmax(z)
    # The max shift rounds each exponent by up to eps * |z - max| <= 20 eps, a
    # relative error of the same size in exp; 1e-13 leaves a 20x margin.
    assert_grads_close(
        {"softmax": s},
        {"softmax": softmax_by_definition(z)},
        Tolerance(rtol=1e-13, atol=1e-300),
        "softmax",
        "definition",
    )
    # A row of at most 4 entries, each within a few ulps: the sum is within 10 eps of 1.
    assert np.max(np.abs(s.sum(axis=1) - 1.0)) <= 10 * EPS


@given(float_arrays(-30.0, 30.0, max_dims=2).filter(lambda z: z.ndim == 2), st.floats(-1000.0, 1000.0))
def test_softmax_is_shift_invariant(z: np.ndarray, c: float) -> None:
    shift = c * np.linspace(-1.0, 1.0, z.shape[0])[:, None]  # a different shift per row
    # Rounding z + shift moves each logit by up to eps * 1030 = 2.3e-13, a relative
    # change of the same size in each probability (twice: numerator and sum); 1e-12 bounds it.
    assert_grads_close(
        {"softmax": softmax(z + shift)},
        {"softmax": softmax(z)},
        Tolerance(rtol=1e-12, atol=1e-300),
        "softmax(z + c)",
        "softmax(z)",
    )


def test_softmax_large_logits_do_not_overflow() -> None:
    z = np.array([[1e4, 1e4 + 1, 1e4 + 2], [-1e4, 0.0, 1e4], [1e300, -1e300, 0.0]])
    with no_float_warnings():
        s = softmax(z)
        small = softmax(np.array([[0.0, 1.0, 2.0]]))
    # 1e4 + k is exact in float64 and so is the shift, hence bit-identical rows.
    assert np.array_equal(s[0], small[0])
    assert np.array_equal(s[1], [0.0, 0.0, 1.0])  # exp(-1e4) and exp(-2e4) are 0 in float64
    assert np.array_equal(s[2], [1.0, 0.0, 0.0])


def test_softmax_of_one_row_equals_the_batched_row() -> None:
    z = np.array([0.3, -1.2, 2.5, 0.0])
    assert np.array_equal(softmax(z), softmax(z[None, :])[0])


# -- cross_entropy (exact) ------------------------------------------------------------


@given(logits_and_labels())
def test_cross_entropy_is_mean_negative_log_softmax(case: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = case
    n = z.shape[0]
    expected = -np.mean(np.log(softmax_by_definition(z)[np.arange(n), t]))
    # Each -log p term inherits the ~1e-14 relative error of p as an absolute error
    # (the unshifted definition exponentiates up to exp(30)); 1e-13 absolute below a
    # loss of 1 and relative above it covers both.
    assert_grads_close(
        {"loss": cross_entropy(z, t)}, {"loss": expected}, Tolerance(rtol=1e-13, atol=1e-13), "cross_entropy", "-log p"
    )


@given(logits_and_labels())
def test_cross_entropy_index_and_one_hot_labels_agree(case: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = case
    assert cross_entropy(z, one_hot(t, z.shape[1])) == cross_entropy(z, t)  # the same indices, the same sum


def test_cross_entropy_big_logits_stay_finite() -> None:
    with no_float_warnings():
        # log-sum-exp of (1000, 0) is 1000 + log(1 + e^-1000) = 1000 exactly in float64.
        assert cross_entropy(np.array([[1000.0, 0.0]]), np.array([1])) == 1000.0
        assert cross_entropy(np.array([[1000.0, 0.0]]), np.array([0])) == 0.0
        assert cross_entropy(np.array([[1e300, -1e300]]), np.array([1])) == 2e300


# -- cross_entropy_error (the book's, with 1e-7) ---------------------------------------


@given(logits_and_labels(bound=5.0))
def test_cross_entropy_error_is_the_books_formula(case: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = case
    y = softmax_by_definition(z)
    onehot = one_hot(t, z.shape[1])
    books = -np.sum(onehot * np.log(y + 1e-7)) / z.shape[0]  # ch. 4, one-hot form
    # The same log values summed in another order: a few ulps of a sum of <= 5 terms.
    tol = Tolerance(rtol=1e-14, atol=1e-300)
    assert_grads_close({"loss": cross_entropy_error(y, t)}, {"loss": books}, tol, "index labels", "book formula")
    assert_grads_close({"loss": cross_entropy_error(y, onehot)}, {"loss": books}, tol, "one-hot labels", "book formula")


def test_cross_entropy_error_single_sample_and_zero_probability() -> None:
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.25])
    assert cross_entropy_error(y, np.array(2)) == -np.log(0.6 + 1e-7)
    assert cross_entropy_error(y, np.array([0.0, 0.0, 1.0, 0.0, 0.0])) == -np.log(0.6 + 1e-7)
    # The book adds 1e-7 so that a zero probability gives -log(1e-7) = 16.1, not inf.
    assert cross_entropy_error(y, np.array(3)) == -np.log(1e-7)


@given(logits_and_labels(bound=1.0))
def test_cross_entropy_error_differs_from_exact_by_a_tiny_amount(case: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = case
    n = z.shape[0]
    y = softmax_by_definition(z)
    p = y[np.arange(n), t]  # true-class probabilities, >= e^-2 / 5 > 0.02 for |z| <= 1
    gap = cross_entropy(z, t) - cross_entropy_error(y, t)
    # -log(p + 1e-7) = -log p - log(1 + 1e-7 / p), so the book's loss is smaller by
    # mean(1e-7 / p) to first order. The second-order term is (1e-7 / p)^2 / 2, a
    # relative 2.5e-6 of the gap at p >= 0.02; rounding of the two ~1-size losses
    # adds ~1e-15 absolute. Tolerance: 3e-6 relative + 1e-14 absolute.
    expected = np.mean(1e-7 / p)
    assert gap > 0
    assert abs(gap - expected) <= 3e-6 * expected + 1e-14, (gap, expected)


# -- complex step --------------------------------------------------------------------
# Im f(x + ih) / h = f'(x) + O(h^2) with no cancellation, so with h = 1e-20 it is
# exact to rounding: 1e-13 relative is ~450 eps, ample for a few dozen operations.
COMPLEX_TOL = Tolerance(rtol=1e-13, atol=1e-16)


@given(float_arrays(-20.0, 20.0))
def test_sigmoid_complex_step_equals_derivative(a: np.ndarray) -> None:
    step = sigmoid(a + 1j * COMPLEX_STEP)
    e = np.exp(-a)
    derivative = e / (1.0 + e) ** 2  # d/da 1 / (1 + e^-a)
    assert_grads_close(
        {"dsigmoid": step.imag / COMPLEX_STEP}, {"dsigmoid": derivative}, COMPLEX_TOL, "complex step", "derivative"
    )
    assert_grads_close(
        {"sigmoid": step.real}, {"sigmoid": sigmoid(a)}, Tolerance(rtol=1e-15, atol=1e-300), "real part", "sigmoid"
    )


@given(float_arrays(-5.0, 5.0).filter(lambda a: np.all(np.abs(a) > 1e-9)))
def test_relu_complex_step_equals_derivative(a: np.ndarray) -> None:
    step = relu(a + 1j * COMPLEX_STEP)
    assert np.array_equal(step.imag / COMPLEX_STEP, (a > 0).astype(np.float64))
    assert np.array_equal(step.real, np.maximum(a, 0.0))


@given(logits_and_labels(bound=10.0), st.integers(0, 2**32 - 1))
def test_softmax_complex_step_equals_jacobian_times_direction(case: tuple[np.ndarray, np.ndarray], seed: int) -> None:
    z, _ = case
    v = np.random.default_rng(seed).uniform(-1.0, 1.0, size=z.shape)  # (N, C) direction
    s = softmax_by_definition(z)
    jv = s * (v - np.sum(s * v, axis=1, keepdims=True))  # d softmax_i / d z_j = s_i (delta_ij - s_j)
    # Entries are s_i times O(1) numbers; the floor atol / rtol = 1e-2 puts tiny ones on
    # an absolute 1e-15 scale (a few eps of the O(1) terms that make them up).
    tol = Tolerance(rtol=1e-13, atol=1e-15)
    step = softmax(z + 1j * COMPLEX_STEP * v)
    assert_grads_close({"J v": step.imag / COMPLEX_STEP}, {"J v": jv}, tol, "complex step", "Jacobian")


@given(logits_and_labels(bound=10.0))
def test_cross_entropy_complex_step_equals_gradient(case: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = case
    n, c = z.shape
    grad = (softmax_by_definition(z) - one_hot(t, c)) / n  # d loss / d z
    step_grad = np.zeros_like(z)
    for i in range(n):
        for j in range(c):
            zc = z.astype(np.complex128)
            zc[i, j] += 1j * COMPLEX_STEP
            step_grad[i, j] = cross_entropy(zc, t).imag / COMPLEX_STEP
    # The true-class entry s - 1 cancels when s is near 1: both sides then carry a few
    # eps of the O(1) terms s and 1, so entries below 1e-2 are held to 1e-15 absolute.
    tol = Tolerance(rtol=1e-13, atol=1e-15)
    assert_grads_close({"dL/dz": step_grad}, {"dL/dz": grad}, tol, "complex step", "(softmax - onehot) / N")


@pytest.mark.parametrize("labels", ["index", "one-hot"])
def test_cross_entropy_error_accepts_complex_probabilities(labels: str) -> None:
    y = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    t = np.array([1, 0])
    tt = t if labels == "index" else one_hot(t, 3)
    step = cross_entropy_error(y + 1j * COMPLEX_STEP * np.eye(2, 3), tt)  # perturb y[0, 0] and y[1, 1]
    # Neither y[0, 0] nor y[1, 1] is a true class (t = [1, 0]): the loss does not depend on them.
    assert step.imag == 0.0
    step = cross_entropy_error(y + 1j * COMPLEX_STEP * one_hot(t, 3), tt)  # perturb the true classes
    expected = -np.mean(1.0 / (y[np.arange(2), t] + 1e-7))  # d/dy -mean log(y_t + 1e-7), all true classes moved
    assert abs(step.imag / COMPLEX_STEP - expected) <= 1e-13 * abs(expected)
