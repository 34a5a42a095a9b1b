"""Distributed PyTorch: ``ddp[gloo,N]`` (and ``fsdp[gloo,N]`` with ``--fsdp``) on ``--ddp N`` local ranks.

Each training run or gradient is a torchrun job (:mod:`compare.distributed`), so these rows train
and are compared but are not timed (a job is not one call). Their model is PyTorch's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.config import RunConfig
from compare.engine.protocol import MethodEntry, MethodInfo
from compare.registry.framework_info import Framework

Params = Mapping[str, np.ndarray]
FAMILY = "ddp"


def ddp_entries(cfg: RunConfig, devices: Sequence[str], dtypes: Sequence[str]) -> list[MethodEntry]:
    """One row per method (DDP, and FSDP2 with ``--fsdp``) in the run's dtype."""
    from compare.distributed.launch import choose_backend

    backend = choose_backend(cfg.ddp, "auto")
    methods = ["ddp"] + (["fsdp"] if cfg.fsdp else [])
    out = []
    for method in methods:
        weighted = cfg.ddp_weighting == "batch"
        label = f"{method}[{backend},{cfg.ddp}" + (",weighted]" if weighted else "]")
        device = "cuda" if backend == "nccl" else "cpu"
        info = MethodInfo(label, FAMILY, "exact", cfg.dtype, device, "torch")

        def make(params: Params, method: str = method):
            from compare.distributed.ddp_runner import DistributedRunner

            return DistributedRunner(
                params, cfg.activation, cfg.ddp, method=method, weighting=cfg.ddp_weighting, dtype=cfg.dtype
            )

        out.append(MethodEntry(info, make, timed=False))
    return out


def _asked(cfg: RunConfig) -> bool:
    return cfg.ddp > 0


DISTRIBUTED = Framework(
    name="distributed",
    title="PyTorch DDP / FSDP2 (torchrun)",
    group="torch",
    reserved=(FAMILY,),
    families=(FAMILY,),
    entries=ddp_entries,
    in_run=_asked,
)
