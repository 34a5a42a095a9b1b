"""``torch.compile`` of autograd's gradient and SGD step on the CPU (``--compile``).

The backend is ``inductor`` when torch finds a C++ compiler, else ``aot_eager`` (named in the
label). Runner: :class:`compare.engine.compiled.CompiledTorchRunner`; its model is PyTorch's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.config import RunConfig, Switch
from compare.engine.compiled import FAMILY, CompiledTorchRunner, compile_backend, compiled_info
from compare.engine.protocol import MethodEntry, MethodInfo
from compare.registry.framework_info import Framework

Params = Mapping[str, np.ndarray]


def compile_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    """``autograd+compile[cpu,dtype]`` in each of ``dtypes``."""
    backend = compile_backend()
    out = []
    for dtype in dtypes:
        info = compiled_info(dtype, "cpu", backend)

        def make(params: Params, info: MethodInfo = info):
            return CompiledTorchRunner(info, params, cfg.activation, backend)

        out.append(MethodEntry(info, make))
    return out


TORCH_COMPILE = Framework(
    name="torch.compile",
    title="PyTorch (torch.compile)",
    group="torch",
    families=(FAMILY,),  # its label holds a '+', which no plugged-in label may: nothing to reserve
    entries=compile_entries,
    switch=Switch(
        "--compile",
        default=False,
        help="also autograd+compile rows: torch.compile of the gradient and the SGD step (CPU; compile time apart)",
    ),
)
