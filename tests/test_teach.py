"""The teaching results: the slope fit, the plain-words summary, the h sweep, the charts and the page.

Run: ``python -m pytest tests/test_teach.py``. The slope fit is checked on synthetic
timings with known exponents; the summary on fixed fake measurements (every expected
number is computed here from those inputs, so a summary that quoted numbers instead of
computing them fails); the h sweep on a real measurement on a small net. Nothing here
asserts a wall-clock time.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compare import harness, teach
from compare.config import RunConfig
from compare.manifest import MANIFEST
from compare.report import csvfiles, lesson_tables, plots, scaling_tables
from compare.report.format import plain_duration, sci, times
from compare.report.model import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    GradientRow,
    GradientSection,
    LessonRow,
    LessonSection,
    LossCount,
    Report,
    ScalingFit,
    ScalingSection,
    TimingRow,
    TimingSection,
    TrainingRun,
    TrajectorySection,
)
from compare.report.teach_doc import COMMAND, render_doc
from compare.run import main, parse_args
from compare.sections import lesson, scaling, slopefit, summary

BOOK = "784-50-10 x100"
OWN = "64-50-10 x100"
# One torch / BLAS thread: small ops on several threads slow down a lot when the cores are busy.
pytestmark = pytest.mark.usefixtures("one_thread")


# -- the slope fit -------------------------------------------------------------------------------------------


@given(
    exponent=st.floats(0.25, 3.0),
    scale=st.floats(1e-9, 1e-3),
    seed=st.integers(0, 2**32 - 1),
)
def test_fit_slope_recovers_known_exponents_from_noisy_timings(exponent: float, scale: float, seed: int) -> None:
    """time = scale · P^exponent · exp(noise), noise ~ N(0, 0.1²) (±10%, like real timings).

    The least-squares slope has standard error σ / sqrt(Σ (log P - mean)²); the fit must land
    within 5 standard errors (a false failure has probability ~6e-7 per example).
    """
    rng = np.random.default_rng(seed)
    sizes = np.geomspace(1e3, 2e5, 7)  # like the hidden-size series: 7,960 ... 159,010
    sigma = 0.1
    seconds = scale * sizes**exponent * np.exp(rng.normal(0.0, sigma, sizes.size))
    fit = slopefit.fit_slope(sizes, seconds)
    lx = np.log(sizes)
    stderr = sigma / math.sqrt(float(np.sum((lx - lx.mean()) ** 2)))
    assert abs(fit.slope - exponent) <= 5 * stderr, (fit.slope, exponent, stderr)
    assert fit.n == sizes.size


@pytest.mark.parametrize("exponent", [1.0, 2.0, 0.5])
def test_fit_slope_is_exact_on_a_power_law(exponent: float) -> None:
    sizes = [7_960, 19_885, 39_760, 79_510, 159_010]
    seconds = [3e-9 * p**exponent for p in sizes]
    fit = slopefit.fit_slope(sizes, seconds)
    assert fit.slope == pytest.approx(exponent, abs=1e-12)  # only float rounding of the logarithms
    assert fit.intercept == pytest.approx(math.log(3e-9), abs=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)


def test_fit_slope_of_the_two_costs() -> None:
    """2P forward passes of cost ∝ P give slope 2; one pass, slope 1 — with a fixed overhead, less."""
    sizes = np.array([7_960, 19_885, 39_760, 79_510, 159_010], dtype=float)
    numerical = 2 * sizes * (1e-9 * sizes)  # 2P loss evaluations, each ∝ P
    backprop = 3e-9 * sizes
    with_overhead = 3e-9 * sizes + 1e-4  # a fixed cost per call flattens the line
    assert slopefit.fit_slope(sizes, numerical).slope == pytest.approx(2.0, abs=1e-12)
    assert slopefit.fit_slope(sizes, backprop).slope == pytest.approx(1.0, abs=1e-12)
    assert slopefit.fit_slope(sizes, with_overhead).slope < 0.95


@pytest.mark.parametrize(
    "sizes, seconds",
    [([100, 100, 100], [1.0, 2.0, 3.0]), ([100], [1.0]), ([10, 20], [1.0, 0.0]), ([10, 20], [1.0, math.nan])],
    ids=["one-size", "one-point", "zero-time", "nan"],
)
def test_fit_slope_refuses_data_without_a_slope(sizes: list[float], seconds: list[float]) -> None:
    with pytest.raises(ValueError):
        slopefit.fit_slope(sizes, seconds)


def test_book_loop_calls_the_loss_twice_per_parameter() -> None:
    counted = scaling.count_loss_evaluations((5, 3, 4), batch_size=6)
    p = 5 * 3 + 3 + 3 * 4 + 4
    assert counted == LossCount(shape="5-3-4", n_params=p, loss_evaluations=2 * p)


# -- the study ------------------------------------------------------------------------------------------------

TINY_PLAN = scaling.ScalingPlan(
    hidden_sizes=(2, 4, 8), input_sizes=(4, 8), input_size=6, hidden_size=3, output_size=3, sample=8, runs=1
)


@pytest.fixture(scope="module")
def tiny_study(one_thread_module: None) -> tuple[ScalingSection, list[str]]:
    """A real (tiny) study, and the framework of every timed call in order."""
    frameworks: list[str] = []
    real = scaling.time_runners

    def spy(runners, *args, **kwargs):
        frameworks.extend(r.info.framework for r in runners)
        return real(runners, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scaling, "time_runners", spy)
        settings = scaling.StudySettings(dtype="float64", activation="sigmoid", h=1e-4, batch_size=5, threads=1, seed=0)
        section = scaling.run_study(TINY_PLAN, settings, devices=["cpu"])
    return section, frameworks


def test_study_times_numpy_everywhere_before_torch(tiny_study: tuple[ScalingSection, list[str]]) -> None:
    _, frameworks = tiny_study
    assert "torch" in frameworks and "numpy" in frameworks
    first_torch = frameworks.index("torch")
    assert set(frameworks[first_torch:]) == {"torch"}, frameworks


def test_study_points_and_fits(tiny_study: tuple[ScalingSection, list[str]]) -> None:
    section, _ = tiny_study
    methods = ["numerical", "numerical-fast", "backprop", "autograd[cpu,float64]"]
    assert section.methods == methods
    n_shapes = {"hidden": 3, "input": 2}
    for series, n in n_shapes.items():
        for m in methods:
            pts = [p for p in section.points if p.series == series and p.method == m]
            assert len(pts) == n
            assert [p.n_params for p in pts] == sorted(p.n_params for p in pts)
            fit = next(f for f in section.fits if f.series == series and f.method == m)
            expected = slopefit.fit_slope([p.n_params for p in pts], [p.median_s for p in pts]).slope
            assert fit.slope == expected
    book_loop = [p for p in section.points if p.method == "numerical"]
    assert all(p.forward_passes == 2 * p.n_params for p in book_loop)
    # P > 8 at every shape here, so the book's loop is sampled (k = 8) and scaled
    assert all(p.estimated and p.sampled == 8 for p in book_loop)


def test_study_table_has_a_column_per_method_and_the_slopes(tiny_study: tuple[ScalingSection, list[str]]) -> None:
    section, _ = tiny_study
    head, rows = scaling_tables.series_table(section, "hidden")
    assert head[3:] == section.methods
    labels = ["6-2-3", "6-4-3", "6-8-3", "slope vs P (fitted)", "slope range (spread)", "slope expected"]
    assert [r[0] for r in rows] == labels
    p = 6 * 2 + 2 + 2 * 3 + 3
    assert rows[0][1:3] == [f"{p:,}", f"{2 * p:,}"]
    assert rows[-1][3:] == ["2", "1", "1", "1"]


@pytest.mark.parametrize(
    "argv, form",
    [([], "reduced"), (["--only", "scaling"], "full"), (["--only", "timing,scaling"], "full")]
    + [(["--scaling", "full"], "full"), (["--only", "scaling", "--scaling", "reduced"], "reduced")],
)
def test_which_form_of_the_study_runs(argv: list[str], form: str) -> None:
    got, plan = scaling.plan_for(parse_args(argv))
    assert got == form
    assert plan.hidden_sizes == (scaling.FULL_PLAN if form == "full" else scaling.REDUCED_PLAN).hidden_sizes


# -- the h sweep ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep(one_thread_module: None) -> LessonSection:
    """A real sweep on a 64-10-10 net and a digits-like batch (random pixels in [0, 16])."""
    from impl_numpy import init_params

    rng = np.random.default_rng(3)
    params = init_params(64, 10, 10, seed=0)
    x = rng.integers(0, 17, size=(50, 64)).astype(np.float64) / 16.0  # (N, D)
    t = rng.integers(0, 10, size=50)  # (N,)
    return lesson.h_sweep(params, x, t, hs=(1e-1, 1e-2, 1e-4, 1e-9), sample=150, seed=0, book_h=1e-4)


def test_float32_fails_at_the_books_h_by_orders_of_magnitude(sweep: LessonSection) -> None:
    """float32 rounding (ε = 1.2e-7) over 2h = 2e-4 gives ~1e-3 of error; float64's is ~1e-10.

    Those differ by ~1e7; requiring 1e3 leaves four orders of magnitude of margin.
    """
    lo, hi = sweep.at("float64", 1e-4), sweep.at("float32", 1e-4)
    assert hi.max_abs > 1e3 * lo.max_abs, (hi, lo)
    # and in float32 the book's h is worse than a larger one (h = 1e-2, near ε^(1/3))
    assert hi.max_abs > sweep.at("float32", 1e-2).max_abs


def test_float64_error_draws_a_v(sweep: LessonSection) -> None:
    """Truncation (h² scale) dominates at h = 0.1, rounding (1/h scale) at 1e-9; 1e-4 is below both."""
    err = {r.h: r.max_abs for r in sweep.rows if r.dtype == "float64"}
    assert err[1e-1] > 100 * err[1e-4]  # truncation: (0.1 / 1e-4)² = 1e6 times larger, 100 leaves margin
    assert err[1e-9] > 100 * err[1e-4]  # rounding: ~ε|L|/h = 5e-7 against ~1e-10
    assert sweep.best["float64"] < sweep.best["float32"]


def test_sweep_rows_are_consistent(sweep: LessonSection) -> None:
    assert len(sweep.rows) == 2 * 4
    for r in sweep.rows:
        assert r.rel == pytest.approx(r.max_abs / sweep.grad_max, rel=1e-12)
        assert 0 <= r.median_abs <= r.max_abs
    head, rows = lesson_tables.lesson_table(sweep)
    notes = {row[0]: row[-1] for row in rows}
    assert "book's h" in notes["1e-04"]


# -- the summary from fixed measurements ---------------------------------------------------------------------


def timing_row(shape: str, method: str, median_s: float, dtype: str = "float64", sampled: int | None = None):
    p = summary.n_params_of(shape)
    return TimingRow(
        method=method,
        label=method if dtype == "float64" else f"{method}[{dtype}]",
        device="cpu",
        dtype=dtype,
        threads=1,
        shape=shape,
        n_params=p,
        median_s=median_s,
        iqr_s=0.0,
        min_s=median_s,
        runs=5,
        loops=1,
        noisy=False,
        estimated=sampled is not None,
        sampled=sampled if sampled is not None else p,
        ratio_fastest=1.0,
        ratio_numerical=1.0,
    )


def gradient_rows(a: str, b: str, rels: list[float], ok: bool = True) -> list[GradientRow]:
    return [
        GradientRow(a, b, name, rel, rel, [0], 1.0, 1.0, 1e-6, 1e-9, 0, ok)
        for name, rel in zip(["W1", "b1", "W2", "b2"], rels, strict=True)
    ]


def run_of(method: str, steps: int, seconds: float) -> TrainingRun:
    losses = list(2.3 * np.exp(-np.arange(steps) / 100))
    evals = [0, 100] if steps > 100 else []
    acc = [0.1, 0.5] if steps > 100 else []
    return TrainingRun(method, steps, seconds, evals, acc, [a * 0.9 for a in acc], losses)


def fit(series: str, method: str, slope: float) -> ScalingFit:
    """A fit the cost-growth section judged measured, with a narrow range."""
    expected = 2.0 if method == "numerical" else 1.0
    return ScalingFit(series, method, slope, 0.0, 1.0, 3, expected, slope - 0.05, slope + 0.05, "measured")


def fake_report(num_s: float, bp_s: float, own_num_s: float, own_bp_s: float) -> Report:
    """A run's measurements, made up: what the summary must turn into sentences."""
    cfg = RunConfig(threads=1, scaling="full")
    rows = gradient_rows("numerical", "backprop", [3.3e-9, 2.1e-9, 1.1e-8, 7.02e-8])
    rows += gradient_rows("backprop", "autograd[cpu,float64]", [3.3e-16, 3.2e-16, 7.4e-15, 3.0e-15])
    runs = [
        run_of("numerical", 10, 4.61),
        run_of("numerical-fast", 300, 3.37),
        run_of("backprop", 10_000, 2.9),
        run_of("autograd[cpu,float64]", 10_000, 3.71),
    ]
    return Report(
        schema_version=SCHEMA_VERSION,
        ok=True,
        env=harness.environment(0, 1, ["cpu"], None),
        config=cfg,
        devices=["cpu"],
        shape="64-50-10",
        gradients=GradientSection(loss=2.3, rows=rows, ok=True),
        trajectory=TrajectorySection(iter_per_epoch=15.0, runs=runs, pairs=[], ok=True),
        timing=TimingSection(
            rows=[
                timing_row(BOOK, "numerical", num_s, sampled=200),
                timing_row(BOOK, "backprop", bp_s),
                timing_row(BOOK, "backprop", bp_s / 2, dtype="float32"),
                timing_row(OWN, "numerical", own_num_s, sampled=200),
                timing_row(OWN, "backprop", own_bp_s),
            ]
        ),
        scaling=ScalingSection(
            form="full",
            plan=scaling.FULL_PLAN,
            batch_size=100,
            threads=1,
            methods=["numerical", "backprop"],
            points=[],
            fits=[
                fit("hidden", "numerical", 1.89),
                fit("hidden", "backprop", 1.01),
                fit("input", "numerical", 1.5),
                fit("input", "backprop", 0.7),
            ],
            count=LossCount("16-8-10", 16 * 8 + 8 + 8 * 10 + 10, 2 * (16 * 8 + 8 + 8 * 10 + 10)),
        ),
        lesson=LessonSection(
            shape="64-50-10",
            activation="sigmoid",
            batch_size=100,
            entries=100,
            n_params=3760,
            grad_max=1e-2,
            grad_median=1e-4,
            best={"float64": 1e-5, "float32": 1e-2},
            eps={"float64": 2.2e-16, "float32": 1.2e-7},
            rows=[LessonRow("float64", 1e-4, 1.8e-10, 1.8e-8, 1e-11), LessonRow("float32", 1e-4, 2.2e-3, 0.22, 1e-4)],
            book_h=1e-4,
        ),
    )


