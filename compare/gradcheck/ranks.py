"""The rank program of a sharded full gradient check (``python -m compare.gradcheck --mode full --ranks N``).

:func:`compare.gradcheck.sharded.sharded_gradcheck` has torchrun start it on each rank
(``torchrun ... -m compare.gradcheck.ranks JOB_DIR``); it runs under
:func:`compare.distributed.worker.main` (process group, heartbeat, errors). Every rank
rebuilds the same problem from the checker's configuration in ``spec.json`` (sizes, seed,
activation, dtype, nets: all
seeded, so every rank holds the same weights, batch, analytic gradients and loss at the
point) and runs the whole check with a :class:`TensorShard`: for each parameter, the
checked entries are split into contiguous ranges by rank (``np.array_split`` order),
each rank computes the reference derivatives of its range, and ``all_gather`` of
fixed-size float64 tensors gives every rank all of them. So every rank goes on with the
same values, in step, and rank 0 writes the report: the one a single process gives at
the same BLAS thread count. Nothing but float64 tensors crosses processes (no pickle).

A check that cannot be made on a rank (a :class:`GradcheckError`, bad input) is written
to ``refused.json`` before the rank fails, so the parent can report it as one process
would (exit 2) rather than as a failed job.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.distributed as dist

from compare.data import DataError
from compare.distributed import worker
from compare.distributed.jobfiles import RESULT, write_json, write_text
from compare.distributed.rank_numgrad import entry_range
from compare.files import to_json
from compare.gradcheck.command import run as run_check
from compare.gradcheck.command_options import GradcheckConfig
from compare.gradcheck.sharded import GRADCHECK_DOC, GRADCHECK_REFUSED
from dlfs_gradcheck.errors import GradcheckError
from impl_numpy.validation import NetInputError


class TensorShard:
    """:class:`dlfs_gradcheck.entrywise.EntryShard` over torch.distributed (gloo): rows gathered as float64."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx

    def split(self, k: int) -> tuple[int, int]:
        return entry_range(k, self.ctx.world, self.ctx.rank)

    def beat(self, position: int) -> None:
        self.ctx.beat.beat(position)
        self.ctx.fault.check(self.ctx.rank, position)

    def gather(self, rows: np.ndarray, k: int, n_evals: int) -> tuple[np.ndarray, int]:
        world = self.ctx.world
        longest = -(-k // world)  # np.array_split's first (longest) part
        buf = torch.zeros(3 * longest + 1, dtype=torch.float64)  # rows, padded, then this rank's loss evaluations
        buf[: rows.size] = torch.from_numpy(np.ascontiguousarray(rows).reshape(-1))
        buf[-1] = float(n_evals)
        parts = [torch.empty_like(buf) for _ in range(world)]
        dist.all_gather(parts, buf)
        out = []
        for r, part in enumerate(parts):
            lo, hi = entry_range(k, world, r)
            out.append(part[: 3 * (hi - lo)].numpy().reshape(hi - lo, 3))
        return np.concatenate(out), sum(int(part[-1]) for part in parts)  # (k, 3)


def config_from_dict(values: dict) -> GradcheckConfig:
    """The checker's configuration from its JSON form (lists back to tuples)."""
    return GradcheckConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def run(ctx) -> None:
    """This rank's part of the check; rank 0 writes the report and the result."""
    cfg = config_from_dict(ctx.spec["config"])
    dist.barrier()
    ctx.beat.beat(-1, force=True)
    try:
        ok, doc, text = run_check(cfg, shard=TensorShard(ctx))
    except (GradcheckError, NetInputError, DataError) as e:
        write_json(ctx.job / GRADCHECK_REFUSED, {"rank": ctx.rank, "message": str(e)})
        raise
    if ctx.rank == 0:
        write_text(ctx.job / GRADCHECK_DOC, to_json(doc))
        write_json(ctx.job / RESULT, {"ok": ok, "text": text})


if __name__ == "__main__":
    sys.exit(worker.main(sys.argv[1:], run))
