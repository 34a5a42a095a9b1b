"""What can go wrong with a plugged-in implementation, as values the harness can show in one line.

- :class:`SpecError`: the ``--impl`` spec cannot be used (no such file, a syntax error or an
  exception at import, no such class, a class without the book's API, an ambiguous torch
  module). Bad usage: one line, exit status 2.
- :class:`NotProvided`: the class does not offer a method (e.g. no ``numerical_gradient``).
  Reported as "not provided", never as a failure.
- :class:`ImplementationFailure`: the user's code raised, or returned something unusable (a
  wrong shape, a NaN, a missing key), or its loss does not read a parameter. A FAIL row that
  names the method, the parameters, the exception and the line in *their* file.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import sysconfig
import traceback
from types import TracebackType


class SpecError(ValueError):
    """A ``--impl`` spec that cannot be used; the message is one line."""


def check_activation(spec: str, found: str | None, asked: str | None) -> None:
    """A SpecError when the class's hidden layer (found by probing) is not the one the command asked for."""
    if found is not None and asked is not None and found != asked:
        raise SpecError(f"{spec}: its hidden layer is {found}, this run's is {asked}: add --activation {found}")


class NotProvided(Exception):  # noqa: N818 (a status, not an error)
    """The implementation does not offer this method."""


class ImplementationFailure(Exception):  # noqa: N818 (the implementation failed, not the harness)
    """The implementation under test raised or returned something unusable.

    Attributes: ``method`` (e.g. ``"gradient"``), ``message`` (one line), ``where``
    (``file:line`` in the implementation's own code, or ""), ``error`` (the exception's type
    name, or a short code: ``shape``, ``non-finite``, ``missing``, ``not-read``, ``type``),
    ``params`` (the parameters concerned, book names), ``step`` (training step, or None).
    """

    def __init__(
        self,
        method: str,
        message: str,
        where: str = "",
        *,
        error: str = "",
        params: tuple[str, ...] = (),
        step: int | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.message = message
        self.where = where
        self.error = error
        self.params = tuple(params)
        self.step = step

    def at_step(self, step: int) -> ImplementationFailure:
        """The same failure, naming the training step it happened at."""
        return ImplementationFailure(
            self.method, self.message, self.where, error=self.error, params=self.params, step=step
        )

    def line(self) -> str:
        """One line for people: method, step, what happened, where."""
        at = f" at step {self.step}" if self.step is not None else ""
        where = f" ({self.where})" if self.where else ""
        return f"{self.method}{at}: {self.message}{where}"

    def __str__(self) -> str:
        return self.line()

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "error": self.error,
            "message": self.message,
            "where": self.where,
            "params": list(self.params),
            "step": self.step,
        }


@functools.cache
def library_roots() -> frozenset[str]:
    """Python's own library and the installed packages' folders; read once (the user's code may break ``sys.path``)."""
    paths = sysconfig.get_paths()
    return frozenset(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)


def foreign_roots() -> tuple[str, ...]:
    """Folders whose code is not the user's: Python's own library, installed packages, this project."""
    roots = set(library_roots())
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # dlfs_gradcheck/
    for pkg in ("compare", "impl_numpy", "impl_torch", "impl_jax"):
        mod = sys.modules.get(pkg)
        if mod is not None and getattr(mod, "__file__", None):
            roots.add(os.path.dirname(os.path.abspath(mod.__file__)))
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots)


def is_users(filename: str, foreign: tuple[str, ...]) -> bool:
    """Whether ``filename`` is the user's code (not under one of the ``foreign`` roots, nor ``<string>``)."""
    if filename.startswith("<"):
        return False
    path = os.path.realpath(filename)
    return not any(path.startswith(root) for root in foreign)


def short_path(filename: str) -> str:
    """``filename`` relative to the working directory unless that climbs above it twice."""
    rel = os.path.relpath(filename)  # normalised: "ch05/../common" is "common"
    return rel if not rel.startswith(os.pardir + os.sep + os.pardir) else os.path.normpath(filename)


def user_frame(tb: TracebackType | None) -> str:
    """``file:line`` of the innermost frame of ``tb`` in the user's own code ("" if none)."""
    foreign = foreign_roots()
    where = ""
    for frame in traceback.extract_tb(tb):
        if is_users(frame.filename, foreign):
            where = f"{short_path(frame.filename)}:{frame.lineno}"
    return where


def definition_of(func: object) -> str:
    """``file:line`` where ``func`` (a user's method) is defined, or ""."""
    target = getattr(func, "__func__", func)
    try:
        return _definition(target)
    except TypeError:  # not hashable
        return ""


@functools.lru_cache(maxsize=256)
def _definition(target: object) -> str:
    try:
        target = inspect.unwrap(target)  # type: ignore[arg-type]
        filename = inspect.getsourcefile(target)  # type: ignore[arg-type]
        _, line = inspect.getsourcelines(target)  # type: ignore[arg-type]
    except (TypeError, OSError):
        return ""
    return f"{short_path(filename)}:{line}" if filename else ""


# Exceptions that are not errors: the code under test tried to end or interrupt the run itself.
class ProcessExit(BaseException):  # noqa: N818 (what their call of os._exit became, not an error of ours)
    """Raised in place of ``os._exit(status)`` while the user's code runs: the process is the suite's."""


_NOT_ERRORS = {
    ProcessExit: "tried to end the process at once (os._exit)",
    SystemExit: "tried to end the program (sys.exit, exit() or quit())",
    KeyboardInterrupt: "raised KeyboardInterrupt itself (no Ctrl-C was pressed)",
    GeneratorExit: "raised GeneratorExit",
}


def from_exception(method: str, exc: BaseException) -> ImplementationFailure:
    """The user's exception as a failure: type, first line of the message, their file:line."""
    text = str(exc).strip().splitlines()
    message = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    words = _NOT_ERRORS.get(type(exc))
    if words is not None:
        detail = f" ({message})" if text else ""
        message = f"{words}{detail}: the code under test may not end or interrupt the run"
    where = user_frame(exc.__traceback__)
    foreign = foreign_roots()
    looping = [f"{short_path(name)}:{line}" for name, line in getattr(exc, "loop", ()) if is_users(name, foreign)]
    return ImplementationFailure(method, message, looping[0] if looping else where, error=type(exc).__name__)
