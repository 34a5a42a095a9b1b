"""The benchmark's training-step section: one SGD step per method and dtype against the matrix-product peak.

Part of ``python -m compare.bench`` (:mod:`compare.bench`, which documents what is measured and
why in interleaved rounds); :func:`targets` turns the rounds into the ratios the report judges.

The steps are the registered frameworks' (each one's ``bench_steps``, :mod:`compare.registry`),
and so are the ratios: every framework with step rows against numpy's backprop, the baseline.
"""

from __future__ import annotations

from typing import Protocol

DTYPES = ("float64", "float32")
FLOP_TARGET = 1.4  # numpy's f64 step at most this many times its FLOP-limited time
TORCH_TARGET = 0.5  # numpy's f64 step at most this many times torch's


class StepOptions(Protocol):
    """What the step section reads of the benchmark's configuration (:class:`compare.bench.BenchConfig`)."""

    threads: int  # BLAS / torch threads
    quick: bool  # smoke sizes
    seed: int  # weights and batch
    rounds: int  # interleaved rounds


def step_flops(n: int, d: int, h: int, c: int) -> int:
    """Multiply-add FLOPs of one training step (forward, backward without the input gradient).

    Forward ``x @ W1`` and ``z @ W2``; backward ``x.T @ dA``, ``z.T @ dY`` and
    ``dY @ W2.T``: 2 FLOPs per multiply-add. Elementwise work is not counted.
    """
    return 2 * n * d * h * 2 + 2 * n * h * c * 3


def _step_calls(cfg: StepOptions, params: dict, x, t) -> tuple[dict[str, dict], dict, dict]:
    """Every framework's training steps at fixed weights (lr = 0: each call does the same work).

    Returns each step's row (what it is, its compile seconds), its call and its device sync,
    keyed alike, framework by framework in the registry's order, float64 and float32 each
    (numpy backprop, torch autograd per device, torch.compile unless ``--quick``, JAX when
    installed: see each framework's ``bench_steps``).
    """
    import torch  # a dependency: its thread pool serves the torch rows and the products timed alone

    from compare import registry

    torch.set_num_threads(cfg.threads)
    rows, calls, syncs = {}, {}, {}
    for fw in registry.FRAMEWORKS:
        if fw.bench_steps is None:  # no row in this section (distributed jobs, a user's class)
            continue
        for step in fw.bench_steps(params, x, t, DTYPES, cfg.quick):
            key = f"{step.name} {step.device} {step.dtype}"
            rows[key] = {
                "name": step.name, "framework": fw.group, "device": step.device, "dtype": step.dtype,
                "compile_s": step.compile_s,
            }  # fmt: skip
            calls[key], syncs[key] = step.call, step.sync
    return rows, calls, syncs


def bench_steps(np, cfg: StepOptions) -> dict:
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
    rows, calls, syncs = _step_calls(cfg, params, x, t)
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
    """The step's two big products alone, numpy and torch CPU (after the rounds, one framework at a time).

    Written for these two frameworks' arrays and layouts (torch keeps ``W1`` transposed), so it
    names them; their rows are found by the registry's row names all the same.
    """
    import torch

    from compare import registry
    from compare.engine.timer import measure

    n, h = x.shape[0], params["W1"].shape[1]
    for r in rows:
        if r["name"] == registry.NUMPY.bench_row:
            a, w, dz = x.astype(r["dtype"]), params["W1"].astype(r["dtype"]), np.ones((n, h), dtype=r["dtype"])
            fwd = measure(lambda a=a, w=w: a @ w, runs=15, warmup=20)
            bwd = measure(lambda a=a, dz=dz: a.T @ dz, runs=15, warmup=20)
            r["gemm_s"] = fwd.median_s + bwd.median_s  # the two big products alone
    for r in rows:
        if r["name"] == registry.TORCH.bench_row and r["device"] == "cpu":
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
    """The issue's speed targets and the framework ratios, measured in this run (each with its spread over rounds).

    Every registered framework with step rows is measured against numpy's backprop at the same
    dtype, in the registry's order, against its own ``step_target``; numpy's f64 step is judged
    against the FLOP-limited time and against torch's too. Rows are found by name (each
    framework's ``bench_row``), so that a saved benchmark's steps can be judged again.
    """
    from compare import registry

    baseline, versus = registry.NUMPY, registry.TORCH

    def find(fw: registry.Framework, dtype: str, device: str = "cpu") -> dict | None:
        for r in steps["rows"]:
            if r["name"].split(" (")[0] == fw.bench_row and (r["dtype"], r["device"]) == (dtype, device):
                return r
        return None

    out, me = [], baseline.name
    np64, th64 = find(baseline, "float64"), find(versus, "float64")
    if np64:
        vs_flop = np64.get("vs_flop_limited") or {"value": np64["median_s"] / np64["flop_limited_s"]}
        out.append({"what": f"{me} f64 step / FLOP-limited time", **vs_flop, "target": FLOP_TARGET})
        gemms = np64["gemm_s"] / np64["flop_limited_s"]
        out.append({"what": f"{me} f64: its two GEMMs alone / FLOP-limited time", "value": gemms, "target": None})
        alone = np64["median_s"] / np64["gemm_s"]
        out.append({"what": f"{me} f64 step / its two GEMMs alone", "value": alone, "target": None})
    if np64 and th64:
        out.append({"what": f"{me} f64 step / {versus.name} f64 step", **_ratio(np64, th64), "target": TORCH_TARGET})
    others = [fw for fw in registry.FRAMEWORKS if fw.bench_steps is not None and fw is not baseline]
    for dtype in DTYPES:
        base = find(baseline, dtype)
        for fw in others:
            other = find(fw, dtype)
            if base and other:
                what = f"{fw.name} {dtype} step / {me} {dtype} step"
                out.append({"what": what, **_ratio(other, base), "target": fw.step_target})
    for o in out:
        o["le"] = True
        o["met"] = None if o["target"] is None else o["value"] <= o["target"]
    return out
