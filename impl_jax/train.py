"""Host-side bookkeeping of a training run along a batch stream: which steps run together, what comes back.

:meth:`impl_jax.JaxTwoLayerNet.train_stream` runs the stream in chunks of one
compiled loop; this module plans the chunks (they end where a snapshot is due) and
gathers the chunks' device outputs into a :class:`StreamResult` of numpy arrays.
Pure numpy: nothing here touches JAX.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from impl_numpy import validation


@dataclass
class StreamResult:
    """What one training run along a batch stream produced (host copies, float64)."""

    compile_seconds: float = 0.0  # compiling the training loop (when it was compiled, maybe for an earlier run)
    losses: np.ndarray = field(default_factory=lambda: np.empty(0))  # (steps,) loss before each step's update
    eval_steps: list[int] = field(default_factory=list)  # steps i after whose update accuracy was measured
    train_acc: np.ndarray = field(default_factory=lambda: np.empty(0))  # (len(eval_steps),) full train set
    test_acc: np.ndarray = field(default_factory=lambda: np.empty(0))  # (len(eval_steps),) full test set
    snapshots: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # params after n updates

    def collect(
        self,
        parts: Sequence[tuple[int, np.ndarray, np.ndarray]],
        eval_at: Iterable[int],
        done: int,
        sizes: tuple[int, int],
    ) -> None:
        """Fill losses and accuracies from the chunks' outputs ``(count, losses (chunk,), correct (chunk, 2))``.

        ``sizes`` is (train rows, test rows): accuracy is the count of correct rows
        divided by it here, as numpy's mean of booleans does.
        """
        losses = [np.asarray(ls[:count], dtype=np.float64) for count, ls, _ in parts]
        counts = [np.asarray(c[:count], dtype=np.float64) for count, _, c in parts]
        self.losses = np.concatenate(losses) if losses else np.empty(0)  # (done,)
        all_counts = np.concatenate(counts) if counts else np.empty((0, 2))  # (done, 2), NaN where not measured
        self.eval_steps = sorted({int(i) for i in eval_at if 0 <= i < done})
        picked = all_counts[self.eval_steps]  # (len(eval_steps), 2)
        if np.isnan(picked).any():  # every requested step must have been measured
            raise RuntimeError("an accuracy requested by eval_at was not measured")
        self.train_acc = picked[:, 0] / sizes[0]
        self.test_acc = picked[:, 1] / sizes[1]


def eval_flags(eval_at: Iterable[int], steps: int) -> np.ndarray:
    """(steps,) bool, True at the steps of ``eval_at`` (those outside ``[0, steps)`` never come)."""
    flags = np.zeros(steps, dtype=bool)
    for i in eval_at:
        if 0 <= i < steps:
            flags[i] = True
    return flags


def chunk_plan(steps: int, snapshot_at: Iterable[int], chunk: int) -> Iterator[tuple[int, int, bool]]:
    """``(first step, number of steps, snapshot due after them)`` covering ``range(steps)`` in order.

    A chunk has at most ``chunk`` steps and ends where a snapshot is due (after
    ``n`` updates for each ``n`` of ``snapshot_at`` with ``0 < n < steps``; the
    final params are kept anyway).
    """
    ends = sorted({int(n) for n in snapshot_at if 0 < n < steps} | {steps})
    first = 0
    for end in ends:
        while first < end:
            count = min(chunk, end - first)
            yield first, count, first + count == end and end != steps
            first += count


def check_batches(batches: object, train_size: int) -> np.ndarray:
    """A (steps >= 1, B >= 1) integer array of row indices in ``[0, train_size)``."""
    arr = np.asarray(batches)
    if arr.ndim != 2 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise validation.ShapeError(
            f"batches must be a (steps >= 1, B >= 1) integer array, got {arr.dtype} {arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= train_size:
        raise validation.ShapeError(f"batch indices must lie in [0, {train_size}), got {arr.min()} to {arr.max()}")
    return arr
