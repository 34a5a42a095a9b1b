"""Telling a real interrupt from one the code under test raised itself. Standard library only.

A command line of this project routes SIGINT and SIGTERM to a handler that raises
:class:`SignalInterrupt`, so inside a command any other ``KeyboardInterrupt`` came from the
user's code (``raise KeyboardInterrupt``) and is contained like any other exception (a FAIL
row). Outside a command (the library inside someone's test suite, Python's own SIGINT handler
in place) a ``KeyboardInterrupt`` cannot be told apart from Ctrl-C, and is let through.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SignalInterrupt(KeyboardInterrupt):
    """A real SIGINT or SIGTERM, raised by the command line's handler: never contained."""


def is_real_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is an interrupt from outside rather than something the user's code raised."""
    if isinstance(error, SignalInterrupt):
        return True
    return isinstance(error, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _raise_interrupt(signum: int, frame: object) -> None:
    raise SignalInterrupt


@contextmanager
def telling_interrupts_apart() -> Iterator[None]:
    """Inside, a real SIGINT raises :class:`SignalInterrupt`, so any other KeyboardInterrupt is the code's own.

    For the library inside a test runner (Python's own SIGINT handler in place): the handler is
    swapped only in the main thread and only while it is Python's default, and put back after.
    """
    swap = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if swap:
        signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        if swap:
            signal.signal(signal.SIGINT, signal.default_int_handler)


__all__ = ["SignalInterrupt", "is_real_interrupt", "telling_interrupts_apart"]
