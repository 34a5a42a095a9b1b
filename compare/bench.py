"""Benchmark: the fast numerical gradient against the book's loop, and training steps
against the machine's matrix-product rate.

Usage::

    python -m compare.bench                # full benchmark (~1-2 min on 2 cores)
    python -m compare.bench --quick        # smoke run: small sizes (64-20-10 for the numerical gradient)
    python -m compare.bench --json bench.json

What it measures, all in one process and one run (numpy and torch work never
interleaved within a timed loop: the two thread pools fight; in the step section numpy
is timed first, then torch):

1. The machine's matrix-product rate: a large square float64/float32 product
   (the peak) and the rate at the training step's own shapes.
2. The book's numerical-gradient loop versus the fast exact one at 784-50-10,
   batch 100, float64, both activations: the values (they must agree to 1e-9
   relative above the book loop's rounding floor), the time ratio (target ≥ 50×)
   and the fast one's peak memory.
3. One training step (gradient + SGD update) for numpy backprop and torch
   autograd, float64 and float32, with each step's FLOP count, its FLOP-limited
   time at the measured peak and the targets: numpy f64 step ≤ 1.4× FLOP-limited,
   numpy f64 ≤ 0.5× torch f64, torch ≤ 1.25× numpy at the same dtype.

Exit status 0 when the fast and book-loop values agree, 1 when they do not (speed
targets are reported, not enforced: they depend on the machine), 2 for bad usage,
130 when interrupted.

Longer than 300 lines, and 60 for ``render``: the benchmark's measurements and its one report
are kept in one command, as the README quotes them.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from functools import partial

from compare.cli import Parser, command, fail, int_at_least, non_negative_int, positive_int
from compare.config import path_option, thread_count


@dataclass
class BenchConfig:
    threads: int = os.cpu_count() or 1  # BLAS / torch threads
    quick: bool = False  # smoke run: small sizes
    seed: int = 0  # weights and batch
    book_runs: int = 3  # full runs of the book's numerical loop per activation (~12 s each at 784-50-10)
    ranks: int = 0  # --ranks N: also time the book loop's gradient on N ranks against 1 (0: skip)
    json_path: str | None = None  # write the results here (atomically)


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    d = BenchConfig()
    p = Parser(prog="python -m compare.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=thread_count, default=d.threads, help="default: all cores (%(default)s)")
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes")
    p.add_argument("--seed", type=non_negative_int, default=d.seed)
    p.add_argument("--book-runs", type=positive_int, default=d.book_runs, help="default: %(default)s")
    p.add_argument(
        "--ranks",
        type=int_at_least(2, "an integer >= 2"),
        default=d.ranks,
        metavar="N",
        help="also time the book loop's full gradient (784-50-10) on N local ranks against 1, 1 thread each, "
        "in interleaved rounds: 3 each, 1 with --quick (~25 s a round)",
    )
    p.add_argument("--json", dest="json_path", type=path_option, metavar="PATH", help="write the results as JSON")
    return BenchConfig(**vars(p.parse_args(argv)))


def step_flops(n: int, d: int, h: int, c: int) -> int:
    """Multiply-add FLOPs of one training step (forward, backward without the input gradient).

    Forward ``x @ W1`` and ``z @ W2``; backward ``x.T @ dA``, ``z.T @ dY`` and
    ``dY @ W2.T``: 2 FLOPs per multiply-add. Elementwise work is not counted.
    """
    return 2 * n * d * h * 2 + 2 * n * h * c * 3


def _row(name: str, t, **extra) -> dict:
    return {"name": name, "median_s": t.median_s, "iqr_s": t.iqr_s, "min_s": t.min_s, "runs": t.runs, **extra}


def bench_matmul(np, quick: bool) -> dict:
    """Peak matrix-product rate (GFLOP/s) of numpy, float64 and float32."""
    from compare.engine.timer import measure

    size = 500 if quick else 2000
    out = {}
    for dtype in ("float64", "float32"):
        a = np.random.default_rng(0).random((size, size)).astype(dtype)
        t = measure(lambda a=a: a @ a, runs=5, min_run_s=0.1)
        out[dtype] = 2 * size**3 / t.median_s / 1e9
    return out


def bench_numerical(np, cfg: BenchConfig) -> dict:
    """The book's loop versus the fast numerical gradient: values, times, memory."""
    from compare import metrics
    from compare.engine.timer import measure, summarize
    from impl_numpy import TwoLayerNet, init_params

    d, h, c, n = (64, 20, 10, 50) if cfg.quick else (784, 50, 10, 100)
    rng = np.random.default_rng(cfg.seed)
    x = rng.random((n, d))
    t = rng.integers(0, c, size=n)
    params = init_params(d, h, c, seed=cfg.seed)
    results = {"shape": f"{d}-{h}-{c} x{n}", "activations": {}}
    for activation in ("sigmoid", "relu"):
        net = TwoLayerNet.from_params(params, activation=activation)
        loss = net.loss(x, t)
        fast_t = measure(lambda net=net: net.numerical_gradient_fast(x, t), runs=7, warmup=1, min_run_s=0.0)
        fast = net.numerical_gradient_fast(x, t)
        tracemalloc.start()
        net.numerical_gradient_fast(x, t)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # The book's loop in full, a few times (seconds each): its values and its timing.
        times = []
        for _ in range(cfg.book_runs):
            start = time.perf_counter()
            book = net.numerical_gradient(x, t)
            times.append(time.perf_counter() - start)
        book_t = summarize(times)
        tol = metrics.same_differences_tolerance(loss, 1e-4)
        agree = {}
        for k in book:
            diff = metrics.diff(fast[k], book[k], tol)
            scale = float(np.max(np.abs(book[k])))
            agree[k] = {
                "max_abs": diff.max_abs,
                "max_rel": diff.max_rel,
                "normwise_rel": diff.max_abs / scale if scale else 0.0,
                "ok": diff.ok(tol),
            }
        results["activations"][activation] = {
            "book": _row("book loop", book_t),
            "fast": _row("fast", fast_t),
            "speedup": book_t.median_s / fast_t.median_s,
            "fast_peak_bytes": peak,
            "rtol": tol.rtol,
            "atol": tol.atol,
            "agreement": agree,
            "ok": all(v["ok"] for v in agree.values()),
        }
    return results


