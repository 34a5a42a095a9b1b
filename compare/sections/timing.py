"""Section 3: time one gradient per method × device × dtype, at the book's shape and the data set's.

The book's shape is 784-50-10 with batch 100 on seeded synthetic data; the data set's own
shape is timed too when it differs. Methods are timed framework by framework, never
interleaved (:func:`compare.engine.gradient_timing.time_runners`). A method that raises is a FAIL note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from compare.data import Dataset, make_synthetic
from compare.engine.gradient_timing import Shape, by_framework, fill_ratios, time_runners
from compare.engine.protocol import ImplementationFailure, MethodEntry, NotProvided
from compare.report.model import MethodNote, TimingRow, TimingSection
from compare.sections.notes import method_note
from impl_numpy import init_params

BOOK_SHAPE = Shape(784, 50, 10, 100)  # input, hidden, output, batch


def _batch(data: Dataset, shape: Shape, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch at ``shape``: from the data set when its sizes match, else seeded synthetic data."""
    if (shape.input_size, shape.output_size) == (data.input_size, data.n_classes):
        x_all, t_all = data.x_train, data.t_train
    else:
        synth = make_synthetic(
            n_train=shape.batch_size, n_test=1, input_size=shape.input_size, n_classes=shape.output_size, seed=seed
        )
        x_all, t_all = synth.x_train, synth.t_train
    idx = np.random.default_rng(seed).integers(0, x_all.shape[0], size=shape.batch_size)
    return x_all[idx], t_all[idx]


def run(
    entries: Sequence[MethodEntry],
    data: Dataset,
    own: Shape,
    *,
    threads: int,
    full: bool,
    sample: int,
    seed: int,
    weight_init_std: float = 0.01,
    note: Callable[[str], None] = lambda s: None,
) -> TimingSection:
    """Time every method at the book's shape and at ``own`` (the run's net and batch)."""
    rows: list[TimingRow] = []
    notes: list[MethodNote] = []
    shapes = [BOOK_SHAPE] + ([own] if own != BOOK_SHAPE else [])
    for shape in shapes:
        x, t = _batch(data, shape, seed)
        d, h, c = shape.input_size, shape.hidden_size, shape.output_size
        params = init_params(d, h, c, weight_init_std=weight_init_std, seed=seed)
        runners = []
        for entry in entries:
            try:
                runners.append(entry.make(params))
            except (NotProvided, ImplementationFailure) as e:
                notes.append(method_note(entry.info.label, e))
        note(f"timing at {shape}")
        shape_rows: list[TimingRow] = []
        for r in by_framework(runners):  # one at a time, so that one failing method leaves the others timed
            try:
                shape_rows += time_runners([r], x, t, shape, threads=threads, full=full, sample=sample, seed=seed)
            except (NotProvided, ImplementationFailure) as e:
                notes.append(method_note(r.info.label, e))
        fill_ratios(shape_rows)
        rows += shape_rows
    return TimingSection(rows=rows, notes=_unique(notes))


def _unique(notes: list[MethodNote]) -> list[MethodNote]:
    out: list[MethodNote] = []
    for n in notes:
        if n not in out:
            out.append(n)
    return out
