"""SIGINT and SIGTERM, through one handler for every command.

Inside :func:`compare.supervise.run_main` the handler raises
:class:`~dlfs_gradcheck.interrupts.SignalInterrupt` (a ``KeyboardInterrupt``), so ``finally``
blocks clean up, and a ``KeyboardInterrupt`` that a user's code raises itself is told apart from a
real one; before it (while the command's modules load) it prints one line and exits 130. Code
that must not be cut in half (the atomic writer) runs under :func:`deferred_interrupts`: a signal
that arrives there takes effect at its end. Standard library only (and the stdlib-only
:mod:`dlfs_gradcheck.interrupts`), so that the handler is in place before numpy or torch load.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from compare.exits import fail
from dlfs_gradcheck.interrupts import SignalInterrupt

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalState:
    """What the handler and :func:`compare.supervise.run_main` share (class attributes: one per process)."""

    installed = False  # our handler is in place
    in_main = False  # inside run_main: raise KeyboardInterrupt (else exit at once)
    defer = 0  # depth of deferred_interrupts blocks
    pending = False  # a signal arrived inside one
    received = False  # a signal arrived during run_main (its KeyboardInterrupt may have been swallowed)


def _interrupt() -> None:
    if SignalState.in_main:
        SignalState.received = True
        raise SignalInterrupt
    fail("interrupted", 130)
    raise SystemExit(130)


def exit_now(signum: int, frame: object) -> None:
    """After the command: a signal ends the process at once (its outputs are complete by then)."""
    os._exit(130)


def _on_signal(signum: int, frame: object) -> None:
    if SignalState.defer:
        SignalState.pending = True
        return
    _interrupt()


def install_signal_handlers() -> dict[int, object]:
    """Route SIGINT and SIGTERM to the one handler; return the previous handlers (empty off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in SIGNALS:
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN:  # e.g. started with nohup: leave it ignored
            continue
        previous[sig] = current
        signal.signal(sig, _on_signal)
    SignalState.installed = True
    return previous


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM (when our handler is installed) until the block ends, then act on them."""
    SignalState.defer += 1
    try:
        yield
    finally:
        SignalState.defer -= 1
        if not SignalState.defer and SignalState.pending:
            SignalState.pending = False
            _interrupt()


def main_is_a_command() -> bool:
    """This process is one of the commands: ``python -m compare.X`` or an installed ``dlfs-...`` script."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None:
        return spec.name.startswith("compare.")
    return os.path.basename(sys.argv[0] if sys.argv else "").startswith("dlfs-")


if main_is_a_command():  # `python -m compare.X`: an early Ctrl-C is one line, not a traceback
    install_signal_handlers()


def check_interrupted() -> None:
    """Raise KeyboardInterrupt if a signal arrived whose own KeyboardInterrupt was swallowed.

    Python ignores an exception raised inside a garbage-collection callback or a ``__del__``
    (it prints "Exception ignored in ..."); JAX registers such a callback, so an interrupt can be
    lost there. Long runs call this between their phases, and :func:`run_main` once at the end.
    """
    if SignalState.in_main and SignalState.received:
        raise KeyboardInterrupt
