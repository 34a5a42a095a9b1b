"""Every number of the teaching page's tables and sentences, of the summary's and of ``compare.report diff``.

Run: ``python -m pytest tests/test_rendered_teach_diff.py``. The page and the diff are
rendered from the report of :mod:`rendered`; each number is parsed back and compared with
what the test computes from the model's raw fields (a pair's worst row, B's median over A's,
scipy's rank test of the raw runs, a run's time per step). The glossary lists every term it holds.
"""

from __future__ import annotations

import math
import re

import pytest
from rendered import SIG3, close, gradient_section, report, scaling_section, seconds_of, table_with, timing_rows
from rendered import trajectory_section as trajectory
from test_rendered_timing import lesson_section

from compare.report import diff, diff_tables, glossary, lesson_tables, teach_doc
from compare.report.model import Report, TimingSection
from compare.sections import summary


def one_digit(shown: float, value: float) -> bool:
    """``shown`` is ``value`` to one significant digit (``sci``): within half a unit of its first digit."""
    return abs(shown - value) <= 0.5 * 10 ** math.floor(math.log10(abs(value)))


@pytest.fixture(scope="module")
def page() -> str:
    r = report(gradients=gradient_section(), trajectory=trajectory(), timing=TimingSection(timing_rows()))
    r.scaling, r.lesson = scaling_section(), lesson_section()
    return teach_doc.render_doc(r)


def test_the_pages_agreement_table_shows_each_pairs_worst_row_and_tolerance(page: str) -> None:
    _, rows = table_with(page, "max relative difference", "tolerance")
    section = gradient_section()
    pairs = list(dict.fromkeys((r.method_a, r.method_b) for r in section.rows))
    assert [(row["A"], row["B"]) for row in rows] == pairs
    for row, pair in zip(rows, pairs, strict=True):
        mine = [r for r in section.rows if (r.method_a, r.method_b) == pair]
        worst = max(r.max_rel for r in mine)
        assert close(float(row["max relative difference"]), worst, 5e-2), (row, worst)  # %.1e: 2 digits
        assert one_digit(float(row["tolerance"]), max(r.rtol for r in mine))  # %.0e
        assert row[""] == ("ok" if all(r.ok for r in mine) else "FAIL")


def test_the_pages_timing_scaling_and_lesson_tables_are_the_models(page: str) -> None:
    _, rows = table_with(page, "median", "IQR", "×fastest")
    for cell, r in zip(rows, timing_rows(), strict=True):
        assert cell["method"] == r.method and close(seconds_of(cell["median"]), r.median_s, SIG3)
        assert close(seconds_of(cell["IQR"]), r.iqr_s, SIG3) and close(seconds_of(cell["min"]), r.min_s, SIG3)
    _, rows = table_with(page, "net", "loss evals (book loop)")
    for point in scaling_section().points:
        row = next(r for r in rows if r["net"] == point.shape)
        assert close(seconds_of(row[point.method]), point.median_s, SIG3)
    _, rows = table_with(page, "h", "float32 relative")
    for r in lesson_section().rows:
        row = next(x for x in rows if float(x["h"]) == r.h)
        assert close(float(row[f"{r.dtype} relative"]), r.rel, 5e-2)
    for run in trajectory().runs:
        m = re.search(rf"{run.method} ([0-9,]+) steps in ([0-9.]+) s", page)
        assert int(m[1].replace(",", "")) == run.steps and close(float(m[2]), run.seconds, SIG3)


def test_the_pages_last_line_counts_the_ok_rows(page: str) -> None:
    rows = gradient_section().rows
    m = re.search(r"^FAILED: gradients (\d+)/(\d+) ok", page, re.MULTILINE)
    assert m and (int(m[1]), int(m[2])) == (sum(r.ok for r in rows), len(rows))


def test_the_summary_quotes_the_timing_rows_their_ratio_and_the_worst_agreement() -> None:
    r = report(gradients=gradient_section(), timing=TimingSection(timing_rows()))
    lines = summary.build(r, iters=10_000, h=1e-4, dtype="float64", book_shape="30-8-10 x20").lines
    num, bp = (next(x for x in timing_rows() if x.method == m) for m in ("numerical", "backprop"))
    timed = next(line for line in lines if line.startswith("Measured time per gradient"))
    m = re.search(r"numerical ([0-9.]+ \S+) .*backprop ([0-9.]+ [a-zµ]+)[: ].*backprop is ([0-9.,]+)× faster "
                  r"\(([0-9.,]+)–([0-9.,]+)×", timed)  # fmt: skip
    assert m, timed
    assert close(seconds_of(m[1]), num.median_s, SIG3) and close(seconds_of(m[2]), bp.median_s, SIG3)
    shown = [float(v.replace(",", "")) for v in m.groups()[2:]]
    low = (num.median_s - num.iqr_s / 2) / (bp.median_s + bp.iqr_s / 2)
    high = (num.median_s + num.iqr_s / 2) / (bp.median_s - bp.iqr_s / 2)
    for value, expected in zip(shown, (num.median_s / bp.median_s, low, high), strict=True):
        assert close(value, expected, SIG3), (value, expected)
    agree = next(line for line in lines if "backprop and autograd agree to" in line)
    exact = [x.max_rel for x in gradient_section().rows if (x.method_a, x.method_b) == ("backprop", "autograd")]
    assert one_digit(float(re.search(r"agree to ([0-9.e+-]+)", agree)[1]), max(exact))


