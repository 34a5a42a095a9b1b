"""The strict IDX parser on tiny files written here: every malformed input is an IDXError that names the problem.

Hypothesis feeds it random bytes, random truncations and random header mutations of a
valid file: the result is either a correct parse or IDXError, never another exception.
"""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from idx_files import idx_bytes, tiny_arrays, write_files

from compare.data import DataError
from compare.data.idx import IMAGE_MAGIC, LABEL_MAGIC, IDXError, parse_idx, read_idx
from compare.data.mnist import read_mnist_dir
from compare.data.mnist_files import FILES

PROPERTY = settings(max_examples=200)  # more examples than the suite profile (conftest.py): parsing is cheap

IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)  # (count, rows, cols)
LABELS = np.array([3, 0, 9], dtype=np.uint8)  # (count,)
IMAGE_FILE = idx_bytes(IMAGES)  # 16-byte header + 24 bytes
LABEL_FILE = idx_bytes(LABELS)  # 8-byte header + 3 bytes


def test_idx_error_is_a_data_error() -> None:
    assert issubclass(IDXError, DataError)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("array", [IMAGES, LABELS], ids=["images", "labels"])
def test_valid_files_parse_exactly(tmp_path: Path, compress: bool, array: np.ndarray) -> None:
    data = idx_bytes(array)
    path = tmp_path / "f"
    path.write_bytes(gzip.compress(data) if compress else data)
    magic = IMAGE_MAGIC if array.ndim == 3 else LABEL_MAGIC
    got = read_idx(path, magic)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, array)


def test_an_empty_set_parses() -> None:
    assert parse_idx(idx_bytes(np.zeros((0, 28, 28), np.uint8)), IMAGE_MAGIC).shape == (0, 28, 28)


@pytest.mark.parametrize(
    "data, magic, message",
    [
        pytest.param(LABEL_FILE, IMAGE_MAGIC, "wrong magic number 2049, expected 2051", id="magic-labels-as-images"),
        pytest.param(IMAGE_FILE, LABEL_MAGIC, "wrong magic number 2051, expected 2049", id="magic-images-as-labels"),
        pytest.param(b"\x00\x00", IMAGE_MAGIC, r"truncated header \(2 bytes\)", id="header-2-bytes"),
        pytest.param(IMAGE_FILE[:10], IMAGE_MAGIC, r"truncated header \(10 of 16 bytes\)", id="header-images-short"),
        pytest.param(LABEL_FILE[:6], LABEL_MAGIC, r"truncated header \(6 of 8 bytes\)", id="header-labels-short"),
        pytest.param(
            IMAGE_FILE[:-1], IMAGE_MAGIC, "truncated: header promises 24 data bytes, found 23", id="body-images-short"
        ),
        pytest.param(
            LABEL_FILE[:-3], LABEL_MAGIC, "truncated: header promises 3 data bytes, found 0", id="body-labels-empty"
        ),
        pytest.param(IMAGE_FILE + b"\x00", IMAGE_MAGIC, "1 unexpected bytes after the data", id="trailing-images"),
        pytest.param(LABEL_FILE + b"abc", LABEL_MAGIC, "3 unexpected bytes after the data", id="trailing-labels"),
        pytest.param(
            struct.pack(">4i", IMAGE_MAGIC, 1, 0, 28), IMAGE_MAGIC, r"invalid dimensions \(1, 0, 28\)", id="zero-rows"
        ),
        pytest.param(
            struct.pack(">2i", LABEL_MAGIC, -1), LABEL_MAGIC, r"invalid dimensions \(-1,\)", id="negative-count"
        ),
        pytest.param(
            gzip.compress(IMAGE_FILE)[:-5], IMAGE_MAGIC, "corrupt or truncated gzip stream", id="gzip-truncated"
        ),
        pytest.param(
            b"\x1f\x8b" + b"not gzip at all", IMAGE_MAGIC, "corrupt or truncated gzip stream", id="gzip-garbage"
        ),
    ],
)
def test_malformed_data_names_the_problem(data: bytes, magic: int, message: str) -> None:
    with pytest.raises(IDXError, match=message):
        parse_idx(data, magic, "some-file")
    with pytest.raises(IDXError, match="^some-file: "):
        parse_idx(data, magic, "some-file")


@pytest.mark.parametrize("dims", [(2**21, 2**21, 2**22), (2**31 - 1,) * 3], ids=["2^64", "max-int32"])
def test_a_header_that_overflows_int64_is_truncation_not_a_crash(dims: tuple[int, int, int]) -> None:
    # 2^21 * 2^21 * 2^22 wraps to 0 in int64: a naive size check then passes and reshape fails
    size = dims[0] * dims[1] * dims[2]
    with pytest.raises(IDXError, match=f"header promises {size} data bytes, found 0"):
        parse_idx(struct.pack(">4i", IMAGE_MAGIC, *dims), IMAGE_MAGIC)


def test_the_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(LABEL_FILE[:-1]))
    with pytest.raises(IDXError, match=f"^{re.escape(str(path))}: truncated"):
        read_idx(path, LABEL_MAGIC)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IDXError, match="nope: cannot read"):
        read_idx(tmp_path / "nope", LABEL_MAGIC)


