"""Distributed runs of the two-layer net on torch.distributed (torchrun; gloo on CPU, NCCL on GPUs).

- :func:`ddp_train`: train on N local ranks with DistributedDataParallel or FSDP2, recorded
  like a single-process run (losses, accuracies, snapshots) so the two can be compared;
- :func:`ddp_gradient`: the gradient DDP leaves after one backward of a split batch;
- :func:`sharded_numerical_gradient`: the book's central-difference gradient with its
  entries split over ranks, bit-identical to one process;
- :class:`DistributedFailure`: a job that could not complete (a rank raised, died or hung).

Imports are lazy so that the launcher and worker processes load only what they use.
"""

from __future__ import annotations

__all__ = ["DistributedFailure", "ddp_gradient", "ddp_train", "sharded_numerical_gradient"]


def __getattr__(name: str) -> object:
    if name == "DistributedFailure":
        from compare.distributed.launch import DistributedFailure

        return DistributedFailure
    if name in ("ddp_train", "ddp_gradient", "sharded_numerical_gradient"):
        from compare.distributed import api

        return getattr(api, name)
    raise AttributeError(f"module 'compare.distributed' has no attribute {name!r}")
