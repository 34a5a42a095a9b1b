"""The one training loop: the book's SGD schedule, the time budget, divergence and the record.

A framework supplies the step (:class:`SteppedRunner`'s hooks: put the data where the steps run,
take one SGD step, measure accuracy, export the weights); this loop decides everything else, the
same way for every framework:

- the loss of step i is measured on the weights before that step's update;
- accuracy on the full train and test sets after the update of every step in ``eval_at``
  (the book: ``i % iter_per_epoch == 0``), the weights after ``n`` updates for every ``n`` in
  ``snapshot_at``, and always the weights after the last update made;
- with a time budget, the run stops after the step that spends it;
- a run whose loss leaves the finite range or grows :data:`~compare.engine.divergence.BLOW_UP`
  times the first stops at that step (only where losses are on the host: a device's losses are
  read once, after the run, and judged by the caller).

JAX keeps its compiled chunks of steps and the distributed ranks their own loop; both follow the
same :class:`Schedule` (``compare.jax_runner``, ``compare.distributed.ddp_runner``).

Usage::

    class MyRunner(SteppedRunner):
        def begin(self, data, batches): ...      # shared weights loaded, data placed
        def step(self, i, learning_rate): ...    # loss before the update of batch i
        def accuracy(self): ...                  # (train, test) on the full sets
        def export(self): ...                    # book layout, float64 copies

    record = MyRunner(...).train(data, batches, 0.1, eval_at, snapshot_at=[100])
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from compare.data import Dataset
from compare.engine.divergence import BLOW_UP
from compare.engine.protocol import ImplementationFailure, MethodInfo, TrainRecord, progress_bar


@dataclass(frozen=True)
class Schedule:
    """When a run measures, keeps weights and stops: the same for every framework."""

    steps: int  # rows of the batch stream to train on
    eval_at: frozenset[int]  # steps after whose update accuracy is measured
    snapshot_at: frozenset[int]  # numbers of updates after which the weights are kept
    time_budget_s: float | None = None  # stop after the step that spends it (None: train every step)

    @classmethod
    def of(
        cls, batches: np.ndarray, eval_at: Iterable[int], snapshot_at: Iterable[int], time_budget_s: float | None
    ) -> Schedule:
        return cls(int(batches.shape[0]), frozenset(eval_at), frozenset(snapshot_at), time_budget_s)

    def spent(self, start: float) -> bool:
        """Whether the time budget is used up (``start``: the run's ``time.perf_counter()``)."""
        return self.time_budget_s is not None and time.perf_counter() - start >= self.time_budget_s


def diverged(loss: float, first: float) -> bool:
    """A host loss that is not finite or is :data:`BLOW_UP` times the first one: the run stops there."""
    return not math.isfinite(loss) or abs(loss) > BLOW_UP * max(abs(first), np.finfo(np.float64).tiny)


class SteppedRunner:
    """A runner whose training is :func:`train`'s loop; subclasses supply the hooks below."""

    info: MethodInfo
    host_losses = True  # step returns a host float (checked for divergence at every step)

    def begin(self, data: Dataset, batches: np.ndarray) -> None:
        """Load the shared initial weights and put the data and the batch stream where the steps run."""
        raise NotImplementedError

    def step(self, i: int, learning_rate: float) -> Any:
        """One SGD step on row ``i`` of the batch stream; the loss before the update (a float or a device scalar)."""
        raise NotImplementedError

    def accuracy(self) -> Any:
        """(train, test) accuracy on the full sets at the current weights."""
        raise NotImplementedError

    def export(self) -> dict[str, np.ndarray]:
        """The current weights, book layout (W1 (D, H), b1, W2 (H, C), b2), float64 copies."""
        raise NotImplementedError

    def session(self) -> contextlib.AbstractContextManager:
        """What the whole run happens inside (floating-point error states, the user's sandbox)."""
        return contextlib.nullcontext()

    def finish(self, losses: list, accuracies: list) -> tuple[np.ndarray, np.ndarray]:
        """The losses (steps,) and the accuracies (evals, 2) as float64 host arrays."""
        acc = np.array(accuracies, dtype=np.float64).reshape(-1, 2)
        return np.array(losses, dtype=np.float64), acc

    def train(
        self,
        data: Dataset,
        batches: np.ndarray,
        learning_rate: float,
        eval_at: list[int],
        snapshot_at: Iterable[int] = (),
        progress: bool = False,
        time_budget_s: float | None = None,
    ) -> TrainRecord:
        """Train along ``batches`` (steps, B) on the schedule; a failure of the implementation names the step."""
        schedule = Schedule.of(batches, eval_at, snapshot_at, time_budget_s)
        start = time.perf_counter()
        record = TrainRecord(np.empty(0), [], np.empty(0), np.empty(0))
        losses: list = []
        accuracies: list = []
        self.begin(data, batches)
        i = 0
        try:
            with self.session():
                for i in self._steps(schedule, progress):
                    losses.append(self.step(i, learning_rate))
                    if self.host_losses and diverged(losses[-1], losses[0]):
                        break
                    if i + 1 in schedule.snapshot_at:
                        record.snapshots[i + 1] = self.export()
                    if i in schedule.eval_at:
                        record.eval_steps.append(i)
                        accuracies.append(self.accuracy())
                    if schedule.spent(start):
                        break
        except ImplementationFailure as e:
            raise e.at_step(i) from None
        record.losses, acc = self.finish(losses, accuracies)
        record.train_acc, record.test_acc = acc[:, 0].copy(), acc[:, 1].copy()
        record.snapshots[len(losses)] = self.export()
        record.seconds = time.perf_counter() - start
        return record

    def _steps(self, schedule: Schedule, progress: bool) -> Iterator[int]:
        yield from progress_bar(range(schedule.steps), schedule.steps, self.info.label, progress)
