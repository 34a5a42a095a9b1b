"""The run itself: shared weights and batches in, a typed :class:`~compare.report.model.Report` out.

1. gradients  — every method's gradient on the first batch, compared pairwise (compare.sections.gradients);
2. trajectory — every method trains on the same batch stream, records compared (compare.sections.trajectory);
3. timing     — one gradient per method × device × dtype, at the book's shape and the data set's;
4. scaling    — how the time per gradient grows with the net (compare.sections.scaling);
5. lesson     — the numerical gradient's error against h, float64 and float32 (compare.sections.lesson);
then a plain-words summary of the numbers (compare.sections.summary).

Every method — the project's own and any plugged in — is a
:class:`~compare.engine.protocol.MethodEntry` whose runner follows one protocol; the harness
never reaches into a net. Rendering lives in :mod:`compare.report`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from compare import env, registry
from compare.config import RunConfig
from compare.data import Dataset, load_dataset
from compare.engine.devices import torch_devices
from compare.engine.gradient_timing import Shape
from compare.engine.plugins import plugin_entries
from compare.engine.protocol import MethodEntry, batch_stream
from compare.report.model import SCHEMA_VERSION, Env, MethodNote, Report, TimingSection
from compare.resources import usable_cpus
from compare.sections import frameworks, gradients, lesson, scaling, summary, timing, trajectory
from compare.signals import check_interrupted

Params = Mapping[str, np.ndarray]


def environment(
    seed: int, threads: int, devices: list[str], load_start: list[float] | None, load_end: list[float] | None = None
) -> Env:
    """The machine and versions the report's header shows; the load averages are the caller's readings."""
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if "cuda" in devices else []
    return Env(
        cpu=env.cpu_model(),
        cores=os.cpu_count(),
        threads=threads,
        numpy_threads=env.numpy_threads(),
        torch_threads=torch.get_num_threads(),
        python=platform.python_version(),
        versions=registry.versions(),  # every registered framework that is installed
        blas=env.blas_info(),
        devices=devices,
        gpus=gpus,
        git=env.git_revision(),
        date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        seed=seed,
        version=env.package_version(),
        usable_cpus=usable_cpus(),
        load_start=load_start,
        load_end=load_end,
    )


def _trained(entries: Sequence[MethodEntry]) -> list[MethodEntry]:
    """The entries that train (a numerical method with 0 steps is skipped)."""
    return [e for e in entries if e.trains and e.steps_cap != 0]


@dataclass
class Setup:
    """What every section shares: the data, the weights, the batch stream and the methods."""

    cfg: RunConfig
    data: Dataset
    devices: list[str]
    params: dict[str, np.ndarray]  # the shared initial weights, book layout
    batches: np.ndarray  # (iters, B) row indices
    entries: list[MethodEntry]  # every method of the gradient and trajectory sections
    extra: list[MethodEntry]  # the plugged-in ones among them (timed at every shape too)
    notes: list[MethodNote]  # what loading the plugged-in classes found


def setup(cfg: RunConfig, extra: Sequence[MethodEntry] = ()) -> Setup:
    """Load the data, draw the weights and the batches, and gather the methods (``--impl`` included)."""
    from impl_numpy import init_params

    env.set_threads(cfg.threads)  # again, now that torch is loaded
    data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, seed=cfg.seed, download=cfg.download)
    devices = torch_devices(cfg.device, cfg.dtype)
    d, c = data.input_size, data.n_classes
    params = init_params(d, cfg.hidden_size, c, weight_init_std=cfg.weight_init_std, seed=cfg.seed)
    batches = batch_stream(data.train_size, cfg.batch_size, cfg.iters, cfg.seed)  # (iters, B)
    entries = registry.entries(cfg, devices)
    x0, t0 = data.x_train[batches[0]], data.t_train[batches[0]]
    taken = [e.info.label for e in entries]
    plugged, notes = plugin_entries(
        cfg.impls, taken, params, x0, t0, weight_init_std=cfg.weight_init_std, seed=cfg.seed,
        numerical_iters=cfg.numerical_iters, activation=cfg.activation, reserved=registry.reserved_labels(),
    )  # fmt: skip
    extra = list(extra) + plugged
    return Setup(cfg, data, devices, params, batches, entries + extra, extra, notes)


def _timing(s: Setup, note: Callable[[str], None]) -> TimingSection:
    cfg, both = s.cfg, ("float64", "float32")
    own = Shape(s.data.input_size, cfg.hidden_size, s.data.n_classes, cfg.batch_size)
    timed = registry.timed_entries(cfg, s.devices, both) + [e for e in s.extra if e.timed]
    run_timing = partial(timing.run, threads=cfg.threads, full=cfg.full, sample=cfg.sample, seed=cfg.seed)
    return run_timing(timed, s.data, own, weight_init_std=cfg.weight_init_std, note=note)


def run(
    cfg: RunConfig,
    note: Callable[[str], None] = lambda s: None,
    progress: bool = False,
    extra: Sequence[MethodEntry] = (),
) -> Report:
    """Run the configured sections with the project's methods and ``extra`` ones (plug-ins)."""
    load_start = env.load_average()  # before the run's own work lifts it
    s = setup(cfg, extra)
    x0, t0 = s.data.x_train[s.batches[0]], s.data.t_train[s.batches[0]]
    shape = f"{s.data.input_size}-{cfg.hidden_size}-{s.data.n_classes}"
    env_ = environment(cfg.seed, cfg.threads, s.devices, load_start)
    # every optional framework's state, as the run used it, given or not (a RunConfig built in code names none)
    switched = {fw.name: fw.asked(cfg) for fw in registry.FRAMEWORKS if fw.switch is not None}
    report = Report(SCHEMA_VERSION, True, env_, replace(cfg, switches=switched), s.devices, shape)
    if "gradients" in cfg.only:
        note("gradients on the first batch")
        report.gradients = gradients.run(s.entries, s.params, x0, t0, activation=cfg.activation, h=cfg.h)
    check_interrupted()
    if "trajectory" in cfg.only:
        relu = cfg.activation == "relu"
        sched = trajectory.Schedule(cfg.iters, cfg.learning_rate, cfg.numerical_seconds, cfg.h, kinks=relu)
        report.trajectory = trajectory.run(_trained(s.entries), s.params, s.data, s.batches, sched, note, progress)
    check_interrupted()
    if "timing" in cfg.only:
        report.timing = _timing(s, note)
    if report.gradients is not None or report.timing is not None:
        book_shape = str(timing.BOOK_SHAPE)
        report.frameworks = frameworks.build(report.gradients, report.timing, book_shape, cfg.dtype)
    check_interrupted()
    if "scaling" in cfg.only:
        report.scaling = scaling.run_section(cfg, s.devices, note)
    check_interrupted()
    if "lesson" in cfg.only:
        note("numerical gradient error against h")
        report.lesson = lesson.run_section(cfg, s.data, s.params, s.batches[0])
    first = report.gradients or report.trajectory or report.timing
    if first is not None:  # what loading the plugged-in classes found goes with the first table
        first.notes[:0] = s.notes
    failed = any(n.status == "FAIL" for n in s.notes)
    book = str(timing.BOOK_SHAPE)
    report.env.load_end = env.load_average()  # after the last measurement, before the summary that judges it
    report.summary = summary.build(report, iters=cfg.iters, h=cfg.h, dtype=cfg.dtype, book_shape=book)
    report.ok = not failed and all(sec.ok for sec in (report.gradients, report.trajectory) if sec is not None)
    return report
