"""Telling a real interrupt from one the code under test raised itself. Standard library only.

A command line of this project routes SIGINT and SIGTERM to a handler that raises
:class:`SignalInterrupt`, so inside a command any other ``KeyboardInterrupt`` came from the
user's code (``raise KeyboardInterrupt``) and is contained like any other exception (a FAIL
row). Outside a command (the library inside someone's test suite, Python's own SIGINT handler
in place) a ``KeyboardInterrupt`` cannot be told apart from Ctrl-C, and is let through.
"""

from __future__ import annotations

import signal


class SignalInterrupt(KeyboardInterrupt):
    """A real SIGINT or SIGTERM, raised by the command line's handler: never contained."""


def is_real_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is an interrupt from outside rather than something the user's code raised."""
    if isinstance(error, SignalInterrupt):
        return True
    return isinstance(error, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) is signal.default_int_handler


__all__ = ["SignalInterrupt", "is_real_interrupt"]
