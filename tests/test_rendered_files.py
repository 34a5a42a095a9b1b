"""Every value of every CSV file and of the data behind every chart, read back and compared with the model.

Run: ``python -m pytest tests/test_rendered_files.py``. CSV values are written with Python's
``repr`` of a float, so they must read back equal, not merely close; chart data is read from
the matplotlib figures (each curve's x and y) before they become PNG files.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import pytest
from rendered import gradient_section, report, scaling_section, timing_rows, trajectory_section
from test_rendered_timing import lesson_section

from compare.report import csvfiles, plots
from compare.report.model import Report, TimingSection


@pytest.fixture(scope="module")
def full() -> Report:
    return report(
        gradients=gradient_section(),
        trajectory=trajectory_section(),
        timing=TimingSection(timing_rows()),
        scaling=scaling_section(),
        lesson=lesson_section(),
    )


@pytest.fixture(scope="module")
def csv_dir(full: Report, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csv")
    csvfiles.write_csv(out, full)
    return out


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def cell_value(text: str, value: object) -> object:
    """``text`` read back as the type of the model's ``value`` (lists: space-separated)."""
    if isinstance(value, bool):
        return {"True": True, "False": False}[text]
    if isinstance(value, list):
        return [type(value[0])(v) for v in text.split()] if text else []
    if value is None:
        return None if text == "" else text
    return type(value)(text)


def assert_records(path: Path, items: list[object]) -> None:
    """One row per dataclass, one column per field, in order, each cell equal to its field."""
    head, rows = read(path)
    assert head == [f.name for f in dataclasses.fields(items[0])]
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        for name, text in zip(head, row, strict=True):
            value = getattr(item, name)
            shown = cell_value(text, value)
            same = shown == value or (isinstance(value, float) and math.isnan(value) and math.isnan(shown))
            assert same, f"{path.name} {name}: {text!r} for {value!r}"


def test_gradients_trajectory_timing_and_lesson_csv_hold_every_field(full: Report, csv_dir: Path) -> None:
    assert_records(csv_dir / "gradients.csv", full.gradients.rows)
    assert_records(csv_dir / "trajectory.csv", full.trajectory.pairs)
    assert_records(csv_dir / "timing.csv", full.timing.rows)
    assert_records(csv_dir / "lesson.csv", full.lesson.rows)
    head, rows = read(csv_dir / "gradients.csv")
    assert [r[head.index("index")] for r in rows[:3]] == ["2 5", "3", "5 2"]  # worst index, not transposed


def test_accuracy_csv_has_train_and_test_under_their_names(full: Report, csv_dir: Path) -> None:
    head, rows = read(csv_dir / "accuracy.csv")
    assert head == ["method", "step", "train_acc", "test_acc"]
    expected = [
        [run.method, run.eval_steps[i], run.train_acc[i], run.test_acc[i]]
        for run in full.trajectory.runs
        for i in range(len(run.eval_steps))
    ]
    assert [[m, int(s), float(a), float(b)] for m, s, a, b in rows] == expected
    assert all(a != b for _, _, a, b in expected)  # train and test differ at every record


def test_losses_csv_has_every_step_of_every_run(full: Report, csv_dir: Path) -> None:
    head, rows = read(csv_dir / "losses.csv")
    runs = full.trajectory.runs
    assert head == ["step"] + [r.method for r in runs]
    assert [int(r[0]) for r in rows] == list(range(max(len(r.losses) for r in runs)))
    for j, run in enumerate(runs, start=1):
        column = [r[j] for r in rows]
        assert [float(v) for v in column[: len(run.losses)]] == run.losses
        assert all(v == "" for v in column[len(run.losses) :])  # a shorter run leaves its cells empty


def test_scaling_csv_holds_every_point_and_its_series_slope(full: Report, csv_dir: Path) -> None:
    head, rows = read(csv_dir / "scaling.csv")
    points = full.scaling.points
    assert head[-1] == "slope" and head[:-1] == [f.name for f in dataclasses.fields(points[0])]
    slopes = {(f.series, f.method): f.slope for f in full.scaling.fits}
    for row, p in zip(rows, points, strict=True):
        values = dict(zip(head, row, strict=True))
        assert (values["method"], values["shape"], int(values["n_params"])) == (p.method, p.shape, p.n_params)
        assert float(values["median_s"]) == p.median_s and float(values["iqr_s"]) == p.iqr_s
        assert float(values["min_s"]) == p.min_s
        assert float(values["slope"]) == slopes[p.series, p.method]
    assert len(rows) == len(points)


def curves(fig) -> dict[str, tuple[list[float], list[float]]]:
    """Label -> (x, y) of every labelled line of every panel of ``fig``."""
    out = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            out[line.get_label()] = ([float(v) for v in line.get_xdata()], [float(v) for v in line.get_ydata()])
    return out


@pytest.fixture(scope="module")
def mpl() -> None:
    pytest.importorskip("matplotlib")


def test_loss_and_accuracy_chart_data_is_each_runs_own(full: Report, mpl: None) -> None:
    losses = curves(plots.losses_figure(full.trajectory))
    accuracy = curves(plots.accuracy_figure(full.trajectory))
    for run in full.trajectory.runs:
        x, y = losses[f"{run.method} ({len(run.losses):,} steps)"]
        assert x == list(range(len(run.losses))) and y == run.losses
        assert accuracy[f"{run.method} train"] == (run.eval_steps, run.train_acc)
        assert accuracy[f"{run.method} test"] == (run.eval_steps, run.test_acc)


def test_scaling_chart_data_is_each_methods_medians_and_its_fit(full: Report, mpl: None) -> None:
    section = full.scaling
    lines = curves(plots.scaling_figure(section))
    for fit in section.fits:
        points = sorted((p for p in section.points if p.method == fit.method), key=section.points.index)
        x, y = lines[f"{fit.method}: slope {fit.slope:.2f}"]
        assert x == [p.n_params for p in points] and y == [p.median_s for p in points]
        fitted = [v for label, (xs, v) in lines.items() if label.startswith("_") and xs == x]
        expected = [math.exp(fit.intercept) * p.n_params**fit.slope for p in points]
        assert any(all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(f, expected, strict=True)) for f in fitted)


def test_lesson_chart_data_is_each_dtypes_relative_error_against_h(full: Report, mpl: None) -> None:
    lines = curves(plots.lesson_figure(full.lesson))
    for dtype in ("float64", "float32"):
        rows = [r for r in full.lesson.rows if r.dtype == dtype]
        assert lines[dtype] == ([r.h for r in rows], [r.rel for r in rows])


def test_the_scaling_charts_theory_guides_have_each_methods_expected_slope(full: Report, mpl: None) -> None:
    """Each dotted guide starts at its method's first point and rises with that method's theoretical slope."""
    section = full.scaling
    lines = curves(plots.scaling_figure(section))
    guides = {label: xy for label, xy in lines.items() if label.endswith("(theory)")}
    assert guides
    for fit in section.fits:
        points = sorted((p for p in section.points if p.method == fit.method), key=section.points.index)
        x, y = guides[f"slope {fit.expected:g} (theory)"]
        assert x == [p.n_params for p in points] and y[0] == points[0].median_s
        slopes = [math.log(y[i + 1] / y[i]) / math.log(x[i + 1] / x[i]) for i in range(len(x) - 1)]
        assert all(math.isclose(s, fit.expected, rel_tol=1e-9) for s in slopes), (fit.method, slopes)
