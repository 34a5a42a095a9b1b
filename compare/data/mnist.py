"""MNIST from the four original IDX files: where they are found, how they are downloaded, a strict parser.

Where the files are looked for, in order (the first directory holding all four is used):

1. ``data_dir`` (the command line's ``--data-dir``),
2. ``$DLFS_MNIST_DIR``,
3. the per-user cache, ``<cache root>/mnist``, where the cache root is ``$DLFS_CACHE_DIR``,
   else ``$XDG_CACHE_HOME/dlfs-compare``, else ``~/.cache/dlfs-compare``.

When none holds them and ``download=True`` (``--download``), :func:`download_mnist` fetches the
four ``.gz`` files (11.6 MB) into the first of these that is set, checking each against the md5
sums published with the original distribution. Loading checks the same sums by default, so a
different data set with the same file names (e.g. Fashion-MNIST) is refused.

IDX layout (all integers big-endian): an image file has a 16-byte header
(magic 2051, count, rows, cols) then ``count*rows*cols`` unsigned bytes; a label
file has an 8-byte header (magic 2049, count) then ``count`` unsigned bytes. Files
may be gzip-compressed (``.gz``) or raw. Anything else — a wrong magic number,
a short or over-long body, a bad gzip stream, labels above 9, image and label
counts that differ — raises :class:`IDXError` naming the file and the problem.

Usage::

    ds = load_mnist("/path/to/mnist")          # or set DLFS_MNIST_DIR
    ds = load_mnist(download=True)             # fetch into the cache the first time

Longer than 300 lines: finding, verifying, downloading and strictly parsing the four IDX files
are one data source whose errors name each other's places.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from compare.data.base import DataError, Dataset
from compare.data.download import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    DownloadError,
    fetch_verified,
    file_md5,
    user_cache_dir,
)
from compare.pathsafety import shown

log = logging.getLogger(__name__)

ENV_VAR = "DLFS_MNIST_DIR"
IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# md5 sums published with the original distribution (the ones torchvision lists), of the .gz files.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# md5 sums of the same files gunzipped, for a directory that holds them uncompressed.
RAW_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# Sizes in bytes of the .gz files: a download that would be larger is cut off.
MNIST_GZ_BYTES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}
# Sizes of the IDX files themselves (header + data); reading stops once a file (or its gzip
# stream: a small "gzip bomb" can inflate to gigabytes) exceeds this plus IDX_MARGIN_BYTES.
IDX_BYTES = {
    "train-images-idx3-ubyte": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}
IDX_MARGIN_BYTES = 1 << 20
# Base URLs tried in order; each serves the four .gz files under their original names.
# (yann.lecun.com, the original host, has refused plain downloads for years.)
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


class IDXError(DataError):
    """A malformed or missing IDX file."""


def _gunzip_if_compressed(raw: bytes, name: str, max_bytes: int | None = None) -> bytes:
    if raw[:2] != b"\x1f\x8b":  # not the gzip magic: raw IDX
        return raw
    try:
        return gzip.decompress(raw) if max_bytes is None else _gunzip_at_most(raw, name, max_bytes)
    except (OSError, EOFError, zlib.error) as e:
        raise IDXError(f"{name}: corrupt or truncated gzip stream ({e})") from None


def _gunzip_at_most(raw: bytes, name: str, max_bytes: int) -> bytes:
    """Inflate every gzip member of ``raw``, stopping as soon as the output would exceed ``max_bytes``."""
    out = bytearray()
    pending = raw
    while pending:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # one gzip member
        while True:
            out += inflater.decompress(pending, max_bytes + 1 - len(out))  # the limit is >= 1: 0 means none
            if len(out) > max_bytes:
                raise IDXError(f"{name}: inflates to more than {max_bytes} bytes, larger than any MNIST file")
            if not inflater.unconsumed_tail:
                break
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise EOFError("the stream ends before its end-of-stream marker")
        pending = inflater.unused_data
    return bytes(out)


def parse_idx(data: bytes, expected_magic: int, name: str = "IDX data", max_bytes: int | None = None) -> np.ndarray:
    """Parse IDX bytes (gzip-compressed or raw): images (count, rows, cols) for magic 2051, labels (count,) for 2049.

    Raises :class:`IDXError` on a bad gzip stream, a wrong magic number, a truncated header or body,
    trailing bytes, or (when ``max_bytes`` is given) a stream that inflates to more than ``max_bytes``.
    """
    data = _gunzip_if_compressed(data, name, max_bytes)
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
    body = 1
    for d in dims:  # Python integers: a product of three int32 can overflow int64
        body *= d
    found = len(data) - header
    if found < body:
        raise IDXError(f"{name}: truncated: header promises {body} data bytes, found {found}")
    if found > body:
        raise IDXError(f"{name}: {found - body} unexpected bytes after the data")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx(path: str | os.PathLike[str], expected_magic: int, max_bytes: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip or raw) from disk, refusing one over ``max_bytes``; see :func:`parse_idx`."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise IDXError(f"{shown(p)}: {size} bytes, larger than any MNIST file")
        raw = p.read_bytes()
    except OSError as e:
        raise IDXError(f"{shown(p)}: cannot read ({e.strerror or e})") from None
    return parse_idx(raw, expected_magic, shown(p), max_bytes)


def _expand(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` with ``~`` expanded; :class:`DataError` for an empty path or an unknown user."""
    if not os.fspath(path):
        raise DataError(f"{what} is an empty path (use . for the current directory)")
    try:
        return Path(path).expanduser()
    except RuntimeError as e:  # ~nosuchuser
        raise DataError(f"{what} {shown(path)}: {e}") from None


