"""PyTorch autograd: :class:`impl_torch.TorchTwoLayerNet` on every device of the run, in each dtype it supports.

Runner: :class:`compare.engine.builtin_runners.TorchRunner` (the data on the device once, no host
sync per step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.config import RunConfig
from compare.engine.builtin_runners import AUTOGRAD, builtin_info, builtin_runner
from compare.engine.devices import dtype_supported
from compare.engine.protocol import MethodEntry
from compare.registry.framework_info import Framework

Params = Mapping[str, np.ndarray]


def _entry(dtype: str, device: str, cfg: RunConfig) -> MethodEntry:
    info = builtin_info(AUTOGRAD, dtype, device)

    def make(params: Params):
        return builtin_runner(info, params, cfg.activation, cfg.h)

    return MethodEntry(info, make)


def torch_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    """``autograd[device,dtype]`` for every device, then every dtype the device supports."""
    return [_entry(dt, d, cfg) for d in devices for dt in dtypes if dtype_supported(d, dt)]


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
)
