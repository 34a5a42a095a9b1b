"""The user's code runs contained: imported in its own folder, called behind a guard, never trusted.

A :class:`Sandbox` belongs to one loaded file (``--impl path/to/file.py:Class``):

- **Import** (:meth:`Sandbox.import_file`): the file is imported the way the book's scripts run,
  with its own folder as the working directory and first on ``sys.path``, so that
  ``sys.path.append(os.pardir)`` followed by ``from common.layers import *`` finds *its* ``common``
  (a namespace package without ``__init__.py`` included). The helper modules it brought in from
  its own tree (``common``, ``common.layers``, ...) are taken out of ``sys.modules`` afterwards and
  kept by the sandbox, so two copies of the book in one run never share a module. Python caches one
  finder per ``sys.path`` entry (``sys.path_importer_cache``), and a relative entry such as
  ``'..'`` would keep pointing at the first folder that used it: relative entries are dropped from
  that cache before and after.
- **Calls** (:meth:`Sandbox.call`): every call into the user's code runs with its folder as the
  working directory, its own ``sys.path`` and its helper modules in ``sys.modules`` (a lazy
  ``import common.util`` inside a method finds its own copy), and afterwards the working
  directory, ``sys.path``, ``sys.modules`` and numpy's error state are put back. Anything it
  raises — ``SystemExit`` (``sys.exit``, ``exit()``, ``quit()``), ``KeyboardInterrupt``,
  ``GeneratorExit`` or any other ``BaseException`` — becomes an :class:`ImplementationFailure`
  naming the line in *its* file; only a real interrupt (:class:`SignalInterrupt`, raised by the
  command line's SIGINT/SIGTERM handler) goes through.
- **Sessions** (:meth:`Sandbox.session`): numpy's global random state is saved when a use of the
  code begins (building it, probing it, one gradient, a training run) and put back when it ends
  (saving it costs ~0.1 ms, too much for every call of a 10,000-step run). Within a session a
  ``np.random`` draw advances as it would in the user's own script, which is how a loss that is
  not deterministic (dropout left on) is seen to return different values at the same point.

The command line makes sure that threads the code starts cannot keep the process alive.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import itertools
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from dlfs_gradcheck.interrupts import SignalInterrupt, is_real_interrupt
from dlfs_gradcheck.usercode.failures import (
    ImplementationFailure,
    ProcessExit,
    foreign_roots,
    from_exception,
    is_users,
    library_roots,
)

_REAL_EXIT = os._exit


def _refuse_exit(status: int) -> None:
    """``os._exit`` while the user's code runs: a failure of theirs, never the end of the suite's process."""
    raise ProcessExit(status)


_counter = itertools.count(1)


class _Passed(io.TextIOBase):
    """A stream lent to the user's code: writes go on to ``target``; closing it leaves ``target`` open."""

    def __init__(self, target) -> None:
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"


def _lend_fd1() -> int | None:
    """Point file descriptor 1 at stderr's while their code runs (``os.write(1, ...)``, ``os.close(1)``);
    returns a copy of ours to put back, or None when there is no stdout to protect."""
    try:
        saved = os.dup(1)
    except OSError:
        return None
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        return None
    return saved


def _take_back_fd1(saved: int | None) -> None:
    if saved is not None:
        os.dup2(saved, 1)
        os.close(saved)


