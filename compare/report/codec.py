"""Dataclasses to JSON and back, driven by their type hints: the schema is the model itself.

:func:`to_data` turns a tree of dataclasses, lists, dicts and scalars into JSON-ready data;
:func:`from_data` rebuilds the tree from that data and the root's type, checking every
field (a missing or unknown key, or a value of the wrong type, raises :class:`SchemaError`
naming the path, e.g. ``gradients.rows[3].max_rel``). Non-finite floats are written as the
strings ``"inf"``, ``"-inf"`` and ``"nan"`` (strict JSON has no such numbers) and read back
as floats, so a saved report renders exactly as the run did.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Union

NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class SchemaError(ValueError):
    """Data that does not match the report's schema."""


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


def _scalar(tp: type, data: object, path: str) -> object:
    if tp is float:
        if isinstance(data, str) and data in NON_FINITE:
            return NON_FINITE[data]
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
    elif tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
    elif isinstance(data, tp):
        return data
    raise SchemaError(f"{path or 'the report'}: expected {tp.__name__}, got {type(data).__name__} {data!r:.40}")


def _dataclass(tp: type, data: object, path: str) -> object:
    if not isinstance(data, dict):
        raise SchemaError(f"{path or 'the report'}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(tp)
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
    return tp(**values)


def _free(data: object) -> object:
    """Free-form data (a field typed ``Any``): the strings ``"inf"``, ``"-inf"``, ``"nan"`` are those floats."""
    if isinstance(data, str) and data in NON_FINITE:
        return NON_FINITE[data]
    if isinstance(data, dict):
        return {k: _free(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_free(v) for v in data]
    return data


def from_data(tp: Any, data: object, path: str = "") -> Any:
    """Rebuild a value of type ``tp`` from JSON data; raise :class:`SchemaError` on a mismatch."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return _free(data)
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
        return {k: from_data(args[1], v, f"{path}.{k}") for k, v in data.items()}
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