def bench_steps(np, cfg: BenchConfig, peaks: dict) -> dict:
    """One SGD step per method and dtype: numpy first, then torch."""
    from compare.engine.timer import measure
    from impl_numpy import TwoLayerNet, init_params

    d, h, c, n = (64, 50, 10, 100) if cfg.quick else (784, 50, 10, 100)
    rng = np.random.default_rng(cfg.seed)
    x = rng.random((n, d))
    t = rng.integers(0, c, size=n)
    params = init_params(d, h, c, seed=cfg.seed)
    flops = step_flops(n, d, h, c)
    rows = []
    for dtype in ("float64", "float32"):
        net = TwoLayerNet.from_params(params, dtype=dtype)
        xs = x.astype(dtype)
        # lr = 0: the weights stay put, so every timed step does the same work.
        timing = measure(lambda net=net, xs=xs: net.train_step(xs, t, 0.0), runs=15, warmup=20)
        rows.append(_row("numpy backprop", timing, framework="numpy", device="cpu", dtype=dtype))
        a, w, dz = xs, net.params["W1"], np.ones((n, h), dtype=dtype)
        fwd = measure(lambda a=a, w=w: a @ w, runs=15, warmup=20)
        bwd = measure(lambda a=a, dz=dz: a.T @ dz, runs=15, warmup=20)
        rows[-1]["gemm_s"] = fwd.median_s + bwd.median_s  # the two big products alone

    import torch

    from compare.engine import devices
    from compare.engine.devices import dtype_supported

    torch.set_num_threads(cfg.threads)
    from impl_torch import TorchTwoLayerNet, available_devices

    for device in available_devices():
        for dtype in ("float64", "float32"):
            if not dtype_supported(device, dtype):
                continue
            tnet = TorchTwoLayerNet.from_params(params, device=device, dtype=dtype)
            xt, tt = tnet.to_device_batch(x, t)
            sync = partial(devices.sync, device)
            timing = measure(
                lambda tnet=tnet, xt=xt, tt=tt: tnet.train_step(xt, tt, 0.0), sync=sync, runs=15, warmup=20
            )
            rows.append(_row("torch autograd", timing, framework="torch", device=device, dtype=dtype))
            w1 = tnet.fc1.weight.detach()  # (H, D)
            dz = torch.ones((n, h), dtype=tnet.dtype, device=tnet.device)
            fwd = measure(lambda xt=xt, w1=w1: xt @ w1.T, sync=sync, runs=15, warmup=20)
            bwd = measure(lambda xt=xt, dz=dz: dz.T @ xt, sync=sync, runs=15, warmup=20)
            rows[-1]["gemm_s"] = fwd.median_s + bwd.median_s  # autograd's two big products alone

    for r in rows:
        r["flops"] = flops
        r["flop_limited_s"] = flops / (peaks[r["dtype"]] * 1e9)
        r["fraction_of_peak"] = r["flop_limited_s"] / r["median_s"]
    return {"shape": f"{d}-{h}-{c} x{n}", "flops": flops, "rows": rows}


