"""Section 2: every method trains on the same batch stream from the same weights; runs compared.

Each run is made whole, one after another (numpy and torch never interleave); the
numerical methods train a few steps and stop at their time budget. Every pair of runs is
compared per step (loss), at the book's accuracy records and on the final weights
(:func:`compare.engine.agreement.trajectory_row`).

A run diverges when a loss stops being finite or blows up to 100× the first
(:mod:`compare.engine.divergence`). When the *reference* (backprop in the run's dtype) diverges,
no verdict is possible: :class:`Diverged` ends the command (exit status 3). When any other method
diverges while the reference does not, that method is wrong: its run is kept up to the step where
it diverged, compared like the others (its rows show where it first left the reference), and a
FAIL note names the step — the report is complete and the verdict is a failure (exit status 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compare.data import Dataset
from compare.engine import agreement
from compare.engine.builtin_runners import BACKPROP
from compare.engine.divergence import Diverged, first_diverged
from compare.engine.protocol import (
    ImplementationFailure,
    MethodEntry,
    MethodInfo,
    NotProvided,
    TrainRecord,
    epoch_steps,
)
from compare.report.model import MethodNote, TrainingRun, TrajectorySection
from compare.sections.notes import method_note

BOOK_NOTE = "trains on the book's loss (1e-7 inside the log), not the exact one: reported, not checked"
FLOAT32_NUMERICAL_NOTE = (
    "a numerical gradient in float32 is rounding noise (each loss carries ~1e-7 of it, divided by 2h): "
    "reported, not checked"
)


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
) -> tuple[dict[MethodInfo, TrainRecord], list[MethodNote], dict[MethodInfo, int]]:
    """Every method's run, the notes, and the step where each diverged run diverged."""
    eval_at = epoch_steps(data.train_size, batches.shape[1], sched.iters)
    records, notes, diverged = {}, [], {}
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
            diverged[entry.info] = bad
            rec.losses = rec.losses[: bad + 1]  # up to the step it diverged at
            keep = [i for i, step in enumerate(rec.eval_steps) if step <= bad]
            rec.eval_steps = [rec.eval_steps[i] for i in keep]
            rec.train_acc, rec.test_acc = rec.train_acc[keep], rec.test_acc[keep]
        records[entry.info] = rec
        snapshots.add(len(rec.losses))
    return records, notes, diverged


def reference_of(methods: Sequence[MethodInfo]) -> MethodInfo | None:
    """The run that must not diverge for a verdict: backprop in float64, else the first backprop, else none."""
    backprop = [m for m in methods if m.family == BACKPROP]
    return next((m for m in backprop if m.dtype == "float64"), backprop[0] if backprop else None)


def _divergence_notes(
    records: Mapping[MethodInfo, TrainRecord], diverged: Mapping[MethodInfo, int]
) -> list[MethodNote]:
    """Exit 3 when the reference diverged (no verdict); a FAIL note for every other method that did."""
    ref = reference_of(list(records))
    if ref in diverged or (ref is None and diverged):
        m = ref if ref in diverged else next(iter(diverged))
        raise Diverged(m.label, diverged[m], float(records[m].losses[diverged[m]]))
    out = []
    for m, step in diverged.items():
        loss = float(records[m].losses[step])
        out.append(
            MethodNote(
                m.label,
                "FAIL",
                f"training diverged at step {step} (loss {loss:.6g}) while {ref.label} did not: the steps it takes "
                "are wrong (what the gradient section says of it, its rows or its lines, shows why)",
            )
        )
    return out


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
    records, notes, diverged = _train_all(entries, params, data, batches, sched, note, progress)
    notes += _divergence_notes(records, diverged)
    book = {e.info for e in entries if e.reference_loss == "book"}
    noisy = {m for m in records if m.kind == "numerical" and m.dtype == "float32"}  # a user's, on float32 params
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
        if {a, b} & noisy:
            p.checked, p.ok = False, True
            p.note = "; ".join(filter(None, [p.note, FLOAT32_NUMERICAL_NOTE]))
        for m in (a, b):
            if m in diverged:
                p.ok = False if p.checked else p.ok
                p.note = "; ".join(filter(None, [p.note, f"{m.label} diverged at step {diverged[m]}"]))
    ok = all(p.ok for p in pairs) and not any(n.status == "FAIL" for n in notes)
    return TrajectorySection(
        iter_per_epoch=max(data.train_size / batches.shape[1], 1), runs=runs, pairs=pairs, ok=ok, notes=notes
    )