def second_run() -> Report:
    """Run B: backprop 1.5× slower on every run, numerical the same runs, autograd 0.8×; other gradient errors."""
    rows = timing_rows()
    for r, factor in zip(rows, (1.0, 1.5, 0.8), strict=True):
        r.samples_s = [v * factor for v in r.samples_s]
        r.median_s, r.iqr_s, r.min_s = r.median_s * factor, r.iqr_s * factor, r.min_s * factor
    grads = gradient_section()
    for i, g in enumerate(grads.rows):
        g.max_rel, g.ok = g.max_rel * (1 + i), not g.ok if i % 5 == 0 else g.ok
    return report(gradients=grads, timing=TimingSection(rows))


def test_diff_shows_each_rows_medians_their_ratio_p_and_verdict() -> None:
    from scipy.stats import mannwhitneyu

    a, b = report(gradients=gradient_section(), timing=TimingSection(timing_rows())), second_run()
    _, rows = table_with(diff_tables.diff_text(diff.diff(a, b), "github"), "A median", "B / A")
    assert [row["method"] for row in rows] == [r.label for r in a.timing.rows]
    for row, ra, rb in zip(rows, a.timing.rows, b.timing.rows, strict=True):
        assert close(seconds_of(row["A median"]), ra.median_s, SIG3)
        assert close(seconds_of(row["B median"]), rb.median_s, SIG3)
        assert close(float(row["B / A"]), rb.median_s / ra.median_s, SIG3)
        p = mannwhitneyu(ra.samples_s, rb.samples_s, alternative="two-sided").pvalue  # exact without ties
        assert math.isclose(float(row["p"]), p, rel_tol=5e-2)  # two significant digits
        low, high = (float(v) for v in row["B / A interval"].strip("[]").split(","))
        assert low <= rb.median_s / ra.median_s <= high
        moved = p < 0.05 / len(rows) and (low > 1 or high < 1)
        assert row["vs noise"] == ("beyond noise" if moved else "within noise")
    assert {row["vs noise"] for row in rows} == {"beyond noise", "within noise"}  # both verdicts are checked


def test_diff_shows_each_gradient_pairs_errors_and_status_in_both_runs() -> None:
    a, b = report(gradients=gradient_section()), second_run()
    _, rows = table_with(diff_tables.diff_text(diff.diff(a, b), "github"), "gradient pair", "A max rel")
    assert len(rows) == len(a.gradients.rows)
    for row, ga, gb in zip(rows, a.gradients.rows, b.gradients.rows, strict=True):
        assert row["gradient pair"] == f"{ga.method_a} vs {ga.method_b} {ga.param}"
        assert close(float(row["A max rel"]), ga.max_rel, SIG3) and close(float(row["B max rel"]), gb.max_rel, SIG3)
        assert (row["A"], row["B"]) == tuple("ok" if g.ok else "FAIL" for g in (ga, gb))
    assert any(ga.ok != gb.ok for ga, gb in zip(a.gradients.rows, b.gradients.rows, strict=True))


def test_the_slower_gate_names_the_slower_row_with_its_ratio() -> None:
    a, b = report(timing=TimingSection(timing_rows())), second_run()
    line, failed = diff_tables.gate_text(diff.diff(a, b), 1.2)
    ratios = {ra.label: rb.median_s / ra.median_s for ra, rb in zip(a.timing.rows, b.timing.rows, strict=True)}
    named = dict(re.findall(r"^  (\S+) \S+ \S+: B / A ([0-9.]+)", line, re.MULTILINE))
    assert failed and set(named) == {k for k, v in ratios.items() if v > 1.2}
    assert all(close(float(v), ratios[k], SIG3) for k, v in named.items())


def test_the_lesson_sentence_quotes_the_rows_at_the_books_h() -> None:
    section = lesson_section()
    sentence = re.search(r"At h = .*?\)\.", lesson_tables.lesson_text(section), re.DOTALL)[0].replace("\n", " ")
    lo, hi = (next(r for r in section.rows if r.dtype == d and r.h == section.book_h) for d in ("float64", "float32"))
    m = re.search(r"float32 errs by (\S+), about 10\^(\d+) times float64's (\S+); on the median entry float32 errs "
                  r"by (\S+), (noise: as large as|against) the median gradient entry \((\S+)\)", sentence)  # fmt: skip
    assert m, sentence
    expected = (hi.max_abs, lo.max_abs, hi.median_abs, section.grad_median)
    for shown, value in zip(m.group(1, 3, 4, 6), expected, strict=True):
        assert close(float(shown.rstrip(",;")), value, 5e-2), (shown, value)  # two significant digits
    assert int(m[2]) == round(math.log10(hi.max_abs / lo.max_abs))
    assert (m[5] == "noise: as large as") == (hi.median_abs >= 0.5 * section.grad_median)


