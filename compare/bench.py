"""Benchmark: the fast numerical gradient against the book's loop, and training steps
against the machine's matrix-product rate.

Usage::

    python -m compare.bench                # full benchmark (~1-2 min on 2 cores)
    python -m compare.bench --quick        # smoke run: small sizes (64-20-10 for the numerical gradient)
    python -m compare.bench --json bench.json
    python -m compare.bench --rounds 15      # more interleaved rounds in the step section

What it measures, all in one process and one run:

1. One training step (gradient + SGD update) for numpy backprop, torch autograd,
   torch.compile (not with ``--quick``) and JAX (``jax.jit``, when installed), float64
   and float32, and the matrix-product peak (a large square product), all in
   interleaved rounds: each round runs every method in blocks long enough for thread
   pools to settle, one method after another, never call by call (numpy and torch
   thread pools fight). Every ratio is taken within a round and shown with its
   spread over rounds; a ratio whose second half of rounds moved from its first half
   by more than the spread within a round (and 5%) is flagged as drift. Targets:
   numpy f64 step ≤ 1.4× FLOP-limited, numpy f64 ≤ 0.5× torch f64, torch ≤ 1.25×
   numpy at the same dtype. Compile times are shown apart.
2. The book's numerical-gradient loop versus the fast exact one at 784-50-10,
   batch 100, float64, both activations: the values (they must agree to 1e-9
   relative above the book loop's rounding floor), the time ratio (target ≥ 50×)
   and the fast one's peak memory.

The JSON (``--json``) keeps every timed value besides its median and spread, as pyperf does:
each round of the step section (``per_round_s``, and the products' ``matmul_per_round_s``) and
each run of the numerical section (``samples_s``), so that a saved benchmark can be judged again.

Exit status 0 when the fast and book-loop values agree, 1 when they do not (speed
targets are reported, not enforced: they depend on the machine), 2 for bad usage,
130 when interrupted.

Longer than 300 lines, and 60 for ``render``: the benchmark's measurements and its one report
are kept in one command, as the README quotes them.
"""

from __future__ import annotations

import contextlib
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from functools import partial

from compare.cli import Parser, command, program
from compare.config import path_option, thread_count
from compare.exits import fail
from compare.options import int_at_least, non_negative_int, positive_int
from compare.resources import check_processes, usable_cpus

DTYPES = ("float64", "float32")


@dataclass
class BenchConfig:
    threads: int = usable_cpus()  # BLAS / torch threads: every CPU this process may use
    quick: bool = False  # smoke run: small sizes
    seed: int = 0  # weights and batch
    book_runs: int = 3  # full runs of the book's numerical loop per activation (~12 s each at 784-50-10)
    rounds: int = 9  # interleaved rounds of the step section (3 with --quick)
    ranks: int = 0  # --ranks N: also time the book loop's gradient on N ranks against 1 (0: skip)
    json_path: str | None = None  # write the results here (atomically)


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    d = BenchConfig()
    p = Parser(prog=program("compare.bench"), description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--threads", type=thread_count, default=d.threads, help="default: every CPU this process may use (%(default)s)"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes")
    p.add_argument("--seed", type=non_negative_int, default=d.seed)
    p.add_argument("--book-runs", type=positive_int, default=d.book_runs, help="default: %(default)s")
    p.add_argument(
        "--rounds",
        type=int_at_least(2, "an integer >= 2"),
        default=d.rounds,
        help="step-section rounds (default: %(default)s)",
    )
    p.add_argument(
        "--ranks",
        type=int_at_least(2, "an integer >= 2"),
        default=d.ranks,
        metavar="N",
        help="also time the book loop's full gradient (784-50-10) on N local ranks against 1, 1 thread each, "
        "in interleaved rounds: 3 each, 1 with --quick (~25 s a round)",
    )
    p.add_argument(
        "--json",
        dest="json_path",
        type=path_option,
        metavar="PATH",
        help="write the results as JSON (- for standard output; the text then goes to standard error)",
    )
    cfg = BenchConfig(**vars(p.parse_args(argv)))
    if cfg.ranks:
        check_processes("--ranks", cfg.ranks)
    return cfg


def step_flops(n: int, d: int, h: int, c: int) -> int:
    """Multiply-add FLOPs of one training step (forward, backward without the input gradient).

    Forward ``x @ W1`` and ``z @ W2``; backward ``x.T @ dA``, ``z.T @ dY`` and
    ``dY @ W2.T``: 2 FLOPs per multiply-add. Elementwise work is not counted.
    """
    return 2 * n * d * h * 2 + 2 * n * h * c * 3


def _row(name: str, t, **extra) -> dict:
    """A timed row for the JSON: median, spread, and every run's time (``samples_s``), so it can be judged again."""
    spread = {"median_s": t.median_s, "iqr_s": t.iqr_s, "min_s": t.min_s, "samples_s": list(t.samples_s)}
    return {"name": name, **spread, "runs": t.runs, **extra}