def build(report: Report, iters: int = 10_000, dtype: str = "float64"):
    return summary.build(report, iters=iters, h=1e-4, dtype=dtype, book_shape=BOOK)


@pytest.mark.parametrize("num_s, bp_s", [(12.3, 293e-6), (20.0, 1.2e-3)], ids=["like-the-book", "slower-machine"])
def test_summary_computes_its_numbers_from_the_measurements(num_s: float, bp_s: float) -> None:
    iters = 10_000
    fake = fake_report(num_s, bp_s, own_num_s=0.784, own_bp_s=94.9e-6)
    s = build(fake, iters=iters)
    text = "\n".join(s.lines)
    n = s.numbers

    # projections: iters × time per gradient
    assert n["projected_numerical_s"] == pytest.approx(iters * num_s, rel=1e-12)
    assert n["projected_backprop_s"] == pytest.approx(iters * bp_s, rel=1e-12)
    hours = iters * num_s / 3600
    assert f"≈{hours:.2g} hours with the numerical gradient" in text
    assert f"versus ≈{iters * bp_s:.2g} seconds with backprop" in text
    assert "a projection" in text
    # P and the loss evaluations of the book's loop
    assert "P = 39,760" in text and "P = 3,760" in text
    assert f"2P = {2 * 39_760:,} loss evaluations" in text
    # time per gradient each way and the ratio (the float64 backprop row: the run's dtype)
    assert f"backprop is {float(f'{num_s / bp_s:.3g}'):,.0f}× faster" in text  # 3 significant digits
    assert f"backprop is {float(f'{0.784 / 94.9e-6:.3g}'):,.0f}× faster" in text
    assert "timed on 200 of its 39,760 parameters" in text
    # the training actually run: per-step times from the trajectory wall times
    assert "numerical 10 steps in 4.61 s (461 ms per step)" in text
    assert "backprop 10,000 steps in 2.9 s (290 µs per step)" in text
    # agreement: the worst parameter of each pair
    assert n["agreement_backprop_autograd"] == 7.4e-15 and "agree to 7e-15" in text
    assert n["agreement_numerical_backprop"] == 7.02e-8 and "backprop to 7e-8" in text
    assert "same gradient" in text
    # cost growth (the hidden-size series) and the float32 lesson
    assert "P^1.89" in text and "P^1.01" in text and f"about {2**1.89:.1f}× slower" in text
    assert "errs by 2e-3, about 10^7 times float64's 2e-10" in text
    assert 8 <= len(s.lines) <= 12


