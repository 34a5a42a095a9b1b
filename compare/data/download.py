"""Checksum-verified downloads into a cache directory, with mirrors and atomic writes.

A file is fetched over HTTP(S) (``urllib``, standard library) from the first mirror
that works. Each transfer goes to a hidden temporary file in the destination
directory (``.<name>.<pid>.<random>.part``, mode 0666 less the umask), is checked
(length against ``Content-Length`` and a size cap, then md5 against the expected value)
and only then renamed into place with :func:`os.replace`, so the destination never holds
a partial or unverified file under its final name. An interrupted transfer (SIGINT,
SIGTERM) removes its ``.part`` file; one left by a killed process is removed by the next
download of that file. A mirror that fails (HTTP error, refused connection, timeout,
short or oversized transfer, wrong checksum) is skipped for the next one; when all fail,
:class:`DataError` says why in one line. Files already present with the right checksum
are not fetched again.

Usage::

    fetch_verified("train-labels-idx1-ubyte.gz", "d53e10...", ["https://host/mnist/"], Path("cache"))
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from compare.data.base import DataError
from compare.pathsafety import shown
from compare.signals import deferred_interrupts
from compare.tempfiles import clean_stale, create_temp

log = logging.getLogger(__name__)

CACHE_ENV_VAR = "DLFS_CACHE_DIR"  # overrides the per-user cache root
CACHE_APP_NAME = "dlfs-compare"  # folder name under $XDG_CACHE_HOME (or ~/.cache)
DEFAULT_TIMEOUT = 30.0  # seconds per connect or read, not for a whole file
CHUNK_BYTES = 1 << 16
DEFAULT_MAX_BYTES = 64 * 2**20  # a file larger than this is refused while it streams in

# Failures that mean "this mirror did not work": try the next one. Anything else
# (e.g. a full disk while writing the temporary file) is raised at once.
_MIRROR_FAILURES = (
    urllib.error.URLError,  # HTTP errors (404, 500), refused connections, DNS failures
    http.client.HTTPException,  # malformed responses, incomplete chunked reads
    ConnectionError,  # reset or aborted mid-transfer
    TimeoutError,  # no byte for `timeout` seconds (socket.timeout is this class)
    ssl.SSLError,
    ValueError,  # a malformed mirror URL
)


class DownloadError(DataError):
    """Every mirror failed for a file (no network, or none serves it intact)."""


class _BadTransfer(Exception):
    """A transfer that completed but cannot be trusted (short, or wrong checksum)."""


def user_cache_dir() -> Path:
    """The per-user cache root.

    ``$DLFS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/dlfs-compare``, else ``~/.cache/dlfs-compare``
    (a relative ``$XDG_CACHE_HOME`` is ignored, as the XDG base directory specification says).
    """
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / CACHE_APP_NAME
    return Path.home() / ".cache" / CACHE_APP_NAME


def file_md5(path: str | os.PathLike[str]) -> str:
    """The md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def has_md5(path: Path, md5: str) -> bool:
    """True when ``path`` is a file whose md5 is ``md5``."""
    return path.is_file() and file_md5(path) == md5.lower()


def _want_progress(progress: bool | None) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return progress


def _stream_to(url: str, out: BinaryIO, timeout: float, show_progress: bool, max_bytes: int) -> str:
    """Copy ``url`` into the open file ``out``; return the md5 of what arrived.

    Raises :class:`_BadTransfer` when fewer (or more) bytes arrive than ``Content-Length`` announced
    (``http.client`` returns a short body without complaint when the server closes early), or when
    the announced or received size exceeds ``max_bytes``.
    """
    digest = hashlib.md5()
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        if expected is not None and expected > max_bytes:
            raise _BadTransfer(f"announces {expected} bytes, more than the {max_bytes} allowed")
        bar = None
        if show_progress:
            from tqdm import tqdm

            bar = tqdm(total=expected, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], leave=False)
        try:
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if received > max_bytes:
                    raise _BadTransfer(f"sent more than the {max_bytes} bytes allowed")
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    if expected is not None and received != expected:
        raise _BadTransfer(f"truncated transfer: received {received} of {expected} bytes")
    return digest.hexdigest()


def _try_mirror(url: str, dest: Path, md5: str, timeout: float, show_progress: bool, max_bytes: int) -> None:
    """Fetch ``url`` into ``dest`` if its md5 is ``md5``; on any failure leave nothing behind and raise."""
    tmp_path = None
    replaced = False
    try:
        with deferred_interrupts():  # created and named at once, or not at all
            fd, tmp_path = create_temp(dest, ".part")
        with os.fdopen(fd, "wb") as out:
            got = _stream_to(url, out, timeout, show_progress, max_bytes)
            out.flush()
            os.fsync(out.fileno())
        if got != md5.lower():
            raise _BadTransfer(f"checksum mismatch: md5 {got}, expected {md5.lower()}")
        with deferred_interrupts():
            os.replace(tmp_path, dest)
            replaced = True
    finally:
        if tmp_path is not None and not replaced:  # a failed or interrupted transfer: remove the partial file
            with deferred_interrupts():
                tmp_path.unlink(missing_ok=True)


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def fetch_verified(
    name: str,
    md5: str,
    mirrors: Sequence[str],
    dest_dir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Make ``dest_dir/name`` a file with md5 ``md5``, fetching ``<mirror>/<name>`` from the first mirror that works.

    Parameters
    ----------
    name : file name, appended to each mirror base URL.
    md5 : expected md5 hex digest.
    mirrors : base URLs, tried in order.
    dest_dir : existing directory the file lands in.
    timeout : seconds allowed for a connect or a read before a mirror counts as failed.
    progress : tqdm bar per file; ``None`` shows one only when stderr is a terminal.
    max_bytes : a transfer that announces or sends more is refused (the mirror counts as failed).

    A file already there with the right md5 is kept. One with a wrong md5 is replaced only
    by a verified download. Raises :class:`DownloadError` (one line) when every mirror fails.
    """
    dest = dest_dir / name
    try:
        if has_md5(dest, md5):
            return dest
        clean_stale(dest, ".part")
    except OSError as e:
        raise DataError(f"cannot read {shown(dest)}: {e.strerror or e}") from None
    if not mirrors:
        raise DataError(f"could not download {name}: no mirrors given")
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            _try_mirror(url, dest, md5, timeout, _want_progress(progress), max_bytes)
        except (*_MIRROR_FAILURES, _BadTransfer) as e:
            failures.append(f"{url}: {_describe(e)}")
            continue
        except OSError as e:
            raise DataError(f"could not write {shown(dest)}: {e.strerror or e}") from None
        for failure in failures:  # said only when a later mirror worked: a total failure is one error line
            log.warning("download of %s failed; used %s instead", failure, url)
        return dest
    raise DownloadError(f"could not download {name}: every mirror failed ({'; '.join(failures)})")
