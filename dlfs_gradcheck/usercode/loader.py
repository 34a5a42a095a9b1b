"""Load the class a ``--impl`` spec names: ``[LABEL=]path/to/file.py:ClassName`` or ``[LABEL=]pkg.module:ClassName``.

A file is imported the way the book's scripts run, in a :class:`Sandbox` of its own
(:mod:`dlfs_gradcheck.usercode.isolation`): its folder is the working directory and first on
``sys.path`` during the import (so ``sys.path.append(os.pardir)`` followed by ``from
common.functions import *`` finds the folder's ``common``), and the helper modules it brought in
stay with it, out of ``sys.modules``: two copies of the book in one run never share a module.
Each file is imported under a module name of its own, so two files both called
``two_layer_net.py`` load side by side.

A spec's ``LABEL=`` part is recognised only when what precedes the ``:`` is not itself an
existing path: ``runs/a=b/net.py:Net`` is a file in a folder called ``a=b``.

Every way a spec can be unusable raises :class:`SpecError` with one line naming the file
(and line, for a syntax error or an exception at import). Labels default to the class name,
made unique (``TwoLayerNet``, ``TwoLayerNet-2``), and may not clash with the project's own
method labels. numpy only; torch is looked at only when the user's file imported it.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType

from dlfs_gradcheck.usercode.failures import ProcessExit, SpecError, user_frame
from dlfs_gradcheck.usercode.isolation import Sandbox, is_real_interrupt

RESERVED = ("numerical", "numerical-fast", "backprop", "autograd", "jax", "ddp")  # the project's own rows
BOOK_METHODS = ("gradient", "numerical_gradient", "loss")  # at least one of these makes a book-style class
_LABEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class ImplSpec:
    label: str | None  # LABEL= part, or None (default: the class name)
    target: str  # path/to/file.py or package.module
    class_name: str

    @property
    def is_file(self) -> bool:
        return self.target.endswith(".py") or os.sep in self.target or "/" in self.target


@dataclass(frozen=True)
class LoadedImpl:
    label: str  # unique row name
    cls: type  # the user's class
    kind: str  # "book" (the book's API) or "torch" (a torch.nn.Module)
    source: str  # the file it came from, for messages
    spec: str  # the spec as given
    sandbox: Sandbox = field(default_factory=Sandbox)  # where its code runs (its folder, its helper modules)


def parse_spec(text: str) -> ImplSpec:
    """Split ``[LABEL=]TARGET:ClassName``; raises :class:`SpecError` when malformed."""
    label = None
    body = text.strip()
    head = body.rpartition(":")[0]
    if "=" in head.split(":", 1)[0] and not os.path.exists(head):  # LABEL=..., unless it is a path
        label, body = (s.strip() for s in body.split("=", 1))
        if not _LABEL.match(label):
            raise SpecError(f"--impl {text!r}: a label may hold letters, digits, '_', '.', '-', got {label!r}")
    target, sep, class_name = body.rpartition(":")
    if not sep or not target or not class_name.isidentifier():
        raise SpecError(f"--impl {text!r}: expected path/to/file.py:ClassName or package.module:ClassName")
    return ImplSpec(label, target, class_name)


def check_label(label: str, taken: Iterable[str]) -> None:
    """A label given by the user must be new and not one of the project's own method labels."""
    base = label.split("[", 1)[0]
    if base in RESERVED:
        raise SpecError(f"label {label!r} is a built-in method's name ({', '.join(RESERVED)}); choose another")
    if label in set(taken):
        raise SpecError(f"label {label!r} is used twice; give each --impl its own LABEL=")


def unique_label(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... the first not in ``taken`` (nor a built-in label)."""
    used = set(taken) | set(RESERVED)
    if name not in used:
        return name
    n = 2
    while f"{name}-{n}" in used:
        n += 1
    return f"{name}-{n}"


def _import_file(path: str) -> tuple[ModuleType, Sandbox]:
    """Import ``path`` as the book's scripts run (see :class:`Sandbox`); a failure is a one-line SpecError."""
    if not os.path.isfile(path):
        raise SpecError(f"{path}: {'not a regular file' if os.path.exists(path) else 'no such file'}")
    try:
        return Sandbox.import_file(path)
    except SyntaxError as e:
        raise SpecError(f"{_shown(e.filename, path)}:{e.lineno}: syntax error: {e.msg}") from None
    except BaseException as e:
        if is_real_interrupt(e):
            raise
        where = user_frame(e.__traceback__) or path
        if isinstance(e, ProcessExit):
            raise SpecError(f"{where}: importing {path} tried to end the process at once (os._exit)") from None
        first = (str(e).strip().splitlines() or [""])[0]
        raise SpecError(f"{where}: importing {path} raised {type(e).__name__}: {first}") from None


def _shown(filename: str | None, fallback: str) -> str:
    if not filename:
        return fallback
    rel = os.path.relpath(filename)
    return filename if rel.startswith(os.pardir) else rel


def _import_module(target: str) -> object:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        raise SpecError(f"{target}: no such module ({e.name} not found)") from None
    except SyntaxError as e:
        raise SpecError(f"{_shown(e.filename, target)}:{e.lineno}: syntax error: {e.msg}") from None
    except BaseException as e:
        if is_real_interrupt(e):
            raise
        where = user_frame(e.__traceback__) or target
        first = (str(e).strip().splitlines() or [""])[0]
        raise SpecError(f"{where}: importing {target} raised {type(e).__name__}: {first}") from None


def _kind_of(cls: type, source: str) -> str:
    """``"torch"`` for a torch.nn.Module subclass, ``"book"`` for a class with the book's API."""
    torch = sys.modules.get("torch")  # loaded only if the user's file imported it
    if torch is not None and issubclass(cls, torch.nn.Module):
        return "torch"
    if any(callable(getattr(cls, m, None)) for m in BOOK_METHODS):
        return "book"
    raise SpecError(
        f"{source}: {cls.__name__} has neither gradient, numerical_gradient nor loss "
        "(the book's API), and is not a torch.nn.Module"
    )


def load_impl(text: str, taken: Iterable[str] = ()) -> LoadedImpl:
    """Load the class of one spec; its label is unique among ``taken``. Raises :class:`SpecError`."""
    spec = parse_spec(text)
    taken = list(taken)
    if spec.label is not None:
        check_label(spec.label, taken)
    if spec.is_file:
        (module, sandbox), source = _import_file(spec.target), spec.target
    else:
        module, sandbox = _import_module(spec.target), Sandbox()
        source = getattr(module, "__file__", None) or spec.target
    cls = getattr(module, spec.class_name, None)
    if cls is None:
        names = sorted(n for n, v in vars(module).items() if isinstance(v, type) and not n.startswith("_"))
        have = f" (classes there: {', '.join(names)})" if names else ""
        raise SpecError(f"{source}: no class {spec.class_name}{have}")
    if not isinstance(cls, type):
        raise SpecError(f"{source}: {spec.class_name} is not a class")
    kind = _kind_of(cls, source)
    label = spec.label or unique_label(spec.class_name, taken)
    return LoadedImpl(label, cls, kind, source, text, sandbox)


def load_impls(texts: Iterable[str], taken: Iterable[str] = ()) -> list[LoadedImpl]:
    """Load several specs; labels are unique among themselves and ``taken``."""
    out: list[LoadedImpl] = []
    used = list(taken)
    for text in texts:
        loaded = load_impl(text, used)
        used.append(loaded.label)
        out.append(loaded)
    return out