def test_summary_uses_the_runs_dtype_and_iterations() -> None:
    fake = fake_report(12.3, 293e-6, 0.784, 94.9e-6)
    s = build(fake, iters=500, dtype="float32")
    assert s.numbers["projected_backprop_s"] == pytest.approx(500 * 293e-6 / 2, rel=1e-12)  # the float32 row
    assert "Projected 500-step training" in "\n".join(s.lines)


def test_summary_without_sections_says_so_and_keeps_the_rest() -> None:
    fake = fake_report(12.3, 293e-6, 0.784, 94.9e-6)
    only_gradients = dataclasses.replace(fake, trajectory=None, timing=None, scaling=None, lesson=None)
    text = "\n".join(build(only_gradients).lines)
    assert "timing section was not run" in text
    assert "Projected" not in text and "Actually trained" not in text and "P^" not in text
    assert "agree to 7e-15" in text
    bare = build(dataclasses.replace(only_gradients, gradients=None))
    assert bare.lines  # P and the 2P count need no measurement


def test_summary_reports_a_failed_agreement() -> None:
    fake = fake_report(12.3, 293e-6, 0.784, 94.9e-6)
    fake.gradients.rows = gradient_rows("numerical", "backprop", [1e-9, 1e-9, 1e-9, 0.5], ok=False)
    text = "\n".join(build(fake).lines)
    assert "found a difference" in text and "FAIL" in text and "same gradient" not in text


