"""Cost growth: how the time of one gradient grows with the size of the net, per method.

Run: ``python -m compare.run --only scaling`` (the full study: five hidden sizes and four
input sizes, every method; about half a minute). A run of all sections (plain
``python -m compare.run``) does a reduced form of a few seconds: three hidden sizes, the
book's loop and backprop only, fewer timed runs, a smaller sample of the book's loop.

Why the slopes differ (Deep Learning from Scratch, ch. 4 and 5). A net D-H-C has
``P = D·H + H + H·C + C`` parameters, and one forward pass on a batch of N costs
``∝ N·(D·H + H·C) ≈ N·P``.

- The book's numerical gradient changes one parameter at a time and evaluates the loss
  twice for each: 2P forward passes, so its time grows as ``2P · N·P ∝ P²``. At fixed
  input and output sizes P grows linearly with H: slope 2 against P (and against H).
- Backprop (and autograd) get every entry from one forward and one backward pass: ``∝ N·P``,
  slope 1.
- The fast numerical gradient evaluates the same 2P differences as cheap updates of one
  forward pass (:mod:`impl_numpy.fast_numerical`): ``∝ N·P``, slope 1.

The slope is fitted by least squares on ``log(time)`` against ``log(P)``. Small nets run
into a fixed cost per call (Python, library dispatch) that does not grow with P, which
pulls the measured slopes below these values; larger nets approach them.

Every point is timed with :func:`compare.timing.time_shape` (warm-up, median of several
runs; the book's loop on a seeded sample of k parameters, scaled by P / k). numpy methods
are timed at every shape first, then torch ones: the two are never interleaved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from tabulate import tabulate

from compare.config import SECTIONS, RunConfig
from compare.data import make_synthetic
from compare.engine.runners import AUTOGRAD, BACKPROP, NUMERICAL, NUMERICAL_FAST, Method
from compare.engine.timer import format_seconds
from compare.engine.timing import Shape, time_shape
from compare.report.prose import paragraph
from impl_numpy import TwoLayerNet, init_params, numerical_gradient

# The slope each method's time should approach against P, and why (module docstring).
EXPECTED_SLOPE = {NUMERICAL: 2.0, NUMERICAL_FAST: 1.0, BACKPROP: 1.0, AUTOGRAD: 1.0}
COUNT_SHAPE = (16, 8, 10)  # the small net on which the book loop's loss evaluations are counted


@dataclass(frozen=True)
class ScalingPlan:
    """Which shapes to time, and how hard."""

    hidden_sizes: tuple[int, ...]  # series "hidden": D-H-C for these H, at input_size
    input_sizes: tuple[int, ...]  # series "input": D-H-C for these D, at hidden_size
    input_size: int = 784  # D held fixed while H varies (the book's MNIST input)
    hidden_size: int = 50  # H held fixed while D varies (the book's hidden size)
    output_size: int = 10  # C, always fixed (the book's ten classes)
    sample: int = 200  # k parameters on which the book's loop is timed (capped by --sample)
    runs: int | None = None  # timed runs per point (None: compare.timing's defaults)
    fast: bool = True  # include the fast numerical gradient
    torch: bool = True  # include autograd (timed after every numpy point)

    def series(self) -> dict[str, list[tuple[int, int, int]]]:
        """Series name -> its (D, H, C) shapes, in order of growing P."""
        out: dict[str, list[tuple[int, int, int]]] = {}
        if self.hidden_sizes:
            out["hidden"] = [(self.input_size, h, self.output_size) for h in sorted(set(self.hidden_sizes))]
        if self.input_sizes:
            out["input"] = [(d, self.hidden_size, self.output_size) for d in sorted(set(self.input_sizes))]
        return out


FULL_PLAN = ScalingPlan(hidden_sizes=(10, 25, 50, 100, 200), input_sizes=(196, 392, 784, 1568))
# The default run's form: numpy only (the book's loop and backprop), so that it costs a few seconds.
REDUCED_PLAN = ScalingPlan(hidden_sizes=(25, 50, 100), input_sizes=(), sample=40, runs=3, fast=False, torch=False)


# -- the fit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares line ``log(time) = slope · log(P) + intercept``."""

    slope: float  # time grows as P ** slope
    intercept: float  # log(time in s) at P = 1
    r2: float  # fraction of the variance of log(time) the line explains (1 = a perfect power law)
    n: int  # points fitted


