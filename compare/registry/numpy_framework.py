"""numpy, the book's own code: the two numerical gradients and backprop (:mod:`impl_numpy`).

- ``numerical``: the book's central-difference loop, always float64 (2P loss evaluations per
  gradient); ``--ranks N`` splits its gradient over N local ranks, bit-identical to one process;
- ``numerical-fast``: the same differences with ~100x less work;
- ``backprop``: the chapter-5 layers, in each dtype asked for.

The numerical methods train at most ``--numerical-iters`` / ``--fast-numerical-iters`` steps and
stop at the ``--numerical-seconds`` budget. Runners: :mod:`compare.engine.builtin_runners`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from compare.config import RunConfig
from compare.engine.builtin_runners import BACKPROP, NUMERICAL, NUMERICAL_FAST, builtin_info, builtin_runner
from compare.engine.protocol import MethodEntry
from compare.registry.framework_info import BenchStep, CheckerOptions, Framework

if TYPE_CHECKING:
    from dlfs_gradcheck.problems import GradProblem

Params = Mapping[str, np.ndarray]


def _sharded(cfg: RunConfig):
    """The book loop's gradient on ``--ranks`` local ranks, ``--threads`` BLAS threads each."""
    from compare.distributed import sharded_numerical_gradient

    def gradient(params: Params, x: np.ndarray, t: np.ndarray, activation: str, h: float) -> dict[str, np.ndarray]:
        return sharded_numerical_gradient(params, x, t, activation, h, cfg.ranks, threads=cfg.threads)

    return gradient


def _entry(family: str, dtype: str, cfg: RunConfig, **kw) -> MethodEntry:
    info = builtin_info(family, dtype, "cpu")
    # --ranks N: the book loop's gradient on N local ranks, --threads each (bit-identical to one process)
    sharded = _sharded(cfg) if family == NUMERICAL and cfg.ranks > 1 else None

    def make(params: Params):
        return builtin_runner(info, params, cfg.activation, cfg.h, sharded)

    return MethodEntry(info, make, **kw)


def numpy_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    """The two numerical gradients (always float64) and backprop in each of ``dtypes``."""
    out = [
        _entry(NUMERICAL, "float64", cfg, steps_cap=cfg.numerical_iters, budget=True),
        _entry(NUMERICAL_FAST, "float64", cfg, steps_cap=cfg.fast_numerical_iters, budget=True),
    ]
    return out + [_entry(BACKPROP, dt, cfg) for dt in dtypes]


STEP_ROW = "numpy backprop"  # its rows' name in the benchmark's step section


def numpy_bench_steps(
    params: Params, x: np.ndarray, t: np.ndarray, dtypes: Sequence[str], quick: bool
) -> list[BenchStep]:
    """The book's backprop step (``TwoLayerNet.train_step``) in each of ``dtypes``; the baseline of the ratios."""
    from impl_numpy import TwoLayerNet

    out = []
    for dtype in dtypes:
        net = TwoLayerNet.from_params(params, dtype=dtype)
        xs = x.astype(dtype)
        out.append(BenchStep(STEP_ROW, "cpu", dtype, lambda net=net, xs=xs: net.train_step(xs, t, 0.0)))
    return out


def numpy_checker_problem(
    params: Params, x: np.ndarray, t: np.ndarray, options: CheckerOptions
) -> tuple[GradProblem, str]:
    """The checker's problem for the book's backprop against its exact loss, or (``--loss book``) the book's.

    The book's loss (``1e-7`` inside the log) is not what backprop differentiates: checked
    against it, backprop fails by design, which is what the option shows.
    """
    from dlfs_gradcheck.problems import numpy_net_problem

    problem = numpy_net_problem(params, x, t, activation=options.activation, dtype=options.dtype, loss=options.loss)
    return problem, problem.label


NUMPY = Framework(
    name="numpy",
    title="numpy (the book's code)",
    group="numpy",
    reserved=(NUMERICAL, NUMERICAL_FAST, BACKPROP),
    families=(NUMERICAL, NUMERICAL_FAST, BACKPROP),
    distribution="numpy",
    model_package="impl_numpy",
    model_files=("two_layer_net.py", "layers.py", "functions.py"),
    entries=numpy_entries,
    bench_steps=numpy_bench_steps,
    bench_row=STEP_ROW,
    checker_problem=numpy_checker_problem,
    checker_losses=("exact", "book"),
)
