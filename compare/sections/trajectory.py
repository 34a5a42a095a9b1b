"""Section 2: every method trains on the same batch stream from the same weights; runs compared.

Each run is made whole, one after another (numpy and torch never interleave); the
numerical methods train a few steps and stop at their time budget. Every pair of runs is
compared per step (loss), at the book's accuracy records and on the final weights
(:func:`compare.engine.agreement.trajectory_row`). A loss that stops being finite, or blows up
to 100× the first, ends the run with :class:`Diverged` (exit status 3): a diverged run
measures no agreement.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compare.data import Dataset
from compare.engine import agreement
from compare.engine.divergence import Diverged, first_diverged
from compare.engine.runner import ImplementationFailure, MethodEntry, MethodInfo, NotProvided, TrainRecord, epoch_steps
from compare.report.model import MethodNote, TrainingRun, TrajectorySection
from compare.sections.notes import method_note

BOOK_NOTE = "trains on the book's loss (1e-7 inside the log), not the exact one: reported, not checked"


@dataclass(frozen=True)
class Schedule:
    """How long each kind of run trains."""

    iters: int  # the exact methods' steps (the book's 10,000)
    learning_rate: float
    numerical_seconds: float  # time budget of each numerical run
    h: float
    kinks: bool  # a ReLU net: numerical-vs-exact pairs are reported, not checked


def _train_all(
    entries: Sequence[MethodEntry],
    params: Mapping[str, np.ndarray],
    data: Dataset,
    batches: np.ndarray,
    sched: Schedule,
    note: Callable[[str], None],
    progress: bool,
) -> tuple[dict[MethodInfo, TrainRecord], list[MethodNote]]:
    eval_at = epoch_steps(data.train_size, batches.shape[1], sched.iters)
    records, notes = {}, []
    snapshots = {sched.iters}  # grows with each numerical run's actual length, so later runs keep it too
    for entry in entries:
        steps = min(entry.steps_cap or sched.iters, sched.iters)
        budget = sched.numerical_seconds if entry.budget else None
        note(f"training {entry.info.label} for {steps} steps" + (f" (at most {budget:g} s)" if budget else ""))
        start = time.perf_counter()
        try:
            runner = entry.make(params)
            evals = [i for i in eval_at if i < steps]
            rec = runner.train(data, batches[:steps], sched.learning_rate, evals, sorted(snapshots), progress, budget)
        except (NotProvided, ImplementationFailure) as e:
            notes.append(method_note(entry.info.label, e))
            continue
        rec.seconds = time.perf_counter() - start
        notes += [MethodNote(entry.info.label, "note", n) for n in getattr(runner, "notes", ())]  # e.g. uneven shards
        if rec.compile_seconds is None:
            rec.compile_seconds = getattr(runner, "compile_seconds", None)  # JAX, torch.compile

        bad = first_diverged(rec.losses)
        if bad is not None:
            raise Diverged(entry.info.label, bad, float(rec.losses[bad]))
        records[entry.info] = rec
        snapshots.add(len(rec.losses))
    return records, notes


def run(
    entries: Sequence[MethodEntry],
    params: Mapping[str, np.ndarray],
    data: Dataset,
    batches: np.ndarray,
    sched: Schedule,
    note: Callable[[str], None] = lambda s: None,
    progress: bool = False,
) -> TrajectorySection:
    """Train every method along ``batches`` (steps, B) and compare every pair of runs."""
    records, notes = _train_all(entries, params, data, batches, sched, note, progress)
    book = {e.info for e in entries if e.reference_loss == "book"}
    methods = list(records)
    pairs = [
        agreement.trajectory_row(
            a,
            b,
            records[a],
            records[b],
            n_train=data.train_size,
            n_test=data.x_test.shape[0],
            learning_rate=sched.learning_rate,
            h=sched.h,
            kinks=sched.kinks,
        )
        for i, a in enumerate(methods)
        for b in methods[i + 1 :]
    ]
    runs = [
        TrainingRun(
            method=m.label,
            steps=len(rec.losses),
            seconds=rec.seconds,
            eval_steps=list(rec.eval_steps),
            train_acc=[float(v) for v in rec.train_acc],
            test_acc=[float(v) for v in rec.test_acc],
            losses=[float(v) for v in rec.losses],
            compile_s=rec.compile_seconds,
        )
        for m, rec in records.items()
    ]
    for p, (a, b) in zip(pairs, [(a, b) for i, a in enumerate(methods) for b in methods[i + 1 :]], strict=True):
        if (a in book) != (b in book):
            p.checked, p.ok = False, True
            p.note = "; ".join(filter(None, [p.note, BOOK_NOTE]))
    ok = all(p.ok for p in pairs) and not any(n.status == "FAIL" for n in notes)
    return TrajectorySection(
        iter_per_epoch=max(data.train_size / batches.shape[1], 1), runs=runs, pairs=pairs, ok=ok, notes=notes
    )
