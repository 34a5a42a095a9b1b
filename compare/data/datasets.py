"""Datasets for the comparison: bundled digits (default), seeded synthetic data, MNIST.

- ``digits``: scikit-learn's bundled 8×8 digits (1,797 images, no download),
  pixel values 0..16 scaled to [0, 1], split by a fixed, seeded, stratified
  split into 1,500 train / 297 test images. 1,500 is a multiple of the book's
  batch size, so the book's ``i % (train_size / batch_size) == 0`` epoch test
  fires every 15 steps, as it does every 600 steps on MNIST.
- ``synthetic``: seeded random data of any input size and class count (for
  timing at the book's 784 inputs anywhere); each class is a random prototype
  in [0, 1] plus clipped noise, so it is learnable.
- ``mnist``: see :mod:`compare.mnist`.

Labels are class indices (intp). Inputs are float64.
"""

from __future__ import annotations

import numbers

import numpy as np

from compare.data.base import DataError, Dataset

DIGITS_TRAIN_SIZE = 1500
DIGITS_SPLIT_SEED = 0  # the split is the same for every run, whatever --seed says


def load_digits(split_seed: int = DIGITS_SPLIT_SEED) -> Dataset:
    """scikit-learn's bundled digits, scaled to [0, 1], stratified seeded split (1,500 / 297)."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    x = bunch.data.astype(np.float64) / 16.0  # (1797, 64), pixel values 0..16
    t = bunch.target.astype(np.intp)
    x_train, x_test, t_train, t_test = train_test_split(
        x, t, train_size=DIGITS_TRAIN_SIZE, stratify=t, random_state=split_seed
    )
    return Dataset("digits", x_train, t_train, x_test, t_test, n_classes=10)


def make_synthetic(
    n_train: int = 1000, n_test: int = 200, input_size: int = 784, n_classes: int = 10, seed: int = 0
) -> Dataset:
    """Seeded random class prototypes in [0, 1] plus noise (clipped to [0, 1])."""
    for name, value, low in (
        ("n_train", n_train, 1),
        ("n_test", n_test, 1),
        ("input_size", input_size, 1),
        ("n_classes", n_classes, 2),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise DataError(f"synthetic data needs an integer {name} >= {low}, got {value!r}")
    rng = np.random.default_rng(seed)
    prototypes = rng.random((n_classes, input_size))  # (C, D)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        t = rng.integers(0, n_classes, size=n).astype(np.intp)  # (n,)
        x = np.clip(prototypes[t] + 0.3 * rng.standard_normal((n, input_size)), 0.0, 1.0)  # (n, D)
        return x, t

    x_train, t_train = draw(n_train)
    x_test, t_test = draw(n_test)
    return Dataset("synthetic", x_train, t_train, x_test, t_test, n_classes=n_classes)


DATASETS = ("digits", "synthetic", "mnist")


def load_dataset(
    name: str,
    *,
    data_dir: str | None = None,
    seed: int = 0,
    input_size: int = 784,
    download: bool = False,
    cache_dir: str | None = None,
) -> Dataset:
    """Load a dataset by name; ``seed`` and ``input_size`` apply to ``synthetic`` only.

    ``data_dir``, ``download`` and ``cache_dir`` apply to ``mnist`` only (see :func:`compare.mnist.load_mnist`).
    """
    if name == "digits":
        return load_digits()
    if name == "synthetic":
        return make_synthetic(input_size=input_size, seed=seed)
    if name == "mnist":
        from compare.data.mnist import load_mnist

        return load_mnist(data_dir, download=download, cache_dir=cache_dir)
    raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
