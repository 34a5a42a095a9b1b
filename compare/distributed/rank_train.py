"""One rank's share of distributed training (DDP or FSDP2) and of a distributed gradient.

Run inside :mod:`compare.distributed.worker`. Every shared batch (a row of the
(steps, B) index array) is split into contiguous shards by rank with
``np.array_split``; rank r computes the mean exact cross-entropy of its n_r rows;
DistributedDataParallel (or FSDP2's ``fully_shard``) averages the gradients over the
ranks; ``torch.optim.SGD`` applies ``W -= lr * grad``.

Weighting: plain DDP averages per-rank *means*, which is the full-batch mean only if
every shard has B / world rows. ``weighting="batch"`` scales rank r's loss by
n_r * world / B before backward, so the average DDP takes is exactly the full-batch
mean gradient. The recorded loss is always the full-batch mean: each rank keeps
(n_r / B) * loss_r on the device, and one all-reduce at the end sums them.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from compare.distributed.jobfiles import RESULT, read_array, read_arrays, write_array, write_json
from impl_numpy.validation import PARAM_NAMES
from impl_torch import TorchTwoLayerNet


def shard_bounds(batch: int, world: int, rank: int) -> tuple[int, int]:
    """Rows [lo, hi) of a batch of ``batch`` rows that ``rank`` takes: ``np.array_split`` order."""
    sizes = [len(part) for part in np.array_split(np.arange(batch), world)]
    lo = sum(sizes[:rank])
    return lo, lo + sizes[rank]


def fsdp_unsupported(err: BaseException | None = None) -> str:
    """The one line saying why FSDP2 cannot run here."""
    where = f"torch {torch.__version__}"
    if dist.is_initialized():
        where += f" with {dist.get_backend()}"
    cause = "torch.distributed.fsdp.fully_shard is missing" if err is None else f"{type(err).__name__}: {err}"
    return f"FSDP2 (fully_shard) does not run on {where}: {str(cause).splitlines()[0][:200]}"


def _wrap(net: TorchTwoLayerNet, method: str, device: torch.device) -> torch.nn.Module:
    if method == "fsdp":
        from torch.distributed.fsdp import fully_shard  # ImportError on a torch without FSDP2

        return fully_shard(net)
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


def _full(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor (FSDP2 keeps DTensor shards; gathering one is a collective on every rank)."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def book_params(net: TorchTwoLayerNet, grads: bool = False) -> dict[str, np.ndarray]:
    """Book-layout float64 host copies of the weights (or their gradients): W1 (D, H) = fc1.weight.T."""
    tensors = [net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias]
    full = [_full(t.grad if grads else t.detach()) for t in tensors]
    host = [t.to("cpu", torch.float64).numpy() for t in full]
    return {"W1": host[0].T.copy(), "b1": host[1].copy(), "W2": host[2].T.copy(), "b2": host[3].copy()}  # (out,in).T


class _Shard:
    """This rank's rows of every batch, and the two loss factors of the weighting."""

    def __init__(self, ctx, batch: int) -> None:
        self.lo, self.hi = shard_bounds(batch, ctx.world, ctx.rank)
        n = self.hi - self.lo
        self.record_weight = n / batch  # sum over ranks of (n_r / B) * loss_r = full-batch mean
        self.grad_scale = n * ctx.world / batch if ctx.spec["weighting"] == "batch" else 1.0

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.grad_scale == 1.0 else loss * self.grad_scale).backward()


def run(ctx) -> None:
    spec, dev = ctx.spec, ctx.device
    net = TorchTwoLayerNet.from_params(
        read_arrays(ctx.job, "param_", PARAM_NAMES), activation=spec["activation"], device=dev.type, dtype=spec["dtype"]
    )
    try:
        model = _wrap(net, spec["method"], dev)
    except Exception as err:  # noqa: BLE001 - FSDP2 missing or refused on this backend: say so, no crash
        if spec["method"] != "fsdp":
            raise
        dist.barrier()
        if ctx.rank == 0:
            write_json(ctx.job / RESULT, {"unsupported": fsdp_unsupported(err), "world": ctx.world})
        return
    dist.barrier()  # every rank is set up: from here on, a silent rank is a stalled one
    ctx.beat.beat(-1, force=True)
    if spec["task"] == "gradient":
        _gradient(ctx, net, model)
    else:
        _train(ctx, net, model)


def _gradient(ctx, net: TorchTwoLayerNet, model: torch.nn.Module) -> None:
    x, t = read_array(ctx.job, "x"), read_array(ctx.job, "t")
    shard = _Shard(ctx, len(t))
    xt = torch.as_tensor(x[shard.lo : shard.hi]).to(ctx.device, net.dtype)  # (n_r, D)
    tt = torch.as_tensor(t[shard.lo : shard.hi].astype(np.int64)).to(ctx.device)  # (n_r,)
    shard.backward(F.cross_entropy(model(xt), tt))
    grads = book_params(net, grads=True)
    if ctx.rank == 0:
        for k, g in grads.items():
            write_array(ctx.job, f"grad_{k}", g)
        write_json(ctx.job / RESULT, {"shards": shard_sizes(len(t), ctx.world)})


