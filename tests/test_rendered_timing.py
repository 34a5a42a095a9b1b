"""Every number of the timing, framework, cost-growth and float32-lesson tables, read back from the report.

Run: ``python -m pytest tests/test_rendered_timing.py``. Timings come from raw runs whose
quartiles differ from their extremes; the statistics are checked against numpy's own
quantiles (the linear method :func:`compare.engine.timer.summarize` uses), the framework table
against the worst of unordered gradient rows, each rendered cell against its model field.
"""

from __future__ import annotations

import math
import re

import numpy as np
from rendered import (
    SAMPLES,
    SIG3,
    close,
    gradient_section,
    numpy_quartiles,
    report,
    scaling_section,
    seconds_of,
    table_with,
    timing_rows,
)

from compare.engine.timer import NOISY_IQR, summarize
from compare.report import text
from compare.report.model import LessonRow, LessonSection, TimingRow, TimingSection
from compare.sections import frameworks
from dlfs_gradcheck import metrics


def test_the_timers_median_iqr_and_min_are_numpys_quartiles_of_the_raw_runs() -> None:
    for samples in SAMPLES.values():
        q1, med, q3 = numpy_quartiles(samples)
        assert q1 != min(samples) and q3 != max(samples) and med != float(np.mean(samples))  # the data can tell
        t = summarize(samples, loops=3)
        assert math.isclose(t.median_s, med, rel_tol=1e-12)
        assert math.isclose(t.iqr_s, q3 - q1, rel_tol=1e-12)
        assert t.min_s == min(samples) and t.runs == len(samples) and list(t.samples_s) == samples
        assert t.noisy == (q3 - q1 > NOISY_IQR * med)


def test_a_relative_error_exactly_at_the_tolerance_passes_and_just_above_fails() -> None:
    a, b = np.array([[1.0, 0.5], [0.25, 2.0]]), np.array([[1.0, 0.5], [0.25, 1.0]])  # rel at (1, 1): 1 / 2
    tol = metrics.Tolerance(rtol=0.5, atol=1e-9)
    d = metrics.diff(a, b, tol)
    assert d.max_rel == 0.5 and d.worst_index == (1, 1)
    assert d.ok(tol) and d.n_bad == 0
    below = metrics.Tolerance(rtol=math.nextafter(0.5, 0.0), atol=1e-9)
    assert not d.ok(below) and d.n_bad == 0 and metrics.diff(a, b, below).n_bad == 1


def test_the_worst_index_is_not_transposed() -> None:
    a = np.zeros((3, 6))
    b = a.copy()
    b[2, 5] = 1.0
    d = metrics.diff(a, b, metrics.Tolerance(rtol=1e-6, atol=1e-9))
    assert d.worst_index == (2, 5) and (d.a_value, d.b_value) == (0.0, 1.0)


def test_every_timing_cell_is_its_rows_value() -> None:
    rows = timing_rows()
    _, shown = table_with(text.render(report(timing=TimingSection(rows)), "github"), "median", "IQR", "×fastest")
    assert len(shown) == len(rows)
    for cell, r in zip(shown, rows, strict=True):
        check_timing_row(cell, r)
        assert (f"estimated from {r.sampled} of {r.n_params}" in cell["note"]) == r.estimated
    assert any(r.noisy for r in rows) and not all(r.noisy for r in rows)  # both marks are checked


def check_timing_row(cell: dict[str, str], r: TimingRow) -> None:
    """Every cell of a timing table row but its note (Markdown or terminal) against its model row."""
    assert (cell["method"], cell["device"], cell["dtype"]) == (r.method, r.device, r.dtype)
    assert close(seconds_of(cell["median"]), r.median_s, SIG3), (cell["median"], r.median_s)
    assert close(seconds_of(cell["IQR"]), r.iqr_s, SIG3), (cell["IQR"], r.iqr_s)
    assert cell["IQR"].endswith(" !") == r.noisy
    assert close(seconds_of(cell["min"]), r.min_s, SIG3), (cell["min"], r.min_s)
    assert cell["runs×loops"] == f"{r.runs}×{r.loops}"
    assert close(float(cell["×fastest"]), r.ratio_fastest, SIG3)
    assert close(float(cell["×numerical"]), r.ratio_numerical, SIG3)


