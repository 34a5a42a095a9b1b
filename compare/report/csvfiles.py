"""``--csv DIR``: one CSV file per table of the report, each written atomically.

``gradients.csv``, ``trajectory.csv``, ``losses.csv`` (one column per method), ``accuracy.csv``,
``timing.csv``, ``scaling.csv`` and ``lesson.csv`` for the sections the report holds. Column
names are the model's field names (:mod:`compare.report.model`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Collection, Sequence
from pathlib import Path

from compare.files import write_files
from compare.report.codec import to_data
from compare.report.model import Report


def _records(items: Sequence[object], skip: tuple[str, ...] = ()) -> tuple[list[str], list[list[object]]]:
    """Header and rows of a list of dataclasses (list fields joined with spaces)."""
    if not items:
        return [], []
    keys = [f.name for f in dataclasses.fields(items[0]) if f.name not in skip]
    rows = []
    for item in items:
        data = to_data(item)
        rows.append([" ".join(map(str, data[k])) if isinstance(data[k], list) else data[k] for k in keys])
    return keys, rows


CSV_FILES = {  # section -> the CSV files written for it
    "gradients": ("gradients.csv",),
    "trajectory": ("trajectory.csv", "losses.csv", "accuracy.csv"),
    "timing": ("timing.csv",),
    "scaling": ("scaling.csv",),
    "lesson": ("lesson.csv",),
}
CSV_NAMES = tuple(name for names in CSV_FILES.values() for name in names)  # every CSV file a run may write


def csv_names(sections: Collection[str]) -> tuple[str, ...]:
    """The CSV files a report holding ``sections`` may write (each checked before any work)."""
    return tuple(name for section, names in CSV_FILES.items() if section in sections for name in names)


def write_csv(directory: str | os.PathLike[str], report: Report) -> list[Path]:
    """One CSV per table; returns the paths written.

    The directory is made only when there is a table to write, and CSV files an earlier run wrote
    there that this report has no table for are removed, if unchanged since (:func:`compare.files.write_files`).
    """
    contents: dict[str, str] = {}

    def dump(name: str, head: list[str], rows: list[list[object]]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(head)
        w.writerows(rows)
        contents[name] = buf.getvalue()

    if report.gradients is not None:
        dump("gradients.csv", *_records(report.gradients.rows))
    if report.trajectory is not None:
        t = report.trajectory
        dump("trajectory.csv", *_records(t.pairs))
        n = max((len(r.losses) for r in t.runs), default=0)
        rows = [[i] + [r.losses[i] if i < len(r.losses) else "" for r in t.runs] for i in range(n)]
        dump("losses.csv", ["step"] + [r.method for r in t.runs], rows)
        acc = [
            [r.method, s, a, b] for r in t.runs for s, a, b in zip(r.eval_steps, r.train_acc, r.test_acc, strict=True)
        ]
        dump("accuracy.csv", ["method", "step", "train_acc", "test_acc"], acc)
    if report.timing is not None:
        dump("timing.csv", *_records(report.timing.rows))
    if report.scaling is not None:
        slopes = {(f.series, f.method): f.slope for f in report.scaling.fits}
        head, rows = _records(report.scaling.points)
        points = report.scaling.points
        rows = [row + [slopes.get((p.series, p.method), "")] for row, p in zip(rows, points, strict=True)]
        dump("scaling.csv", head + ["slope"], rows)
    if report.lesson is not None:
        dump("lesson.csv", *_records(report.lesson.rows))
    return write_files(directory, contents, owned=CSV_NAMES)
