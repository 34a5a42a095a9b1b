"""The IDX file format of MNIST, parsed strictly.

Layout (all integers big-endian): an image file has a 16-byte header (magic 2051, count, rows,
cols) then ``count*rows*cols`` unsigned bytes; a label file has an 8-byte header (magic 2049,
count) then ``count`` unsigned bytes. Files may be gzip-compressed (``.gz``) or raw. Anything
else — a wrong magic number, a short or over-long body, a bad gzip stream, a file or a gzip
stream larger than the caller allows — raises :class:`IDXError` naming the file and the problem.

Usage::

    images = read_idx("train-images-idx3-ubyte.gz", IMAGE_MAGIC)  # (count, rows, cols) uint8
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from compare.data.base import DataError
from compare.pathsafety import shown

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049


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
