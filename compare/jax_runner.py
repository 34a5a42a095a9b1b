"""The JAX net (:mod:`impl_jax`) behind the harness's runner protocol: gradient, training run, timed gradient.

Usage::

    if jax_available():
        r = JaxRunner(params, activation="sigmoid", dtype="float64", device="cpu")
        grads = r.gradient(x, t)                  # book layout, float64 numpy
        rec = r.train(data, batches, 0.1, eval_at, snapshot_at=[10000])
        call, sync = r.timed_gradient(x, t)       # call() blocks until the gradient is computed; sync is None
        r.compile_seconds                         # what the last train/timed_gradient spent compiling

JAX is optional (``pip install ".[jax]"``): this module imports it only when a
runner is built, so :func:`jax_available` can be asked first.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from compare.engine.protocol import MethodInfo, TrainRecord
from compare.engine.training import Schedule

if TYPE_CHECKING:
    from compare.data import Dataset

FAMILY = "jax"
NOT_INSTALLED = 'jax not installed (pip install ".[jax]")'


def jax_available() -> bool:
    """Whether jax and jaxlib can be found, without importing them (importing jax takes about a second)."""
    return all(importlib.util.find_spec(name) is not None for name in ("jax", "jaxlib"))


class JaxRunner:
    """``jax.grad`` + ``jax.jit`` on a :class:`impl_jax.JaxTwoLayerNet` holding a copy of ``params``.

    ``compile_seconds`` is the time spent compiling what the most recent
    :meth:`train` (the training loop) or :meth:`timed_gradient` (the gradient) runs,
    measured when it was compiled (once per shape), ``None`` before either.
    ``timed_gradient`` compiles before it returns, so no timed call compiles; a
    first ``train`` compiles inside its own wall time (subtract ``compile_seconds``
    for the steps alone).
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        activation: str = "sigmoid",
        dtype: str = "float64",
        device: str = "cpu",
    ) -> None:
        from impl_jax import JaxTwoLayerNet

        self.net = JaxTwoLayerNet.from_params(params, activation=activation, dtype=dtype, device=device)
        platform, dt = self.net.platform, self.net.dtype.name
        self.info = MethodInfo(
            label=f"jax[{platform},{dt}]", family=FAMILY, kind="exact", dtype=dt, device=platform, framework="jax"
        )
        self.compile_seconds: float | None = None

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient at the net's current weights (book layout, float64 copies); no state change."""
        return self.net.gradient(x, t)

    def timed_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Callable[[], None] | None]:
        """One compiled gradient on device arrays that waits for its result, and no separate sync.

        Compiles here (``compile_seconds``), so the first timed call is not a compilation.
        """
        call, self.compile_seconds = self.net.gradient_call(x, t)

        def blocking() -> object:
            return _block(call())

        return blocking, None

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
        """Train along ``batches`` (steps, B); with ``time_budget_s``, stop after the chunk of steps that uses it up.

        Losses and accuracies stay on the device until the end of the run, as in
        the torch runner; only snapshots (and ``progress`` or a time budget, once
        per chunk of steps) wait for the device.
        """
        schedule = Schedule.of(batches, eval_at, snapshot_at, time_budget_s)  # the one loop's schedule, in chunks
        bar = _progress_bar(schedule.steps, self.info.label) if progress else None
        try:
            result = self.net.train_stream(
                data.x_train,
                data.t_train,
                data.x_test,
                data.t_test,
                batches,
                learning_rate,
                sorted(schedule.eval_at),
                sorted(schedule.snapshot_at),
                time_budget_s=schedule.time_budget_s,
                on_chunk=None if bar is None else (lambda done: bar.update(done - bar.n)),
            )
        finally:
            if bar is not None:
                bar.close()
        self.compile_seconds = result.compile_seconds
        return TrainRecord(
            losses=result.losses,
            eval_steps=result.eval_steps,
            train_acc=result.train_acc,
            test_acc=result.test_acc,
            snapshots=result.snapshots,
        )


def _block(value: object) -> object:
    import jax

    return jax.block_until_ready(value)


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, mininterval=0.5)
