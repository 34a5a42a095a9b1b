"""Benchmark: the fast numerical gradient against the book's loop, and training steps
against the machine's matrix-product rate.

Usage::

    python -m compare.bench                # full benchmark (~1-2 min on 2 cores)
    python -m compare.bench --quick        # smoke run: small sizes (64-20-10 for the numerical gradient)
    python -m compare.bench --json bench.json
    python -m compare.bench --rounds 15      # more interleaved rounds in the step section

What it measures, all in one process and one run:

1. One training step (gradient + SGD update) for each registered framework that offers
   one (:mod:`compare.registry`: numpy backprop, torch autograd, torch.compile (not with
   ``--quick``) and JAX (``jax.jit``, when installed)), float64 and float32, and the
   matrix-product peak (a large square product), all in interleaved rounds: each round
   runs every method in blocks long enough for thread pools to settle, one method after
   another, never call by call (numpy and torch thread pools fight). Every ratio is
   taken within a round and shown with its spread over rounds; a ratio whose second half
   of rounds moved from its first half by more than the spread within a round (and 5%)
   is flagged as drift. Targets: numpy f64 step ≤ 1.4× FLOP-limited, numpy f64 ≤ 0.5×
   torch f64, torch ≤ 1.25× numpy at the same dtype. Compile times are shown apart.
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

The training-step section is measured in :mod:`compare.bench_steps` and the report is written by
:mod:`compare.bench_text`; this module holds the command, its options and the numerical section.
"""

from __future__ import annotations

import contextlib
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass

from compare.bench_steps import DTYPES, bench_steps, step_flops, targets  # noqa: F401  (step_flops: part of the API)
from compare.bench_text import render
from compare.cli import Parser, command, program
from compare.config import path_option, thread_count
from compare.exits import fail
from compare.options import int_at_least, non_negative_int, positive_int
from compare.resources import check_processes, usable_cpus


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