def test_the_framework_table_shows_the_worst_of_each_methods_rows_and_all_ok() -> None:
    grads = gradient_section()
    section = frameworks.build(grads, TimingSection(timing_rows()), "30-8-10 x20", "float64")
    _, shown = table_with(text.render(report(frameworks=section), "github"), "grad max rel vs backprop")
    by_method = {row["method"]: row for row in shown}
    for other in ("autograd", "numerical"):
        against = [r for r in grads.rows if {r.method_a, r.method_b} == {"backprop", other}]
        if other == "numerical":
            assert other not in by_method  # numerical gradients are left out of the table
            continue
        worst = max(r.max_rel for r in against)
        assert against[0].max_rel < worst and against[-1].max_rel < worst  # neither first nor last
        assert close(float(by_method[other]["grad max rel vs backprop"]), worst, SIG3)
        assert by_method[other][""] == ("ok" if all(r.ok for r in against) else "FAIL")
    assert by_method["backprop"]["grad max rel vs backprop"] == "reference"
    medians = {r.label: r.median_s for r in timing_rows()}
    for method, row in by_method.items():
        if method in medians:
            assert close(seconds_of(row["gradient"]), medians[method], SIG3)


def test_a_failing_row_amid_passing_ones_fails_the_frameworks_agreement() -> None:
    grads = gradient_section()
    mine = [r for r in grads.rows if r.method_b == "mine"]
    for r, ok in zip(mine, (True, True, False, True), strict=True):  # FAIL in the middle only, not on the worst
        r.method_a, r.ok = "backprop", ok
    row = next(r for r in frameworks.build(grads, None, "-", "float64").rows if r.method == "mine")
    assert row.grad_ok is False and row.grad_max_rel == max(r.max_rel for r in mine)


def test_the_scaling_table_shows_each_points_median_and_each_fit() -> None:
    section = scaling_section()
    md = text.render(report(scaling=section), "github")
    head, rows = table_with(md, "net", "loss evals (book loop)")
    assert head[3:] == section.methods
    body, fitted, span, expected = rows[:-3], rows[-3], rows[-2], rows[-1]
    shapes = list(dict.fromkeys(p.shape for p in section.points))
    assert [r["net"] for r in body] == shapes
    for row in body:
        points = {p.method: p for p in section.points if p.shape == row["net"]}
        n_params = next(iter(points.values())).n_params
        assert int(row["P"].replace(",", "")) == n_params
        assert int(row["loss evals (book loop)"].replace(",", "")) == 2 * n_params
        for m, p in points.items():
            assert close(seconds_of(row[m]), p.median_s, SIG3) and row[m].startswith("≈") == p.estimated
            assert row[m].endswith(" !") == p.noisy
    for fit in section.fits:
        assert abs(float(fitted[fit.method]) - fit.slope) <= 5e-3  # %.2f
        low, high = (float(v) for v in span[fit.method].split("–"))
        assert abs(low - fit.slope_low) <= 5e-3 and abs(high - fit.slope_high) <= 5e-3
        assert float(expected[fit.method]) == fit.expected
    counted = re.search(r"\(P = ([0-9,]+)\) called the loss ([0-9,]+) times", md)
    assert int(counted[1].replace(",", "")) == section.count.n_params
    assert int(counted[2].replace(",", "")) == section.count.loss_evaluations


def lesson_section() -> LessonSection:
    rows = []
    for i, h in enumerate((1e-2, 1e-4, 1e-6)):
        rows.append(LessonRow("float64", h, 1.234e-6 * 10**i, 2.468e-5 * 10**i, 4.56e-7 * 10**i))
        rows.append(LessonRow("float32", h, 3.456e-3 * 10**i, 6.912e-2 * 10**i, 1.23e-3 * 10**i))
    eps = {"float64": 2.22e-16, "float32": 1.19e-7}
    return LessonSection(
        "5-4-3", "sigmoid", 8, 20, 39, 0.05, 0.0123, {"float64": 1e-4, "float32": 1e-2}, eps, rows, 1e-4
    )


def test_the_lesson_table_shows_each_dtypes_error_and_relative_error_per_h() -> None:
    section = lesson_section()
    head, rows = table_with(text.render(report(lesson=section), "github"), "h", "float64 max error")
    assert head == ["h", "float64 max error", "float64 relative", "float32 max error", "float32 relative", "note"]
    assert [float(r["h"]) for r in rows] == [1e-2, 1e-4, 1e-6]
    for row in rows:
        for r in (x for x in section.rows if x.h == float(row["h"])):
            assert close(float(row[f"{r.dtype} max error"]), r.max_abs, 5e-2)  # %.1e: 2 significant digits
            assert close(float(row[f"{r.dtype} relative"]), r.rel, 5e-2)
        notes = row["note"]
        assert ("book's h" in notes) == (float(row["h"]) == section.book_h)
        for dtype, best in section.best.items():
            assert (f"best {dtype}" in notes) == (float(row["h"]) == best)
