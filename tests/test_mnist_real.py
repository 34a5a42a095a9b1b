"""Integration test on the real MNIST files, when ``$DLFS_MNIST_DIR`` points at them (skipped otherwise).

Expected figures are those published with the original distribution (sizes, md5 sums,
per-class counts).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from compare.data.mnist import load_mnist
from compare.data.mnist_files import ENV_VAR, MNIST_MD5, find_mnist_dir, verify_mnist

MNIST_DIR = os.environ.get(ENV_VAR)
pytestmark = pytest.mark.skipif(not MNIST_DIR, reason=f"real MNIST not available: set {ENV_VAR} to its directory")

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # classes 0..9
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_the_files_have_the_published_md5_sums() -> None:
    directory = Path(MNIST_DIR)
    assert find_mnist_dir(directory) == directory
    verify_mnist(directory)  # raises on any mismatch
    assert all((directory / name).is_file() for name in MNIST_MD5)


def test_shapes_range_and_class_counts() -> None:
    ds = load_mnist(MNIST_DIR)  # verifies the md5 sums again before parsing
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.x_train.dtype == np.float64 and ds.x_test.dtype == np.float64
    for x in (ds.x_train, ds.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    assert ds.t_train.dtype == np.intp and ds.n_classes == 10
    assert np.bincount(ds.t_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(ds.t_test, minlength=10).tolist() == TEST_COUNTS


def test_a_plugged_class_on_mnist(tmp_path: Path) -> None:
    """``--impl`` with ``--dataset mnist``, ``--only`` and ``--json``: the learner's class on the book's data."""
    import json

    from compare.run import main

    example = Path(__file__).parents[1] / "docs" / "example" / "two_layer_net.py"
    out = tmp_path / "r.json"
    args = ["--dataset", "mnist", "--data-dir", MNIST_DIR, "--only", "trajectory", "--iters", "50"]
    args += ["--numerical-iters", "0", "--fast-numerical-iters", "0", "--no-jax", "--threads", "1", "--no-progress"]
    assert main([*args, "--impl", f"{example}:TwoLayerNet", "--json", str(out)]) == 0
    pairs = json.loads(out.read_text())["trajectory"]["pairs"]
    (mine,) = [p for p in pairs if p["method_a"] == "backprop" and p["method_b"] == "TwoLayerNet"]
    assert mine["ok"] and mine["steps"] == 50 and mine["max_rel"] <= 1e-10  # float64: rounding only