def bench_numerical(np, cfg: BenchConfig) -> dict:
    """The book's loop versus the fast numerical gradient: values, times, memory."""
    from compare.engine.timer import measure, summarize
    from dlfs_gradcheck import metrics
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


def _step_calls(np, cfg: BenchConfig, params: dict, x, t) -> tuple[dict[str, dict], dict, dict]:
    """Every method's training step at fixed weights (lr = 0: each call does the same work).

    Returns each method's row (what it is, its compile seconds), its call and its device sync,
    keyed alike. numpy backprop, torch autograd per device, torch.compile (unless ``--quick``),
    JAX when installed; float64 and float32 each.
    """
    import torch

    from compare.engine import devices
    from compare.engine.devices import dtype_supported
    from compare.jax_runner import jax_available
    from impl_numpy import TwoLayerNet

    torch.set_num_threads(cfg.threads)
    from impl_torch import TorchTwoLayerNet, available_devices

    rows, calls, syncs = {}, {}, {}

    def add(name: str, framework: str, device: str, dtype: str, call, sync=None, compile_s=None) -> None:
        key = f"{name} {device} {dtype}"
        rows[key] = {"name": name, "framework": framework, "device": device, "dtype": dtype, "compile_s": compile_s}
        calls[key], syncs[key] = call, sync

    for dtype in ("float64", "float32"):
        net = TwoLayerNet.from_params(params, dtype=dtype)
        xs = x.astype(dtype)
        add("numpy backprop", "numpy", "cpu", dtype, lambda net=net, xs=xs: net.train_step(xs, t, 0.0))
    for device in available_devices():
        for dtype in ("float64", "float32"):
            if dtype_supported(device, dtype):
                tnet = TorchTwoLayerNet.from_params(params, device=device, dtype=dtype)
                xt, tt = tnet.to_device_batch(x, t)
                call = lambda tnet=tnet, xt=xt, tt=tt: tnet.train_step(xt, tt, 0.0)  # noqa: E731
                add("torch autograd", "torch", device, dtype, call, partial(devices.sync, device))
    if not cfg.quick:  # compiling takes seconds (tens, with a cold cache): not in the smoke run
        from compare.engine.compiled import CompiledTorchRunner, compile_backend, compiled_info

        backend = compile_backend()
        for dtype in ("float64", "float32"):
            runner = CompiledTorchRunner(compiled_info(dtype, "cpu", backend), params, "sigmoid", backend)
            call, sync = runner.timed_step(x, t, 0.0)
            add(f"torch.compile ({backend})", "torch", "cpu", dtype, call, sync, runner.compile_seconds)
    if jax_available():
        import jax

        from impl_jax import JaxTwoLayerNet

        for dtype in ("float64", "float32"):
            jnet = JaxTwoLayerNet.from_params(params, dtype=dtype)
            xj, tj = jnet.to_device_batch(x, t)
            compile_s = jnet.compile_step(xj, tj)
            last: list = []  # the latest step's loss: the sync waits for it

            def call(jnet=jnet, xj=xj, tj=tj, last=last) -> None:
                last[:] = [jnet.train_step(xj, tj, 0.0)]

            add("jax.jit", "jax", "cpu", dtype, call, lambda last=last: jax.block_until_ready(last), compile_s)
    return rows, calls, syncs