def targets(steps: dict) -> list[dict]:
    """The issue's speed targets, measured in this run."""

    def find(framework: str, dtype: str, device: str = "cpu") -> dict | None:
        for r in steps["rows"]:
            if (r["framework"], r["dtype"], r["device"]) == (framework, dtype, device):
                return r
        return None

    out = []
    np64, th64 = find("numpy", "float64"), find("torch", "float64")
    if np64:
        out.append(
            {
                "what": "numpy f64 step / FLOP-limited time",
                "value": np64["median_s"] / np64["flop_limited_s"],
                "target": 1.4,
                "le": True,
            }
        )
        out.append(
            {
                "what": "numpy f64: its two GEMMs alone / FLOP-limited time",
                "value": np64["gemm_s"] / np64["flop_limited_s"],
                "target": None,
                "le": True,
            }
        )
        out.append(
            {
                "what": "numpy f64 step / its two GEMMs alone",
                "value": np64["median_s"] / np64["gemm_s"],
                "target": None,
                "le": True,
            }
        )
    if np64 and th64:
        out.append(
            {
                "what": "numpy f64 step / torch f64 step",
                "value": np64["median_s"] / th64["median_s"],
                "target": 0.5,
                "le": True,
            }
        )
    for dtype in ("float64", "float32"):
        n, th = find("numpy", dtype), find("torch", dtype)
        if n and th:
            out.append(
                {
                    "what": f"torch {dtype} step / numpy {dtype} step",
                    "value": th["median_s"] / n["median_s"],
                    "target": 1.25,
                    "le": True,
                }
            )
    for o in out:
        o["met"] = None if o["target"] is None else o["value"] <= o["target"]
    return out


def render(result: dict) -> str:
    from tabulate import tabulate

    from compare.report.format import format_seconds as fs

    lines = []
    env = result["env"]
    lines.append(
        f"CPU: {env['cpu']} ({env['cores']} cores), {env['threads']} threads; numpy {env['numpy']} "
        f"(BLAS {env['blas']}), torch {env['torch']}; {env['date']}"
    )
    peaks = result["matmul_gflops"]
    lines.append(f"matrix-product peak: {peaks['float64']:.1f} GFLOP/s float64, {peaks['float32']:.1f} GFLOP/s float32")
    num = result["numerical"]
    lines.append(f"\n== Numerical gradient at {num['shape']}, float64: book loop vs fast ==\n")
    rows = []
    for act, r in num["activations"].items():
        worst = max(r["agreement"].values(), key=lambda v: v["max_rel"])
        rows.append(
            [
                act,
                fs(r["book"]["median_s"]),
                f"{fs(r['fast']['median_s'])} ± {fs(r['fast']['iqr_s'])}",
                f"{r['speedup']:.0f}×",
                f"{r['fast_peak_bytes'] / 2**20:.1f} MiB",
                f"{worst['max_abs']:.2e}",
                f"{worst['max_rel']:.2e}",
                f"{max(v['normwise_rel'] for v in r['agreement'].values()):.2e}",
                "ok" if r["ok"] else "FAIL",
            ]
        )
    lines.append(
        tabulate(
            rows,
            headers=[
                "activation",
                "book loop",
                "fast (median ± IQR)",
                "speedup",
                "fast peak mem",
                "max abs diff",
                "max rel (floor)",
                "max |diff|/max|g|",
                "",
            ],
            disable_numparse=True,
        )
    )
    lines.append(
        f"(relative error floor atol/rtol: agreement to rtol {next(iter(num['activations'].values()))['rtol']:g} "
        "above the book loop's rounding noise, see compare.metrics)"
    )
    st = result["steps"]
    lines.append(f"\n== Training step (gradient + SGD update) at {st['shape']}: {st['flops'] / 1e6:.2f} MFLOP ==\n")
    rows = [
        [
            r["name"],
            r["device"],
            r["dtype"],
            fs(r["median_s"]),
            fs(r["iqr_s"]),
            fs(r["min_s"]),
            fs(r["flop_limited_s"]),
            f"{100 * r['fraction_of_peak']:.0f}%",
            fs(r["gemm_s"]) if "gemm_s" in r else "-",
        ]
        for r in st["rows"]
    ]
    lines.append(
        tabulate(
            rows,
            headers=["method", "device", "dtype", "median", "IQR", "min", "FLOP-limited", "of peak", "2 GEMMs alone"],
            disable_numparse=True,
        )
    )
    lines.append("\n== Targets (ratios measured in this run) ==\n")
    rows = []
    for o in result["targets"]:
        target = "-" if o["target"] is None else f"≤ {o['target']}"
        met = "-" if o["met"] is None else ("met" if o["met"] else "NOT met")
        rows.append([o["what"], f"{o['value']:.2f}", target, met])
    speed = [r["speedup"] for r in num["activations"].values()]
    rows.insert(
        0,
        [
            "book loop / fast numerical (min over activations)",
            f"{min(speed):.0f}",
            "≥ 50",
            "-" if result["config"]["quick"] else ("met" if min(speed) >= 50 else "NOT met"),
        ],
    )
    lines.append(tabulate(rows, headers=["ratio", "value", "target", ""], disable_numparse=True))
    if result["config"]["quick"]:
        lines.append("(--quick: smoke sizes, so the targets, set for 784-50-10, are shown but not judged)")
    return "\n".join(lines)