def _mnist_dir(tmp_path: Path, **arrays: np.ndarray) -> Path:
    """Tiny MNIST files in ``tmp_path``, with some arrays replaced by ``arrays``."""
    content = {**tiny_arrays(), **arrays}
    return write_files(tmp_path, {f"{FILES[key]}.gz": gzip.compress(idx_bytes(content[key])) for key in FILES})


def test_a_directory_loads_scaled_to_unit_range(tmp_path: Path) -> None:
    images = np.array([[[0, 255, 7], [128, 1, 2]]] * 5, dtype=np.uint8)  # (5, 2, 3), like the tiny test images
    labels = np.array([0, 9, 3, 3, 1], np.uint8)
    ds = read_mnist_dir(_mnist_dir(tmp_path, train_images=images, train_labels=labels))
    assert ds.x_train.dtype == np.float64 and ds.x_train.shape == (5, 6)
    np.testing.assert_array_equal(ds.x_train[4], [0.0, 1.0, 7 / 255, 128 / 255, 1 / 255, 2 / 255])
    assert ds.t_train.dtype == np.intp
    np.testing.assert_array_equal(ds.t_train, labels)
    assert ds.n_classes == 10


def test_image_and_label_counts_must_match(tmp_path: Path) -> None:
    with pytest.raises(IDXError, match="train has 5 images but 4 labels"):
        read_mnist_dir(_mnist_dir(tmp_path, train_labels=np.zeros(4, np.uint8)))


def test_labels_above_9_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IDXError, match=r"test labels must be 0\.\.9, found 10"):
        read_mnist_dir(_mnist_dir(tmp_path, test_labels=np.array([1, 10, 2], np.uint8)))


def test_train_and_test_image_sizes_must_match(tmp_path: Path) -> None:
    with pytest.raises(IDXError, match=r"train images are \(2, 3\) but test images are \(3, 2\)"):
        read_mnist_dir(_mnist_dir(tmp_path, test_images=np.zeros((3, 3, 2), np.uint8)))


def test_a_missing_file_in_a_directory(tmp_path: Path) -> None:
    directory = _mnist_dir(tmp_path)
    (directory / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(IDXError, match=r"missing train-labels-idx1-ubyte\.gz \(or train-labels-idx1-ubyte\)"):
        read_mnist_dir(directory)


# --- properties --------------------------------------------------------------------


def _parse_or_idx_error(data: bytes, magic: int) -> np.ndarray | None:
    """The parse result, or None on IDXError; any other exception fails the test."""
    try:
        return parse_idx(data, magic)
    except IDXError:
        return None


@PROPERTY
@given(
    data=st.one_of(
        st.binary(max_size=64),
        st.binary(max_size=64).map(lambda b: b"\x1f\x8b" + b),  # looks like gzip
        st.binary(max_size=64).map(gzip.compress),  # real gzip around noise
        st.binary(max_size=64).map(lambda b: struct.pack(">i", IMAGE_MAGIC) + b),  # right magic
        st.binary(max_size=64).map(lambda b: struct.pack(">i", LABEL_MAGIC) + b),
    ),
    magic=st.sampled_from([IMAGE_MAGIC, LABEL_MAGIC]),
)
def test_random_bytes_parse_consistently_or_raise_idx_error(data: bytes, magic: int) -> None:
    result = _parse_or_idx_error(data, magic)
    if result is not None:  # then the data must be a well-formed file of that kind
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        header = 16 if magic == IMAGE_MAGIC else 8
        assert result.ndim == (3 if magic == IMAGE_MAGIC else 1)
        assert result.shape == struct.unpack(f">{result.ndim}i", raw[4:header])
        assert result.tobytes() == raw[header:]


@PROPERTY
@given(kind=st.sampled_from(["images", "labels"]), compress=st.booleans(), cut=st.integers(min_value=0))
def test_every_truncation_is_an_idx_error(kind: str, compress: bool, cut: int) -> None:
    data, magic = (IMAGE_FILE, IMAGE_MAGIC) if kind == "images" else (LABEL_FILE, LABEL_MAGIC)
    if compress:
        data = gzip.compress(data)
    with pytest.raises(IDXError):
        parse_idx(data[: cut % len(data)], magic)


@PROPERTY
@given(
    kind=st.sampled_from(["images", "labels"]),
    mutations=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_header_mutations_parse_correctly_or_raise_idx_error(kind: str, mutations: list[tuple[int, int]]) -> None:
    data, magic = (IMAGE_FILE, IMAGE_MAGIC) if kind == "images" else (LABEL_FILE, LABEL_MAGIC)
    header = 16 if kind == "images" else 8
    mutated = bytearray(data)
    for position, value in mutations:
        mutated[position % header] = value
    result = _parse_or_idx_error(bytes(mutated), magic)
    if result is not None:  # only a header that still describes the same body may parse
        assert mutated[:4] == data[:4]
        assert result.size == len(data) - header
        assert result.tobytes() == data[header:]
        assert result.shape == struct.unpack(f">{result.ndim}i", mutated[4:header])


@PROPERTY
@given(extra=st.binary(min_size=1, max_size=16))
def test_trailing_bytes_are_always_refused(extra: bytes) -> None:
    with pytest.raises(IDXError, match="unexpected bytes after the data"):
        parse_idx(LABEL_FILE + extra, LABEL_MAGIC)
