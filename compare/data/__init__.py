"""Data: the bundled digits, seeded synthetic data and MNIST, all as one :class:`Dataset`."""

from compare.data.base import DataError, Dataset
from compare.data.datasets import DATASETS, load_dataset, load_digits, make_synthetic

__all__ = ["DATASETS", "DataError", "Dataset", "load_dataset", "load_digits", "make_synthetic"]
