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

The slope is fitted by least squares on ``log(time)`` against ``log(P)``, and judged
quotable or not, by :mod:`compare.sections.slopefit`. Small nets run into a fixed cost per call
(Python, library dispatch) that does not grow with P, which pulls the measured slopes below
these values; larger nets approach them.

Every point is timed with :func:`compare.engine.gradient_timing.time_runners` (warm-up, median of several
runs; the book's loop on a seeded sample of k parameters, scaled by P / k). numpy methods
are timed at every shape first, then torch ones: the two are never interleaved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from compare.config import SECTIONS, RunConfig
from compare.data import make_synthetic
from compare.engine.builtin_runners import AUTOGRAD, BACKPROP, NUMERICAL, NUMERICAL_FAST, builtin_info, builtin_runner
from compare.engine.devices import dtype_supported
from compare.engine.gradient_timing import Shape, time_runners
from compare.report.model import (
    LossCount,
    ScalingFit,
    ScalingPlan,
    ScalingPoint,
    ScalingSection,
)
from compare.sections.slopefit import fit_slope, judge_slope, slope_range
from impl_numpy import TwoLayerNet, init_params, numerical_gradient

# The slope each method's time should approach against P, and why (module docstring).
EXPECTED_SLOPE = {NUMERICAL: 2.0, NUMERICAL_FAST: 1.0, BACKPROP: 1.0, AUTOGRAD: 1.0}


COUNT_SHAPE = (16, 8, 10)  # the small net on which the book loop's loss evaluations are counted


FULL_PLAN = ScalingPlan(hidden_sizes=(10, 25, 50, 100, 200), input_sizes=(196, 392, 784, 1568))


# The default run's form: numpy only (the book's loop and backprop), so that it costs a few seconds.
REDUCED_PLAN = ScalingPlan(hidden_sizes=(25, 50, 100), input_sizes=(), sample=40, runs=3, fast=False, torch=False)


def count_loss_evaluations(shape: tuple[int, int, int] = COUNT_SHAPE, batch_size: int = 10, seed: int = 0) -> LossCount:
    """Count the loss evaluations of one book numerical gradient on a small D-H-C net.

    The book's loop is run the book's way, ``numerical_gradient(lambda W: net.loss(x, t), W)``
    for each parameter array, with a loss that counts its calls.

    Returns the shape ("D-H-C"), P, and the loss calls counted (2P expected).
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
    return LossCount(shape=f"{d}-{h}-{c}", n_params=sum(p.size for p in params.values()), loss_evaluations=calls)


def _methods(plan: ScalingPlan, dtype: str, devices: Sequence[str]) -> list[list]:
    """The study's methods as groups of one framework each: numpy first, then torch."""
    numpy_families = [NUMERICAL] + ([NUMERICAL_FAST] if plan.fast else []) + [BACKPROP]
    groups = [[builtin_info(f, "float64" if f != BACKPROP else dtype) for f in numpy_families]]
    if plan.torch:
        groups.append([builtin_info(AUTOGRAD, dtype, d) for d in devices if dtype_supported(d, dtype)])
    return [g for g in groups if g]


def _time_everywhere(
    plan: ScalingPlan, groups: list[list], shapes: list[tuple[int, int, int]], cfg: StudySettings, note
) -> dict[tuple[tuple[int, int, int], str], object]:
    """(shape, label) -> timing row: every shape of one framework, then the next framework."""
    timed = {}
    for group in groups:
        for d, hidden, c in shapes:
            note(f"cost growth: {group[0].framework} at {d}-{hidden}-{c}")
            data = make_synthetic(n_train=cfg.batch_size, n_test=1, input_size=d, n_classes=c, seed=cfg.seed)
            params = init_params(d, hidden, c, weight_init_std=cfg.weight_init_std, seed=cfg.seed)
            runners = [builtin_runner(info, params, cfg.activation, cfg.h) for info in group]
            shape = Shape(d, hidden, c, cfg.batch_size)
            rows = time_runners(
                runners,
                data.x_train,
                data.t_train,
                shape,
                threads=cfg.threads,
                sample=plan.sample,
                seed=cfg.seed,
                runs=plan.runs,
            )
            for row in rows:
                timed[((d, hidden, c), row.label)] = row
    return timed


def fit_of(series: str, label: str, expected: float, rows: list) -> ScalingFit:
    """The fitted slope of one method over one series, with its range and whether it can be quoted."""
    sizes = [r.n_params for r in rows]
    medians = [r.median_s for r in rows]
    nan = float("nan")
    fit = spread = None
    if len(set(sizes)) >= 2:
        fit = fit_slope(sizes, medians)
        spread = slope_range(sizes, medians, [r.iqr_s for r in rows])
    return ScalingFit(
        series=series,
        method=label,
        slope=fit.slope if fit else nan,
        intercept=fit.intercept if fit else nan,
        r2=fit.r2 if fit else nan,
        n_points=len(sizes),
        expected=expected,
        slope_low=spread.low if spread else nan,
        slope_high=spread.high if spread else nan,
        claim=judge_slope(fit.slope if fit else nan, len(set(sizes)), spread),
    )


@dataclass(frozen=True)
class StudySettings:
    """What the study takes from the run besides the plan."""

    dtype: str = "float64"  # backprop / autograd dtype
    activation: str = "sigmoid"
    h: float = 1e-4
    batch_size: int = 100
    threads: int = 1
    seed: int = 0
    weight_init_std: float = 0.01


def run_study(
    plan: ScalingPlan,
    settings: StudySettings,
    devices: Sequence[str] = ("cpu",),
    note: Callable[[str], None] = lambda s: None,
    form: str = "full",
) -> ScalingSection:
    """Time every method at every shape of ``plan`` and fit the slopes."""
    series = plan.series()
    shapes = sorted({s for ss in series.values() for s in ss}, key=lambda s: Shape(*s, settings.batch_size).n_params)
    groups = _methods(plan, settings.dtype, devices)
    timed = _time_everywhere(plan, groups, shapes, settings, note)
    infos = [info for g in groups for info in g]
    points, fits = [], []
    for name, series_shapes in series.items():
        for info in infos:
            rows = [timed[(shape, info.label)] for shape in series_shapes]
            for shape, row in zip(series_shapes, rows, strict=True):
                points.append(
                    ScalingPoint(
                        series=name,
                        method=info.label,
                        shape="-".join(map(str, shape)),
                        input_size=shape[0],
                        hidden_size=shape[1],
                        output_size=shape[2],
                        batch_size=settings.batch_size,
                        n_params=row.n_params,
                        forward_passes=2 * row.n_params if info.family == NUMERICAL else 1,
                        median_s=row.median_s,
                        iqr_s=row.iqr_s,
                        min_s=row.min_s,
                        samples_s=row.samples_s,
                        noisy=row.noisy,
                        estimated=row.estimated,
                        sampled=row.sampled,
                    )
                )
            fits.append(fit_of(name, info.label, EXPECTED_SLOPE[info.family], rows))
    return ScalingSection(
        form=form,
        plan=plan,
        batch_size=settings.batch_size,
        threads=settings.threads,
        methods=[i.label for i in infos],
        points=points,
        fits=fits,
        count=count_loss_evaluations(seed=settings.seed),
    )


def plan_for(cfg: RunConfig) -> tuple[str, ScalingPlan]:
    """(form, plan) of a run: ``--scaling full|reduced``; ``auto`` is full when ``--only`` picks sections."""
    form = cfg.scaling
    if form == "auto":
        form = "reduced" if tuple(cfg.only) == SECTIONS else "full"
    plan = FULL_PLAN if form == "full" else REDUCED_PLAN
    return form, replace(plan, sample=min(plan.sample, cfg.sample))


def run_section(cfg: RunConfig, devices: Sequence[str], note: Callable[[str], None] = lambda s: None) -> ScalingSection:
    """The ``scaling`` section of a run."""
    form, plan = plan_for(cfg)
    settings = StudySettings(
        dtype=cfg.dtype,
        activation=cfg.activation,
        h=cfg.h,
        batch_size=cfg.batch_size,
        threads=cfg.threads,
        seed=cfg.seed,
        weight_init_std=cfg.weight_init_std,
    )
    return run_study(plan, settings, devices, note, form)