def test_the_summary_growth_line_quotes_each_fit_and_what_doubling_costs() -> None:
    r = report(timing=TimingSection(timing_rows()))
    r.scaling = scaling_section()
    lines = summary.build(r, iters=10_000, h=1e-4, dtype="float64", book_shape="30-8-10 x20").lines
    fit = next(f for f in r.scaling.fits if f.claim == "measured")
    line = next(x for x in lines if "grows as P^" in x)
    m = re.search(r"grows as P\^([0-9.]+) \(range ([0-9.]+)–([0-9.]+)\).*?about ([0-9.]+)× slower "
                  r"\(([0-9.]+)–([0-9.]+)×\)", line)  # fmt: skip
    assert m, line
    slope, low, high, times, t_low, t_high = (float(v) for v in m.groups())
    assert max(abs(slope - fit.slope), abs(low - fit.slope_low), abs(high - fit.slope_high)) <= 5e-3  # %.2f
    for shown, exponent in ((times, fit.slope), (t_low, fit.slope_low), (t_high, fit.slope_high)):
        assert abs(shown - 2**exponent) <= 0.05  # %.1f


@pytest.mark.parametrize("factor", [1.0, 2.0, 4.0])
def test_the_noise_word_follows_the_median_entrys_error_not_the_largest(factor: float) -> None:
    """float32's median-entry error against half the median gradient entry: below, at (noise) and above it.

    The largest error lies above the threshold every time, so a sentence that judged by it would say noise.
    """
    section = lesson_section()
    hi = next(r for r in section.rows if r.dtype == "float32" and r.h == section.book_h)
    section.grad_median = factor * hi.median_abs  # factor 2: exactly at the threshold
    assert hi.max_abs >= 0.5 * section.grad_median
    sentence = re.search(r"At h = .*?\)\.", lesson_tables.lesson_text(section), re.DOTALL)[0].replace("\n", " ")
    m = re.search(r"float32 errs by (\S+), (noise: as large as|against) the median gradient entry \((\S+)\)", sentence)
    assert m, sentence
    assert close(float(m[1].rstrip(",")), hi.median_abs, 5e-2) and close(float(m[3]), section.grad_median, 5e-2)
    assert (m[2] == "noise: as large as") == (hi.median_abs >= 0.5 * section.grad_median), (factor, sentence)


def test_the_rows_only_one_run_has_are_listed_under_that_runs_name() -> None:
    rows = timing_rows()
    a = report(timing=TimingSection(rows[:2]))
    b = report(timing=TimingSection(rows[1:]))
    shown = diff_tables.diff_text(diff.diff(a, b, "run-a.json", "run-b.json"))
    only = dict(re.findall(r"^only in (\S+): (.*)$", shown, re.MULTILINE))
    assert only == {
        "run-a.json": f"{rows[0].label} {rows[0].shape}",
        "run-b.json": f"{rows[2].label} {rows[2].shape}",
    }


def test_the_pages_loss_against_time_sentence_is_the_runs_times_and_losses(page: str) -> None:
    runs = {r.method: r for r in trajectory().runs}
    num, bp = runs["numerical"], runs["backprop"]
    m = re.search(r"in the (\S+ \S+) that the book's numerical gradient spent on ([0-9,]+) steps \(loss (\S+) to "
                  r"(\S+)\), backprop could make about ([0-9.,]+) steps; this run's ([0-9,]+) backprop steps took "
                  r"(\S+ \S+) and brought the loss to ([0-9.]+)\.", page.replace("\n", " "))  # fmt: skip
    assert m, "no loss-against-time sentence"
    assert close(seconds_of(m[1]), num.seconds, SIG3) and int(m[2].replace(",", "")) == num.steps
    assert abs(float(m[3]) - num.losses[0]) <= 5e-4 and abs(float(m[4]) - num.losses[-1]) <= 5e-4  # %.3f
    assert close(float(m[5].replace(",", "")), num.seconds / (bp.seconds / bp.steps), SIG3)  # bp's time per step
    assert int(m[6].replace(",", "")) == bp.steps and close(seconds_of(m[7]), bp.seconds, SIG3)
    assert abs(float(m[8]) - bp.losses[-1]) <= 5e-4


def test_the_glossary_explains_every_term_once_in_order() -> None:
    page = glossary.render_glossary()
    shown = re.findall(r"^- \*\*(.+?)\*\* — (.+)$", page, re.MULTILINE)
    assert shown == list(glossary.TERMS)  # English: the terms and explanations as the module lists them
