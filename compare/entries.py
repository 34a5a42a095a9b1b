"""Which methods a run compares: the project's own, compiled PyTorch, JAX, distributed ranks and plugged-in classes.

Each is a :class:`~compare.engine.protocol.MethodEntry` (what it is, and how to build its
runner at given shared weights); the harness hands the list to every section. A framework
that is not installed, or a distributed method the device cannot run, is a runner that
raises :class:`~compare.engine.protocol.NotProvided`: its rows say why, nothing crashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.config import RunConfig
from compare.engine.builtin_runners import AUTOGRAD, BACKPROP, NUMERICAL, NUMERICAL_FAST, builtin_info, builtin_runner
from compare.engine.devices import dtype_supported
from compare.engine.protocol import MethodEntry, MethodInfo, NotProvided

Params = Mapping[str, np.ndarray]


def _builtin(family: str, dtype: str, device: str, cfg: RunConfig, **kw) -> MethodEntry:
    info = builtin_info(family, dtype, device)
    # --ranks N: the book loop's gradient on N local ranks, --threads each (bit-identical to one process)
    sharded = _sharded(cfg) if family == NUMERICAL and cfg.ranks > 1 else None

    def make(params: Params):
        return builtin_runner(info, params, cfg.activation, cfg.h, sharded)

    return MethodEntry(info, make, **kw)


def _sharded(cfg: RunConfig):
    """The book loop's gradient on ``--ranks`` local ranks, ``--threads`` BLAS threads each."""
    from compare.distributed import sharded_numerical_gradient

    def gradient(params: Params, x: np.ndarray, t: np.ndarray, activation: str, h: float) -> dict[str, np.ndarray]:
        return sharded_numerical_gradient(params, x, t, activation, h, cfg.ranks, threads=cfg.threads)

    return gradient


def builtin_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str] | None = None) -> list[MethodEntry]:
    """The project's own methods: the two numerical gradients, backprop, autograd per device.

    Backprop and autograd in each of ``dtypes`` (default: the run's ``--dtype``); the
    numerical gradients are always float64.
    """
    dtypes = dtypes or (cfg.dtype,)
    out = [
        _builtin(NUMERICAL, "float64", "cpu", cfg, steps_cap=cfg.numerical_iters, budget=True),
        _builtin(NUMERICAL_FAST, "float64", "cpu", cfg, steps_cap=cfg.fast_numerical_iters, budget=True),
    ]
    out += [_builtin(BACKPROP, dt, "cpu", cfg) for dt in dtypes]
    out += [_builtin(AUTOGRAD, dt, d, cfg) for d in devices for dt in dtypes if dtype_supported(d, dt)]
    return out


def jax_entries(cfg: RunConfig, dtypes: Sequence[str] | None = None) -> list[MethodEntry]:
    """JAX (``jax.grad`` + ``jit``) on the CPU in each dtype; rows that say so when jax is not installed."""
    from compare.jax_runner import NOT_INSTALLED, jax_available

    out = []
    for dtype in dtypes or (cfg.dtype,):
        info = MethodInfo(f"jax[cpu,{dtype}]", "jax", "exact", dtype, "cpu", "jax")

        def make(params: Params, dtype: str = dtype):
            if not jax_available():
                raise NotProvided(NOT_INSTALLED)
            from compare.jax_runner import JaxRunner

            return JaxRunner(params, activation=cfg.activation, dtype=dtype, device="cpu")

        out.append(MethodEntry(info, make))
    return out


def compile_entries(cfg: RunConfig, dtypes: Sequence[str] | None = None) -> list[MethodEntry]:
    """``torch.compile`` of autograd on the CPU in each dtype (``--compile``); none without it."""
    if not cfg.compile:
        return []
    from compare.engine.compiled import CompiledTorchRunner, compile_backend, compiled_info

    backend = compile_backend()
    out = []
    for dtype in dtypes or (cfg.dtype,):
        info = compiled_info(dtype, "cpu", backend)

        def make(params: Params, info: MethodInfo = info):
            return CompiledTorchRunner(info, params, cfg.activation, backend)

        out.append(MethodEntry(info, make))
    return out


def run_entries(cfg: RunConfig, devices: Sequence[str]) -> list[MethodEntry]:
    """The methods of the gradient and trajectory sections (before any ``--impl``): the project's, JAX, ranks."""
    jax = jax_entries(cfg) if cfg.jax else []
    return builtin_entries(cfg, devices) + compile_entries(cfg) + jax + distributed_entries(cfg)


def distributed_entries(cfg: RunConfig) -> list[MethodEntry]:
    """``ddp[gloo,N]`` (and ``fsdp[gloo,N]`` with ``--fsdp``) on ``--ddp N`` local ranks; none without ``--ddp``."""
    if not cfg.ddp:
        return []
    from compare.distributed.launch import choose_backend

    backend = choose_backend(cfg.ddp, "auto")
    methods = ["ddp"] + (["fsdp"] if cfg.fsdp else [])
    out = []
    for method in methods:
        weighted = cfg.ddp_weighting == "batch"
        label = f"{method}[{backend},{cfg.ddp}" + (",weighted]" if weighted else "]")
        device = "cuda" if backend == "nccl" else "cpu"
        info = MethodInfo(label, "ddp", "exact", cfg.dtype, device, "torch")

        def make(params: Params, method: str = method):
            from compare.distributed.ddp_runner import DistributedRunner

            return DistributedRunner(
                params, cfg.activation, cfg.ddp, method=method, weighting=cfg.ddp_weighting, dtype=cfg.dtype
            )

        out.append(MethodEntry(info, make, timed=False))
    return out
