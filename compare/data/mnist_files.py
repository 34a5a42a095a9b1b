"""The four MNIST files: where they are found, how they are downloaded, whether they are the originals.

Where the files are looked for, in order (the first directory holding all four is used):

1. ``data_dir`` (the command line's ``--data-dir``),
2. ``$DLFS_MNIST_DIR``,
3. the per-user cache, ``<cache root>/mnist``, where the cache root is ``$DLFS_CACHE_DIR``,
   else ``$XDG_CACHE_HOME/dlfs-compare``, else ``~/.cache/dlfs-compare``.

When none holds them and ``download=True`` (``--download``), :func:`download_mnist` fetches the
four ``.gz`` files (11.6 MB) into the first of these that is set, checking each against the md5
sums published with the original distribution. :func:`verify_mnist` checks the same sums before
loading, so a different data set with the same file names (e.g. Fashion-MNIST) is refused.
Parsing them is :mod:`compare.data.idx`'s; the data set made from them is
:mod:`compare.data.mnist`'s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from compare.data.base import DataError
from compare.data.download import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    DownloadError,
    fetch_verified,
    file_md5,
    user_cache_dir,
)
from compare.data.idx import IDXError
from compare.pathsafety import shown

log = logging.getLogger(__name__)

ENV_VAR = "DLFS_MNIST_DIR"
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
# Base URLs tried in order; each serves the four .gz files under their original names.
# (yann.lecun.com, the original host, has refused plain downloads for years.)
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


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


def find_idx_file(directory: Path, stem: str) -> Path:
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
        path = find_idx_file(directory, stem)
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