def shard_sizes(batch: int, world: int) -> list[int]:
    return [hi - lo for lo, hi in (shard_bounds(batch, world, r) for r in range(world))]


class _Data:
    """The data set and the batch stream, on the device once; this rank's columns of the batches."""

    def __init__(self, ctx, dtype: torch.dtype) -> None:
        def dev(name: str, as_dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(read_array(ctx.job, name)).to(ctx.device, as_dtype)

        self.x_train, self.x_test = dev("x_train", dtype), dev("x_test", dtype)  # (N, D), (M, D)
        self.t_train, self.t_test = dev("t_train", torch.int64), dev("t_test", torch.int64)  # (N,), (M,)
        batches = read_array(ctx.job, "batches")  # (steps, B)
        self.shard = _Shard(ctx, batches.shape[1])
        self.idx = torch.as_tensor(batches[:, self.shard.lo : self.shard.hi].astype(np.int64)).to(ctx.device)

    @torch.no_grad()
    def accuracy(self, model: torch.nn.Module) -> torch.Tensor:
        """(train, test) accuracy on the full sets, a (2,) device tensor (no host sync)."""
        train = (model(self.x_train).argmax(dim=1) == self.t_train).to(torch.float64).mean()
        test = (model(self.x_test).argmax(dim=1) == self.t_test).to(torch.float64).mean()
        return torch.stack([train, test])


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, data: _Data, i: int) -> torch.Tensor:
    """One SGD step on this rank's shard of batch i; returns this rank's share of the full-batch loss."""
    idx = data.idx[i]  # (n_r,)
    loss = F.cross_entropy(model(data.x_train[idx]), data.t_train[idx])  # this shard's mean, before the update
    data.shard.backward(loss)  # DDP / FSDP average the gradients over the ranks here
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.detach() * data.shard.record_weight


def _train(ctx, net: TorchTwoLayerNet, model: torch.nn.Module) -> None:
    spec = ctx.spec
    data = _Data(ctx, net.dtype)
    opt = torch.optim.SGD(model.parameters(), lr=float(spec["lr"]))
    evals, snaps = set(spec["eval_at"]), set(spec["snapshot_at"])
    fsdp = spec["method"] == "fsdp"
    steps = data.idx.shape[0]
    losses, accs, eval_steps, snap_steps = [], [], [], []
    start = time.perf_counter()
    for i in range(steps):
        ctx.beat.beat(i)
        ctx.fault.check(ctx.rank, i)
        try:
            losses.append(_step(model, opt, data, i))
        except Exception as err:  # noqa: BLE001 - FSDP2's first step refused on this backend: say so
            if not (fsdp and i == 0):
                raise
            if ctx.rank == 0:
                write_json(ctx.job / RESULT, {"unsupported": fsdp_unsupported(err), "world": ctx.world})
            return
        if i + 1 in snaps:
            _snapshot(ctx, net, i + 1, snap_steps)
        if i in evals and (fsdp or ctx.rank == 0):  # FSDP's forward gathers shards: every rank takes part
            accs.append(data.accuracy(model))
            eval_steps.append(i)
    full = torch.stack(losses) if losses else torch.zeros(0, dtype=net.dtype, device=ctx.device)
    dist.all_reduce(full)  # (steps,) full-batch mean losses: the only loss collective of the run
    _snapshot(ctx, net, steps, snap_steps)
    seconds = time.perf_counter() - start
    if ctx.rank == 0:
        write_array(ctx.job, "losses", full.to("cpu", torch.float64).numpy())
        acc = torch.stack(accs).cpu().numpy() if accs else np.empty((0, 2))  # (evals, 2)
        write_array(ctx.job, "accuracy", acc)
        meta = {"eval_steps": eval_steps, "snapshot_steps": snap_steps, "seconds": seconds}
        write_json(ctx.job / RESULT, meta | {"shards": shard_sizes(spec["batch"], ctx.world), "world": ctx.world})


def _snapshot(ctx, net: TorchTwoLayerNet, n: int, done: list[int]) -> None:
    """Rank 0 saves the params after n updates (FSDP: every rank helps gather them)."""
    if n in done:
        return
    done.append(n)
    if ctx.spec["method"] != "fsdp" and ctx.rank != 0:
        return
    params = book_params(net)
    if ctx.rank == 0:
        for k, v in params.items():
            write_array(ctx.job, f"snap{n}_{k}", v)