@pytest.mark.parametrize(
    "seconds, words",
    [
        (123_000.0, "≈34 hours"),
        (2.93, "≈2.9 seconds"),
        (600.0, "≈10 minutes"),
        (4 * 86_400.0, "≈4 days"),
        (0.05, "≈50 milliseconds"),
        (3e-5, "≈30 microseconds"),
        (0.13, "≈130 milliseconds"),  # never "1.3e+02"
        (1.2e8, "≈1,400 days"),
    ],
)
def test_plain_duration(seconds: float, words: str) -> None:
    assert plain_duration(seconds) == words


# -- charts, CSV, the command line, the page ---------------------------------------------------------------


@pytest.mark.skipif(not plots.available(), reason="matplotlib is not installed (the plot extra)")
def test_charts_are_written_as_png(
    tmp_path: Path, tiny_study: tuple[ScalingSection, list[str]], sweep: LessonSection
) -> None:
    fake = dataclasses.replace(fake_report(12.3, 293e-6, 0.784, 94.9e-6), scaling=tiny_study[0], lesson=sweep)
    written = plots.write_plots(fake, tmp_path / "charts")
    names = sorted(p.name for p in written)
    assert names == ["accuracy.png", "lesson.png", "loss-time.png", "losses.png", "scaling.png"]
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [MANIFEST, *names]  # no temporary files left
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, path


