"""Dataclasses to JSON and back, driven by their type hints: the schema is the model itself.

:func:`to_data` turns a tree of dataclasses, lists, dicts and scalars into JSON-ready data;
:func:`from_data` rebuilds the tree from that data and the root's type, checking every
field (a missing or unknown key, or a value of the wrong type, raises :class:`SchemaError`
naming the path, e.g. ``gradients.rows[3].max_rel``). Non-finite floats are written as the
strings ``"inf"``, ``"-inf"`` and ``"nan"`` (strict JSON has no such numbers) and read back
as floats, so a saved report renders exactly as the run did.

Reading a file is bounded: :func:`read_text` takes a regular file of at most
:data:`MAX_FILE_BYTES` of UTF-8, and :func:`parse_json` refuses nesting deeper than
:data:`MAX_DEPTH` and integers longer than :data:`MAX_INT_DIGITS` digits, each with one line
naming the file (:class:`SchemaError`). A dataclass may state what its fields must agree on
in a ``contradiction()`` method (returning ``"field: problem"`` or None); :func:`from_data`
refuses data that contradicts itself, naming the path.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import stat
import types
import typing
from typing import Any, Union

from compare.pathsafety import file_kind, shown

NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
MAX_FILE_BYTES = 250_000_000  # a report of the book's 10,000 steps is about 2 MB: a far bigger file is not one
MAX_DEPTH = 64  # a report nests 6 levels deep; the free-form summary figures a few more
MAX_INT_DIGITS = 100  # no count, size or seed in a report comes near it


class SchemaError(ValueError):
    """Data that does not match the report's schema (or a file that holds no report at all)."""


# -- reading a file --------------------------------------------------------------------------------


def read_text(path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of the regular file ``path`` (at most :data:`MAX_FILE_BYTES`).

    OSError when it cannot be opened (missing, unreadable); :class:`SchemaError` naming the file
    when it is not a regular file (a directory, a FIFO, a device: never waited on, never read
    without end), is larger than the limit, or is not UTF-8.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)  # a FIFO: no wait for a writer
    limit = MAX_FILE_BYTES
    too_large = SchemaError(f"{shown(path)} is larger than {limit / 1e6:g} MB: too large for a report")
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SchemaError(f"{shown(path)} is {file_kind(st.st_mode)}, not a report file")
        if st.st_size > limit:
            raise too_large
        with open(fd, "rb", closefd=False) as f:
            try:
                data = f.read(limit + 1)  # never more, whatever the file claims or grows to
            except OSError as e:  # a read error names no file by itself (EIO from /proc/self/mem)
                raise OSError(e.errno, e.strerror, os.fspath(path)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise too_large
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SchemaError(
            f"{shown(path)} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); a report is UTF-8 JSON"
        ) from None


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise SchemaError(f"holds an integer of {len(digits.lstrip('-'))} digits, more than any report holds")
    return int(digits)


def parse_json(text: str, source: str = "the report") -> object:
    """JSON data of ``text``; :class:`SchemaError` naming ``source`` when it is not JSON or not bounded."""
    try:
        return json.loads(text.removeprefix("\ufeff"), parse_int=_int)  # a byte-order mark is not content
    except json.JSONDecodeError as e:
        raise SchemaError(f"{source} is not JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise SchemaError(f"{source} nests too deeply to be a report") from None
    except SchemaError as e:
        raise SchemaError(f"{source} {e}") from None


def _float_out(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def to_data(obj: object) -> object:
    """JSON-ready data of ``obj`` (dataclasses become dicts in field order)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return _float_out(obj)
    if hasattr(obj, "item"):  # a numpy scalar
        return to_data(obj.item())
    raise TypeError(f"cannot store a {type(obj).__name__} in a report")


def _text(data: str, path: str) -> str:
    """``data``, unless it holds a lone surrogate (JSON's ``"\\ud800"``): no text, and no file or terminal takes it."""
    try:
        data.encode("utf-8")
    except UnicodeEncodeError as e:
        raise SchemaError(f"{path or 'the report'}: not text (a lone surrogate U+{ord(data[e.start]):04X})") from None
    return data


def _scalar(tp: type, data: object, path: str) -> object:
    if tp is float:
        if isinstance(data, str) and data in NON_FINITE:
            return NON_FINITE[data]
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            try:
                return float(data)
            except OverflowError:  # an integer beyond float's range
                digits = len(str(abs(data)))
                raise SchemaError(f"{path or 'the report'}: {digits}-digit number, beyond float's range") from None
    elif tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
    elif isinstance(data, tp):
        return _text(data, path) if isinstance(data, str) else data
    raise SchemaError(f"{path or 'the report'}: expected {tp.__name__}, got {type(data).__name__} {data!r:.40}")


@functools.cache
def _hints(tp: type) -> dict[str, Any]:
    """The type hints of a dataclass, evaluated once (they are strings under ``from __future__ import annotations``)."""
    return typing.get_type_hints(tp)


def _dataclass(tp: type, data: object, path: str) -> object:
    if not isinstance(data, dict):
        raise SchemaError(f"{path or 'the report'}: expected an object, got {type(data).__name__}")
    hints = _hints(tp)
    names = [f.name for f in dataclasses.fields(tp)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise SchemaError(f"{path or 'the report'}: unknown field {unknown[0]!r}")
    values = {}
    for f in dataclasses.fields(tp):
        where = f"{path}.{f.name}" if path else f.name
        if f.name in data:
            values[f.name] = from_data(hints[f.name], data[f.name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SchemaError(f"{where}: missing")
    obj = tp(**values)
    problem = obj.contradiction() if hasattr(obj, "contradiction") else None
    if problem:
        raise SchemaError(f"{path}.{problem}" if path else problem)
    return obj


def _free(data: object, path: str, depth: int = 0) -> object:
    """Free-form data (a field typed ``Any``): the strings ``"inf"``, ``"-inf"``, ``"nan"`` are those floats."""
    if depth > MAX_DEPTH:
        where = path if len(path) <= 80 else path[:77] + "..."
        raise SchemaError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(data, str):
        return NON_FINITE[data] if data in NON_FINITE else _text(data, path)
    if isinstance(data, dict):
        return {_text(k, path): _free(v, f"{path}.{k}", depth + 1) for k, v in data.items()}
    if isinstance(data, list):
        return [_free(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(data)]
    return data


def from_data(tp: Any, data: object, path: str = "") -> Any:
    """Rebuild a value of type ``tp`` from JSON data; raise :class:`SchemaError` on a mismatch."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return _free(data, path)
    if origin in (Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return from_data(inner, data, path)
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, data, path)
    if origin in (list, tuple):
        if not isinstance(data, list):
            raise SchemaError(f"{path}: expected a list, got {type(data).__name__}")
        items = [from_data(args[0], v, f"{path}[{i}]") for i, v in enumerate(data)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(data, dict):
            raise SchemaError(f"{path}: expected an object, got {type(data).__name__}")
        return {_text(k, path): from_data(args[1], v, f"{path}.{k}") for k, v in data.items()}
    return _scalar(tp, data, path)


def type_name(tp: Any) -> str:
    """A type hint as the schema shows it: ``list[GradientRow]``, ``float | null``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join("null" if a is type(None) else type_name(a) for a in args)
    if origin in (list, tuple):
        return f"list[{type_name(args[0])}]"
    if origin is dict:
        return f"dict[str, {type_name(args[1])}]"
    if tp is Any or tp is object:
        return "any"
    return getattr(tp, "__name__", str(tp))
