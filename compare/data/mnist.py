"""MNIST from the four original IDX files, as one :class:`~compare.data.base.Dataset`.

The files are found (and, with ``download=True``, fetched) and checked against the published md5
sums by :mod:`compare.data.mnist_files`, and parsed by :mod:`compare.data.idx`; here the four
arrays become the 60,000 / 10,000 split, with image and label counts that must agree and labels
that must be 0..9 (else :class:`~compare.data.idx.IDXError`).

Usage::

    ds = load_mnist("/path/to/mnist")          # or set DLFS_MNIST_DIR
    ds = load_mnist(download=True)             # fetch into the cache the first time
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compare.data.base import Dataset
from compare.data.idx import IMAGE_MAGIC, LABEL_MAGIC, IDXError, read_idx
from compare.data.mnist_files import FILES, find_idx_file, find_mnist_dir, verify_mnist

# Sizes of the IDX files themselves (header + data); reading stops once a file (or its gzip
# stream: a small "gzip bomb" can inflate to gigabytes) exceeds this plus IDX_MARGIN_BYTES.
IDX_BYTES = {
    "train-images-idx3-ubyte": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}
IDX_MARGIN_BYTES = 1 << 20


def read_mnist_dir(directory: str | os.PathLike[str]) -> Dataset:
    """Parse the four files in ``directory`` (no checksum test) into a :class:`Dataset`.

    Inputs are scaled to [0, 1] as float64, (N, rows*cols); labels are class indices (intp).
    """
    directory = Path(directory)
    arrays = {}
    for key, stem in FILES.items():
        magic = IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC
        arrays[key] = read_idx(find_idx_file(directory, stem), magic, IDX_BYTES[stem] + IDX_MARGIN_BYTES)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise IDXError(f"{directory}: {split} has {images.shape[0]} images but {labels.shape[0]} labels")
        if labels.size and labels.max() > 9:
            raise IDXError(f"{directory}: {split} labels must be 0..9, found {labels.max()}")
    train_shape, test_shape = arrays["train_images"].shape[1:], arrays["test_images"].shape[1:]
    if train_shape != test_shape:
        raise IDXError(f"{directory}: train images are {train_shape} but test images are {test_shape}")

    def inputs(images: np.ndarray) -> np.ndarray:
        return images.reshape(images.shape[0], -1).astype(np.float64) / 255.0  # (N, rows*cols)

    return Dataset(
        name="mnist",
        x_train=inputs(arrays["train_images"]),
        t_train=arrays["train_labels"].astype(np.intp),
        x_test=inputs(arrays["test_images"]),
        t_test=arrays["test_labels"].astype(np.intp),
        n_classes=10,
    )


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    mirrors: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> Dataset:
    """The 60,000 / 10,000 MNIST split, inputs scaled to [0, 1] as float64 (784 features).

    Parameters
    ----------
    data_dir : directory looked in first (see :func:`find_mnist_dir` for the order).
    download : fetch the files when no directory holds them.
    mirrors : base URLs for the download (default :data:`DEFAULT_MIRRORS`).
    cache_dir : cache root to use instead of ``$DLFS_CACHE_DIR`` or the per-user default.
    verify : check the files against the published md5 sums before parsing (~20 ms).
    """
    directory = find_mnist_dir(data_dir, download=download, mirrors=mirrors, cache_dir=cache_dir)
    if verify:
        verify_mnist(directory)
    return read_mnist_dir(directory)
