"""A small real run's outputs read back against its own report: Markdown, terminal text, CSV files, verdict.

Run: ``python -m pytest tests/test_rendered_real_run.py``. One run of every section at small
stand-in shapes (the settings of ``tests/test_report.py``) writes its Markdown and CSV files;
the same checks as the tests on a hand-built report compare every cell with the model the
run returned, so a renderer is also checked on the values and row orders real sections make.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rendered import markdown_tables, terminal_tables
from test_rendered_files import assert_records
from test_rendered_tables import check_gradient_row, check_trajectory_row
from test_rendered_timing import check_timing_row
from test_report import SMALL, run_small

from compare.report import text
from compare.report.model import Report


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, str, str, Path]:
    out = tmp_path_factory.mktemp("real")
    status, stdout, made = run_small(out, [f"--markdown={out / 'r.md'}", f"--csv={out / 'csv'}", *SMALL])
    assert len(made) == 1 and status in (0, 1)
    return made[0], (out / "r.md").read_text(encoding="utf-8"), stdout, out / "csv"


def rows_of(tables: list, *columns: str) -> list[dict[str, str]]:
    """The rows of every Markdown table whose header holds ``columns``, in the order printed."""
    return [dict(zip(h, r, strict=True)) for h, rows in tables if all(c in h for c in columns) for r in rows]


def test_the_markdown_tables_of_a_real_run_are_its_report(real: tuple) -> None:
    report, md, _, _ = real
    tables = markdown_tables(md)
    rows = rows_of(tables, "worst index")
    assert len(rows) == len(report.gradients.rows) > 0
    for row, r in zip(rows, report.gradients.rows, strict=True):
        assert (row["A"], row["B"]) == (r.method_a, r.method_b)
        check_gradient_row(row, r)
    pairs = rows_of(tables, "first bad step")
    assert len(pairs) == len(report.trajectory.pairs) > 0
    for row, p in zip(pairs, report.trajectory.pairs, strict=True):
        check_trajectory_row(row, p)
    timed = rows_of(tables, "×fastest")
    assert len(timed) == len(report.timing.rows) > 0
    for row, r in zip(timed, report.timing.rows, strict=True):
        check_timing_row(row, r)


def test_the_terminal_text_of_a_real_run_is_its_report(real: tuple) -> None:
    report, _, stdout, _ = real
    shown = terminal_tables(stdout)
    grads = [row for head, rows in shown if "worst index" in head for row in rows]
    assert len(grads) == len(report.gradients.rows)
    for (group, row), r in zip(grads, report.gradients.rows, strict=True):
        assert group == f"A = {r.method_a}, B = {r.method_b}"
        check_gradient_row(row, r)
    timed = [row for head, rows in shown if "×fastest" in head for _, row in rows]
    for row, r in zip(timed, report.timing.rows, strict=True):
        check_timing_row(row, r)
    assert len(timed) == len(report.timing.rows)
    assert text.verdict(report).split(":")[0] in stdout
    m = re.search(r"gradients (\d+)/(\d+) ok", stdout)
    assert (int(m[1]), int(m[2])) == (sum(r.ok for r in report.gradients.rows), len(report.gradients.rows))


def test_the_csv_files_of_a_real_run_hold_its_report(real: tuple) -> None:
    report, _, _, csv_dir = real
    assert_records(csv_dir / "gradients.csv", report.gradients.rows)
    assert_records(csv_dir / "trajectory.csv", report.trajectory.pairs)
    assert_records(csv_dir / "timing.csv", report.timing.rows)
    assert_records(csv_dir / "lesson.csv", report.lesson.rows)
