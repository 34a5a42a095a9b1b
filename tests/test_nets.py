"""The numpy and PyTorch nets against each other, against the book's numerical gradient,
and against the definitions of their forward pass.

Run: ``python -m pytest tests/test_nets.py``. Reference: Deep Learning from
Scratch, ch. 4 (numerical gradient, sigmoid net) and ch. 5 (backprop, ReLU net).
Every comparison goes through :func:`helpers.assert_grads_close` with the
project's named tolerances (:mod:`dlfs_gradcheck.metrics`), whose derivations live there.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from helpers import assert_close, assert_grads_close, assert_nets_agree

from compare.data import Dataset
from compare.gradcheck import numpy_net_problem, torch_net_problem
from dlfs_gradcheck.metrics import (
    EXACT_F64,
    LOW_PRECISION,
    Tolerance,
    diff,
    gradient_tolerance,
    relu_kink_mask,
)
from impl_numpy import TwoLayerNet, init_params, numerical_gradient
from impl_torch import TorchTwoLayerNet

Params = dict[str, np.ndarray]  # book layout: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)
Batch = tuple[np.ndarray, np.ndarray]  # x (N, D), t (N,)
Problem = tuple[Params, np.ndarray, np.ndarray]  # (params, x (N, D), t (N,))
H = 1e-4  # the book's step
ACTIVATIONS = ["sigmoid", "relu"]
BOOK_EPS = 1e-7  # the book's cross_entropy_error adds this inside the log
IDENTICAL = Tolerance(rtol=1e-300, atol=1e-300)  # no difference at all (up to 1e-300)


@pytest.fixture(params=["digits-64-10-10", "random-5-4-3"])
def problem(request: pytest.FixtureRequest) -> Problem:
    """The book's init on a digits batch of 100, or a small net in its non-linear range."""
    if request.param == "digits-64-10-10":
        x, t = request.getfixturevalue("digits_batch")
        return request.getfixturevalue("digits_params"), x, t
    return request.getfixturevalue("small_problem")


