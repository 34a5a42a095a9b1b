"""PyTorch autograd: :class:`impl_torch.TorchTwoLayerNet` on every device of the run, in each dtype it supports.

Runner: :class:`compare.engine.builtin_runners.TorchRunner` (the data on the device once, no host
sync per step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from compare.config import RunConfig
from compare.engine.builtin_runners import AUTOGRAD, builtin_info, builtin_runner
from compare.engine.devices import dtype_supported
from compare.engine.protocol import MethodEntry
from compare.registry.framework_info import BenchStep, CheckerOptions, Framework

if TYPE_CHECKING:
    from dlfs_gradcheck.problems import GradProblem

Params = Mapping[str, np.ndarray]


def _entry(dtype: str, device: str, cfg: RunConfig) -> MethodEntry:
    info = builtin_info(AUTOGRAD, dtype, device)

    def make(params: Params):
        return builtin_runner(info, params, cfg.activation, cfg.h)

    return MethodEntry(info, make)


def torch_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    """``autograd[device,dtype]`` for every device, then every dtype the device supports."""
    return [_entry(dt, d, cfg) for d in devices for dt in dtypes if dtype_supported(d, dt)]


STEP_ROW = "torch autograd"  # its rows' name in the benchmark's step section


def torch_bench_steps(
    params: Params, x: np.ndarray, t: np.ndarray, dtypes: Sequence[str], quick: bool
) -> list[BenchStep]:
    """Autograd's step on every device torch finds, in each of ``dtypes`` the device supports.

    The batch is put on the device once; each call queues the step and ``sync`` waits for it.
    """
    from functools import partial

    from compare.engine.devices import sync
    from impl_torch import TorchTwoLayerNet, available_devices

    out = []
    for device in available_devices():
        for dtype in dtypes:
            if dtype_supported(device, dtype):
                net = TorchTwoLayerNet.from_params(params, device=device, dtype=dtype)
                xt, tt = net.to_device_batch(x, t)
                call = lambda net=net, xt=xt, tt=tt: net.train_step(xt, tt, 0.0)  # noqa: E731
                out.append(BenchStep(STEP_ROW, device, dtype, call, partial(sync, device)))
    return out


def torch_checker_problem(
    params: Params, x: np.ndarray, t: np.ndarray, options: CheckerOptions
) -> tuple[GradProblem, str]:
    """The checker's problem for autograd in ``--dtype`` on ``--device``, against a float64 CPU copy of the net."""
    from dlfs_gradcheck.torch_problems import torch_net_problem

    problem = torch_net_problem(params, x, t, activation=options.activation, dtype=options.dtype, device=options.device)
    label = problem.label
    if options.reference == "complex":  # torch's cross_entropy is not complex-safe
        label += " (complex-step reference: the numpy forward pass)"
    return problem, label


TORCH = Framework(
    name="torch",
    title="PyTorch (autograd)",
    group="torch",
    reserved=(AUTOGRAD,),
    families=(AUTOGRAD,),
    distribution="torch",
    model_package="impl_torch",
    model_files=("torch_two_layer_net.py",),
    entries=torch_entries,
    bench_steps=torch_bench_steps,
    bench_row=STEP_ROW,
    step_target=1.25,  # python -m compare.bench: autograd's step at most 1.25x the book's, same dtype
    checker_problem=torch_checker_problem,
)
