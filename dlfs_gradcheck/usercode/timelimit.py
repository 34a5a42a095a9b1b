"""A time limit on one call into the user's code, for a loop that never ends (a forgotten ``it.iternext()``).

A numerical gradient is a Python loop over every parameter entry; when its index never
advances, it never returns, and neither would the run. :func:`time_limit` raises
:class:`TimeLimitExceeded` inside the user's code when the limit passes (``SIGALRM``, so on
the main thread only; elsewhere the call runs unlimited), where the sandbox turns it into a FAIL
naming the line the loop was on. Usage::

    with time_limit(120.0, "numerical_gradient did not return within 120 s"):
        user_method(x, t)
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimitExceeded(Exception):
    """The user's call ran past its limit (raised inside it, so its traceback names their line)."""


@contextmanager
def time_limit(seconds: float, message: str) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` (``message``) inside the block once ``seconds`` have passed."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def expire(signum, frame) -> None:
        raise TimeLimitExceeded(message)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


MIN_S = 120.0  # never less: a loaded machine, a slow first call
MARGIN = 50  # times the expected cost (2P forward passes, each timed as one predict here) when above MIN_S


@contextmanager
def numerical_limit(net, method: str, x) -> Iterator[None]:
    """For ``numerical_gradient`` of a BookNet with ``predict``: a limit far above its expected cost; else none."""
    if method != "numerical_gradient" or "predict" not in net.provided:
        yield
        return
    start = time.perf_counter()
    net.output_of(x)
    entries = sum(a.size for a in net.arrays().values())
    expected = 2 * entries * (time.perf_counter() - start)
    seconds = max(MIN_S, MARGIN * expected)
    with time_limit(
        seconds,
        f"did not return within {seconds:.0f} s, where its {2 * entries} loss evaluations take about "
        f"{expected:.2g} s here: a loop that never ends (a forgotten it.iternext()?), stopped at the line shown",
    ):
        yield
