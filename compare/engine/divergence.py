"""Training that diverged: the first non-finite loss, and the error a command turns into exit status 3.

A learning rate far too large (``--lr 1e300``, or ReLU with ``--lr 100``) drives the loss to
inf or NaN within a few steps. From then on the methods compare NaN with NaN, which is not a
disagreement between implementations but a run that could not complete; the harness stops
and raises :class:`Diverged`, and the command line prints
``error: training diverged at step N (loss inf) for METHOD`` and exits 3.

Usage::

    step = first_nonfinite(record.losses)
    if step is not None:
        raise Diverged(method.label, step, float(record.losses[step]))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from compare.incomplete import RunIncomplete


class Diverged(RunIncomplete):
    """Training blew up: a non-finite loss, or one :data:`BLOW_UP` times the first (exit status 3)."""

    def __init__(self, method: str, step: int, loss: float) -> None:
        self.method = method  # the method's label, e.g. "backprop"
        self.step = step  # index of the first diverged step (0-based, as in the losses array)
        self.loss = loss  # that loss: inf, -inf, nan, or a finite one BLOW_UP times the first
        super().__init__(f"training diverged at step {step} (loss {loss:.6g}) for {method}")


def first_nonfinite(losses: Sequence[float] | np.ndarray) -> int | None:
    """Index of the first loss that is NaN or infinite, or None when every loss is finite."""
    finite = np.isfinite(np.asarray(losses, dtype=np.float64))  # (steps,)
    if finite.all():
        return None
    return int(np.argmin(finite))


BLOW_UP = 100.0  # a loss this many times the first one means the run blew up (SGD from the book's init never does)


def first_diverged(losses: Sequence[float] | np.ndarray) -> int | None:
    """Index of the first loss that is not finite or exceeds :data:`BLOW_UP` × the first loss, or None.

    A finite blow-up is divergence too: with ReLU and ``--lr 100`` the loss jumps from 2.3 to
    ~37,000 within three steps and stays chaotic, so two exact methods part ways by rounding
    alone. That is a run that could not complete, not a disagreement between implementations.
    """
    arr = np.asarray(losses, dtype=np.float64)  # (steps,)
    bad = first_nonfinite(arr)
    limit = BLOW_UP * abs(arr[0]) if arr.size and np.isfinite(arr[0]) else np.inf
    with np.errstate(invalid="ignore"):
        over = np.flatnonzero(np.abs(arr) > limit)
    found = [i for i in (bad, int(over[0]) if over.size else None) if i is not None]
    return min(found) if found else None
