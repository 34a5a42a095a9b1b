"""One rank's share of the book's numerical gradient, gathered on rank 0.

Run inside :mod:`compare.distributed.worker`. The P parameter entries, numbered
W1, b1, W2, b2 in C order, are split into contiguous ranges by rank
(``np.array_split``). Each rank holds the whole net (impl_numpy's
:class:`TwoLayerNet`, float64) and computes the central difference of each of its
entries with :meth:`TwoLayerNet.numerical_gradient_at`: the same
``(f(w + h) - f(w - h)) / 2h`` of the exact cross-entropy, on the same weights (each
entry is put back exactly before the next), as the one-process loop. So the gathered
gradient is bit-identical to one process's, whatever the number of ranks.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.distributed as dist

from compare.distributed.jobfiles import RESULT, read_array, read_arrays, write_array, write_json
from impl_numpy import TwoLayerNet
from impl_numpy.validation import PARAM_NAMES

CHUNK = 64  # entries between heartbeats / fault checks


def entry_range(total: int, world: int, rank: int) -> tuple[int, int]:
    """Global entries [lo, hi) of ``rank`` in ``np.array_split`` order."""
    sizes = [len(part) for part in np.array_split(np.arange(total), world)]
    lo = sum(sizes[:rank])
    return lo, lo + sizes[rank]


def _my_entries(net: TwoLayerNet, x: np.ndarray, t: np.ndarray, lo: int, hi: int, ctx) -> np.ndarray:
    """Central differences of global entries [lo, hi), in order: (hi - lo,) float64."""
    h = float(ctx.spec["h"])
    out = np.empty(hi - lo)  # (n_r,)
    offset = 0
    for name in PARAM_NAMES:
        size = net.params[name].size
        first, last = max(lo, offset), min(hi, offset + size)  # this param's entries in [lo, hi)
        for start in range(first, last, CHUNK):
            stop = min(start + CHUNK, last)
            ctx.beat.beat(start)
            ctx.fault.check(ctx.rank, start, stop)
            flat = np.arange(start - offset, stop - offset)  # flat indices into params[name]
            out[start - lo : stop - lo] = net.numerical_gradient_at(x, t, {name: flat}, h)[name]
        offset += size
    return out


def run(ctx) -> None:
    params = read_arrays(ctx.job, "param_", PARAM_NAMES)
    x, t = read_array(ctx.job, "x"), read_array(ctx.job, "t")  # (N, D), (N,)
    net = TwoLayerNet.from_params(params, activation=ctx.spec["activation"], dtype=np.float64)
    total = sum(p.size for p in params.values())
    lo, hi = entry_range(total, ctx.world, ctx.rank)
    dist.barrier()
    ctx.beat.beat(-1, force=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    mine = _my_entries(net, x, t, lo, hi, ctx)
    own = [time.perf_counter() - start, time.process_time() - cpu_start]  # wall, CPU seconds of this rank
    # Gather on rank 0: gloo's gather wants equal sizes, so every part is padded to the longest.
    longest = len(np.array_split(np.arange(total), ctx.world)[0])
    padded = torch.zeros(longest, dtype=torch.float64)
    padded[: len(mine)] = torch.from_numpy(mine)
    parts = [torch.empty_like(padded) for _ in range(ctx.world)] if ctx.rank == 0 else None
    dist.gather(padded, parts, dst=0)
    times = [torch.zeros(2, dtype=torch.float64) for _ in range(ctx.world)] if ctx.rank == 0 else None
    dist.gather(torch.tensor(own, dtype=torch.float64), times, dst=0)
    seconds = time.perf_counter() - start
    if ctx.rank != 0:
        return
    flat = np.concatenate([parts[r][: hi_ - lo_].numpy() for r, (lo_, hi_) in _ranges(total, ctx.world)])  # (P,)
    offset = 0
    for name in PARAM_NAMES:
        size = params[name].size
        write_array(ctx.job, f"grad_{name}", flat[offset : offset + size].reshape(params[name].shape))
        offset += size
    rank_seconds, rank_cpu = [float(s[0]) for s in times], [float(s[1]) for s in times]
    result = {"seconds": seconds, "rank_seconds": rank_seconds, "rank_cpu_s": rank_cpu, "entries": total}
    write_json(ctx.job / RESULT, result)


def _ranges(total: int, world: int) -> list[tuple[int, tuple[int, int]]]:
    return [(r, entry_range(total, world, r)) for r in range(world)]
