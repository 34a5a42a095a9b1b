"""The benchmark's training-step section: one SGD step per method and dtype against the matrix-product peak.

Part of ``python -m compare.bench`` (:mod:`compare.bench`, which documents what is measured and
why in interleaved rounds); :func:`targets` turns the rounds into the ratios the report judges.
"""

from __future__ import annotations

from functools import partial
from typing import Protocol

DTYPES = ("float64", "float32")


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


def _step_calls(np, cfg: StepOptions, params: dict, x, t) -> tuple[dict[str, dict], dict, dict]:
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
