"""The data model every loader returns: :class:`Dataset`, and :class:`DataError` for data that cannot be used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DataError(ValueError):
    """Data that cannot be loaded or does not make sense."""


@dataclass(frozen=True)
class Dataset:
    name: str  # "digits", "synthetic" or "mnist"
    x_train: np.ndarray  # (N_train, D) float64 in [0, 1]
    t_train: np.ndarray  # (N_train,) class indices
    x_test: np.ndarray  # (N_test, D) float64 in [0, 1]
    t_test: np.ndarray  # (N_test,) class indices
    n_classes: int  # C

    @property
    def input_size(self) -> int:
        return self.x_train.shape[1]

    @property
    def train_size(self) -> int:
        return self.x_train.shape[0]