def fit_slope(sizes: Sequence[float], seconds: Sequence[float]) -> SlopeFit:
    """Fit ``time ∝ size ** slope`` by least squares on the logarithms.

    Parameters
    ----------
    sizes : (n,) positive numbers (parameter counts P), at least two distinct
    seconds : (n,) positive times

    Raises ``ValueError`` when the data cannot define a slope.
    """
    x = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(seconds, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"sizes and seconds must be two 1-d sequences of one length, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("sizes and seconds must be positive and finite")
    if np.unique(x).size < 2:
        raise ValueError("a slope needs at least two different sizes")
    lx, ly = np.log(x), np.log(y)
    design = np.stack([lx, np.ones_like(lx)], axis=1)  # (n, 2)
    (slope, intercept), *_ = np.linalg.lstsq(design, ly, rcond=None)
    residual = ly - (slope * lx + intercept)
    spread = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 1.0
    return SlopeFit(float(slope), float(intercept), r2, int(x.size))


# -- counting loss evaluations -----------------------------------------------------------------------


def count_loss_evaluations(shape: tuple[int, int, int] = COUNT_SHAPE, batch_size: int = 10, seed: int = 0) -> dict:
    """Count the loss evaluations of one book numerical gradient on a small D-H-C net.

    The book's loop is run the book's way, ``numerical_gradient(lambda W: net.loss(x, t), W)``
    for each parameter array, with a loss that counts its calls.

    Returns
    -------
    dict with shape ("D-H-C"), n_params (P) and loss_evaluations (calls; 2P expected)
    """
    d, h, c = shape
    params = init_params(d, h, c, seed=seed)
    data = make_synthetic(n_train=batch_size, n_test=1, input_size=d, n_classes=c, seed=seed)
    net = TwoLayerNet.from_params(params)
    calls = 0

    def loss(_: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        return net.loss(data.x_train, data.t_train)

    for name in net.params:
        numerical_gradient(loss, net.params[name])
    return {"shape": f"{d}-{h}-{c}", "n_params": sum(p.size for p in params.values()), "loss_evaluations": calls}


# -- the study -------------------------------------------------------------------------------------------


def _methods(plan: ScalingPlan, dtype: str, devices: Sequence[str]) -> tuple[list[Method], list[Method]]:
    """(numpy methods, torch methods) of the study."""
    numpy_methods = [Method(NUMERICAL)] + ([Method(NUMERICAL_FAST)] if plan.fast else []) + [Method(BACKPROP, dtype)]
    torch_methods = [Method(AUTOGRAD, dtype, d) for d in devices if not (d == "mps" and dtype == "float64")]
    return numpy_methods, torch_methods if plan.torch else []


def run_study(
    plan: ScalingPlan,
    *,
    dtype: str,
    devices: Sequence[str],
    activation: str,
    h: float,
    batch_size: int,
    threads: int,
    seed: int,
    weight_init_std: float = 0.01,
    note: Callable[[str], None] = lambda s: None,
) -> dict:
    """Time every method at every shape of ``plan`` and fit the slopes; a JSON-ready dict."""
    series = plan.series()
    shapes = sorted({s for shapes in series.values() for s in shapes}, key=lambda s: Shape(*s, batch_size).n_params)
    numpy_methods, torch_methods = _methods(plan, dtype, devices)
    timed: dict[tuple[tuple[int, int, int], str], dict] = {}  # (shape, method label) -> timing row
    labels = [m.label for m in numpy_methods + torch_methods]
    for group in (numpy_methods, torch_methods):  # every numpy point, then every torch point
        if not group:
            continue
        for d, hidden, c in shapes:
            note(f"cost growth: {group[0].framework} at {d}-{hidden}-{c}")
            data = make_synthetic(n_train=batch_size, n_test=1, input_size=d, n_classes=c, seed=seed)
            params = init_params(d, hidden, c, weight_init_std=weight_init_std, seed=seed)
            rows = time_shape(
                group,
                params,
                data.x_train,
                data.t_train,
                activation=activation,
                h=h,
                threads=threads,
                full=False,
                sample=plan.sample,
                seed=seed,
                runs=plan.runs,
            )
            for m, row in zip(group, rows, strict=True):
                timed[((d, hidden, c), m.label)] = row.to_dict()

    points, fits = [], []
    for name, series_shapes in series.items():
        for method, label in zip(numpy_methods + torch_methods, labels, strict=True):
            sizes, seconds = [], []
            for shape in series_shapes:
                row = timed[(shape, label)]
                sizes.append(row["n_params"])
                seconds.append(row["median_s"])
                points.append(
                    {
                        "series": name,
                        "method": label,
                        "shape": "-".join(map(str, shape)),
                        "input_size": shape[0],
                        "hidden_size": shape[1],
                        "output_size": shape[2],
                        "batch_size": batch_size,
                        "n_params": row["n_params"],
                        # full forward passes per gradient: 2P for the book's loop, 1 for the others
                        "forward_passes": 2 * row["n_params"] if method.name == NUMERICAL else 1,
                        "median_s": row["median_s"],
                        "iqr_s": row["iqr_s"],
                        "min_s": row["min_s"],
                        "noisy": row["noisy"],
                        "estimated": row["estimated"],
                        "sampled": row["sampled"],
                    }
                )
            fit = fit_slope(sizes, seconds) if len(set(sizes)) >= 2 else None
            fits.append(
                {
                    "series": name,
                    "method": label,
                    "slope": fit.slope if fit else float("nan"),
                    "intercept": fit.intercept if fit else float("nan"),
                    "r2": fit.r2 if fit else float("nan"),
                    "n_points": len(sizes),
                    "expected": EXPECTED_SLOPE[method.name],
                }
            )
    return {
        "plan": asdict(plan),
        "batch_size": batch_size,
        "threads": threads,
        "methods": labels,
        "points": points,
        "fits": fits,
        "count": count_loss_evaluations(seed=seed),
    }


def plan_for(cfg: RunConfig) -> tuple[str, ScalingPlan]:
    """(form, plan) of a run: ``--scaling full|reduced``; ``auto`` is full when ``--only`` picks sections."""
    form = cfg.scaling
    if form == "auto":
        form = "reduced" if tuple(cfg.only) == SECTIONS else "full"
    plan = FULL_PLAN if form == "full" else REDUCED_PLAN
    return form, replace(plan, sample=min(plan.sample, cfg.sample))


def run_section(cfg: RunConfig, devices: Sequence[str], note: Callable[[str], None] = lambda s: None) -> dict:
    """The ``scaling`` section of a run."""
    form, plan = plan_for(cfg)
    section = run_study(
        plan,
        dtype=cfg.dtype,
        devices=devices,
        activation=cfg.activation,
        h=cfg.h,
        batch_size=cfg.batch_size,
        threads=cfg.threads,
        seed=cfg.seed,
        weight_init_std=cfg.weight_init_std,
        note=note,
    )
    section["form"] = form
    return section


# -- rendering ---------------------------------------------------------------------------------------------

SERIES_TITLES = {
    "hidden": "hidden size H varies, input {input_size}, output {output_size}",
    "input": "input size D varies, hidden {hidden_size}, output {output_size}",
}


def _slope_text(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}"


def series_table(section: dict, series: str) -> tuple[list[str], list[list[object]]]:
    """One series as a table: a row per shape, a column per method, then the fitted and expected slopes."""
    methods = section["methods"]
    points = [p for p in section["points"] if p["series"] == series]
    shapes = list(dict.fromkeys(p["shape"] for p in points))
    by_key = {(p["shape"], p["method"]): p for p in points}
    head = ["net", "P", "loss evals (book loop)"] + methods
    rows: list[list[object]] = []
    for shape in shapes:
        first = by_key[(shape, methods[0])]
        row: list[object] = [shape, f"{first['n_params']:,}", f"{2 * first['n_params']:,}"]
        for m in methods:
            p = by_key[(shape, m)]
            row.append(("≈" if p["estimated"] else "") + format_seconds(p["median_s"]))
        rows.append(row)
    fits = {f["method"]: f for f in section["fits"] if f["series"] == series}
    rows.append(["slope vs P (fitted)", "", ""] + [_slope_text(fits[m]["slope"]) for m in methods])
    rows.append(["slope expected", "", ""] + [f"{fits[m]['expected']:g}" for m in methods])
    return head, rows


def render(section: dict, fmt: str = "simple") -> str:
    """The section as text (``fmt="simple"``) or Markdown (``fmt="github"``)."""
    plan = section["plan"]
    series = list(dict.fromkeys(p["series"] for p in section["points"]))
    md = fmt == "github"
    form = "full study"
    if section.get("form") == "reduced":
        form = "reduced form; `--only scaling` runs the full study, with more sizes and methods"
    if not md:
        form = form.replace("`", "")
    threads = section["threads"]
    plural = "s" if threads != 1 else ""
    lines = [f"Time per gradient, batch {section['batch_size']}, {threads} thread{plural} ({form}).\n"]
    for name in series:
        title = SERIES_TITLES[name].format(**plan)
        lines.append(f"\n{title[0].upper()}{title[1:]}:\n\n")
        head, rows = series_table(section, name)
        lines.append(tabulate(rows, headers=head, tablefmt=fmt, disable_numparse=True) + "\n")
    lines.append("\n")
    sampled = [p for p in section["points"] if p["estimated"]]
    if sampled:
        text = (
            f"≈: the book's loop timed on {sampled[0]['sampled']} sampled parameters and scaled to P "
            "(each costs the same two forward passes)."
        )
        lines.append(paragraph(text, md))
    count = section["count"]
    text = (
        f"Counted: one book numerical gradient of a {count['shape']} net (P = {count['n_params']:,}) called the "
        f"loss {count['loss_evaluations']:,} times (2P); backprop and autograd run one forward and one backward "
        "pass, whatever P."
    )
    lines.append(paragraph(text, md))
    return "".join(lines).rstrip("\n") + "\n"
