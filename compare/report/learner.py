"""What the learner's pages show beyond the report's tables, derived from a run's report.

Run: ``python -m compare.teach`` (the page) or ``docs/learn-backprop.ipynb`` (the notebook) call it.

- :func:`backprop_cost`: how much one gradient by backprop costs, counted in forward passes,
  in theory (multiply-adds of Deep Learning from Scratch ch. 5's Affine layers) and as this run
  measured it: the book's numerical gradient is 2P forward passes, so its time over 2P is the
  time of one forward pass, and backprop's time over that is backprop in forward passes.
- :func:`loss_clock`: the training loss against wall-clock time, one curve per method.

Nothing is measured here: both read the report a run wrote, so a saved report gives the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from compare.report.model import Report, TimingRow, TrajectorySection


@dataclass(frozen=True)
class BackpropCost:
    """One gradient of a D-H-C net on a batch of N, by the book's numerical loop and by backprop."""

    shape: str  # "D-H-C xN", the timing row's shape
    n_params: int  # P
    forward_madds: int  # multiply-adds of one forward pass: N·(D·H + H·C)
    backward_madds: int  # of one backward pass: dW1 = xᵀ·dA1 (N·D·H), dW2 = zᵀ·dY and dZ = dY·W2ᵀ (2·N·H·C)
    numerical_s: float  # median time of one numerical gradient (2P forward passes)
    backprop_s: float  # median time of one backprop gradient (one forward and one backward pass)
    backprop_dtype: str

    @property
    def forward_s(self) -> float:
        """One forward pass as this run timed it: the numerical gradient's time over its 2P passes."""
        return self.numerical_s / (2 * self.n_params)

    @property
    def in_forward_passes(self) -> float:
        """Backprop's time counted in forward passes (theory: about 2, plus Python's fixed costs)."""
        return self.backprop_s / self.forward_s

    @property
    def theory_in_forward_passes(self) -> float:
        """(forward + backward) multiply-adds over a forward pass's."""
        return (self.forward_madds + self.backward_madds) / self.forward_madds


def _sizes(shape: str) -> tuple[int, int, int, int]:
    """``"784-50-10 x100"`` -> (D, H, C, N)."""
    net, _, batch = shape.partition(" x")
    d, h, c = (int(part) for part in net.split("-"))
    return d, h, c, int(batch or 1)


def backprop_cost(report: Report) -> BackpropCost | None:
    """The cost at the first timing shape with both a numerical and a backprop row (None: no such shape)."""
    rows: list[TimingRow] = report.timing.rows if report.timing else []
    dtype = report.config.dtype
    for shape in dict.fromkeys(r.shape for r in rows):
        numerical = [r for r in rows if r.shape == shape and r.method == "numerical"]
        backprop = [r for r in rows if r.shape == shape and r.method == "backprop"]
        backprop = [r for r in backprop if r.dtype == dtype] or backprop
        if not numerical or not backprop or numerical[0].median_s <= 0 or numerical[0].n_params <= 0:
            continue
        d, h, c, n = _sizes(shape)
        return BackpropCost(
            shape=shape,
            n_params=numerical[0].n_params,
            forward_madds=n * (d * h + h * c),
            backward_madds=n * d * h + 2 * n * h * c,
            numerical_s=numerical[0].median_s,
            backprop_s=backprop[0].median_s,
            backprop_dtype=backprop[0].dtype,
        )
    return None


@dataclass(frozen=True)
class ClockCurve:
    """One method's training loss against the wall-clock time spent to reach it."""

    method: str
    seconds: list[float]  # time at the end of each step: step i × the run's mean time per step
    losses: list[float]  # the loss computed at that step


@dataclass(frozen=True)
class LossClock:
    curves: list[ClockCurve]  # one per method that made at least one step


def loss_clock(section: TrajectorySection) -> LossClock:
    """Loss against time, one curve per run; each run's time spread evenly over its steps.

    A run records its whole wall time (accuracy records included), not each step's: step i of a
    run of S steps in T seconds is placed at i·T/S. The steps of one method cost the same work, so
    the even spread is a fair picture; its shape is the point, not a step's exact time.
    """
    curves = []
    for run in section.runs:
        steps = min(run.steps, len(run.losses))
        if steps <= 0 or not run.seconds > 0:
            continue
        per_step = run.seconds / run.steps
        curves.append(
            ClockCurve(
                method=run.method,
                seconds=[(i + 1) * per_step for i in range(steps)],
                losses=[float(v) for v in run.losses[:steps]],
            )
        )
    return LossClock(curves=curves)
