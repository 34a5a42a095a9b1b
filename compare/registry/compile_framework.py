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
from compare.registry.framework_info import BenchStep, Framework

Params = Mapping[str, np.ndarray]


STEP_ROW = "torch.compile"  # its rows' name in the benchmark's step section, the backend after it


def compile_bench_steps(
    params: Params, x: np.ndarray, t: np.ndarray, dtypes: Sequence[str], quick: bool
) -> list[BenchStep]:
    """Compiled autograd's SGD step on the CPU in each of ``dtypes``; none in the smoke run (``quick``).

    Compiling takes seconds (tens with a cold cache), so it is done here, before the timed
    rounds, and its time is the row's ``compile_s``.
    """
    if quick:
        return []
    backend = compile_backend()
    out = []
    for dtype in dtypes:
        runner = CompiledTorchRunner(compiled_info(dtype, "cpu", backend), params, "sigmoid", backend)
        call, sync = runner.timed_step(x, t, 0.0)
        out.append(BenchStep(f"{STEP_ROW} ({backend})", "cpu", dtype, call, sync, runner.compile_seconds))
    return out


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
    bench_steps=compile_bench_steps,
    bench_row=STEP_ROW,
    entries=compile_entries,
    switch=Switch(
        "--compile",
        default=False,
        help="also autograd+compile rows: torch.compile of the gradient and the SGD step (CPU; compile time apart)",
    ),
)
