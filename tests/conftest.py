"""Shared fixtures (a digits batch for the 64-10-10 net, a random 5-4-3 problem, one-thread pinning)
and the suite's hypothesis profile.

The whole session runs with one torch / BLAS thread (and so do the children it starts, through
the environment): small ops on several threads slow down many times over when the cores are busy,
and parallel test workers would each start as many threads as there are cores.

The README's command runs the suite in parallel workers (``-n auto``, pytest-xdist): a test keeps
its files under its own ``tmp_path``, listens on port 0, and waits for child processes with
``children.py``; session- and module-scoped fixtures are made once per worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from helpers import pinned_threads
from hypothesis import HealthCheck, settings

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


# -- hypothesis: one profile for the whole suite --------------------------------------------------
# "dev" (the default): 25 examples per test, no deadline and no too_slow health check (both
# measure wall-clock time: a busy 2-core machine must not fail a test by being slow). "ci": the
# same, derandomized, so that a CI run is repeatable; chosen with HYPOTHESIS_PROFILE=ci, or
# automatically when $CI is set.
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session", autouse=True)
def one_thread_session() -> Iterator[None]:
    """One torch / BLAS thread for the whole session (see the module docstring); restored at its end."""
    with pytest.MonkeyPatch.context() as mp, pinned_threads(mp):
        yield


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One torch / BLAS thread for the test, thread settings restored after it (see :func:`helpers.pinned_threads`)."""
    with pinned_threads(monkeypatch):
        yield


@pytest.fixture(scope="module")
def one_thread_module() -> Iterator[None]:
    """:func:`one_thread` for a whole module (its module-scoped fixtures included)."""
    with pytest.MonkeyPatch.context() as mp, pinned_threads(mp):
        yield


@pytest.fixture(autouse=True)
def english_prose(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """English prose in every test and the children it starts, whatever the machine's locale; reset after it.

    ``LANGUAGE`` is the first variable :func:`compare.i18n.from_environment` reads, and it selects
    message catalogs only (not the encoding). A test that picks a language with ``--lang`` leaves
    it set in its process: the reset keeps it from the next test in the same worker.
    """
    from compare import i18n

    monkeypatch.setenv("LANGUAGE", "en")
    yield
    i18n.use("en")
