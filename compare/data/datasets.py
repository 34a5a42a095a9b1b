"""Datasets for the comparison: bundled digits (default), seeded synthetic data, MNIST.

- ``digits``: the 8×8 handwritten digits of the UCI "Optical Recognition of Handwritten
  Digits" test set (1,797 images, no download), shipped in ``compare/data/digits/`` (see
  the README there: source, license, and how the file was made). Pixel values 0..16 are
  scaled to [0, 1]; the split is fixed and stored with the data: 1,500 train / 297 test
  images, stratified by class (the split scikit-learn's ``train_test_split(stratify=labels,
  random_state=0)`` makes, so results match those of earlier versions, which drew it at run
  time). 1,500 is a multiple of the book's batch size, so the book's
  ``i % (train_size / batch_size) == 0`` epoch test fires every 15 steps, as it does every
  600 steps on MNIST.
- ``synthetic``: seeded random data of any input size and class count (for
  timing at the book's 784 inputs anywhere); each class is a random prototype
  in [0, 1] plus clipped noise, so it is learnable.
- ``mnist``: see :mod:`compare.mnist`.

Labels are class indices (intp). Inputs are float64.
"""

from __future__ import annotations

import io
import numbers
from importlib import resources

import numpy as np

from compare.data.base import DataError, Dataset

DIGITS_FILE = ("digits", "digits.npz")  # inside this package: images (1797, 64) uint8, labels, the split
DIGITS_TRAIN_SIZE = 1500


def digits_arrays() -> dict[str, np.ndarray]:
    """The shipped file as stored: ``images`` (1797, 64) uint8 0..16, ``labels``, ``train_index``, ``test_index``."""
    raw = resources.files("compare.data").joinpath(*DIGITS_FILE).read_bytes()
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def load_digits() -> Dataset:
    """The bundled digits, scaled to [0, 1], in their fixed stratified split (1,500 / 297)."""
    arrays = digits_arrays()
    x = arrays["images"].astype(np.float64) / 16.0  # (1797, 64), pixel values 0..16
    t = arrays["labels"].astype(np.intp)  # (1797,)
    train, test = arrays["train_index"], arrays["test_index"]  # (1500,), (297,): a partition of 0..1796
    return Dataset("digits", x[train], t[train], x[test], t[test], n_classes=10)


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