def test_plot_option_without_matplotlib_fails_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(plots, "available", lambda: False)
    monkeypatch.setattr(harness, "run", lambda *a, **k: pytest.fail("ran before checking --plot"))
    assert main(["--only", "lesson", "--plot", str(tmp_path / "p"), "--threads", "1", "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: --plot needs matplotlib") and err.count("\n") == 1


@pytest.mark.skipif(not plots.available(), reason="matplotlib is not installed (the plot extra)")
def test_lesson_section_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--only", "lesson", "--hidden-size", "10", "--threads", "1", "--no-progress"]
    argv += ["--plot", str(tmp_path / "plots"), "--csv", str(tmp_path / "csv")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "== 5. The float32 lesson" in out and "Why backprop?" in out
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [MANIFEST, "lesson.png"]
    lines = (tmp_path / "csv" / "lesson.csv").read_text().splitlines()
    assert lines[0] == "dtype,h,max_abs,rel,median_abs" and len(lines) == 1 + 2 * len(lesson.H_VALUES)


def test_csv_of_the_study(tmp_path: Path, tiny_study: tuple[ScalingSection, list[str]]) -> None:
    section = tiny_study[0]
    only = dataclasses.replace(
        fake_report(12.3, 293e-6, 0.784, 94.9e-6), gradients=None, trajectory=None, timing=None, lesson=None
    )
    csvfiles.write_csv(tmp_path, dataclasses.replace(only, scaling=section))
    lines = (tmp_path / "scaling.csv").read_text().splitlines()
    assert len(lines) == 1 + len(section.points)
    assert lines[0].split(",")[0] == "series" and lines[0].endswith(",slope")


def full_report(study: ScalingSection, sweep: LessonSection) -> Report:
    full = dataclasses.replace(fake_report(12.3, 293e-6, 0.784, 94.9e-6), scaling=study, lesson=sweep)
    full.summary = build(full)
    return full


def test_page_renders_every_result(tiny_study: tuple[ScalingSection, list[str]], sweep: LessonSection) -> None:
    full = full_report(tiny_study[0], sweep)
    charts = {"scaling.png": "why-backprop/scaling.png", "lesson.png": "why-backprop/lesson.png"}
    page = render_doc(full, charts)
    for title in ("## The answer in numbers", "## 1. How the cost grows", "## 2. One gradient", "## 3. The float32"):
        assert title in page
    assert "![time per gradient against P" in page and "(why-backprop/lesson.png)" in page
    assert "\n".join(f"- {line}" for line in full.summary.lines) in page
    assert COMMAND in page
    assert "![" not in render_doc(full, {})  # no charts: no image links
    assert "[glossary](glossary.md)" in page  # the terms are explained beside the page


def test_teach_from_a_saved_run_renders_the_same_page(
    tmp_path: Path, tiny_study: tuple[ScalingSection, list[str]], sweep: LessonSection, capsys
) -> None:
    full = full_report(tiny_study[0], sweep)
    saved = tmp_path / "run.json"
    saved.write_text(full.to_json(), encoding="utf-8")
    doc = tmp_path / "page.md"
    assert teach.main(["--doc", str(doc), "--from", str(saved), "--no-plots", "--threads", "1"]) == 0
    threads = "" if RunConfig().threads == 1 else " --threads 1"  # the command names only options not at default
    command = f"python -m compare.teach --doc {doc}{threads} --no-plots --from {saved}"
    assert doc.read_text(encoding="utf-8") == render_doc(full, {}, command)
    assert capsys.readouterr().out == f"wrote {doc} and {tmp_path / 'glossary.md'}\n"
    assert (tmp_path / "glossary.md").read_text(encoding="utf-8").startswith("# Glossary\n")


def test_teach_refuses_a_file_of_another_schema_version(tmp_path: Path, capsys) -> None:
    saved = tmp_path / "run.json"
    older = min(READABLE_VERSIONS) - 1  # older than any version this code reads
    saved.write_text(json.dumps({"schema_version": older}), encoding="utf-8")
    assert teach.main(["--doc", str(tmp_path / "page.md"), "--from", str(saved), "--no-plots"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1
    assert f"schema version {older}" in err, err
    assert not (tmp_path / "page.md").exists()


@pytest.mark.parametrize(
    "x, digits, text", [(1e-4, 1, "1e-4"), (2.2e-3, 2, "2.2e-3"), (7.02e-8, 1, "7e-8"), (-500.0, 1, "-5e2")]
)
def test_sci(x: float, digits: int, text: str) -> None:
    assert sci(x, digits) == text


@pytest.mark.parametrize("ratio, text", [(43_232.7, "43,200"), (4.666, "4.67"), (1.9e7, "19,000,000"), (123.4, "123")])
def test_times(ratio: float, text: str) -> None:
    assert times(ratio) == text


def test_summary_warns_when_timings_are_noisy_or_slopes_implausible() -> None:
    quiet = fake_report(12.3, 293e-6, own_num_s=0.784, own_bp_s=94.9e-6)
    text = "\n".join(build(quiet).lines)
    assert "Caution" not in text
    busy = fake_report(12.3, 293e-6, own_num_s=0.784, own_bp_s=94.9e-6)
    busy.timing.rows[1].noisy = True
    busy.scaling.fits[1].slope = -0.87  # what a loaded machine produced once
    busy.scaling.fits[1].claim = "implausible"
    text = "\n".join(build(busy).lines)
    assert "Caution: 1 timing(s) were noisy" in text and "the cost growth of backprop could not be measured" in text
