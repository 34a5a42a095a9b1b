"""Why the output does not change with a parameter: a layer ignores it, holds a copy, or nothing holds it.

Probing (:mod:`dlfs_gradcheck.usercode.probing`) finds the parameters whose in-place change leaves
``predict`` (or the loss) unchanged. :func:`why_unread` looks at what the user's object holds, a
few attributes deep (``layers['Affine1'].b``), to say which of three things happened:

- an attribute holds ``params[name]`` itself (shares its memory): that layer's forward pass does not
  use it (e.g. ``Affine.forward`` without ``+ self.b``);
- an attribute holds an array of its shape and dtype that is not it: a copy (``.copy()``,
  ``np.array(...)``, or ``params[name]`` replaced after the layers were built);
- nothing else holds an array like it: ``predict`` does not read ``params[name]``.

Usage::

    text, forward = why_unread(user_net, params, ["b1"])   # "the layers hold b1 as Affine1.b but ...", Affine.forward
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

DEPTH = 3  # net.layers['Affine1'].W is three steps from the net


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


def _kind(user_net, params: Mapping[str, np.ndarray], name: str) -> tuple[str, str, object]:
    """("ignored" | "copy" | "unread", where it is held, the object holding it) for one unread parameter."""
    target = params[name]
    arrays = held_arrays(user_net, skip=getattr(user_net, "params", params))  # not through the params dict itself
    sharing = [(p, holder) for p, a, holder in arrays if np.shares_memory(a, target)]
    if sharing:
        return "ignored", _owner(sharing[0][0]), sharing[0][1]
    copies = [(p, holder) for p, a, holder in arrays if a.shape == target.shape and a.dtype == target.dtype]
    return ("copy", _owner(copies[0][0]), copies[0][1]) if copies else ("unread", "", None)


def why_unread(user_net, params: Mapping[str, np.ndarray], names: Sequence[str]) -> tuple[str, object | None]:
    """Why the output does not change when each of ``params[names]`` (the user's arrays) changes: one line, and
    the ``forward`` of a layer that holds one of them without using it (None when no layer does)."""
    kinds: dict[str, list[tuple[str, str]]] = {}
    culprit = None
    for name in names:
        kind, where, holder = _kind(user_net, params, name)
        kinds.setdefault(kind, []).append((name, where))
        if kind == "ignored" and culprit is None:
            culprit = getattr(type(holder), "forward", None)
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
    return "; ".join(parts), culprit
