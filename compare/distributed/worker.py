"""The per-rank entry point that ``torchrun`` starts: one process of a distributed job.

Usage (what :mod:`compare.distributed.launch` runs; on several machines, see the
README's "Distributed" section)::

    torchrun --standalone --nproc-per-node 2 -m compare.distributed.worker JOB_DIR

``JOB_DIR/spec.json`` says what to do (``task``: ``train``, ``gradient`` or
``numgrad``; another rank program passes its own task to :func:`main`, e.g.
:mod:`compare.gradcheck.ranks`) and the ``.npy`` files beside it hold the inputs (see
:mod:`compare.distributed.jobfiles`). The process group is torch's
(``init_process_group`` with the rendezvous torchrun set up: gloo on CPU, NCCL when
every rank has a GPU). Each rank runs with one thread, writes a heartbeat while it
moves, and on an exception writes ``error_rank{r}.json`` (rank, type, message) before
exiting, so the parent can name the rank and the cause. Rank 0 writes the outputs.

A test-only ``fault`` entry in the spec, ``{"rank": 1, "at_step": 5, "kind":
"raise" | "kill" | "hang"}``, makes that rank fail at that step (training) or entry
(numerical gradient), to check that the whole job ends.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compare.distributed.jobfiles import SPEC, Heartbeat, error_path, read_json, write_json

FAULT_KINDS = ("raise", "kill", "hang")


@dataclass
class Fault:
    """A planted failure for tests: ``kind`` happens on ``rank`` when it reaches ``at_step``."""

    rank: int = -1  # -1: no fault
    at_step: int = 0
    kind: str = "raise"  # raise | kill | hang

    def check(self, rank: int, start: int, stop: int | None = None) -> None:
        """Fire if this is the rank and ``at_step`` lies in ``[start, stop)`` (``stop`` None: ``start`` only)."""
        stop = start + 1 if stop is None else stop
        if rank != self.rank or not start <= self.at_step < stop:
            return
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "hang":
            while True:  # blocks until the job is torn down
                time.sleep(3600)
        raise ValueError(f"fault injected at step {self.at_step}")


@dataclass
class RankContext:
    """What every task of a rank needs: where the job is, who this rank is, its device."""

    job: Path
    spec: dict
    rank: int
    world: int
    device: object  # torch.device
    beat: Heartbeat
    fault: Fault = field(default_factory=Fault)


def _one_thread() -> None:
    """One compute thread per rank unless the launcher set OMP/MKL/OPENBLAS_NUM_THREADS (it does, before start)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _die_with_parent() -> None:
    """Linux: get SIGKILL if the launcher dies, so no rank outlives its job."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def _init(job: Path, spec: dict) -> RankContext:
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    backend = spec["backend"]
    if backend == "nccl":
        local_rank = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    # The parent's stall watchdog (spec["stall_s"]) fires first; this timeout is only a backstop.
    timeout = timedelta(seconds=float(spec["stall_s"]) + 60.0)
    dist.init_process_group(backend, timeout=timeout)
    fault = Fault(**spec["fault"]) if spec.get("fault") else Fault()
    return RankContext(job, spec, rank, world, device, Heartbeat(job, rank), fault)


def run_task(ctx: RankContext) -> None:
    task = ctx.spec["task"]
    if task in ("train", "gradient"):
        from compare.distributed import rank_train

        rank_train.run(ctx)
    elif task == "numgrad":
        from compare.distributed import rank_numgrad

        rank_numgrad.run(ctx)
    else:
        raise ValueError(f"unknown task {task!r}")


def main(argv: list[str], task: Callable[[RankContext], None] | None = None) -> int:
    """Run one rank of the job in ``argv[0]``: ``task(ctx)``, or the spec's task when None."""
    job = Path(argv[0])
    rank = int(os.environ.get("RANK", "0"))
    _one_thread()
    _die_with_parent()
    write_json(job / f"pid_rank{rank}.json", {"pid": os.getpid()})
    try:
        ctx = _init(job, read_json(job / SPEC))
        (task or run_task)(ctx)
        import torch.distributed as dist

        dist.destroy_process_group()
    except BaseException as err:
        info = {"rank": rank, "type": type(err).__name__, "message": str(err)[:2000], "time": time.time()}
        write_json(error_path(job, rank), info)
        traceback.print_exc()
        sys.stderr.flush()
        # Exit now: a normal interpreter exit tears down the process group, which can wait on peers.
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
