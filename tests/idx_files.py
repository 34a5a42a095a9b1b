"""Tiny IDX files for the MNIST tests: written here, byte by byte, from the IDX layout."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

from compare.data.idx import IMAGE_MAGIC, LABEL_MAGIC
from compare.data.mnist_files import FILES


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: (count, rows, cols) images or (count,) labels."""
    magic = IMAGE_MAGIC if array.ndim == 3 else LABEL_MAGIC
    header = struct.pack(f">i{array.ndim}i", magic, *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def tiny_arrays(
    n_train: int = 5, n_test: int = 3, rows: int = 2, cols: int = 3, seed: int = 0
) -> dict[str, np.ndarray]:
    """Random images and labels 0..9 under the keys of :data:`compare.mnist.FILES`."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, size=(n_train, rows, cols), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, rows, cols), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }


def tiny_gz_files(seed: int = 0) -> dict[str, bytes]:
    """File name (``*.gz``) -> gzip-compressed IDX bytes for a tiny stand-in of the four MNIST files."""
    arrays = tiny_arrays(seed=seed)
    # mtime=0: the same bytes (and md5) every time
    return {f"{FILES[key]}.gz": gzip.compress(idx_bytes(arrays[key]), mtime=0) for key in FILES}


def md5_table(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


def write_files(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory
