"""A report built to expose rendering mistakes, and parsers that read rendered numbers back.

Used by the ``test_rendered_*`` modules. :func:`tricky_report` holds values that a wrong
renderer shows wrongly: rows whose worst is neither first nor last, a relative error exactly
at its tolerance (ok) beside one just above it (FAIL), worst indices that are not symmetric
((2, 5) and (5, 2)), train and test accuracies that differ at every record, timings whose
median, IQR and minimum all differ (q1 != min, q3 != max), ties between rows, values whose
third significant digit shows a rounding to two. The parsers turn a cell back into a number,
so that a test compares it with the model's own field, within the precision the format
documents (:mod:`compare.report.format`): 3 significant digits (``%.2e``, durations, ratios)
or 6 (``%.6g``).
"""

from __future__ import annotations

import math
import re

import numpy as np

from compare.config import RunConfig
from compare.engine.timer import summarize
from compare.harness import environment
from compare.report.model import (
    SCHEMA_VERSION,
    GradientRow,
    GradientSection,
    LossCount,
    Report,
    ScalingFit,
    ScalingPlan,
    ScalingPoint,
    ScalingSection,
    TimingRow,
    TrainingRun,
    TrajectoryRow,
    TrajectorySection,
)

SIG3 = 5e-3  # a value shown to 3 significant digits is within half a unit of the third digit: 0.5 / 100
SIG6 = 5e-6  # the same for 6 significant digits (``%.6g``)
UNITS = {"h": 3600.0, "min": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}


def seconds_of(cell: str) -> float:
    """A rendered duration (``"293 µs"``, ``"≈1.05 ms !"``) back in seconds."""
    m = re.fullmatch(r"≈?(-?[0-9.e+-]+) (h|min|s|ms|µs|ns)( !)?", cell.strip())
    assert m, f"not a duration: {cell!r}"
    return float(m[1]) * UNITS[m[2]]


def close(shown: float, value: float, rel: float) -> bool:
    """``shown`` is ``value`` rounded to the relative precision ``rel`` (half a unit of the last digit)."""
    return math.isclose(shown, value, rel_tol=rel, abs_tol=0.0) or shown == value


def markdown_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every GitHub-style table in ``text``: (header cells, body rows of cells), stripped."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if block:
            tables.append((block[0], block[2:]))  # block[1] is the |---| rule
            block = []
    return tables


def table_with(text: str, *columns: str) -> tuple[list[str], list[dict[str, str]]]:
    """The one Markdown table of ``text`` whose header holds every name in ``columns``: header, rows as dicts."""
    found = [(h, rows) for h, rows in markdown_tables(text) if all(c in h for c in columns)]
    assert len(found) == 1, f"{len(found)} tables with columns {columns}"
    head, rows = found[0]
    assert all(len(r) == len(head) for r in rows), "a row with more or fewer cells than the header"
    return head, [dict(zip(head, r, strict=True)) for r in rows]


def _grad(a: str, b: str, param: str, rel: float, index: list[int], rtol: float = 1e-6, kinks: int = 0) -> GradientRow:
    max_abs = rel * 0.0421
    return GradientRow(
        a, b, param, max_abs, rel, index, 0.0421, 0.0421 - max_abs, rtol, rtol * 1e-3, kinks, rel <= rtol
    )