def bench_steps(np, cfg: BenchConfig) -> dict:
    """One SGD step per method and dtype, and the matrix-product peak, timed in interleaved rounds.

    Each round runs every method's block (and a large float64 and float32 product, the peak)
    one after another, never call by call; each ratio is taken within a round, and its
    spread over rounds is kept with it.
    """
    from compare.engine.timer import ratio_spread, spread_of, time_rounds
    from impl_numpy import init_params

    d, h, c, n = (64, 50, 10, 100) if cfg.quick else (784, 50, 10, 100)
    rng = np.random.default_rng(cfg.seed)
    x = rng.random((n, d))
    t = rng.integers(0, c, size=n)
    params = init_params(d, h, c, seed=cfg.seed)
    flops = step_flops(n, d, h, c)
    rows, calls, syncs = _step_calls(np, cfg, params, x, t)
    size = 500 if cfg.quick else 2000
    for dtype in DTYPES:
        a = np.random.default_rng(0).random((size, size)).astype(dtype)
        calls[f"matmul {dtype}"] = lambda a=a: a @ a
    rounds = 3 if cfg.quick else cfg.rounds
    block_s = 0.005 if cfg.quick else 0.03
    times = time_rounds(calls, rounds=rounds, repeats=2 if cfg.quick else 5, min_block_s=block_s, syncs=syncs)
    peak_flops = 2 * size**3
    peaks = {dt: spread_of([peak_flops / m / 1e9 for m in times[f"matmul {dt}"].per_round], 0.0) for dt in DTYPES}
    out_rows = []
    for key, row in rows.items():
        rt = times[key]
        step = spread_of(rt.per_round, 0.0)
        vs_flop = ratio_spread(rt, times[f"matmul {row['dtype']}"], scale=flops / peak_flops)
        row |= {
            "median_s": step.median, "iqr_s": step.q3 - step.q1, "min_s": step.lo, "max_s": step.hi,
            "runs": rounds, "loops": rt.loops, "per_round_s": rt.per_round, "within_round": rt.spread,
            "flops": flops, "flop_limited_s": flops / (peaks[row["dtype"]].median * 1e9),
            "vs_flop_limited": _spread_dict(vs_flop),
        }  # fmt: skip
        row["fraction_of_peak"] = row["flop_limited_s"] / row["median_s"]
        out_rows.append(row)
    _gemm_times(np, out_rows, params, x, t)
    gflops = {dt: p.median for dt, p in peaks.items()}
    matmul = {dt: times[f"matmul {dt}"].per_round for dt in DTYPES}  # the peak's rounds, seconds per product
    return {
        "shape": f"{d}-{h}-{c} x{n}", "flops": flops, "rows": out_rows, "rounds": rounds, "peaks": gflops,
        "matmul_size": size, "matmul_per_round_s": matmul,
    }  # fmt: skip


def _spread_dict(sp) -> dict:
    return {"value": sp.median, "q1": sp.q1, "q3": sp.q3, "lo": sp.lo, "hi": sp.hi, "first_half": sp.first_half,
            "second_half": sp.second_half, "within": sp.within, "drift": sp.drift, "drifting": sp.drifting}  # fmt: skip


def _gemm_times(np, rows: list[dict], params: dict, x, t) -> None:
    """The step's two big products alone, numpy and torch CPU (after the rounds, one framework at a time)."""
    import torch

    from compare.engine.timer import measure

    n, h = x.shape[0], params["W1"].shape[1]
    for r in rows:
        if r["name"] == "numpy backprop":
            a, w, dz = x.astype(r["dtype"]), params["W1"].astype(r["dtype"]), np.ones((n, h), dtype=r["dtype"])
            fwd = measure(lambda a=a, w=w: a @ w, runs=15, warmup=20)
            bwd = measure(lambda a=a, dz=dz: a.T @ dz, runs=15, warmup=20)
            r["gemm_s"] = fwd.median_s + bwd.median_s  # the two big products alone
    for r in rows:
        if r["name"] == "torch autograd" and r["device"] == "cpu":
            dt = getattr(torch, r["dtype"])
            xt, w1 = torch.as_tensor(x, dtype=dt), torch.as_tensor(params["W1"].T.copy(), dtype=dt)  # (H, D)
            dz = torch.ones((n, h), dtype=dt)
            fwd = measure(lambda xt=xt, w1=w1: xt @ w1.T, runs=15, warmup=20)
            bwd = measure(lambda xt=xt, dz=dz: dz.T @ xt, runs=15, warmup=20)
            r["gemm_s"] = fwd.median_s + bwd.median_s  # autograd's two big products alone


def _ratio(a: dict, b: dict) -> dict:
    """``a``'s step over ``b``'s: per round when both rows carry rounds (median, spread, drift), else of the medians."""
    from compare.engine.timer import RoundTimes, ratio_spread

    if "per_round_s" not in a or "per_round_s" not in b:
        return {"value": a["median_s"] / b["median_s"]}
    rt = [RoundTimes(r["per_round_s"], r["within_round"], r["loops"]) for r in (a, b)]
    return _spread_dict(ratio_spread(rt[0], rt[1]))


def targets(steps: dict) -> list[dict]:
    """The issue's speed targets and the framework ratios, measured in this run (each with its spread over rounds)."""

    def find(name: str, dtype: str, device: str = "cpu") -> dict | None:
        for r in steps["rows"]:
            if r["name"].split(" (")[0] == name and (r["dtype"], r["device"]) == (dtype, device):
                return r
        return None

    out = []
    np64, th64 = find("numpy backprop", "float64"), find("torch autograd", "float64")
    if np64:
        vs_flop = np64.get("vs_flop_limited") or {"value": np64["median_s"] / np64["flop_limited_s"]}
        out.append({"what": "numpy f64 step / FLOP-limited time", **vs_flop, "target": 1.4})
        out.append(
            {
                "what": "numpy f64: its two GEMMs alone / FLOP-limited time",
                "value": np64["gemm_s"] / np64["flop_limited_s"],
                "target": None,
            }
        )
        out.append(
            {"what": "numpy f64 step / its two GEMMs alone", "value": np64["median_s"] / np64["gemm_s"], "target": None}
        )
    if np64 and th64:
        out.append({"what": "numpy f64 step / torch f64 step", **_ratio(np64, th64), "target": 0.5})
    for dtype in DTYPES:
        base = find("numpy backprop", dtype)
        for name, short, target in (("torch autograd", "torch", 1.25), ("torch.compile", "torch.compile", None),
                                    ("jax.jit", "jax", None)):  # fmt: skip
            other = find(name, dtype)
            if base and other:
                what = f"{short} {dtype} step / numpy {dtype} step"
                out.append({"what": what, **_ratio(other, base), "target": target})
    for o in out:
        o["le"] = True
        o["met"] = None if o["target"] is None else o["value"] <= o["target"]
    return out


