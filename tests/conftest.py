"""Shared fixtures: a digits batch for the 64-10-10 net and a random 5-4-3 problem."""

from __future__ import annotations

import numpy as np
import pytest

from compare.data import Dataset, load_digits
from impl_numpy import init_params


@pytest.fixture(scope="session")
def digits() -> Dataset:
    """The bundled digits dataset (loaded once: about a second)."""
    return load_digits()


@pytest.fixture
def digits_batch(digits: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The first 100 training images (100, 64) and their labels (100,), as fresh copies."""
    return digits.x_train[:100].copy(), digits.t_train[:100].copy()


@pytest.fixture
def digits_params() -> dict[str, np.ndarray]:
    """The book's initial weights for a 64-10-10 net (std 0.01, zero biases)."""
    return init_params(64, 10, 10, seed=0)


@pytest.fixture
def small_problem() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A 5-4-3 net with large weights and non-zero biases, and a batch of 8: (params, x, t).

    Weights of std 0.5 put the hidden units in their non-linear range (at the
    book's std 0.01 the net is almost linear and a wrong activation derivative
    would hardly show), and random biases exercise the bias gradients.
    """
    rng = np.random.default_rng(1234)
    params = init_params(5, 4, 3, weight_init_std=0.5, seed=7)
    params["b1"] = rng.normal(0.0, 0.5, size=4)
    params["b2"] = rng.normal(0.0, 0.5, size=3)
    x = rng.normal(0.0, 1.0, size=(8, 5))  # (N, D)
    t = rng.integers(0, 3, size=8)  # (N,)
    return params, x, t