def gradient_section() -> GradientSection:
    """Three pairs, unordered; the worst of each pair is neither its first nor its last row.

    numerical vs backprop: b1 exactly at its tolerance (ok), W2 just above (FAIL); backprop vs
    autograd: all ok, W1 and b2 tied; autograd vs mine: every row FAIL but one.
    """
    rows = [
        _grad("numerical", "backprop", "W1", 2.345e-7, [2, 5], kinks=3),
        _grad("numerical", "backprop", "b1", 1e-6, [3]),  # exactly rtol: ok
        _grad("numerical", "backprop", "W2", 1.0000001e-6, [5, 2]),  # just above: FAIL
        _grad("numerical", "backprop", "b2", 4.567e-8, [1]),
        _grad("backprop", "autograd", "W1", 3.21e-16, [0, 7], rtol=1e-12),
        _grad("backprop", "autograd", "b1", 8.765e-16, [4], rtol=1e-12),
        _grad("backprop", "autograd", "W2", 1.234e-16, [9, 1], rtol=1e-12),
        _grad("backprop", "autograd", "b2", 3.21e-16, [6], rtol=1e-12),  # tie with W1
        _grad("autograd", "mine", "W1", 0.125, [1, 3], rtol=1e-4),
        _grad("autograd", "mine", "b1", 0.875, [2], rtol=3e-4),  # the pair's loosest tolerance, not first or last
        _grad("autograd", "mine", "W2", 2.5e-5, [3, 0], rtol=1e-4),
        _grad("autograd", "mine", "b2", 0.375, [0], rtol=1e-4),
    ]
    return GradientSection(loss=2.3025851, rows=rows, ok=False)


def _run(method: str, steps: int, train: list[float], test: list[float], shift: float) -> TrainingRun:
    losses = [2.3 - 0.01 * i - shift for i in range(steps)]
    return TrainingRun(method, steps, 1.2345 + steps * 1e-3, [0, 4, 8, 12][: len(train)], train, test, losses)


def trajectory_section() -> TrajectorySection:
    """Three runs (one shorter: losses and accuracy of unequal length), three pairs (one not checked, one FAIL)."""
    runs = [
        _run("backprop", 13, [0.1125, 0.4375, 0.6875, 0.8125], [0.1, 0.4, 0.65, 0.775], 0.0),
        _run("autograd", 13, [0.1125, 0.4375, 0.6875, 0.8125], [0.1, 0.4, 0.65, 0.775], 1e-9),
        _run("numerical", 6, [0.1125, 0.4375], [0.1, 0.4], 2e-9),
    ]
    pairs = [
        TrajectoryRow("backprop", "autograd", 13, 1.234e-9, 5.678e-10, 7, 1e-10, 4, 0.0125, False, 2.345e-9, 1e-8,
                      True, True, False, ""),
        TrajectoryRow("backprop", "numerical", 6, 2.5e-12, 1.2e-12, None, 1e-7, 2, 0.0, True, math.nan, 1e-6,
                      False, False, True, "no snapshot"),
        TrajectoryRow("autograd", "numerical", 6, 3.5e-12, 1.5e-12, None, 1e-7, 2, 0.0, True, 4.5e-9, 1e-6,
                      True, True, True, ""),
    ]  # fmt: skip
    return TrajectorySection(iter_per_epoch=4.0, runs=runs, pairs=pairs, ok=False)


# Raw per-run times: q1 != min and q3 != max, median and mean apart, a tie (two equal runs).
SAMPLES = {
    "numerical": [0.0412, 0.0398, 0.0455, 0.0401, 0.0398, 0.0523, 0.0417],
    "backprop": [2.93e-5, 3.11e-5, 2.87e-5, 3.45e-5, 2.99e-5, 2.87e-5, 4.12e-5],
    "autograd": [1.234e-4, 1.198e-4, 1.311e-4, 1.256e-4, 1.402e-4, 1.221e-4, 1.198e-4],
}


def timing_rows(shape: str = "30-8-10 x20", n_params: int = 338) -> list[TimingRow]:
    """Rows from the raw times above through the timer's own summary; ratios from the medians."""
    rows = []
    for method, samples in SAMPLES.items():
        t = summarize(samples, loops=3)
        rows.append(
            TimingRow(method, method, "cpu", "float64", 1, shape, n_params, t.median_s, t.iqr_s, t.min_s,
                      samples_s=list(t.samples_s), runs=t.runs, loops=t.loops, noisy=t.noisy,
                      estimated=method == "numerical", sampled=200 if method == "numerical" else n_params,
                      ratio_fastest=math.nan, ratio_numerical=math.nan)
        )  # fmt: skip
    fastest = min(r.median_s for r in rows)
    for r in rows:
        r.ratio_fastest, r.ratio_numerical = r.median_s / fastest, r.median_s / rows[0].median_s
    return rows


