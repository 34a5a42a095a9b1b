"""The one protocol every implementation goes through: the project's own nets and a user's alike.

A :class:`Runner` holds one implementation at the shared initial weights and answers three
questions, each from its own copy of the weights (nothing is aliased between runners):

- ``gradient(x, t)``: the gradient of the mean cross-entropy on one batch, book layout
  (W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)), float64 numpy copies; the runner's state does
  not change;
- ``train(data, batches, learning_rate, eval_at, snapshot_at, progress, time_budget_s)``:
  SGD along the shared batch stream, returning a :class:`TrainRecord`;
- ``timed_gradient(x, t)``: one native gradient call (device arrays, no host copies) and
  the device's sync, for the timing tables.

A runner that compiles (JAX, ``torch.compile``) also has ``compile_seconds``: what its latest
``train`` or ``timed_gradient`` spent compiling, never part of a timed call.

A runner that cannot answer (a user's class without ``numerical_gradient``) raises
:class:`NotProvided`; one whose implementation raised or returned something unusable raises
:class:`ImplementationFailure`, which the harness shows as a FAIL row, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from compare.data import Dataset
from dlfs_gradcheck.usercode.failures import ImplementationFailure, NotProvided  # noqa: F401  (part of the protocol)

KINDS = ("exact", "numerical")
Sync = Callable[[], None] | None  # waits for a device's queued work (None: nothing to wait for)


@dataclass(frozen=True)
class MethodInfo:
    label: str  # unique row name: "backprop", "autograd[cpu,float64]", "mine", ...
    family: str  # numerical | numerical-fast | backprop | autograd | jax | ddp | plugin | ...
    kind: str  # "exact" (backprop, autograd, ...) or "numerical" (finite differences)
    dtype: str = "float64"  # float64 | float32 (a numerical reference is always float64)
    device: str = "cpu"
    framework: str = "numpy"  # numpy | torch | jax | user: timing never interleaves two frameworks


@dataclass
class TrainRecord:
    """What one training run produced."""

    losses: np.ndarray  # (steps,) loss at each step, on the weights before that step's update
    eval_steps: list[int]  # steps i after whose update accuracy was measured (book: i % iter_per_epoch == 0)
    train_acc: np.ndarray  # (len(eval_steps),)
    test_acc: np.ndarray  # (len(eval_steps),)
    snapshots: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # params after n updates
    seconds: float = 0.0  # wall time of the whole run
    compile_seconds: float | None = None  # of that, compiling (a runner's ``compile_seconds``); None: nothing compiled


@dataclass(frozen=True)
class MethodEntry:
    """A method the harness can run: what it is, and how to build a runner at given shared weights."""

    info: MethodInfo
    make: Callable[[Mapping[str, np.ndarray]], Runner]  # shared initial params (book layout) -> a fresh runner
    trains: bool = True  # takes part in the trajectory section
    steps_cap: int | None = None  # train at most this many steps (the numerical methods)
    budget: bool = False  # stop the run at the numerical time budget
    timed: bool = True  # takes part in the timing tables (a distributed job is not one call)
    reference_loss: str = "exact"  # "book": it differentiates the book's loss (1e-7 inside the log)
    findings: tuple = ()  # dlfs_gradcheck.diagnose.Diagnosis found by probing it (a plugged-in class), if any


class Runner(Protocol):
    info: MethodInfo

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]: ...

    def train(
        self,
        data: Dataset,
        batches: np.ndarray,
        learning_rate: float,
        eval_at: list[int],
        snapshot_at: Iterable[int] = (),
        progress: bool = False,
        time_budget_s: float | None = None,
    ) -> TrainRecord: ...

    def timed_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Sync]: ...


def epoch_steps(train_size: int, batch_size: int, iters: int) -> list[int]:
    """The steps at which the book records accuracy: ``i % iter_per_epoch == 0``.

    ``iter_per_epoch = max(train_size / batch_size, 1)`` is a float, exactly as in
    ``train_neuralnet.py`` (so a train size that is not a multiple of the batch
    size gives few records: 1437 / 100 fires only at i = 0).
    """
    iter_per_epoch = max(train_size / batch_size, 1)
    return [i for i in range(iters) if i % iter_per_epoch == 0]


def batch_stream(train_size: int, batch_size: int, iters: int, seed: int) -> np.ndarray:
    """The book's batches, drawn once: ``iters`` rows of ``batch_size`` indices with replacement.

    One seeded generator makes the whole (iters, batch_size) index array, and
    every method receives the same rows.
    """
    rng = np.random.default_rng((seed, 1))  # its own stream, apart from the weights' default_rng(seed)
    return rng.integers(0, train_size, size=(iters, batch_size))  # (iters, B)


def progress_bar(iterable: Iterable[int], total: int, desc: str, enabled: bool) -> Iterable[int]:
    """``iterable`` with a tqdm bar when ``enabled`` (stderr is a terminal), else unchanged."""
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, mininterval=0.5)