STEP_HEAD = ["method", "device", "dtype", "median", "min-max", "FLOP-limited", "× FLOP-limited", "compile", "2 GEMMs"]


def _step_table(rows_in: list[dict]) -> list[list[str]]:
    from compare.report.format import format_seconds as fs

    rows = []
    for r in rows_in:
        vs = r["vs_flop_limited"]
        rows.append(
            [
                r["name"], r["device"], r["dtype"], fs(r["median_s"]), f"{fs(r['min_s'])}-{fs(r['max_s'])}",
                fs(r["flop_limited_s"]), f"{vs['value']:.2f} ({vs['lo']:.2f}-{vs['hi']:.2f})",
                "-" if r["compile_s"] is None else fs(r["compile_s"]), fs(r["gemm_s"]) if "gemm_s" in r else "-",
            ]
        )  # fmt: skip
    return rows


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
        "above the book loop's rounding noise, see dlfs_gradcheck.metrics)"
    )
    st = result["steps"]
    lines.append(f"\n== Training step (gradient + SGD update) at {st['shape']}: {st['flops'] / 1e6:.2f} MFLOP ==\n")
    lines.append(tabulate(_step_table(st["rows"]), headers=STEP_HEAD, disable_numparse=True))
    lines.append(
        f"({st['rounds']} interleaved rounds: each method's block, then the next's, never call by call; "
        "min-max over rounds; × FLOP-limited against the peak measured in the same round)"
    )
    lines.append("\n== Targets and framework ratios (median over rounds, each ratio taken within a round) ==\n")
    rows = []
    for o in result["targets"]:
        target = "-" if o["target"] is None else f"≤ {o['target']}"
        met = "-" if o["met"] is None else ("met" if o["met"] else "NOT met")
        span = f"{o['lo']:.2f}-{o['hi']:.2f}" if "lo" in o else "-"
        drift = "-" if "drift" not in o else f"{100 * o['drift']:.0f}%" + (" DRIFT" if o["drifting"] else "")
        rows.append([o["what"], f"{o['value']:.2f}", span, drift, target, met])
    speed = [r["speedup"] for r in num["activations"].values()]
    rows.insert(
        0,
        [
            "book loop / fast numerical (min over activations)",
            f"{min(speed):.0f}",
            "-",  # timed apart (the book loop takes seconds), not in the rounds
            "-",
            "≥ 50",
            "-" if result["config"]["quick"] else ("met" if min(speed) >= 50 else "NOT met"),
        ],
    )
    head = ["ratio", "median", "min-max over rounds", "drift (2nd half vs 1st)", "target", "status"]
    lines.append(tabulate(rows, headers=head, disable_numparse=True))
    drifting = [o["what"] for o in result["targets"] if o.get("drifting")]
    if drifting:
        lines.append(
            f"warning: {len(drifting)} ratio(s) drifted between the first and second half of the rounds by more than "
            "the spread within a round (and 5%): the machine's speed changed during the run; rerun when it is idle"
        )
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

    from compare.files import to_json, write_atomic
    from compare.harness import environment
    from compare.pathsafety import OutputError
    from compare.preflight import check_writable
    from compare.report.codec import to_data
    from compare.streams import takes_stdout

    try:
        if cfg.json_path is not None:
            check_writable(cfg.json_path)
    except OutputError as e:
        return fail(str(e))
    from compare.env import load_average

    load_start = load_average()  # before the bench's own work lifts it
    steps = bench_steps(np, cfg)  # before the long numerical runs, on a cool machine
    peaks = steps.pop("peaks")
    numerical = bench_numerical(np, cfg)
    result = {
        "env": to_data(environment(cfg.seed, cfg.threads, ["cpu"], load_start, load_end=load_average())),
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
    # --json -: standard output is the JSON's, the text goes to standard error
    with contextlib.redirect_stdout(sys.stderr if takes_stdout(cfg.json_path) else sys.stdout):
        print(render(result))
        bench_sharded(cfg, result)
    if cfg.json_path is not None:
        try:
            write_atomic(cfg.json_path, to_json(result))
        except OSError as e:
            return fail(str(e))  # OutputError names the file
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