class Sandbox:
    """Where one user's file runs: its folder, its ``sys.path`` and its own helper modules."""

    def __init__(self, folder: str | None = None, path: list[str] | None = None) -> None:
        self.folder = folder  # working directory during calls (None: leave it as it is)
        self.path = path  # sys.path during calls (None: leave it as it is)
        self.helpers: dict[str, ModuleType] = {}  # the user's own modules, by name
        self._depth = 0  # nested calls (a method calling another through the guard)

    # -- import --------------------------------------------------------------------------
    @classmethod
    def import_file(cls, path: str) -> tuple[ModuleType, Sandbox]:
        """Import the file at ``path`` in its own folder; returns the module and its sandbox.

        Raises whatever the import raised (the loader turns it into a one-line SpecError).
        """
        folder = os.path.dirname(os.path.abspath(path))
        stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
        name = f"_impl_{next(_counter)}_{stem}"
        spec = importlib.util.spec_from_file_location(name, os.path.abspath(path))
        if spec is None or spec.loader is None:
            raise ImportError(f"{path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        library_roots()  # read now: the file may empty sys.path, and sysconfig imports a module to answer
        cwd, saved_path, before = os.getcwd(), list(sys.path), set(sys.modules)
        saved_err, streams = np.geterr(), (sys.stdout, sys.stderr)
        box, fd1 = cls(folder), None
        _forget_relative_finders()
        try:
            sys.stdout = sys.stderr = _Passed(streams[1])  # its prints on stderr, as during calls
            fd1 = _lend_fd1()
            os.chdir(folder)
            sys.path.insert(0, folder)
            sys.modules[name] = module
            os._exit = _refuse_exit
            spec.loader.exec_module(module)
            box.path = list(sys.path)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            os._exit = _REAL_EXIT
            box._take_helpers(before, name)
            _forget_relative_finders()
            os.chdir(cwd)
            sys.path[:] = saved_path
            np.seterr(**saved_err)
            _take_back_fd1(fd1)
            sys.stdout, sys.stderr = streams  # a stream the import replaced or closed is ours again
        return module, box

    def _take_helpers(self, before: set[str], own: str) -> None:
        """Move the modules the import brought in from the user's tree out of ``sys.modules``."""
        foreign = foreign_roots()
        for key in set(sys.modules) - before:
            if key == own:
                continue
            if _is_users_module(sys.modules[key], foreign):
                self.helpers[key] = sys.modules.pop(key)

    # -- calls ---------------------------------------------------------------------------
    @contextmanager
    def entered(self) -> Iterator[None]:
        """The user's folder, path and helpers in place, their prints on stderr; cwd, sys.path, modules, errstate and
        the standard streams put back after."""
        if self._depth:  # already inside (e.g. the user's gradient calling its loss through us)
            yield
            return
        cwd = _getcwd()
        saved_path, saved_err = list(sys.path), np.geterr()
        streams = sys.stdout, sys.stderr
        shadowed = {k: sys.modules[k] for k in self.helpers if k in sys.modules}
        self._depth, fd1 = self._depth + 1, None
        try:
            # What their code prints goes to stderr, never into the report (or `--json -`); closing
            # or replacing a stream closes or replaces nothing of ours.
            sys.stdout = sys.stderr = _Passed(streams[1])
            fd1 = _lend_fd1()  # and what they write to the descriptor itself
            os._exit = _refuse_exit
            if self.folder is not None:
                os.chdir(self.folder)
            if self.path is not None:
                sys.path[:] = self.path
            _forget_relative_finders()
            sys.modules.update(self.helpers)
            yield
        finally:
            self._depth -= 1
            for key in self.helpers:
                sys.modules.pop(key, None)
            sys.modules.update(shadowed)
            _forget_relative_finders()
            sys.path[:] = saved_path
            if cwd is not None and _getcwd() != cwd:
                os.chdir(cwd)
            np.seterr(**saved_err)
            _take_back_fd1(fd1)
            sys.stdout, sys.stderr = streams  # and a stream they replaced or closed is ours again
            os._exit = _REAL_EXIT

    def call(self, method: str, func: Callable[..., object], *args: object) -> object:
        """``func(*args)`` inside the sandbox; whatever it raises is an :class:`ImplementationFailure`."""
        with self.entered():
            try:
                return func(*args)
            except ImplementationFailure:
                raise
            except BaseException as e:
                if is_real_interrupt(e):
                    raise
                error = e
        raise from_exception(method, error) from None  # outside: their file shown from our working directory

    def guarded(self, method: str, func: Callable[..., object]) -> Callable[..., object]:
        """``func`` with its exceptions contained but nothing saved or restored (for timed calls)."""

        def run(*args: object) -> object:
            try:
                return func(*args)
            except BaseException as e:
                if is_real_interrupt(e):
                    raise
                raise from_exception(method, e) from None

        return run

    @contextmanager
    def session(self) -> Iterator[None]:
        """numpy's global random state is put back when the block ends (see the module docstring)."""
        state = np.random.get_state()
        try:
            yield
        finally:
            np.random.set_state(state)


def _getcwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the working directory was removed (by the user's code, say)
        return None


def _forget_relative_finders() -> None:
    """Drop cached finders of relative ``sys.path`` entries (``'..'``): they were resolved against another cwd."""
    cache = sys.path_importer_cache
    for key in [k for k in cache if isinstance(k, str) and not os.path.isabs(k)]:
        del cache[key]


def _is_users_module(module: object, foreign: tuple[str, ...]) -> bool:
    """A module whose file (or, for a namespace package, every folder of it) lies in the user's tree."""
    file = getattr(module, "__file__", None)
    if file:
        return is_users(file, foreign)
    where = list(getattr(module, "__path__", []) or [])
    return bool(where) and all(is_users(os.path.join(p, "__init__.py"), foreign) for p in where)


__all__ = ["Sandbox", "SignalInterrupt", "is_real_interrupt"]
