"""Every number of the terminal report's tables, read back by column and compared with the model.

Run: ``python -m pytest tests/test_rendered_terminal.py``. The terminal lays tables out
compactly (short two-line headers, pair tables grouped under ``A = ..., B = ...`` lines, wide
tables split); :func:`rendered.terminal_tables` reads each cell back by the dashes under its
header, and the same checks as the Markdown tests compare it with its model row.
"""

from __future__ import annotations

import re

import pytest
from rendered import SIG3, close, gradient_section, report, seconds_of, terminal_tables, timing_rows
from rendered import trajectory_section as trajectory
from test_rendered_tables import check_gradient_row, check_trajectory_row
from test_rendered_timing import check_timing_row

from compare.report import text
from compare.report.model import TimingSection
from compare.sections import frameworks


@pytest.fixture(scope="module")
def shown() -> list:
    r = report(gradients=gradient_section(), trajectory=trajectory(), timing=TimingSection(timing_rows()))
    r.frameworks = frameworks.build(r.gradients, r.timing, "30-8-10 x20", "float64")
    return terminal_tables(text.render(r))


def one(shown: list, column: str) -> list:
    found = [rows for head, rows in shown if column in head]
    assert len(found) == 1, f"{len(found)} tables with a column {column!r}"
    return found[0]


def test_every_gradient_row_is_under_its_pair_with_its_own_cells(shown: list) -> None:
    rows = one(shown, "worst index")
    section = gradient_section()
    assert len(rows) == len(section.rows)
    for (group, row), r in zip(rows, section.rows, strict=True):
        assert group == f"A = {r.method_a}, B = {r.method_b}"
        check_gradient_row(row, r)


def test_every_trajectory_pair_is_under_its_method_with_its_own_cells(shown: list) -> None:
    rows = one(shown, "first bad step")
    section = trajectory()
    assert len(rows) == len(section.pairs)
    for (group, row), p in zip(rows, section.pairs, strict=True):
        assert group == f"A = {p.method_a}"
        check_trajectory_row(row, p)


def test_the_accuracy_columns_hold_each_runs_train_and_test(shown: list) -> None:
    steps = one(shown, "step")
    runs = [r for r in trajectory().runs if len(r.eval_steps) == 4]
    assert [int(row["step"]) for _, row in steps] == runs[0].eval_steps
    for run in runs:
        for part, values in (("train", run.train_acc), ("test", run.test_acc)):
            column = [float(row[f"{run.method} {part}"]) for _, row in one(shown, f"{run.method} {part}")]
            assert len(column) == len(values) and all(abs(a - b) <= 5e-5 for a, b in zip(column, values, strict=True))


def test_every_timing_row_and_its_note(shown: list) -> None:
    rows = one(shown, "×fastest")
    model = timing_rows()
    assert len(rows) == len(model)
    for (_, row), r in zip(rows, model, strict=True):
        check_timing_row(row, r)


def test_the_timing_notes_name_their_own_row() -> None:
    report_text = text.render(report(timing=TimingSection(timing_rows())))
    notes = re.findall(r"^  (\S+) (\S+) (\S+): estimated from (\d+) of (\d+)$", report_text, re.MULTILINE)
    expected = [(r.method, r.device, r.dtype, str(r.sampled), str(r.n_params)) for r in timing_rows() if r.estimated]
    assert notes == expected and expected
    first = timing_rows()[0]
    m = re.search(rf"shape {first.shape}, P = (\d+) parameters, (\d+) (\w+):", report_text)
    assert m and (int(m[1]), int(m[2])) == (first.n_params, first.threads)
    assert m[3] == ("thread" if first.threads == 1 else "threads")  # one thread: "1 thread"


def test_the_framework_rows_show_worst_agreement_and_median_time(shown: list) -> None:
    rows = dict((row["method"], row) for _, row in one(shown, "grad max rel vs backprop"))
    grads = [r for r in gradient_section().rows if {r.method_a, r.method_b} == {"backprop", "autograd"}]
    assert close(float(rows["autograd"]["grad max rel vs backprop"]), max(r.max_rel for r in grads), SIG3)
    medians = {r.label: r.median_s for r in timing_rows()}
    for method in ("backprop", "autograd"):
        assert close(seconds_of(rows[method]["gradient"]), medians[method], SIG3)
