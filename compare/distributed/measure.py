"""Measure the distributed methods against one process: agreement, uneven shards, speed-up.

Usage::

    python -m compare.distributed.measure              # 10,000 steps on digits + 784-50-10 sharded gradient
    python -m compare.distributed.measure --steps 500 --only trajectory  # a quicker look

1. Trajectory: DDP on 2 ranks (float64, gloo, 1 thread per rank) against numpy backprop in one
   process along the same 10,000 digits batches (64-50-10, lr 0.1): max relative loss difference per
   step (target <= 1e-10), final weights, wall time. Then 3 ranks (shards 34/33/33), plain DDP and
   ``weighting="batch"``, and FSDP2 on 2 ranks.
2. Sharded numerical reference: the book's loop at 784-50-10, batch 100 (synthetic data), on 1 rank
   and on 2 ranks, 1 thread each: bit-identical check, speed-up of the compute (rank 0's time from
   barrier to gather) and of the whole job (launch included). Target >= 1.7x.

:func:`sharded_rounds` repeats part 2 in interleaved rounds for ``python -m compare.bench --ranks N``.

Exit status: 0 every target met, 1 one missed, 3 a job could not complete.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from tabulate import tabulate
from threadpoolctl import threadpool_limits

from compare.data import load_digits, make_synthetic
from compare.distributed.api import ddp_train, sharded_numerical_gradient
from compare.distributed.launch import DistributedFailure
from compare.engine.builtin_runners import NumpyRunner, builtin_info
from compare.engine.protocol import batch_stream, epoch_steps
from impl_numpy import TwoLayerNet, init_params

LOSS_TARGET = 1e-10  # float64, same sums in a different order: ~1e-16 per step, well under this after 10k steps
SPEEDUP_TARGET = 1.7


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def trajectories(steps: int) -> list[dict]:
    data = load_digits()
    params = init_params(64, 50, 10, seed=0)
    batches = batch_stream(data.train_size, 100, steps, 0)  # (steps, 100)
    evals = epoch_steps(data.train_size, 100, steps)
    start = time.perf_counter()
    ref = NumpyRunner(builtin_info("backprop"), params, "sigmoid").train(data, batches, 0.1, evals)
    wall = time.perf_counter() - start
    rows = [{"method": "backprop (1 process)", "wall_s": wall, "loop_s": wall}]
    for ranks, weighting, method in ((2, "ddp", "ddp"), (3, "ddp", "ddp"), (3, "batch", "ddp"), (2, "ddp", "fsdp")):
        record, info = ddp_train(params, data, batches, 0.1, evals, (), "sigmoid", ranks, weighting, method)
        if record is None:
            rows.append({"method": info["label"], "note": info["unsupported"]})
            continue
        final = max(float(np.max(np.abs(record.snapshots[steps][k] - ref.snapshots[steps][k]))) for k in params)
        rows.append({
            "method": info["label"] + ("" if weighting == "ddp" else " weighted"),
            "shards": "/".join(map(str, info["shards"])),
            "max_rel_loss": _max_rel(record.losses, ref.losses),
            "final_w_abs": final,
            "same_acc": bool(np.array_equal(record.test_acc, ref.test_acc)),
            "wall_s": info["wall_s"],
            "loop_s": info["seconds"],
            "explanation": info["explanation"],
            "uneven_plain": info["uneven"] and weighting == "ddp",
        })  # fmt: skip
    return rows


def sharded_gradient(ranks: int = 2) -> dict:
    data = make_synthetic(n_train=100, n_test=1, input_size=784, seed=0)
    params = init_params(784, 50, 10, seed=0)
    one, many = {}, {}
    g1 = sharded_numerical_gradient(params, data.x_train, data.t_train, ranks=1, timings=one)
    gn = sharded_numerical_gradient(params, data.x_train, data.t_train, ranks=ranks, timings=many)
    start = time.perf_counter()
    with threadpool_limits(limits=1):  # the ranks' BLAS thread count: the thread count changes the last bits
        here = TwoLayerNet.from_params(params).numerical_gradient(data.x_train, data.t_train)
    return {
        "ranks": ranks,
        "identical": all(np.array_equal(g1[k], gn[k]) for k in g1),
        "identical_here": all(np.array_equal(here[k], gn[k]) for k in g1),
        "here_s": time.perf_counter() - start,
        "compute_1": one["seconds"], "compute_n": many["seconds"],
        "wall_1": one["wall_s"], "wall_n": many["wall_s"],
        "rank_seconds": many["rank_seconds"],
        "cpu_1": one["rank_cpu_s"][0], "cpu_n": many["rank_cpu_s"],
    }  # fmt: skip


def sharded_rounds(ranks: int, rounds: int, sizes: tuple[int, int, int] = (784, 50, 10), batch: int = 100) -> dict:
    """The book loop's full gradient on 1 rank and on ``ranks`` ranks (1 thread each), interleaved rounds.

    Rounds go 1, N, 1, N, ... so that a change of the machine's load hits both sides alike.
    Each job's compute time (rank 0, barrier to gather) and whole time (launch included) are
    kept per round, with the load averages before and after; see :func:`summarize_rounds`.
    """
    d, h, c = sizes
    data = make_synthetic(n_train=batch, n_test=1, input_size=d, n_classes=c, seed=0)
    params = init_params(d, h, c, seed=0)
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    one, many, first, identical = [], [], None, True
    for _ in range(rounds):
        for n, into in ((1, one), (ranks, many)):
            timings: dict = {}
            grads = sharded_numerical_gradient(params, data.x_train, data.t_train, ranks=n, timings=timings)
            first = grads if first is None else first
            identical &= all(np.array_equal(grads[k], first[k]) for k in first)
            into.append({"compute_s": timings["seconds"], "wall_s": timings["wall_s"]})
    out = summarize_rounds(one, many)
    load_after = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    shape = f"{d}-{h}-{c}, batch {batch}"
    return out | {"ranks": ranks, "shape": shape, "identical": identical, "load": [load_before, load_after]}


def summarize_rounds(one: list[dict], many: list[dict]) -> dict:
    """Medians and spreads of the rounds' times and of the per-round speed-ups (1 rank / N ranks).

    A spread is half the range (max - min) / 2 over the rounds: with 3 rounds, an interquartile
    range would rest on interpolation between them.
    """

    def stats(values: list[float]) -> dict:
        arr = np.asarray(values, dtype=np.float64)  # (rounds,)
        return {"median": float(np.median(arr)), "spread": float(np.ptp(arr) / 2), "values": arr.tolist()}

    out = {"rounds": len(one)}
    for key in ("compute_s", "wall_s"):
        out[key] = {"1": stats([r[key] for r in one]), "n": stats([r[key] for r in many])}
        out[key]["speedup"] = stats([a[key] / b[key] for a, b in zip(one, many, strict=True)])
    return out


def _verdict(row: dict) -> str:
    if row["uneven_plain"]:
        return "shows the uneven-shard effect"
    return "ok" if row["max_rel_loss"] <= LOSS_TARGET else "MISSED"


def render(rows: list[dict], grad: dict | None) -> tuple[str, bool]:
    ok = True
    table = []
    for r in rows:
        if "max_rel_loss" not in r:  # the reference, or FSDP2's one line when it cannot run here
            times = [f"{r[k]:.1f}" if k in r else "" for k in ("wall_s", "loop_s")]
            table.append([r["method"], "", "", "", "", r.get("note", "reference"), *times])
            continue
        verdict = _verdict(r)
        ok &= verdict != "MISSED"
        cells = [r["shards"], f"{r['max_rel_loss']:.1e}", f"{r['final_w_abs']:.1e}", str(r["same_acc"]), verdict]
        table.append([r["method"], *cells, f"{r['wall_s']:.1f}", f"{r['loop_s']:.1f}"])
    head = ["method", "shards", "max rel loss diff", "final weights |diff|", "same test acc", "verdict"]
    out = [tabulate(table, [*head, "wall s", "loop s"], stralign="left", disable_numparse=True)] if table else []
    out += [f"\n{r['method']}: {r['explanation']}" for r in rows if r.get("uneven_plain")]
    if grad is not None:
        speed_c, speed_w = grad["compute_1"] / grad["compute_n"], grad["wall_1"] / grad["wall_n"]
        ok &= grad["identical"] and grad["identical_here"] and speed_c >= SPEEDUP_TARGET
        out.append(
            f"\nsharded numerical gradient, 784-50-10, batch 100, 1 thread per rank: "
            f"bit-identical to 1 rank: {grad['identical']}, to the loop in this process at 1 BLAS thread "
            f"({grad['here_s']:.1f} s): {grad['identical_here']}\n"
            f"  compute 1 rank {grad['compute_1']:.1f} s, {grad['ranks']} ranks {grad['compute_n']:.1f} s "
            f"(per rank {', '.join(f'{s:.1f}' for s in grad['rank_seconds'])}): speed-up {speed_c:.2f}x "
            f"(target >= {SPEEDUP_TARGET}x)\n"
            f"  whole job with launch: {grad['wall_1']:.1f} s vs {grad['wall_n']:.1f} s: {speed_w:.2f}x\n"
            f"  CPU time: 1 rank {grad['cpu_1']:.1f} s, {grad['ranks']} ranks "
            f"{' + '.join(f'{s:.1f}' for s in grad['cpu_n'])} s: {grad['cpu_1'] / max(grad['cpu_n']):.2f}x "
            "on cores left free (wall-clock speed-up shrinks when other work shares the cores)"
        )
    return "\n".join(out), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compare.distributed.measure", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="training steps (default: 10000)")
    parser.add_argument("--only", choices=("trajectory", "gradient"), help="run one of the two parts")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.exit(2, "error: --steps must be at least 1\n")
    try:
        rows = [] if args.only == "gradient" else trajectories(args.steps)
        grad = None if args.only == "trajectory" else sharded_gradient()
    except DistributedFailure as err:
        print(f"error: distributed job failed: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    text, ok = render(rows, grad)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
