"""The harness's runner for distributed training: ``ddp[gloo,N]`` / ``fsdp[gloo,N]`` rows.

Usage::

    runner = DistributedRunner(params, "sigmoid", ranks=2)            # label ddp[gloo,2]
    record = runner.train(data, batches, 0.1, eval_at, snapshot_at)   # a torchrun job per call
    runner.last_info["explanation"]                                   # uneven shards, if any

It follows the one runner protocol of the harness. ``gradient`` is the real distributed
one: the gradient DDP (or FSDP2) leaves on the weights after one backward of the batch
split over the ranks (a job of its own, a few seconds of launch). A distributed gradient is
not one in-process call, so ``timed_gradient`` times a whole job, launch included; timing
tables should leave this family out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from compare.distributed.api import ddp_gradient, ddp_train
from compare.distributed.launch import choose_backend
from compare.engine.protocol import MethodInfo, NotProvided
from compare.engine.training import Schedule
from impl_numpy.validation import check_params


class DistributedRunner:
    """Training and gradients of the two-layer net on ``ranks`` local ranks through torchrun."""

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        activation: str,
        ranks: int = 2,
        *,
        method: str = "ddp",
        weighting: str = "ddp",
        dtype: str = "float64",
        backend: str = "auto",
        timeout_s: float | None = None,
    ) -> None:
        self.params = {k: np.array(v) for k, v in check_params(params).items()}  # a copy, never aliased
        self.activation, self.ranks, self.method, self.weighting = activation, ranks, method, weighting
        self.dtype, self.timeout_s = dtype, timeout_s
        self.backend = choose_backend(ranks, backend)
        label = f"{method}[{self.backend},{ranks}" + ("]" if weighting == "ddp" else ",weighted]")
        device = "cuda" if self.backend == "nccl" else "cpu"
        self.info = MethodInfo(label=label, family="ddp", kind="exact", dtype=dtype, device=device, framework="torch")
        self.last_info: dict = {}  # info of the last job: shards, unevenness, explanation, unsupported, times
        self.notes: list[str] = []  # what the report should say about these runs (uneven shards)

    def _common(self) -> dict:
        return {"ranks": self.ranks, "weighting": self.weighting, "method": self.method, "timeout_s": self.timeout_s}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """DDP's averaged gradient after one backward of (x, t) split by rank, book layout, float64."""
        grads, self.last_info = ddp_gradient(
            self.params, x, t, self.activation, dtype=self.dtype, backend=self.backend, **self._common()
        )
        if grads is None:
            raise NotProvided(self.last_info["unsupported"])
        self._note()
        return grads

    def timed_gradient(self, x: np.ndarray, t: np.ndarray) -> tuple[Callable[[], object], Callable[[], None] | None]:
        """A whole distributed gradient job per call (launch included), and no sync."""
        return (lambda: self.gradient(x, t)), None

    def train(
        self,
        data: object,
        batches: np.ndarray,
        learning_rate: float,
        eval_at: list[int],
        snapshot_at: Iterable[int] = (),
        progress: bool = False,
        time_budget_s: float | None = None,
    ):
        """Train along every batch (``progress`` and ``time_budget_s`` are not used: the ranks run to the end).

        Raises NotProvided with the one line of ``last_info["unsupported"]`` when FSDP2 cannot run here.
        """
        schedule = Schedule.of(batches, eval_at, snapshot_at, None)  # the one loop's schedule, run by every rank
        record, self.last_info = ddp_train(
            self.params, data, batches, learning_rate, sorted(schedule.eval_at), sorted(schedule.snapshot_at),
            self.activation,
            dtype=self.dtype, backend=self.backend, **self._common(),
        )  # fmt: skip
        if record is None:
            raise NotProvided(self.last_info["unsupported"])
        self._note()
        return record

    def _note(self) -> None:
        """Keep the last job's explanation of uneven shards for the report (once)."""
        explanation = self.last_info.get("explanation")
        if explanation and explanation not in self.notes:
            self.notes.append(explanation)
