"""MNIST from the four original IDX files, with a strict parser.

IDX layout (all integers big-endian): an image file has a 16-byte header
(magic 2051, count, rows, cols) then ``count*rows*cols`` unsigned bytes; a label
file has an 8-byte header (magic 2049, count) then ``count`` unsigned bytes. Files
may be gzip-compressed (``.gz``) or raw. Anything else — a wrong magic number,
a short or over-long body, a bad gzip stream, labels above 9, image and label
counts that differ — raises :class:`IDXError` naming the file and the problem.

Usage::

    ds = load_mnist("/path/to/mnist")          # or set DLFS_MNIST_DIR
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from compare.dataset import DataError, Dataset

ENV_VAR = "DLFS_MNIST_DIR"
IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class IDXError(DataError):
    """A malformed or missing IDX file."""


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IDXError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IDXError(f"{path}: corrupt or truncated gzip stream ({e})") from None
    return raw


def parse_idx(data: bytes, expected_magic: int, name: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes: images (count, rows, cols) for magic 2051, labels (count,) for 2049.

    Raises :class:`IDXError` on a wrong magic number, a truncated header or body,
    or trailing bytes.
    """
    if len(data) < 4:
        raise IDXError(f"{name}: truncated header ({len(data)} bytes)")
    (magic,) = struct.unpack(">i", data[:4])
    if magic != expected_magic:
        raise IDXError(f"{name}: wrong magic number {magic}, expected {expected_magic}")
    ndim = 3 if expected_magic == IMAGE_MAGIC else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{name}: truncated header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}i", data[4:header])
    if any(d < 0 for d in dims) or (ndim == 3 and (dims[1] == 0 or dims[2] == 0)):
        raise IDXError(f"{name}: invalid dimensions {dims}")
    body = int(np.prod(dims, dtype=np.int64))
    if len(data) - header < body:
        raise IDXError(f"{name}: truncated: header promises {body} data bytes, found {len(data) - header}")
    if len(data) - header > body:
        raise IDXError(f"{name}: {len(data) - header - body} unexpected bytes after the data")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx(path: str | os.PathLike[str], expected_magic: int) -> np.ndarray:
    """Read one IDX file (gzip or raw) from disk; see :func:`parse_idx`."""
    p = Path(path)
    return parse_idx(_read_bytes(p), expected_magic, str(p))


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    raise IDXError(f"{directory}: missing {stem}.gz (or {stem})")


def resolve_mnist_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """The directory given, else ``$DLFS_MNIST_DIR``; a clear error when neither is set or it is absent."""
    chosen = data_dir if data_dir else os.environ.get(ENV_VAR)
    if not chosen:
        raise DataError(f"MNIST needs a directory: pass --data-dir DIR or set {ENV_VAR}")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"MNIST directory {path} does not exist")
    return path


def load_mnist(data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """The 60,000 / 10,000 MNIST split, inputs scaled to [0, 1] as float64 (784 features)."""
    directory = resolve_mnist_dir(data_dir)
    arrays = {}
    for key, stem in FILES.items():
        magic = IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC
        arrays[key] = read_idx(_find(directory, stem), magic)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise IDXError(f"{directory}: {split} has {images.shape[0]} images but {labels.shape[0]} labels")
        if labels.size and labels.max() > 9:
            raise IDXError(f"{directory}: {split} labels must be 0..9, found {labels.max()}")

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
