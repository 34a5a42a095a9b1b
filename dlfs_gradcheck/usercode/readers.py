"""Why the output does not change with a parameter: a layer ignores it, holds a copy, or nothing holds it.

Probing (:mod:`dlfs_gradcheck.usercode.probing`) finds the parameters whose in-place change leaves
``predict`` (or the loss) unchanged. :func:`why_unread` looks at what the user's object holds, a
few attributes deep (``layers['Affine1'].b``), to say which of three things happened:

- an attribute holds ``params[name]`` itself (shares its memory): that layer's forward pass does not
  use it (e.g. ``Affine.forward`` without ``+ self.b``);
- an attribute holds an array of its shape and dtype that is not it: a copy (``.copy()``,
  ``np.array(...)``, or ``params[name]`` replaced after the layers were built), named at the line
  of ``__init__`` that made it when its allocation was traced (:func:`built_with_births`);
- nothing else holds an array like it: ``predict`` does not read ``params[name]``.

Usage::

    net, births = built_with_births(lambda: TwoLayerNet(784, 50, 10))   # where each array it holds was made
    text, forward, made = why_unread(net, params, ["b1"], births)   # "the layers hold b1 as Affine1.b but ...",
                                                                     # Affine.forward, "" (no copy)
"""

from __future__ import annotations

import tracemalloc
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from dlfs_gradcheck.usercode.failures import foreign_roots, is_users, short_path

DEPTH = 3  # net.layers['Affine1'].W is three steps from the net
TRACE_FRAMES = 32  # deep enough to reach the user's __init__ through the sandbox's calls
Births = dict[int, tuple[weakref.ref, str]]  # id(array) -> (the array, weakly; file:line where it was made)


def _children(obj) -> Iterator[tuple[str, object]]:
    if isinstance(obj, Mapping):
        for k, v in list(obj.items()):
            yield f"[{k!r}]", v
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield f"[{i}]", v
    else:
        held = getattr(obj, "__dict__", None)
        if isinstance(held, dict):
            for k, v in list(held.items()):
                yield f".{k}", v


def held_arrays(obj, skip: object) -> list[tuple[str, np.ndarray, object]]:
    """(path, array, its holder) of the arrays ``obj`` holds, ``DEPTH`` steps deep, not through ``skip`` (params)."""
    found: list[tuple[str, np.ndarray, object]] = []
    seen: set[int] = {id(skip)}

    def walk(node, path: str, depth: int) -> None:
        for step, child in _children(node):
            if id(child) in seen:
                continue
            seen.add(id(child))
            if isinstance(child, np.ndarray):
                found.append((path + step, child, node))
            elif depth < DEPTH and not isinstance(child, (str, bytes, int, float, type)):
                walk(child, path + step, depth + 1)

    walk(obj, "", 1)
    return found


def _owner(path: str) -> str:
    """``.layers['Affine1'].b`` -> ``Affine1.b``; ``.W1_copy`` -> ``.W1_copy``."""
    head, dot, attr = path.rpartition(".")
    if dot and head.endswith("]"):
        return f"{head.rpartition('[')[2].strip(']').strip(chr(39))}.{attr}"
    return path


def built_with_births(construct: Callable[[], object]) -> tuple[object, Births]:
    """``construct()`` (the user's ``__init__``) with allocations traced: the object, and where each array it holds
    was made (``file:line`` in the user's code), so a copy can be named at the line that made it."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(TRACE_FRAMES)
    try:
        built = construct()
        births = {}
        for _, array, _ in held_arrays(built, skip=None):
            where = _birth(array)
            if where:
                births[id(array)] = (weakref.ref(array), where)
    finally:
        if started:
            tracemalloc.stop()
    return built, births


def _birth(array: np.ndarray) -> str:
    """The innermost frame of the user's code in ``array``'s allocation traceback ("" if untraced or none)."""
    trace = tracemalloc.get_object_traceback(array)
    foreign = foreign_roots()
    mine = [f for f in (trace or ()) if is_users(f.filename, foreign)]
    return f"{short_path(mine[-1].filename)}:{mine[-1].lineno}" if mine else ""  # oldest first: the last is innermost


def _born(births: Births, array: np.ndarray) -> str:
    ref, where = births.get(id(array), (None, ""))
    return where if ref is not None and ref() is array else ""


def _kind(user_net, params: Mapping[str, np.ndarray], name: str) -> tuple[str, str, object, np.ndarray | None]:
    """("ignored" | "copy" | "unread", where it is held, its holder, the array held) for one unread parameter."""
    target = params[name]
    arrays = held_arrays(user_net, skip=getattr(user_net, "params", params))  # not through the params dict itself
    sharing = [(p, holder, a) for p, a, holder in arrays if np.shares_memory(a, target)]
    if sharing:
        return "ignored", _owner(sharing[0][0]), sharing[0][1], sharing[0][2]
    copies = [(p, holder, a) for p, a, holder in arrays if a.shape == target.shape and a.dtype == target.dtype]
    return ("copy", _owner(copies[0][0]), copies[0][1], copies[0][2]) if copies else ("unread", "", None, None)


def why_unread(
    user_net, params: Mapping[str, np.ndarray], names: Sequence[str], births: Births | None = None
) -> tuple[str, object | None, str]:
    """Why the output does not change when each of ``params[names]`` (the user's arrays) changes: one line, the
    ``forward`` of a layer that holds one of them without using it (None when no layer does), and where the first
    copy was made (``file:line``, "" when unknown: ``births`` from :func:`built_with_births`)."""
    kinds: dict[str, list[tuple[str, str]]] = {}
    culprit, made = None, ""
    for name in names:
        kind, where, holder, array = _kind(user_net, params, name)
        kinds.setdefault(kind, []).append((name, where))
        if kind == "ignored" and culprit is None:
            culprit = getattr(type(holder), "forward", None)
        if kind == "copy" and not made:
            made = _born(births or {}, array)
    parts = []
    if "ignored" in kinds:
        held = ", ".join(f"{n} as {w}" for n, w in kinds["ignored"])
        them = "it" if len(kinds["ignored"]) == 1 else "them"
        guess = (
            "an Affine forward without + b" if all(n[0] == "b" for n, _ in kinds["ignored"]) else "another array read"
        )
        parts.append(f"the layers hold {held} but their forward pass does not use {them} ({guess}?)")
    if "copy" in kinds:
        held = ", ".join(f"{w} is a copy of {n}" for n, w in kinds["copy"])
        parts.append(
            f"{held}, not params' own array: the layers do not see the weights training changes (an array copied, "
            "or params replaced after the layers were built?)"
        )
    if "unread" in kinds:
        parts.append("predict does not read " + ", ".join(f"params['{n}']" for n, _ in kinds["unread"]))
    return "; ".join(parts), culprit, made
