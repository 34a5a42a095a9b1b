"""The run itself: shared weights and batches in, the three sections' results out.

1. gradients  — every method's gradient on the first batch, compared pairwise;
2. trajectory — every method trains on the same batch stream, records compared;
3. timing     — one gradient per method × device × dtype, at the book's shape
                (784-50-10, batch 100, synthetic data) and at the data set's;
4. scaling    — how the time per gradient grows with the net (compare.scaling);
5. lesson     — the numerical gradient's error against h, float64 and float32
                (compare.lesson);
then a plain-words summary of the numbers (compare.summary).

The result is a plain JSON-ready dict (schema in the README); rendering lives
in :mod:`compare.report`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from compare import metrics
from compare.config import RunConfig
from compare.data import Dataset, load_dataset, make_synthetic
from compare.engine import agreement
from compare.engine.runners import (
    AUTOGRAD,
    BACKPROP,
    NUMERICAL,
    NUMERICAL_FAST,
    Method,
    TrainRecord,
    batch_stream,
    epoch_steps,
    runner,
)
from compare.engine.timing import Shape, time_shape
from compare.env import set_threads
from compare.sections import lesson, scaling, summary
from impl_numpy import TwoLayerNet, init_params
from impl_torch.net import available_devices, resolve_device, resolve_dtype

BOOK_SHAPE = (784, 50, 10, 100)  # input, hidden, output, batch


def torch_devices(requested: str, dtype: str) -> list[str]:
    """``auto``: the CPU plus every accelerator torch sees; otherwise the one named (checked)."""
    if requested == "auto":
        return [d for d in available_devices() if not (d == "mps" and dtype == "float64")]
    resolve_device(requested, resolve_dtype(dtype))  # raises a ConfigError when absent
    return [requested]


def gradient_methods(cfg: RunConfig, devices: list[str]) -> list[Method]:
    methods = [Method(NUMERICAL), Method(NUMERICAL_FAST), Method(BACKPROP, cfg.dtype)]
    methods += [Method(AUTOGRAD, cfg.dtype, d) for d in devices]
    return methods


def timing_methods(devices: list[str]) -> list[Method]:
    methods = [Method(NUMERICAL), Method(NUMERICAL_FAST)]
    for dtype in ("float64", "float32"):
        methods.append(Method(BACKPROP, dtype))
    for d in devices:
        for dtype in ("float64", "float32"):
            if not (d == "mps" and dtype == "float64"):
                methods.append(Method(AUTOGRAD, dtype, d))
    return methods


def run_gradients(cfg: RunConfig, data: Dataset, params: dict, batch: np.ndarray, devices: list[str]) -> dict:
    x, t = data.x_train[batch], data.t_train[batch]
    grads = {m: runner(m, params, cfg.activation, cfg.h).gradient(x, t) for m in gradient_methods(cfg, devices)}
    loss = TwoLayerNet.from_params(params, activation=cfg.activation).loss(x, t)
    mask = metrics.relu_kink_mask(params, x, cfg.h) if cfg.activation == "relu" else None
    rows = agreement.gradient_rows(grads, loss_value=loss, h=cfg.h, kink_mask=mask)
    return {"loss": float(loss), "rows": [r.to_dict() for r in rows], "ok": all(r.ok for r in rows)}


def run_trajectory(
    cfg: RunConfig,
    data: Dataset,
    params: dict,
    batches: np.ndarray,
    devices: list[str],
    progress: bool,
    note: Callable[[str], None],
) -> dict:
    eval_at = epoch_steps(data.train_size, cfg.batch_size, cfg.iters)
    n_num = min(cfg.numerical_iters, cfg.iters)
    n_fast = min(cfg.fast_numerical_iters, cfg.iters)
    # (method, steps, time budget): the numerical runs stop early when their budget is spent.
    plan: list[tuple[Method, int, float | None]] = []
    if n_num:
        plan.append((Method(NUMERICAL), n_num, cfg.numerical_seconds))
    if n_fast:
        plan.append((Method(NUMERICAL_FAST), n_fast, cfg.numerical_seconds))
    plan.append((Method(BACKPROP, cfg.dtype), cfg.iters, None))
    plan += [(Method(AUTOGRAD, cfg.dtype, d), cfg.iters, None) for d in devices]

    records: dict[Method, TrainRecord] = {}
    snapshots = {cfg.iters}  # grows with each numerical run's actual length, so later runs keep it too
    for method, steps, budget in plan:  # each run whole, one after another
        note(f"training {method.label} for {steps} steps" + (f" (at most {budget:g} s)" if budget else ""))
        r = runner(method, params, cfg.activation, cfg.h)
        evals = [i for i in eval_at if i < steps]
        start = time.perf_counter()
        if budget is None:
            rec = r.train(data, batches[:steps], cfg.learning_rate, evals, sorted(snapshots), progress)
        else:
            rec = r.train(data, batches[:steps], cfg.learning_rate, evals, sorted(snapshots), progress, budget)
        rec.seconds = time.perf_counter() - start
        records[method] = rec
        snapshots.add(len(rec.losses))

    methods = list(records)
    rows = []
    for i, a in enumerate(methods):
        for b in methods[i + 1 :]:
            rows.append(
                agreement.trajectory_row(
                    a,
                    b,
                    records[a],
                    records[b],
                    n_train=data.train_size,
                    n_test=data.x_test.shape[0],
                    learning_rate=cfg.learning_rate,
                    h=cfg.h,
                    kinks=cfg.activation == "relu",
                )
            )
    runs = [
        {
            "method": m.label,
            "steps": len(rec.losses),
            "seconds": rec.seconds,
            "eval_steps": rec.eval_steps,
            "train_acc": rec.train_acc.tolist(),
            "test_acc": rec.test_acc.tolist(),
            "losses": rec.losses.tolist(),
        }
        for m, rec in records.items()
    ]
    return {
        "iter_per_epoch": max(data.train_size / cfg.batch_size, 1),
        "runs": runs,
        "pairs": [r.to_dict() for r in rows],
        "ok": all(r.ok for r in rows),
    }


def run_timing(cfg: RunConfig, data: Dataset, devices: list[str]) -> dict:
    shapes = [BOOK_SHAPE]
    own = (data.input_size, cfg.hidden_size, data.n_classes, cfg.batch_size)
    if own != BOOK_SHAPE:
        shapes.append(own)
    rows = []
    for d, h, c, b in shapes:
        if (d, c) == (data.input_size, data.n_classes):
            x_all, t_all = data.x_train, data.t_train
        else:
            synth = make_synthetic(n_train=b, n_test=1, input_size=d, n_classes=c, seed=cfg.seed)
            x_all, t_all = synth.x_train, synth.t_train
        idx = np.random.default_rng(cfg.seed).integers(0, x_all.shape[0], size=b)
        params = init_params(d, h, c, weight_init_std=cfg.weight_init_std, seed=cfg.seed)
        rows += time_shape(
            timing_methods(devices),
            params,
            x_all[idx],
            t_all[idx],
            activation=cfg.activation,
            h=cfg.h,
            threads=cfg.threads,
            full=cfg.full,
            sample=cfg.sample,
            seed=cfg.seed,
        )
    return {"rows": [r.to_dict() for r in rows]}


def run(cfg: RunConfig, note: Callable[[str], None] = lambda s: None, progress: bool = False) -> dict:
    """Run the configured sections; return the report dict (without ``env``)."""
    set_threads(cfg.threads)  # again, now that torch is loaded
    data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, seed=cfg.seed, download=cfg.download)
    devices = torch_devices(cfg.device, cfg.dtype)
    params = init_params(
        data.input_size, cfg.hidden_size, data.n_classes, weight_init_std=cfg.weight_init_std, seed=cfg.seed
    )
    batches = batch_stream(data.train_size, cfg.batch_size, cfg.iters, cfg.seed)  # (iters, B)
    report: dict = {"devices": devices, "shape": f"{data.input_size}-{cfg.hidden_size}-{data.n_classes}"}
    if "gradients" in cfg.only:
        note("gradients on the first batch")
        report["gradients"] = run_gradients(cfg, data, params, batches[0], devices)
    if "trajectory" in cfg.only:
        report["trajectory"] = run_trajectory(cfg, data, params, batches, devices, progress, note)
    if "timing" in cfg.only:
        note("timing")
        report["timing"] = run_timing(cfg, data, devices)
    if "scaling" in cfg.only:
        report["scaling"] = scaling.run_section(cfg, devices, note)
    if "lesson" in cfg.only:
        note("numerical gradient error against h")
        report["lesson"] = lesson.run_section(cfg, data, params, batches[0])
    book = str(Shape(*BOOK_SHAPE))
    report["summary"] = summary.build(report, iters=cfg.iters, h=cfg.h, dtype=cfg.dtype, book_shape=book)
    checks = [report[s]["ok"] for s in ("gradients", "trajectory") if s in report]
    report["ok"] = all(checks)
    return report