def bench_sharded(cfg: BenchConfig, result: dict) -> None:
    """Section "sharded numerical gradient" (``--ranks N``): adds ``result["sharded"]``, prints it.

    Times the book loop's full gradient at 784-50-10, batch 100 on 1 rank and on N ranks, 1 BLAS
    thread each, in interleaved rounds (:func:`compare.distributed.measure.sharded_rounds`): the
    median ± half-range of the compute time (rank 0, barrier to gather) and of the whole job
    (launch included), the speed-up of each round, and whether every result was bit-identical
    (a difference makes the run fail: ``result["ok"]`` turns false).
    """
    if not cfg.ranks:
        return
    from compare.distributed.measure import sharded_rounds

    r = result["sharded"] = sharded_rounds(cfg.ranks, 1 if cfg.quick else 3)
    result["ok"] = result["ok"] and r["identical"]
    n = cfg.ranks

    def ms(s: dict) -> str:
        return f"{s['median']:.2f} ± {s['spread']:.2f}"

    lines = [f"\n== Sharded numerical gradient at {r['shape']}: 1 rank vs {n} ranks, 1 thread each ==\n"]
    for key, what in (("compute_s", "compute (rank 0, barrier to gather)"), ("wall_s", "whole job (launch included)")):
        t = r[key]
        speed = ", ".join(f"{v:.2f}×" for v in t["speedup"]["values"])
        lines.append(
            f"{what}: 1 rank {ms(t['1'])} s, {n} ranks {ms(t['n'])} s; speed-up {ms(t['speedup'])}× "
            f"(per round: {speed})"
        )
    before, after = r["load"]
    load = (
        "n/a"
        if before is None
        else f"{', '.join(f'{v:.2f}' for v in before)} -> {', '.join(f'{v:.2f}' for v in after)}"
    )
    lines.append(
        f"{r['rounds']} round(s) interleaved 1, {n}, 1, {n}, ...; bit-identical: {r['identical']}; load averages {load}"
    )
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    return command(argv, parse_args, _bench)


def _bench(cfg: BenchConfig) -> int:
    import numpy as np

    from compare import files as report
    from compare.harness import environment
    from compare.report.codec import to_data

    try:
        if cfg.json_path is not None:
            report.check_writable(cfg.json_path)
    except report.OutputError as e:
        return fail(str(e))
    peaks = bench_matmul(np, cfg.quick)
    steps = bench_steps(np, cfg, peaks)  # before the long numerical runs, on a cool machine
    numerical = bench_numerical(np, cfg)
    result = {
        "env": to_data(environment(cfg.seed, cfg.threads, ["cpu"])),
        "config": asdict(cfg),
        "matmul_gflops": peaks,
        "numerical": numerical,
        "steps": steps,
    }
    result["targets"] = targets(steps)
    if cfg.quick:  # the targets are about 784-50-10; at the smoke sizes they are shown, not judged
        for t in result["targets"]:
            t["met"] = None
    result["ok"] = all(r["ok"] for r in numerical["activations"].values())
    print(render(result))
    bench_sharded(cfg, result)
    if cfg.json_path is not None:
        try:
            report.write_atomic(cfg.json_path, report.to_json(result))
        except OSError as e:
            return fail(str(e))  # OutputError names the file
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
