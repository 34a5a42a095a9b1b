"""Every number of the agreement tables and the verdict, read back from the rendered report.

Run: ``python -m pytest tests/test_rendered_tables.py``. The report of :mod:`rendered` is
rendered as Markdown and as terminal text; each cell is parsed back and compared with the
model field it shows, within the precision its format documents. Expectations come from the
model's raw fields (a maximum, a count, a list in order), never from the renderers' helpers.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from rendered import SIG3, SIG6, close, gradient_section, report, table_with, trajectory_section

from compare.report import text
from compare.report.model import GradientRow, MethodNote, TrajectoryRow


@pytest.fixture(scope="module")
def markdown() -> str:
    return text.render(report(gradients=gradient_section(), trajectory=trajectory_section()), "github")


def test_every_gradient_row_is_shown_in_order_with_its_own_values(markdown: str) -> None:
    _, rows = table_with(markdown, "worst index", "max rel")
    section = gradient_section()
    assert len(rows) == len(section.rows)
    for row, r in zip(rows, section.rows, strict=True):
        assert (row["A"], row["B"]) == (r.method_a, r.method_b)
        check_gradient_row(row, r)


def check_gradient_row(row: dict[str, str], r: GradientRow) -> None:
    """Every cell of a gradient table row (Markdown or terminal, keyed by header) against its model row."""
    assert row["param"] == r.param
    assert close(float(row["max abs"]), r.max_abs, SIG3), (row["max abs"], r.max_abs)
    assert close(float(row["max rel"]), r.max_rel, SIG3), (row["max rel"], r.max_rel)
    assert close(float(row["rtol"]), r.rtol, SIG3)
    assert close(float(row["A value"]), r.a_value, SIG6) and close(float(row["B value"]), r.b_value, SIG6)
    shown = tuple(int(i) for i in re.findall(r"-?\d+", row["worst index"]))
    assert shown == tuple(r.index), f"index {r.index} shown as {row['worst index']}"
    assert row["kinks"] == (str(r.kinks) if r.kinks else "")
    assert row["status"] == ("ok" if r.ok else "FAIL")


def test_the_row_at_exactly_its_tolerance_reads_ok_and_the_one_above_fail(markdown: str) -> None:
    _, rows = table_with(markdown, "worst index", "max rel")
    by_param = {(r["A"], r["B"], r["param"]): r for r in rows}
    assert by_param["numerical", "backprop", "b1"]["status"] == "ok"  # max_rel == rtol
    assert by_param["numerical", "backprop", "W2"]["status"] == "FAIL"  # max_rel just above


def test_every_trajectory_pair_is_shown_with_its_own_values(markdown: str) -> None:
    _, rows = table_with(markdown, "first bad step", "weights rel")
    section = trajectory_section()
    assert len(rows) == len(section.pairs)
    for row, p in zip(rows, section.pairs, strict=True):
        assert row["A"] == p.method_a
        check_trajectory_row(row, p)


def check_trajectory_row(row: dict[str, str], p: TrajectoryRow) -> None:
    """Every cell of a trajectory table row (Markdown or terminal, keyed by header) against its model pair."""
    assert (row["B"], int(row["steps"])) == (p.method_b, p.steps)
    assert close(float(row["loss max abs"]), p.max_abs, SIG3) and close(float(row["loss max rel"]), p.max_rel, SIG3)
    assert close(float(row["rtol"]), p.rtol, SIG3)
    assert row["first bad step"] == ("-" if p.first_bad_step is None else str(p.first_bad_step))
    assert abs(float(row["acc Δ max"]) - p.acc_max_diff) <= 5e-5  # %.4f: half a unit of the 4th decimal
    if p.weights_checked:
        assert close(float(row["weights rel"]), p.weights_max_rel, SIG3)
    else:
        assert row["weights rel"] == "not compared"
    assert row["status"] == (("ok" if p.ok else "FAIL") if p.checked else "info *")


def test_accuracy_table_shows_each_runs_train_and_test_at_each_step(markdown: str) -> None:
    head, rows = table_with(markdown, "step", "backprop train")
    section = trajectory_section()
    full = [r for r in section.runs if len(r.eval_steps) == max(len(x.eval_steps) for x in section.runs)]
    assert head == ["step"] + [f"{r.method} {part}" for r in full for part in ("train", "test")]
    assert [int(row["step"]) for row in rows] == full[0].eval_steps
    for i, row in enumerate(rows):
        for run in full:
            assert abs(float(row[f"{run.method} train"]) - run.train_acc[i]) <= 5e-5
            assert abs(float(row[f"{run.method} test"]) - run.test_acc[i]) <= 5e-5


def test_loss_heading_and_wall_times_come_from_the_model(markdown: str) -> None:
    loss = float(re.search(r"Gradient agreement \(first batch, loss ([0-9.]+)\)", markdown)[1])
    assert abs(loss - gradient_section().loss) <= 5e-7  # %.6f
    wall = re.search(r"wall time: (.*)", markdown)[1]
    for run in trajectory_section().runs:
        m = re.search(rf"{run.method} (\d+) steps? ([0-9.]+) s", wall)
        assert m and int(m[1]) == run.steps and close(float(m[2]), run.seconds, SIG3), wall


def verdict_counts(line: str, what: str) -> tuple[int, int]:
    m = re.search(rf"{what} (\d+)/(\d+) (?:rows )?ok", line)
    assert m, line
    return int(m[1]), int(m[2])


def test_the_verdict_counts_the_ok_rows_and_names_the_failing_ones() -> None:
    section, traj = gradient_section(), trajectory_section()
    line = text.verdict(report(gradients=section, trajectory=traj))
    assert line.startswith("FAILED:")
    assert verdict_counts(line, "gradients") == (sum(r.ok for r in section.rows), len(section.rows))
    checked = [p for p in traj.pairs if p.checked]
    assert verdict_counts(line, "trajectories") == (sum(p.ok for p in checked), len(checked))
    shown = len(traj.pairs) - len(checked)
    assert f"{shown} reported only" in line
    failing = [r for r in section.rows if not r.ok]
    for r in failing:  # every failing parameter is named, no passing one is
        assert r.param in line
    assert "numerical vs backprop W2" in line and "numerical vs backprop b1" not in line


def test_a_method_that_failed_outright_is_named_beside_rows_that_are_all_ok() -> None:
    """Its rows may all agree (it has none, or its gradient was right): never "44/44 ok" beside a bare FAIL."""
    section = gradient_section()
    rows = [r for r in section.rows if r.ok]
    section.rows, section.ok = rows, False
    section.notes = [MethodNote("mine", "FAIL", "accuracy: returns 0"), MethodNote("mine", "FAIL", "loss: ...")]
    line = text.verdict(report(gradients=section))
    assert line.startswith("FAILED:") and f"gradients {len(rows)}/{len(rows)} rows ok, but mine failed" in line
    assert "(FAIL:" not in line and line.count("mine") == 1


def test_an_all_ok_report_says_ok_with_full_counts() -> None:
    section = gradient_section()
    rows = [r for r in section.rows if r.ok]
    section.rows, section.ok = rows, True
    line = text.verdict(report(gradients=section))
    assert line.startswith("OK:") and verdict_counts(line, "gradients") == (len(rows), len(rows))
    assert "FAIL" not in line


def test_the_header_line_names_the_runs_data_net_and_iterations() -> None:
    r = report(gradients=gradient_section())
    cfg = r.config
    r.config = dataclasses.replace(cfg, iters=cfg.iters + 7, numerical_iters=cfg.numerical_iters + 3)
    for fmt in ("github", "simple"):
        shown = text.render(r, fmt).replace("\n    ", " ")
        m = re.search(r"data: (\S+), net (\S+) \((\w+)\), batch (\d+), lr (\S+), (\d+) iterations \((\d+) numerical\), "
                      r"dtype (\w+)", shown)  # fmt: skip
        assert m, shown[:600]
        assert (m[1], m[2], m[3], int(m[4])) == (r.config.dataset, r.shape, r.config.activation, r.config.batch_size)
        assert float(m[5]) == r.config.learning_rate and m[8] == r.config.dtype
        assert (int(m[6]), int(m[7])) == (r.config.iters, r.config.numerical_iters)
