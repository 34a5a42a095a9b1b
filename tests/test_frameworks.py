"""The framework table (compare.sections.frameworks) and the report's compile times.

Run: ``python -m pytest tests/test_frameworks.py``. The table is built from hand-made
sections here, so every expected number is written out, not computed by the code.
"""

from __future__ import annotations

import pytest

from compare import registry
from compare.report import tables, text
from compare.report.codec import from_data
from compare.report.format import format_seconds
from compare.report.model import (
    GradientRow,
    GradientSection,
    TimingRow,
    TimingSection,
    TrainingRun,
    TrajectorySection,
)
from compare.sections import frameworks


def grad_row(a: str, b: str, param: str, max_rel: float, ok: bool = True) -> GradientRow:
    return GradientRow(a, b, param, 0.0, max_rel, [0], 0.0, 0.0, 1e-12, 1e-15, 0, ok)


def time_row(label: str, family: str, dtype: str, median: float, shape: str = "784-50-10 x100", compile_s=None):
    return TimingRow(
        family, label, "cpu", dtype, 2, shape, 39760, median, 0.0, median, 9, 10, False, False, 39760, 1.0, 1.0,
        compile_s=compile_s,
    )  # fmt: skip


def test_code_lines_leave_out_blanks_comments_and_docstrings() -> None:
    source = '''"""Module docstring,
over two lines."""

import numpy as np  # a comment after code counts


class Net:
    """Class docstring."""

    # a comment line
    def f(self, x):
        """Function docstring."""
        s = "not a docstring"
        return x + 1
'''
    # counted: the import, "class Net:", "def f", "s = ...", "return": 5 lines
    assert frameworks.code_lines(source) == 5


def test_model_files_are_found_for_each_framework() -> None:
    files = registry.model_files()
    assert {"numpy", "torch"} <= set(files)
    assert [p.name for p in files["numpy"]] == ["two_layer_net.py", "layers.py", "functions.py"]
    assert all(p.is_file() for paths in files.values() for p in paths)


def test_table_joins_gradient_agreement_times_and_compile() -> None:
    grads = GradientSection(
        loss=2.3,
        rows=[
            grad_row("numerical", "backprop", "W1", 1e-8),
            grad_row("backprop", "jax[cpu,float64]", "W1", 2e-15),
            grad_row("backprop", "jax[cpu,float64]", "b2", 5e-15),
            grad_row("autograd+compile[cpu,float64]", "backprop", "W2", 3e-14, ok=False),
            grad_row("autograd+compile[cpu,float64]", "jax[cpu,float64]", "W2", 9e-1),  # not against backprop
        ],
        ok=False,
    )
    timing = TimingSection(
        rows=[
            time_row("numerical", "numerical", "float64", 12.0),
            time_row("backprop", "backprop", "float64", 4e-4),
            time_row("backprop[float32]", "backprop", "float32", 2e-4),
            time_row("jax[cpu,float64]", "jax", "float64", 5e-4, compile_s=0.2),
            time_row("jax[cpu,float64]", "jax", "float64", 9.0, shape="64-50-10 x100"),  # another shape: not used
            time_row("autograd+compile[cpu,float64]", "autograd+compile", "float64", 6e-4, compile_s=8.0),
        ]
    )
    section = frameworks.build(grads, timing, "784-50-10 x100", "float64")
    got = {r.method: (r.framework, r.dtype, r.grad_max_rel, r.grad_ok, r.gradient_s, r.compile_s) for r in section.rows}
    assert got == {
        "backprop": ("numpy", "float64", 0.0, None, 4e-4, None),
        "backprop[float32]": ("numpy", "float32", None, None, 2e-4, None),
        "jax[cpu,float64]": ("jax", "float64", 5e-15, True, 5e-4, 0.2),
        "autograd+compile[cpu,float64]": ("torch", "float64", 3e-14, False, 6e-4, 8.0),
    }
    lines = {r.framework: r.code_lines for r in section.rows}
    assert lines["numpy"] > 0 and lines["torch"] > 0
    head, rows = tables.framework_table(section)
    shown = {row[1]: dict(zip(head, row, strict=True)) for row in rows}
    assert shown["backprop"]["grad max rel vs backprop"] == "reference"
    assert shown["autograd+compile[cpu,float64]"][""] == "FAIL"
    assert shown["autograd+compile[cpu,float64]"]["compile"] == format_seconds(8.0)
    assert shown["backprop[float32]"]["compile"] == "-"


def test_a_run_saved_before_compile_times_still_loads() -> None:
    """Fields added with a default (compile_s) are optional: an older file of the same version loads."""
    old = {"method": "jax", "steps": 2, "seconds": 1.0, "eval_steps": [0], "train_acc": [0.5], "test_acc": [0.5],
           "losses": [2.3, 2.2]}  # fmt: skip
    assert from_data(TrainingRun, old).compile_s is None
    assert from_data(TrainingRun, {**old, "compile_s": 0.3}).compile_s == 0.3


@pytest.mark.parametrize("compile_s, shown", [(None, False), (2.5, True)])
def test_wall_time_line_shows_compile_time_apart(compile_s, shown) -> None:
    line = f" (compile {format_seconds(2.5)})"
    run = TrainingRun("jax[cpu,float64]", 2, 4.0, [0], [0.5], [0.5], [2.3, 2.2], compile_s=compile_s)
    doc = text._Doc("simple")
    fake = type("R", (), {"trajectory": TrajectorySection(1.0, [run], [], True)})()
    text._trajectory(doc, fake)
    assert (line in doc.out.getvalue()) is shown


def test_a_float32_run_is_compared_with_float32_backprop() -> None:
    grads = GradientSection(
        loss=2.3,
        rows=[
            grad_row("backprop[float32]", "jax[cpu,float32]", "W1", 4e-6),
            grad_row("autograd[cpu,float32]", "jax[cpu,float32]", "W1", 9e-6),  # not against backprop
        ],
        ok=True,
    )
    section = frameworks.build(grads, None, "784-50-10 x100", "float32")
    got = {r.method: (r.framework, r.dtype, r.grad_max_rel, r.grad_ok) for r in section.rows}
    assert got == {
        "backprop[float32]": ("numpy", "float32", 0.0, None),
        "jax[cpu,float32]": ("jax", "float32", 4e-6, True),
        "autograd[cpu,float32]": ("torch", "float32", None, None),
    }
    timing_only = frameworks.build(
        None, TimingSection([time_row("backprop", "backprop", "float64", 4e-4)]), "784-50-10 x100", "float64"
    )
    assert timing_only.rows[0].grad_max_rel is None  # no gradient section: nothing compared, no reference