def one_hot(t: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot rows (N, C) from class indices (N,)."""
    out = np.zeros((t.shape[0], n_classes))
    out[np.arange(t.shape[0]), t] = 1.0
    return out


def logits_by_definition(params: dict[str, np.ndarray], x: np.ndarray, activation: str) -> np.ndarray:
    """``act(x W1 + b1) W2 + b2`` written out from the book, float64: (N, C)."""
    a = x @ params["W1"] + params["b1"]  # (N, H)
    z = 1.0 / (1.0 + np.exp(-a)) if activation == "sigmoid" else np.maximum(a, 0.0)  # (N, H)
    return z @ params["W2"] + params["b2"]  # (N, C)


def true_class_probabilities(logits: np.ndarray, t: np.ndarray) -> np.ndarray:
    """softmax(logits)[n, t_n] by the definition exp / sum exp (logits here are small): (N,)."""
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True))[np.arange(t.shape[0]), t]


def torch_net(params: dict[str, np.ndarray], activation: str, dtype: str = "float64") -> TorchTwoLayerNet:
    return TorchTwoLayerNet.from_params(params, activation=activation, device="cpu", dtype=dtype)


# -- the comparison helper itself ------------------------------------------------------


def test_comparison_helper_names_parameter_index_and_both_values() -> None:
    a = {"W1": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "b1": np.array([0.5])}
    b = {"W1": a["W1"].copy(), "b1": a["b1"].copy()}
    assert_grads_close(a, b, EXACT_F64, "A", "B")  # identical: passes
    b["W1"][1, 2] = 6.0 * (1 + 1e-9)
    with pytest.raises(AssertionError) as info:
        assert_grads_close(a, b, EXACT_F64, "backprop", "autograd")
    message = str(info.value)
    assert "W1[1, 2]" in message
    assert "backprop = 6.0" in message and f"autograd = {6.0 * (1 + 1e-9)!r}" in message
    assert "abs err 6.000e-09" in message and "rel err 1.000e-09" in message
    # A mask that leaves the entry out makes the same pair pass.
    skip = {"W1": np.ones((2, 3), dtype=bool)}
    skip["W1"][1, 2] = False
    assert_grads_close(a, b, EXACT_F64, "A", "B", mask=skip)
    with pytest.raises(AssertionError, match="shape"):
        assert_grads_close(a, {"W1": a["W1"].T, "b1": a["b1"]}, EXACT_F64, "A", "B")
    with pytest.raises(AssertionError, match="entries"):
        assert_grads_close(a, {"W1": a["W1"]}, EXACT_F64, "A", "B")
    # the plain-array form names what is compared
    with pytest.raises(AssertionError, match=r"logits\[1, 2\]: A = 6.0, B = 6.000000006"):
        assert_close(a["W1"], b["W1"], EXACT_F64, "logits")
    assert_close(a["W1"], a["W1"].copy(), EXACT_F64, "logits")


def test_nets_helper_compares_loss_then_gradient(small_problem: Problem) -> None:
    params, x, t = small_problem
    net = TwoLayerNet.from_params(params)
    assert_nets_agree(net, TwoLayerNet.from_params(params), x, t, "float64")
    other = dict(params, b2=params["b2"] + np.array([0.0, 1e-9, 0.0]))  # a tiny change in one bias
    with pytest.raises(AssertionError, match=r"loss") as info:
        assert_nets_agree(net, TwoLayerNet.from_params(other), x, t, "float64")
    assert "TwoLayerNet[float64] = " in str(info.value)
    wrong_grad = TwoLayerNet.from_params(params)
    real = wrong_grad.gradient
    wrong_grad.gradient = lambda x, t: {**real(x, t), "W1": real(x, t)["W1"] * (1 + 1e-6)}
    with pytest.raises(AssertionError, match=r"W1\[\d+, \d+\]"):
        assert_nets_agree(net, wrong_grad, x, t, "float64")
    assert_nets_agree(net, wrong_grad, x, t, "float32")  # 1e-6 is within float32's named tolerance


# -- forward pass -----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_and_loss_match_the_definitions(problem: Problem, activation: str) -> None:
    params, x, t = problem
    logits = logits_by_definition(params, x, activation)
    net = TwoLayerNet.from_params(params, activation=activation)
    tnet = torch_net(params, activation)
    with torch.no_grad():
        torch_logits = tnet(torch.from_numpy(x)).numpy()
    # The same few float64 operations per entry in another order: EXACT_F64.
    assert_grads_close({"logits": net.predict(x)}, {"logits": logits}, EXACT_F64, "numpy predict", "definition")
    assert_grads_close({"logits": torch_logits}, {"logits": logits}, EXACT_F64, "torch forward", "definition")
    loss = -np.mean(np.log(true_class_probabilities(logits, t)))  # mean -log softmax[t]
    assert_grads_close({"loss": net.loss(x, t)}, {"loss": loss}, EXACT_F64, "numpy loss", "definition")
    assert_grads_close({"loss": tnet.loss(x, t)}, {"loss": loss}, EXACT_F64, "torch loss", "definition")


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loss_and_accuracy_agree_between_numpy_and_torch(problem: Problem, activation: str, dtype: str) -> None:
    params, x, t = problem
    net = TwoLayerNet.from_params(params, activation=activation, dtype=dtype)
    tnet = torch_net(params, activation, dtype)
    tol = EXACT_F64 if dtype == "float64" else LOW_PRECISION
    assert_grads_close({"loss": net.loss(x, t)}, {"loss": tnet.loss(x, t)}, tol, f"numpy {dtype}", f"torch {dtype}")
    logits = logits_by_definition(params, x, activation)  # (N, C)
    reference = float(np.mean(np.argmax(logits, axis=1) == t))
    # Accuracy counts argmaxes, so it is equal unless a row's top two logits tie to
    # within rounding. float32 rounds each logit by ~(D + H) eps32 ≈ 1e-5 of the
    # logits' scale at most; the precondition below keeps a 10x larger gap.
    top2 = np.sort(logits, axis=1)[:, -2:]  # (N, 2)
    assert np.min(top2[:, 1] - top2[:, 0]) > 1e-4 * np.max(np.abs(logits))
    assert net.accuracy(x, t) == reference
    assert tnet.accuracy(x, t) == reference


# -- gradients ----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_matches_the_books_numerical_gradient(problem: Problem, activation: str) -> None:
    params, x, t = problem
    net = TwoLayerNet.from_params(params, activation=activation)
    loss = net.loss(x, t)
    backprop = net.gradient(x, t)
    numerical = net.numerical_gradient(x, t, h=H)
    tol = gradient_tolerance("numerical", "exact", "float64", loss_value=loss, h=H)
    mask = None
    if activation == "relu":
        # Entries whose ±h step moves a hidden pre-activation across 0 measure a mix of
        # the two one-sided slopes, not the derivative: leave those out, but only a few.
        kinks = relu_kink_mask(net.params, x, H)
        n_kinks = sum(int(k.sum()) for k in kinks.values())
        assert n_kinks <= 0.05 * sum(p.size for p in params.values()), f"{n_kinks} kink entries"
        mask = {k: ~v for k, v in kinks.items()}
    assert_grads_close(numerical, backprop, tol, "book numerical (h=1e-4)", "numpy backprop", mask=mask)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_matches_the_complex_step(small_problem: Problem, activation: str) -> None:
    # Im L(θ + i·1e-20 e_k) / 1e-20 is the exact derivative up to rounding (no
    # subtraction), an independent exact reference for backprop: EXACT_F64.
    params, x, t = small_problem
    step = 1e-20
    cnet = TwoLayerNet.from_params({k: v.astype(np.complex128) for k, v in params.items()}, activation=activation)
    reference = {}
    for name in params:
        g = np.zeros(params[name].shape)
        for idx in np.ndindex(params[name].shape):
            cnet.params[name][idx] += 1j * step
            g[idx] = cnet.loss(x, t).imag / step
            cnet.params[name][idx] = params[name][idx]
        reference[name] = g
    backprop = TwoLayerNet.from_params(params, activation=activation).gradient(x, t)
    assert_grads_close(reference, backprop, EXACT_F64, "complex step", "numpy backprop")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_torch_autograd_matches_numpy_backprop(problem: Problem, activation: str) -> None:
    params, x, t = problem
    numpy_net = TwoLayerNet.from_params(params, activation=activation)
    g64 = torch_net(params, activation, "float64").gradient(x, t)
    assert all(g.dtype == np.float64 for g in g64.values())  # exported as float64, book layout
    # Loss, then gradient, with the named tolerance of the lower dtype of the two.
    assert_nets_agree(torch_net(params, activation, "float64"), numpy_net, x, t, "float64")
    assert_nets_agree(torch_net(params, activation, "float32"), numpy_net, x, t, "float32")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numpy_float32_backprop_matches_float64(problem: Problem, activation: str) -> None:
    params, x, t = problem
    net32 = TwoLayerNet.from_params(params, activation=activation, dtype=np.float32)
    assert all(g.dtype == np.float32 for g in net32.gradient(x, t).values())
    assert_nets_agree(net32, TwoLayerNet.from_params(params, activation=activation), x, t, "float32")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_index_and_one_hot_labels_agree(small_problem: Problem, activation: str) -> None:
    params, x, t = small_problem
    onehot = one_hot(t, params["b2"].size)
    for net in (TwoLayerNet.from_params(params, activation=activation), torch_net(params, activation)):
        # The same class indices reach the same code: identical results.
        assert net.loss(x, onehot) == net.loss(x, t)
        assert net.accuracy(x, onehot) == net.accuracy(x, t)
        assert_grads_close(net.gradient(x, onehot), net.gradient(x, t), IDENTICAL, "one-hot", "index")


# -- the book's 1e-7 ----------------------------------------------------------------------


def test_book_loss_is_the_exact_loss_minus_the_1e7_term(digits_batch: Batch, digits_params: Params) -> None:
    x, t = digits_batch
    net = TwoLayerNet.from_params(digits_params, activation="sigmoid")
    p = true_class_probabilities(logits_by_definition(digits_params, x, "sigmoid"), t)  # ~0.1 at init
    gap = net.loss(x, t) - net.book_loss(x, t)
    # -log(p + 1e-7) = -log p - 1e-7 / p + O((1e-7 / p)²): the book's loss is lower by
    # mean(1e-7 / p) ≈ 1e-6. The O(·) term is ~1e-6 of that; the rounding of two ~2.3
    # losses is ~1e-15, i.e. 1e-9 of the gap. 1e-5 relative covers both.
    expected = float(np.mean(BOOK_EPS / p))
    assert gap > 0
    assert abs(gap - expected) <= 1e-5 * expected, (gap, expected)


def test_numerical_gradient_of_book_loss_is_off_by_a_tiny_amount(digits_batch: Batch, digits_params: Params) -> None:
    # The book's gradient check differentiates cross_entropy_error (with 1e-7) by
    # central differences, while backprop's (y - t) / N is the gradient of the exact
    # loss. The two functions differ, so even in float64 the check is off by more
    # than the numerical-vs-exact tolerance (which the exact loss passes, see
    # test_backprop_matches_the_books_numerical_gradient) -- in W2 and b2, by ~5e-8.
    x, t = digits_batch
    net = TwoLayerNet.from_params(digits_params, activation="sigmoid")
    backprop = net.gradient(x, t)
    book = {k: numerical_gradient(lambda _: net.book_loss(x, t), net.params[k], H) for k in net.params}
    tol = gradient_tolerance("numerical", "exact", "float64", loss_value=net.loss(x, t), h=H)
    failing = {k for k in book if not diff(book[k], backprop[k], tol).ok(tol)}
    assert {"W2", "b2"} <= failing, failing
    # ...but tiny: per sample the logit gradient changes by 1e-7 / (p + 1e-7) * (onehot - y) / N,
    # entries at most 1e-7 / p / N; summed over the batch and multiplied by
    # |d logit / d param| <= 1 (sigmoid outputs, bias) that is <= 1e-7 * mean(1 / p).
    # The numerical gradient's own error (tol) comes on top.
    p = true_class_probabilities(logits_by_definition(digits_params, x, "sigmoid"), t)
    bound = BOOK_EPS * float(np.mean(1.0 / p))  # ≈ 1e-6
    tiny = Tolerance(rtol=1e-300, atol=bound + tol.atol + tol.rtol * max(np.abs(g).max() for g in backprop.values()))
    assert_grads_close(book, backprop, tiny, "book numerical (1e-7 loss)", "numpy backprop")


# -- weights: init, export, copies ----------------------------------------------------------


def test_init_params_is_the_books_seeded_init() -> None:
    p = init_params(784, 50, 10, seed=3)
    assert {k: v.shape for k, v in p.items()} == {"W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}
    assert all(v.dtype == np.float64 for v in p.values())
    assert not p["b1"].any() and not p["b2"].any()
    # 39,200 draws of 0.01 * N(0, 1): the sample std is 0.01 ± 3.6e-5 and the mean
    # 0 ± 5e-5 (one standard error); 5e-4 is > 10 standard errors.
    assert abs(p["W1"].std() - 0.01) <= 5e-4
    assert abs(p["W1"].mean()) <= 5e-4
    assert abs(p["W2"].std() - 0.01) <= 3e-3  # 500 draws: standard error 3.2e-4
    same = init_params(784, 50, 10, seed=3)
    assert all(np.array_equal(p[k], same[k]) for k in p)
    other = init_params(784, 50, 10, seed=4)
    assert not np.array_equal(p["W1"], other["W1"]) and not np.array_equal(p["W2"], other["W2"])
    # The std scales the same standard normal draws.
    unit = init_params(784, 50, 10, weight_init_std=1.0, seed=3)
    assert np.array_equal(0.01 * unit["W1"], p["W1"]) and np.array_equal(0.01 * unit["W2"], p["W2"])
    # The book's constructor uses the same weights.
    book = TwoLayerNet(784, 50, 10, seed=3)
    assert all(np.array_equal(book.params[k], p[k]) for k in p)


def test_torch_export_round_trips_exactly_and_transposes(small_problem: Problem) -> None:
    params, _, _ = small_problem
    tnet = torch_net(params, "sigmoid", "float64")
    exported = tnet.export_params()
    for k in params:
        assert exported[k].dtype == np.float64
        assert np.array_equal(exported[k], params[k]), k  # float64 in, float64 out: bit-equal
        assert not np.shares_memory(exported[k], params[k])
    # nn.Linear keeps weight as (out, in): fc1.weight is W1.T, fc2.weight is W2.T.
    assert np.array_equal(tnet.fc1.weight.detach().numpy(), params["W1"].T)
    assert np.array_equal(tnet.fc2.weight.detach().numpy(), params["W2"].T)
    assert np.array_equal(tnet.fc1.bias.detach().numpy(), params["b1"])
    assert np.array_equal(tnet.fc2.bias.detach().numpy(), params["b2"])
    # float32: each value rounded once to float32, exported back to float64.
    exported32 = torch_net(params, "sigmoid", "float32").export_params()
    for k in params:
        assert np.array_equal(exported32[k], params[k].astype(np.float32).astype(np.float64)), k


def test_square_weights_are_transposed_too(digits_params: Params) -> None:
    # W2 of 64-10-10 is square (10, 10): a missing transpose keeps the shape but not the values.
    tnet = torch_net(digits_params, "relu")
    assert np.array_equal(tnet.fc2.weight.detach().numpy(), digits_params["W2"].T)
    assert np.array_equal(tnet.export_params()["W2"], digits_params["W2"])


def test_numpy_from_params_copies(small_problem: Problem) -> None:
    params, _, _ = small_problem
    net = TwoLayerNet.from_params(params)
    for k in params:
        assert np.array_equal(net.params[k], params[k])
        assert not np.shares_memory(net.params[k], params[k])


def test_nets_share_no_memory_with_the_params_or_each_other(digits_batch: Batch, digits_params: Params) -> None:
    x, t = digits_batch
    params = digits_params
    original = copy.deepcopy(params)
    np_net = TwoLayerNet.from_params(params, activation="relu")
    np_twin = TwoLayerNet.from_params(params, activation="relu")
    t_net = torch_net(params, "relu")
    xt, tt = t_net.to_device_batch(x, t)

    for _ in range(3):
        np_net.train_step(x, t, 0.1)
    assert any(not np.array_equal(np_net.params[k], original[k]) for k in original)  # it did train
    trained = copy.deepcopy(np_net.params)
    for k in original:
        assert np.array_equal(params[k], original[k]), f"numpy training changed the shared {k}"
        assert np.array_equal(np_twin.params[k], original[k]), f"numpy training changed the twin's {k}"
        assert np.array_equal(t_net.export_params()[k], original[k]), f"numpy training changed torch's {k}"

    for _ in range(3):
        t_net.train_step(xt, tt, 0.1)
    for k in original:
        assert np.array_equal(params[k], original[k]), f"torch training changed the shared {k}"
        assert np.array_equal(np_net.params[k], trained[k]), f"torch training changed numpy's {k}"

    # Writing into the shared dict afterwards reaches no net either.
    exported = t_net.export_params()
    params["W1"] += 1.0
    assert np.array_equal(t_net.export_params()["W1"], exported["W1"])
    assert np.array_equal(np_twin.params["W1"], original["W1"])


# -- training steps -------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numpy_train_step_is_gradient_plus_sgd(digits: Dataset, activation: str, digits_params: Params) -> None:
    lr = 0.1
    net = TwoLayerNet.from_params(digits_params, activation=activation)
    expected = copy.deepcopy(digits_params)
    for step in range(3):  # three batches: the layers must see the updated weights
        x = digits.x_train[100 * step : 100 * (step + 1)]
        t = digits.t_train[100 * step : 100 * (step + 1)]
        reference_net = TwoLayerNet.from_params(expected, activation=activation)
        grads = reference_net.gradient(x, t)
        loss_before = reference_net.loss(x, t)
        expected = {k: expected[k] - lr * grads[k] for k in expected}
        loss = net.train_step(x, t, lr)
        # Same float64 formulas, possibly grouped differently (lr folded into backprop): EXACT_F64.
        assert_grads_close({"loss": loss}, {"loss": loss_before}, EXACT_F64, "train_step loss", "loss before")
        assert_grads_close(net.params, expected, EXACT_F64, f"train_step #{step + 1}", "gradient + SGD")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_torch_train_step_follows_numpy(digits: Dataset, activation: str, digits_params: Params) -> None:
    # Three float64 SGD steps from the same weights on the same batches: both stay
    # within EXACT_F64 of each other (each step adds ~1e-16 relative differences).
    lr = 0.1
    np_net = TwoLayerNet.from_params(digits_params, activation=activation)
    t_net = torch_net(digits_params, activation)
    for step in range(3):
        x = digits.x_train[100 * step : 100 * (step + 1)]
        t = digits.t_train[100 * step : 100 * (step + 1)]
        xt, tt = t_net.to_device_batch(x, t)
        torch_loss = float(t_net.train_step(xt, tt, lr))
        numpy_loss = np_net.train_step(x, t, lr)
        assert_grads_close({"loss": torch_loss}, {"loss": numpy_loss}, EXACT_F64, "torch step", "numpy step")
    assert_grads_close(t_net.export_params(), np_net.params, EXACT_F64, "torch after 3 steps", "numpy after 3 steps")


# -- the project's own nets through its gradient checker -------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_backprop_passes_the_gradient_checker(digits_batch, digits_params, activation, dtype) -> None:
    # Full mode, complex-step reference (~1e-15 accurate): every entry of the backprop gradient
    # within the tested dtype's tolerance (dlfs_gradcheck.metrics: 1e-12 in float64, 1e-4 in float32).
    x, t = digits_batch
    problem = numpy_net_problem(digits_params, x, t, activation=activation, dtype=dtype)
    problem.assert_ok(mode="full", reference="complex")


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_torch_autograd_passes_the_gradient_checker(digits_batch, digits_params, activation) -> None:
    # Fast mode (signed Gaussian directions per block, then bisection) against Richardson
    # extrapolation, which needs no complex-safe loss.
    x, t = digits_batch
    torch_net_problem(digits_params, x, t, activation=activation, dtype="float64", device="cpu").assert_ok(
        mode="fast", reference="richardson"
    )


def test_replacing_a_weight_array_is_seen_by_backprop(small_problem) -> None:
    # The book's layers hold references to the weight arrays; assigning a new array to
    # net.params["W1"] (not in place) must still be what backprop differentiates.
    params, x, t = small_problem
    net = TwoLayerNet.from_params(params)
    net.params["W1"] = net.params["W1"] + 0.5
    fresh = TwoLayerNet.from_params(net.params)
    assert_grads_close(net.gradient(x, t), fresh.gradient(x, t), EXACT_F64, "after replacing W1", "fresh net")