def _probe(path: Path, check: Callable[[Path], bool]) -> bool:
    """``check(path)``, with a file system error (e.g. no permission) as one :class:`DataError` line."""
    try:
        return check(path)
    except OSError as e:
        raise DataError(f"cannot read {shown(path)}: {e.strerror or e}") from None


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if _probe(candidate, Path.is_file):
            return candidate
    raise IDXError(f"{shown(directory)}: missing {stem}.gz (or {stem})")


def _missing(directory: Path) -> list[str]:
    """Names of the four files that ``directory`` lacks (as .gz or raw); empty when it holds all."""
    missing = []
    for stem in FILES.values():
        if not _probe(directory / f"{stem}.gz", Path.is_file) and not _probe(directory / stem, Path.is_file):
            missing.append(f"{stem}.gz")
    return missing


def _state(directory: Path) -> str:
    """``directory``'s problem in a few words ("does not exist", "is not a directory", "is missing ..."), or ""."""
    if _probe(directory, Path.is_dir):
        missing = _missing(directory)
        return f"is missing {', '.join(missing)}" if missing else ""
    return "is not a directory" if _probe(directory, Path.exists) else "does not exist"


def mnist_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<cache root>/mnist``; the root is ``cache_dir`` if given, else :func:`compare.download.user_cache_dir`."""
    if cache_dir:
        root = _expand(cache_dir, "cache directory")
    else:
        try:
            root = user_cache_dir()
        except RuntimeError as e:  # $DLFS_CACHE_DIR=~nosuchuser/..., or no home directory
            raise DataError(f"cannot find the cache directory: {e}") from None
    return root / "mnist"


def search_path(
    data_dir: str | os.PathLike[str] | None = None, cache_dir: str | os.PathLike[str] | None = None
) -> list[tuple[str, Path | None]]:
    """The places MNIST is looked for, in order, as (label, directory or None when not set)."""
    env = os.environ.get(ENV_VAR)
    return [
        ("--data-dir", _expand(data_dir, "--data-dir") if data_dir is not None else None),
        (f"${ENV_VAR}", _expand(env, f"${ENV_VAR}") if env else None),
        ("cache", mnist_cache_dir(cache_dir)),
    ]


def download_mnist(
    dest_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    checksums: Mapping[str, str] | None = None,
    progress: bool | None = None,
) -> Path:
    """Download the MNIST ``.gz`` files into ``dest_dir`` (default: the cache), md5-verified; return the directory.

    Parameters
    ----------
    dest_dir : target directory, created if needed; ``None`` means :func:`mnist_cache_dir`.
    mirrors : base URLs tried in order for each file (default :data:`DEFAULT_MIRRORS`); a single
        string counts as one mirror.
    timeout : seconds allowed for a connect or a read before a mirror counts as failed.
    checksums : file name -> md5 of the files to fetch (default :data:`MNIST_MD5`).
    progress : tqdm bars; ``None`` shows them only when stderr is a terminal.

    Files already present with the right md5 are kept; every other file is written only after
    it has been verified. Raises :class:`DownloadError` naming the file when every mirror fails, and
    saying where a copy made elsewhere can go.
    """
    dest = _expand(dest_dir, "download directory") if dest_dir is not None else mnist_cache_dir()
    mirror_list = [mirrors] if isinstance(mirrors, str) else list(mirrors or DEFAULT_MIRRORS)
    created = []  # directories this call creates, deepest first: removed again if the download fails
    try:
        missing = dest
        while not missing.exists():
            created.append(missing)
            missing = missing.parent
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create {shown(dest)}: {e.strerror or e}") from None
    try:
        for name, md5 in (checksums or MNIST_MD5).items():
            cap = MNIST_GZ_BYTES.get(name, DEFAULT_MAX_BYTES)
            fetch_verified(name, md5, mirror_list, dest, timeout=timeout, progress=progress, max_bytes=cap)
    except BaseException as e:
        for directory in created:
            try:
                directory.rmdir()  # only when empty: files fetched before the failure stay
            except OSError:
                break
        if isinstance(e, DownloadError):
            raise DownloadError(f"{e}; {offline_remedy(dest)}") from None
        raise
    return dest


def offline_remedy(dest: Path) -> str:
    """What to do when the files cannot be downloaded here: where to put a copy, or how to point at one."""
    names = ", ".join(MNIST_MD5)
    return (
        f"without network, copy the four files ({names}; from any MNIST mirror: their md5 sums are checked) "
        f"into {shown(dest)}, or pass --data-dir DIR or set ${ENV_VAR} to a directory that holds them"
    )


def find_mnist_dir(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    mirrors: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The first directory of :func:`search_path` that holds all four files.

    When none does: with ``download=True`` the files are downloaded into the first place that
    is set (``data_dir``, else ``$DLFS_MNIST_DIR``, else the cache); otherwise :class:`DataError`
    lists where it looked and what is missing there. An explicit ``data_dir`` is used or
    refused, never passed over: a typo in ``--data-dir`` must not silently pick other files.
    """
    if data_dir is not None:
        chosen = _expand(data_dir, "--data-dir")
        problem = _state(chosen)
        if not problem:
            return chosen
        if download and problem != "is not a directory":
            return download_mnist(chosen, mirrors)
        hint = "" if problem == "is not a directory" else "; pass --download to fetch the files into it"
        raise DataError(f"MNIST directory {shown(chosen)} {problem}{hint}")
    places = search_path(data_dir, cache_dir)
    report = []
    passed_over = []  # places that were set but lack the files
    for i, (label, directory) in enumerate(places, start=1):
        if directory is None:
            report.append(f"  {i}. {label}: not set")
            continue
        state = _state(directory)
        if not state:
            for where in passed_over:
                log.warning("MNIST: %s; using %s instead", where, shown(directory))
            return directory
        problem = state.removeprefix("is ") if state.startswith("is missing") else state
        report.append(f"  {i}. {label}: {shown(directory)} ({problem})")
        passed_over.append(f"{label} {shown(directory)} {problem}")
    # Download into the first place that is set and can be a directory (not, e.g., a file named by the variable).
    usable = [d for _, d in places if d is not None and _state(d) != "is not a directory"]
    if download and usable:
        return download_mnist(usable[0], mirrors)
    remedy = (
        f"Pass --download to fetch the four files (11.6 MB, md5-checked) into {shown(usable[0])}, or --data-dir DIR"
        if usable
        else "Pass --data-dir DIR"
    )
    raise DataError(
        "MNIST not found. Looked in:\n" + "\n".join(report) + f"\n{remedy} to use a directory that holds them."
    )


