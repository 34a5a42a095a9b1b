"""A time limit on one call into the user's code, for a loop that never ends (a forgotten ``it.iternext()``).

A numerical gradient is a Python loop over every parameter entry; when its index never
advances, it never returns, and neither would the run. :func:`time_limit` raises
:class:`TimeLimitExceeded` inside the user's code when the limit passes (``SIGALRM``, so on
the main thread only; elsewhere the call runs unlimited), where the sandbox turns it into a FAIL
naming the line of the loop itself: the frame that stays on the stack over a few samples taken
after the limit, not the loss evaluation the signal happened to land in. Usage::

    with time_limit(120.0, "numerical_gradient did not return within 120 s"):
        user_method(x, t)
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SAMPLES = 5  # stacks looked at once the limit has passed, SAMPLE_S apart, to find the frame that loops
SAMPLE_S = 0.1


class TimeLimitExceeded(Exception):
    """The user's call ran past its limit (raised inside it, so its traceback names their line).

    ``loop``: ``(file, line)`` of the frames that stayed on the stack through every sample,
    innermost first: the first of them is the loop that never ends (the calls it makes, a loss
    evaluation each time, come and go), at the line it was on.
    """

    def __init__(self, message: str, loop: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__(message)
        self.loop = loop


def _stack(frame: FrameType | None) -> list[FrameType]:
    out = []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out


def _persistent(samples: list[list[FrameType]]) -> tuple[tuple[str, int], ...]:
    """The frames of the first sample still running in every later one (the same frame objects), innermost first."""
    kept = [f for f in samples[0] if all(any(f is g for g in later) for later in samples[1:])]
    return tuple((f.f_code.co_filename, f.f_lineno) for f in kept)


@contextmanager
def time_limit(seconds: float, message: str) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` (``message``) inside the block once ``seconds`` have passed."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return
    samples: list[list[FrameType]] = []

    def expire(signum, frame) -> None:
        samples.append(_stack(frame))
        if len(samples) < SAMPLES:
            signal.setitimer(signal.ITIMER_REAL, SAMPLE_S)
            return
        raise TimeLimitExceeded(message, _persistent(samples))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        samples.clear()  # the frames held, and their locals


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
