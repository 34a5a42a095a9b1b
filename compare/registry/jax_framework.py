"""JAX: ``jax.grad`` + ``jit`` of :class:`impl_jax.JaxTwoLayerNet` on the CPU (optional: ``pip install ".[jax]"``).

Rows in every run unless ``--no-jax``; where jax is not installed, they say so instead of
crashing. Runner: :class:`compare.jax_runner.JaxRunner` (compiled chunks of steps on the shared
:class:`~compare.engine.training.Schedule`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.config import RunConfig, Switch
from compare.engine.protocol import MethodEntry, MethodInfo, NotProvided
from compare.jax_runner import FAMILY
from compare.registry.framework_info import BenchStep, Framework

Params = Mapping[str, np.ndarray]


STEP_ROW = "jax.jit"  # its rows' name in the benchmark's step section


def jax_bench_steps(
    params: Params, x: np.ndarray, t: np.ndarray, dtypes: Sequence[str], quick: bool
) -> list[BenchStep]:
    """The jitted step of :class:`impl_jax.JaxTwoLayerNet` on the CPU in each of ``dtypes``; none without jax.

    Each step is compiled before the timed rounds (``compile_s``). A call only dispatches the
    step: ``sync`` waits for the latest step's loss.
    """
    if not JAX.installed():
        return []
    import jax

    from impl_jax import JaxTwoLayerNet

    out = []
    for dtype in dtypes:
        net = JaxTwoLayerNet.from_params(params, dtype=dtype)
        xj, tj = net.to_device_batch(x, t)
        compile_s = net.compile_step(xj, tj)
        last: list = []  # the latest step's loss: the sync waits for it

        def call(net=net, xj=xj, tj=tj, last=last) -> None:
            last[:] = [net.train_step(xj, tj, 0.0)]

        out.append(BenchStep(STEP_ROW, "cpu", dtype, call, lambda last=last: jax.block_until_ready(last), compile_s))
    return out


def jax_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    """``jax[cpu,dtype]`` in each of ``dtypes``; a runner that says so when jax is not installed."""
    out = []
    for dtype in dtypes:
        info = MethodInfo(f"jax[cpu,{dtype}]", FAMILY, "exact", dtype, "cpu", "jax")

        def make(params: Params, dtype: str = dtype):
            if not JAX.installed():
                raise NotProvided(JAX.not_installed())
            from compare.jax_runner import JaxRunner

            return JaxRunner(params, activation=cfg.activation, dtype=dtype, device="cpu")

        out.append(MethodEntry(info, make))
    return out


JAX = Framework(
    name="jax",
    title="JAX (jax.grad + jit)",
    group="jax",
    reserved=(FAMILY,),
    families=(FAMILY,),
    modules=("jax", "jaxlib"),
    extra="jax",
    distribution="jax",
    model_package="impl_jax",
    model_files=("jax_two_layer_net.py", "jax_functions.py"),
    bench_steps=jax_bench_steps,
    bench_row=STEP_ROW,
    entries=jax_entries,
    switch=Switch("--no-jax", default=True, help="leave out the JAX rows"),
)