def verify_mnist(directory: str | os.PathLike[str]) -> None:
    """Check the four files in ``directory`` (``.gz`` or raw) against the published md5 sums.

    Raises :class:`DataError` naming each file that differs, or :class:`IDXError` for a missing one.
    """
    directory = Path(directory)
    problems = []
    for stem in FILES.values():
        path = _find(directory, stem)
        expected = MNIST_MD5.get(path.name) or RAW_MD5[path.name]
        try:
            got = file_md5(path)
        except OSError as e:
            raise IDXError(f"{shown(path)}: cannot read ({e.strerror or e})") from None
        if got != expected:
            problems.append(f"{path.name} has md5 {got}, expected {expected}")
    if problems:
        raise DataError(
            f"{directory}: not the original MNIST files: {'; '.join(problems)}."
            " Replace them, or delete them and use --download."
        )


def read_mnist_dir(directory: str | os.PathLike[str]) -> Dataset:
    """Parse the four files in ``directory`` (no checksum test) into a :class:`Dataset`.

    Inputs are scaled to [0, 1] as float64, (N, rows*cols); labels are class indices (intp).
    """
    directory = Path(directory)
    arrays = {}
    for key, stem in FILES.items():
        magic = IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC
        arrays[key] = read_idx(_find(directory, stem), magic, IDX_BYTES[stem] + IDX_MARGIN_BYTES)
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