def scaling_section() -> ScalingSection:
    """Two methods at three hidden sizes, points listed out of order; fits whose slope, range and theory differ."""
    plan = ScalingPlan(hidden_sizes=(4, 8, 16), input_sizes=(), input_size=30, sample=20, runs=3)
    points = []
    for h in (8, 4, 16):
        p = 30 * h + h + h * 10 + 10
        for method, k, noisy in (("numerical", 2.1e-9, h == 16), ("backprop", 3.3e-7, False)):
            median = k * p ** (2 if method == "numerical" else 1)
            points.append(
                ScalingPoint("hidden", method, f"30-{h}-10", 30, h, 10, 20, p, 2 * p if method == "numerical" else 1,
                             median, median * 0.0625, median * 0.875, noisy=noisy,
                             estimated=method == "numerical", sampled=20)
            )  # fmt: skip
    fits = [
        ScalingFit("hidden", "numerical", 1.8765, -19.9, 0.99, 3, 2.0, 1.7123, 2.0456, "measured"),
        ScalingFit("hidden", "backprop", 0.9345, -14.9, 0.98, 3, 1.0, 0.5012, 1.3456, "noisy"),
    ]
    count = LossCount("5-4-3", 39, 78)
    return ScalingSection("reduced", plan, 20, 1, ["numerical", "backprop"], points, fits, count)


def report(**sections: object) -> Report:
    """A report of this machine's environment and default options holding ``sections``; ok from its rows."""
    r = Report(SCHEMA_VERSION, True, environment(0, 1, ["cpu"], None), RunConfig(), ["cpu"], "30-8-10", **sections)
    bad = [s for s in (r.gradients, r.trajectory) if s is not None and not s.ok]
    r.ok = not bad
    return r


def numpy_quartiles(samples: list[float]) -> tuple[float, float, float]:
    """q1, median, q3 by numpy's default (linear) method, the one :func:`compare.engine.timer.summarize` names."""
    q1, med, q3 = (float(np.quantile(np.asarray(samples), q, method="linear")) for q in (0.25, 0.5, 0.75))
    return q1, med, q3


DASHES = re.compile(r"^\s*-+(\s+-+)*\s*$")


def terminal_tables(text: str) -> list[tuple[list[str], list[tuple[str, dict[str, str]]]]]:
    """Every compact terminal table of ``text``: (header, [(group heading, row as a dict)]).

    Columns are where the dashes under the header are; a header of two lines is joined with a
    space (``"loss\\nmax abs"`` reads ``"loss max abs"``); ``A = ...`` lines head the rows below them.
    """
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not DASHES.match(line) or not line.strip():
            continue
        spans = [(m.start(), m.end()) for m in re.finditer(r"-+", line)]
        starts = [s for s, _ in spans] + [None]
        first = i
        while first > 0 and lines[first - 1].strip() and not lines[first - 1].startswith("=="):
            first -= 1

        def cells(row: str, starts: list = starts) -> list[str]:
            return [row[a:b].strip() for a, b in zip(starts, starts[1:], strict=False)]

        head = [" ".join(filter(None, parts)) for parts in zip(*(cells(h) for h in lines[first:i]), strict=True)]
        head = ["worst index" if h == "index" else h for h in head]
        rows, group = [], ""
        indent = len(line) - len(line.lstrip())
        for row in lines[i + 1 :]:
            if row.startswith("A = "):
                group = row
                continue
            if not row.strip() or len(row) - len(row.lstrip()) != indent:
                break  # the table ends at a blank line or at notes indented otherwise
            rows.append((group, dict(zip(head, cells(row), strict=True))))
        out.append((head, rows))
    return out
