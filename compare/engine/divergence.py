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

from compare.cli import RunIncomplete


class Diverged(RunIncomplete):
    """Training produced a non-finite loss (a :class:`RuntimeError`; exit status 3)."""

    def __init__(self, method: str, step: int, loss: float) -> None:
        self.method = method  # the method's label, e.g. "backprop"
        self.step = step  # index of the first step whose loss is not finite (0-based, as in the losses array)
        self.loss = loss  # that loss: inf, -inf or nan
        super().__init__(f"training diverged at step {step} (loss {loss}) for {method}")


def first_nonfinite(losses: Sequence[float] | np.ndarray) -> int | None:
    """Index of the first loss that is NaN or infinite, or None when every loss is finite."""
    finite = np.isfinite(np.asarray(losses, dtype=np.float64))  # (steps,)
    if finite.all():
        return None
    return int(np.argmin(finite))
