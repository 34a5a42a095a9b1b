"""The bundled digits split and the seeded synthetic data (compare.data).

Run: ``python -m pytest tests/test_data.py``. MNIST has its own tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compare.data import DataError, Dataset, load_dataset, load_digits, make_synthetic
from compare.data.datasets import digits_arrays


@pytest.fixture(scope="module")
def shipped() -> dict[str, np.ndarray]:
    """The bundled file as stored: images 0..16 (1797, 64), labels (1797,), the split's row indices."""
    return digits_arrays()


def test_digits_shapes_dtypes_and_range(digits: Dataset) -> None:
    assert digits.name == "digits"
    assert digits.x_train.shape == (1500, 64) and digits.x_test.shape == (297, 64)
    assert digits.t_train.shape == (1500,) and digits.t_test.shape == (297,)
    assert digits.x_train.dtype == np.float64 and digits.x_test.dtype == np.float64
    assert digits.t_train.dtype == np.intp and digits.t_test.dtype == np.intp
    assert (digits.input_size, digits.train_size, digits.n_classes) == (64, 1500, 10)
    for x in (digits.x_train, digits.x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # pixels 0..16 divided by 16
    assert set(np.unique(digits.t_train)) == set(range(10)) == set(np.unique(digits.t_test))


def test_digits_split_is_a_stratified_partition(digits: Dataset, shipped: dict[str, np.ndarray]) -> None:
    data, target = shipped["images"].astype(np.float64), shipped["labels"].astype(np.intp)
    # Every image lands in exactly one of train / test, scaled by 1/16 (exact: a power of 2).
    split = np.concatenate([digits.x_train, digits.x_test]) * 16.0
    labels = np.concatenate([digits.t_train, digits.t_test])
    order_split = np.lexsort(np.column_stack([split, labels]).T)
    order_full = np.lexsort(np.column_stack([data, target]).T)
    assert np.array_equal(split[order_split], data[order_full])
    assert np.array_equal(labels[order_split], target[order_full])
    rows = np.concatenate([shipped["train_index"], shipped["test_index"]])
    assert np.array_equal(np.sort(rows), np.arange(1797))  # a partition of the rows
    # Stratified: each class keeps its share of the 1500 training images, to within
    # the rounding of one image.
    total = np.bincount(target, minlength=10)
    train = np.bincount(digits.t_train, minlength=10)
    assert np.all(np.abs(train - total * 1500 / 1797) <= 1.0), (train, total * 1500 / 1797)


def test_digits_split_is_fixed_and_shuffled(digits: Dataset, shipped: dict[str, np.ndarray]) -> None:
    first, second = load_digits(), load_digits()
    for field in ("x_train", "t_train", "x_test", "t_test"):
        assert np.array_equal(getattr(first, field), getattr(second, field))
    # The split does not follow the run's seed...
    via_name = load_dataset("digits", seed=123)
    assert np.array_equal(via_name.x_train, first.x_train) and np.array_equal(via_name.t_test, first.t_test)
    # ...but it is a shuffle, not the file's order: training sees the classes mixed from the first batch.
    assert not np.all(np.diff(shipped["train_index"]) > 0)
    assert len(np.unique(digits.t_train[:100])) == 10


def test_the_bundled_digits_are_scikit_learns_and_so_is_the_split(digits: Dataset) -> None:
    """The shipped file equals ``sklearn.datasets.load_digits()`` value for value, and the split is
    ``train_test_split(stratify=labels, random_state=0)``'s: the data every earlier run drew from
    scikit-learn at run time, unchanged (the trajectory tests pin numbers computed on it)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    model_selection = pytest.importorskip("sklearn.model_selection")
    bunch = sklearn_datasets.load_digits()
    shipped = digits_arrays()
    assert np.array_equal(shipped["images"], bunch.data) and shipped["images"].shape == bunch.data.shape
    assert np.array_equal(shipped["labels"], bunch.target)
    x = bunch.data.astype(np.float64) / 16.0
    t = bunch.target.astype(np.intp)
    x_train, x_test, t_train, t_test = model_selection.train_test_split(
        x, t, train_size=1500, stratify=t, random_state=0
    )
    for mine, theirs in ((digits.x_train, x_train), (digits.x_test, x_test)):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    for mine, theirs in ((digits.t_train, t_train), (digits.t_test, t_test)):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)


@given(
    n_train=st.integers(1, 20),
    n_test=st.integers(1, 20),
    input_size=st.integers(1, 30),
    n_classes=st.integers(2, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_synthetic_any_size(n_train: int, n_test: int, input_size: int, n_classes: int, seed: int) -> None:
    ds = make_synthetic(n_train=n_train, n_test=n_test, input_size=input_size, n_classes=n_classes, seed=seed)
    assert ds.name == "synthetic" and ds.n_classes == n_classes
    assert ds.x_train.shape == (n_train, input_size) and ds.x_test.shape == (n_test, input_size)
    assert ds.t_train.shape == (n_train,) and ds.t_test.shape == (n_test,)
    assert ds.x_train.dtype == np.float64 and ds.t_train.dtype == np.intp
    for x in (ds.x_train, ds.x_test):
        assert np.all((x >= 0.0) & (x <= 1.0))
    for t in (ds.t_train, ds.t_test):
        assert np.all((t >= 0) & (t < n_classes))
    again = make_synthetic(n_train=n_train, n_test=n_test, input_size=input_size, n_classes=n_classes, seed=seed)
    for field in ("x_train", "t_train", "x_test", "t_test"):
        assert np.array_equal(getattr(ds, field), getattr(again, field))


def test_synthetic_seed_matters_and_load_dataset_passes_it_on() -> None:
    a = make_synthetic(n_train=50, n_test=10, input_size=8, seed=1)
    b = make_synthetic(n_train=50, n_test=10, input_size=8, seed=2)
    assert not np.array_equal(a.x_train, b.x_train)
    c = load_dataset("synthetic", seed=1, input_size=8)
    d = make_synthetic(input_size=8, seed=1)
    assert c.input_size == 8 and c.train_size == 1000 and c.x_test.shape == (200, 8) and c.n_classes == 10
    assert np.array_equal(c.x_train, d.x_train) and np.array_equal(c.t_test, d.t_test)


def test_synthetic_default_is_learnable() -> None:
    # Prototypes in [0, 1]^784 plus noise of std 0.3: the class means are ~11 apart
    # (sqrt(784 / 6)) against ~0.3 * sqrt(2 * 784 / n_per_class) of noise, so a
    # nearest-class-mean rule is essentially perfect; 0.9 leaves a wide margin.
    ds = make_synthetic(seed=0)
    means = np.stack([ds.x_train[ds.t_train == c].mean(axis=0) for c in range(ds.n_classes)])  # (C, D)
    distances = ((ds.x_test[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)  # (N_test, C)
    assert np.mean(np.argmin(distances, axis=1) == ds.t_test) >= 0.9


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_train": 0},
        {"n_test": 0},
        {"input_size": 0},
        {"n_classes": 1},
        {"n_train": -5},
        {"input_size": 2.5},
        {"n_classes": 10.0},
        {"n_train": None},
        {"n_test": "10"},
        {"n_classes": True},
    ],
    ids=lambda kw: "-".join(f"{k}={v!r}" for k, v in kw.items()),
)
def test_bad_synthetic_arguments_are_data_errors(kwargs: dict) -> None:
    name = next(iter(kwargs))
    with pytest.raises(DataError, match=name) as info:
        make_synthetic(**{"n_train": 10, "n_test": 5, "input_size": 4, **kwargs})
    assert type(info.value) is DataError and isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["cifar10", "", "Digits"])
def test_unknown_dataset_is_a_data_error(name: str) -> None:
    with pytest.raises(DataError, match=f"unknown dataset {name!r}"):
        load_dataset(name)
