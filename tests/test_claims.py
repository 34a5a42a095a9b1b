"""Numbers a user can rely on: the thread default, the load average, the noise caution, claims in words.

Run: ``python -m pytest tests/test_claims.py``. The summary and the tables are fed made-up
measurements whose slopes, spreads and noisy rows are set here, so each test knows what the
words must and must not say; the load average is faked where its value matters. Nothing here
times anything.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from compare import env, harness, registry, resources
from compare.config import RunConfig, build_parser
from compare.report import text
from compare.report.model import (
    SCHEMA_VERSION,
    Env,
    LossCount,
    Report,
    ScalingPoint,
    ScalingSection,
    TimingRow,
    TimingSection,
)
from compare.run import parse_args
from compare.sections import claims, scaling, slopefit, summary

REPO = Path(__file__).resolve().parents[1]
BOOK = "784-50-10 x100"
OWN = "64-50-10 x100"
HIDDEN = (25, 50, 100)  # the reduced study's hidden sizes at input 784, output 10
pytestmark = pytest.mark.usefixtures("one_thread")


# -- made-up measurements ------------------------------------------------------------------------------------------


def machine(threads: int = 1, load_start: list[float] | None = None, load_end: list[float] | None = None) -> Env:
    return Env(
        "a CPU", 2, threads, f"openblas {threads}", threads, "3.11.7", {"numpy": "2.4.6", "torch": "2.13.0"},
        "openblas", ["cpu"], [], None, "2026-01-01 00:00:00 UTC", 0, version="0.1.0", usable_cpus=2,
        load_start=load_start, load_end=load_end,
    )  # fmt: skip


def timing_row(shape: str, label: str, median_s: float, noisy: bool = False, dtype: str = "float64") -> TimingRow:
    p = summary.n_params_of(shape)
    method = label.split("[")[0]
    iqr = 0.3 * median_s if noisy else 0.02 * median_s
    return TimingRow(
        method=method, label=label, device="cpu", dtype=dtype, threads=1, shape=shape, n_params=p,
        median_s=median_s, iqr_s=iqr, min_s=median_s - iqr, runs=9, loops=1, noisy=noisy,
        estimated=method == "numerical", sampled=200 if method == "numerical" else p,
        ratio_fastest=1.0, ratio_numerical=1.0,
    )  # fmt: skip


def point_rows(seconds: list[float], iqr: float) -> list[TimingRow]:
    """The timed rows of one method at the hidden sizes: ``seconds`` each, IQR a fraction ``iqr`` of it."""
    rows = []
    for h, s in zip(HIDDEN, seconds, strict=True):
        row = timing_row(f"784-{h}-10 x100", "backprop", s)
        row.iqr_s, row.noisy = iqr * s, iqr > 0.10
        rows.append(row)
    return rows


def study(series: dict[str, list[float]], iqr: float = 0.02) -> ScalingSection:
    """A cost-growth section over the hidden sizes: method -> its times; fits made by the section's own code."""
    points, fits = [], []
    for method, seconds in series.items():
        rows = point_rows(seconds, iqr)
        for h, row in zip(HIDDEN, rows, strict=True):
            points.append(
                ScalingPoint(
                    "hidden", method, f"784-{h}-10", 784, h, 10, 100, row.n_params, 1, row.median_s, row.iqr_s,
                    row.min_s, row.noisy, False, row.n_params,
                )
            )  # fmt: skip
        fits.append(scaling.fit_of("hidden", method, 2.0 if method == "numerical" else 1.0, rows))
    count = LossCount("16-8-10", 226, 452)
    return ScalingSection("reduced", scaling.REDUCED_PLAN, 100, 1, list(series), points, fits, count)


def power(p0: float, slope: float, factor: float = 1.0) -> list[float]:
    """Times ∝ P ** slope at the hidden sizes, starting at ``p0`` seconds (the last one times ``factor``)."""
    sizes = [784 * h + h + 10 * h + 10 for h in HIDDEN]
    out = [p0 * (p / sizes[0]) ** slope for p in sizes]
    out[-1] *= factor
    return out


def report_of(timing_rows: list[TimingRow], section: ScalingSection | None, machine_env: Env | None = None) -> Report:
    r = Report(SCHEMA_VERSION, True, machine_env or machine(), RunConfig(threads=1), ["cpu"], "64-50-10")
    r.timing = TimingSection(timing_rows) if timing_rows else None
    r.scaling = section
    r.summary = summary.build(r, iters=10_000, h=1e-4, dtype="float64", book_shape=BOOK)
    return r


def quiet_rows() -> list[TimingRow]:
    return [timing_row(BOOK, "numerical", 12.3), timing_row(BOOK, "backprop", 293e-6)]


def said(r: Report) -> str:
    return "\n".join(r.summary.lines)


# -- 1. the thread default ------------------------------------------------------------------------------------------


def test_the_thread_default_is_the_one_the_help_and_the_docs_state() -> None:
    default = RunConfig().threads
    assert parse_args([]).threads == default
    option = next(a for a in build_parser()._actions if "--threads" in a.option_strings)
    stated = re.search(r"default: (\d+) thread", option.help % {"default": option.default})
    assert stated, option.help
    assert int(stated.group(1)) == default
    page = (REPO / "docs" / "speed.md").read_text(encoding="utf-8")
    assert f"`--threads` defaults to {default}" in page


def test_the_thread_default_stays_within_the_cpus_this_process_may_use() -> None:
    assert 1 <= RunConfig().threads <= resources.usable_cpus()


# -- 2. the load average in the report ------------------------------------------------------------------------------


def test_the_load_average_at_start_and_end_is_in_the_json_and_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    given_out: list[tuple[float, float, float]] = []

    def rising() -> tuple[float, float, float]:
        value = (1.5 + len(given_out), 1.25, 0.75)  # a different figure at each call
        given_out.append(value)
        return value

    monkeypatch.setattr(env.os, "getloadavg", rising)
    cfg = RunConfig(only=("gradients",), hidden_size=4, iters=2, threads=1, progress=False, switches={"jax": False})
    report = harness.run(cfg)
    # a configuration built in code names one switch; the report holds every one as the run used it
    assert set(report.config.switches) == {fw.name for fw in registry.FRAMEWORKS if fw.switch} and cfg.switches == {
        "jax": False
    }
    assert report.config.switches["jax"] is False and report.config.switches["torch.compile"] is False
    assert report.env.load_start == list(given_out[0]) and report.env.load_end == list(given_out[-1])
    assert report.env.load_start != report.env.load_end
    data = json.loads(report.to_json())
    assert data["env"]["load_start"] == list(given_out[0]) and data["env"]["load_end"] == list(given_out[-1])
    assert data["env"]["usable_cpus"] == resources.usable_cpus()
    first, last = given_out[0], given_out[-1]
    line = (
        f"load average (1, 5, 15 min): {first[0]:.2f} 1.25 0.75 at the start, {last[0]:.2f} 1.25 0.75 at the end; "
        f"{resources.usable_cpus()} CPU"
    )
    assert line in "\n".join(text.header_lines(Report.from_json(report.to_json())))


def test_a_report_without_the_load_average_still_loads_and_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    def none() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(env.os, "getloadavg", none)
    assert env.load_average() is None
    saved = json.loads(report_of(quiet_rows(), None, machine(load_start=[0.5, 0.5, 0.5])).to_json())
    for name in ("load_start", "load_end", "usable_cpus"):
        del saved["env"][name]  # a file written before these fields existed
    old = Report.from_json(json.dumps(saved))
    assert old.env.load_start is None and saved["schema_version"] == SCHEMA_VERSION
    assert "load average" not in text.render(old)


# -- 3. the caution: every ! counted, the likely cause and the remedy named ----------------------------------------


def marks_shown(rendered: str) -> int:
    """The ``!`` marks in the report's tables (everything before the summary, whose caution quotes them)."""
    tables_part = rendered.split("Why backprop?")[0]
    return len(re.findall(r" !(?=\s|\|)", tables_part))


def caution_count(r: Report) -> int:
    found = re.search(r"Caution: (\d+) timing\(s\) were noisy", said(r))
    assert found, said(r)
    return int(found.group(1))


@pytest.mark.parametrize("fmt", ["simple", "github"])
def test_the_caution_counts_every_mark_in_the_tables_shown(fmt: str) -> None:
    rows = [
        timing_row(BOOK, "numerical", 12.3),
        timing_row(BOOK, "backprop", 293e-6, noisy=True),
        timing_row(BOOK, "backprop[float32]", 150e-6, noisy=True, dtype="float32"),
        timing_row(BOOK, "autograd[cpu,float64]", 500e-6, noisy=True),
        timing_row(OWN, "numerical", 0.5, noisy=True),
        timing_row(OWN, "backprop", 100e-6),
        timing_row(OWN, "jax[cpu,float64]", 150e-6, noisy=True),
    ]
    section = study({"numerical": power(4.0, 1.9), "backprop": power(200e-6, 0.8)}, iqr=0.3)  # 6 noisy points
    r = report_of(rows, section)
    rendered = text.render(r, fmt)
    assert marks_shown(rendered) == 5 + 6
    assert caution_count(r) == marks_shown(rendered)
    assert "5 in the timing tables and 6 in the cost-growth tables" in said(r)


def test_the_caution_names_other_work_and_fewer_threads_on_a_loaded_machine() -> None:
    rows = [timing_row(BOOK, "numerical", 12.3), timing_row(BOOK, "backprop", 2e-3, noisy=True)]
    r = report_of(rows, None, machine(threads=2, load_start=[3.4, 2.0, 1.0], load_end=[5.6, 3.0, 1.5]))
    words = said(r)
    assert "other work on the machine" in words and "load average 3.40 at the start, 5.60 at the end" in words
    assert "--threads 1" in words and r.summary.numbers["caution"]["cause"] == "load"


def test_the_caution_on_an_idle_machine_names_the_threads_or_the_run_itself() -> None:
    rows = [timing_row(BOOK, "numerical", 12.3), timing_row(BOOK, "backprop", 2e-3, noisy=True)]
    two = report_of(rows, None, machine(threads=2, load_start=[0.1, 0.1, 0.1], load_end=[2.1, 1.0, 0.5]))
    assert two.summary.numbers["caution"]["cause"] == "threads" and "--threads 1 (the default)" in said(two)
    one = report_of(rows, None, machine(threads=1, load_start=[0.1, 0.1, 0.1], load_end=[1.1, 0.5, 0.2]))
    assert one.summary.numbers["caution"]["cause"] == "quiet"
    assert "shows no other work" in said(one) and "--threads 1" not in said(one)


def test_a_slope_alone_does_not_make_a_caution_about_zero_noisy_timings() -> None:
    drifted = study({"numerical": power(4.0, 1.9), "backprop": power(400e-6, -0.5)})  # narrow, but shrinking
    r = report_of(quiet_rows(), drifted, machine(load_start=[2.9, 1.0, 0.5], load_end=[3.0, 1.0, 0.5]))
    words = said(r)
    assert "0 timing(s)" not in words
    assert "Caution: no timing was noisy, but the cost growth of backprop could not be measured" in words


def test_no_caution_when_nothing_is_noisy_and_the_slopes_hold() -> None:
    r = report_of(quiet_rows(), study({"numerical": power(4.0, 1.9), "backprop": power(200e-6, 0.8)}))
    assert "Caution" not in said(r) and "caution" not in r.summary.numbers


# -- 4. claims in words follow from the measured numbers and their spread ------------------------------------------


def test_slopes_with_an_outlier_are_not_quoted_as_growth() -> None:
    """1.14 and 0.47 with an outlier in the table (a busy machine's run): no measured P², no doubling factor."""
    section = study({"numerical": [4.35, 16.3, 21.1], "backprop": [200e-6, 419e-6, 384e-6]})
    fits = {f.method: f for f in section.fits}
    assert fits["numerical"].slope == pytest.approx(1.14, abs=0.01)
    assert fits["backprop"].slope == pytest.approx(0.47, abs=0.01)
    assert fits["numerical"].claim == "scatter" and fits["backprop"].claim == "scatter"
    words = said(report_of(quiet_rows(), section))
    assert "grows with P²" not in words and "doubling" not in words
    assert "the numerical gradient's growth cannot be quoted: it fitted P^1.14" in words
    assert "backprop's growth cannot be quoted: it fitted P^0.47" in words
    assert "In theory its cost grows with P and the numerical gradient's with P²" in words
    assert "this run's times could not confirm it" in words


def test_a_shrinking_time_is_not_told_as_a_speed_up() -> None:
    """A backprop slope of -0.5, measured tightly, once told a learner that doubling the layer makes it 0.7× as slow."""
    section = study({"numerical": power(4.0, 1.9), "backprop": power(400e-6, -0.515)})
    assert next(f for f in section.fits if f.method == "backprop").claim == "implausible"
    words = said(report_of(quiet_rows(), section))
    assert "0.7×" not in words and "backprop's growth cannot be quoted" in words


def test_supported_slopes_are_quoted_with_their_range() -> None:
    section = study({"numerical": power(4.0, 1.9), "backprop": power(200e-6, 0.8)})
    fits = {f.method: f for f in section.fits}
    assert all(f.claim == "measured" for f in fits.values())
    num = fits["numerical"]
    assert num.slope_low < 1.9 < num.slope_high and num.slope_high - num.slope_low < 0.1  # IQRs of 2%: a narrow range
    words = said(report_of(quiet_rows(), section))
    span = f"{num.slope_low:.2f}–{num.slope_high:.2f}"
    assert f"the numerical gradient's time grows as P^1.90 (range {span})" in words
    assert f"about {2**1.9:.1f}× slower ({2**num.slope_low:.1f}–{2**num.slope_high:.1f}×)" in words
    assert "this run measured P^1.90 against backprop's P^0.80" in words


def test_noisy_times_widen_the_range_until_the_slope_is_not_quoted() -> None:
    section = study({"numerical": power(4.0, 1.9), "backprop": power(200e-6, 0.8)}, iqr=0.6)
    assert {f.claim for f in section.fits} == {"noisy"}
    assert "cannot be quoted" in said(report_of(quiet_rows(), section))


def test_the_speed_up_is_quoted_with_the_range_the_two_iqrs_allow() -> None:
    rows = [timing_row(BOOK, "numerical", 12.0), timing_row(BOOK, "backprop", 300e-6, noisy=True)]
    words = said(report_of(rows, None))
    low = (12.0 - 0.12) / (300e-6 + 45e-6)  # numerical IQR 2%, backprop 30%: each median ± IQR / 2
    high = (12.0 + 0.12) / (300e-6 - 45e-6)
    assert f"backprop is 40,000× faster ({summary.times(low)}–{summary.times(high)}×" in words
    assert "backprop 300 µs (noisy: IQR 30% of the median)" in words
    assert "a projection from noisy times" in words


@given(
    sizes=st.lists(st.floats(10.0, 1e6), min_size=3, max_size=6, unique=True),
    slope=st.floats(-1.0, 3.0),
    spreads=st.lists(st.floats(0.0, 0.9), min_size=6, max_size=6),
    where=st.lists(st.floats(-0.5, 0.5), min_size=6, max_size=6),
)
def test_the_slope_range_holds_every_fit_through_the_iqr_bands(
    sizes: list[float], slope: float, spreads: list[float], where: list[float]
) -> None:
    """Times moved anywhere inside their bands (median ± IQR / 2) give slopes inside the band's range."""
    n = len(sizes)
    assume(max(sizes) / min(sizes) > 1.5)  # sizes far enough apart for the logarithms to differ
    medians = [1e-3 * (s / min(sizes)) ** slope for s in sizes]
    iqrs = [m * k for m, k in zip(medians, spreads[:n], strict=False)]
    r = slopefit.slope_range(sizes, medians, iqrs)
    inside = [m + w * q for m, w, q in zip(medians, where[:n], iqrs, strict=False)]
    moved = slopefit.fit_slope(sizes, inside).slope
    tol = 1e-9 * (1 + abs(moved))  # float rounding of the logarithms
    assert r.low + 2 * r.scatter - tol <= moved <= r.high - 2 * r.scatter + tol
    assert r.scatter == pytest.approx(0.0, abs=1e-9)  # the medians lie on a power law


def test_the_judgement_of_a_slope() -> None:
    tight = slopefit.SlopeRange(1.8, 2.0, 0.2, 0.0)
    assert slopefit.judge_slope(1.9, 3, tight) == "measured"
    assert slopefit.judge_slope(1.9, 2, tight) == "few-sizes"
    assert slopefit.judge_slope(math.nan, 3, None) == "few-sizes"
    assert slopefit.judge_slope(-0.5, 3, slopefit.SlopeRange(-0.6, -0.4, 0.2, 0.0)) == "implausible"
    assert slopefit.judge_slope(1.9, 3, slopefit.SlopeRange(1.0, 2.8, 1.8, 0.0)) == "noisy"
    assert slopefit.judge_slope(1.9, 3, slopefit.SlopeRange(1.0, 2.8, 0.1, 0.4)) == "scatter"
    assert slopefit.judge_slope(1.9, 3, slopefit.SlopeRange(-np.inf, np.inf, np.inf, 0.0)) == "noisy"


def test_the_busy_threshold_leaves_room_for_the_runs_own_threads() -> None:
    assert claims.likely_cause(machine(threads=1, load_start=[1.2, 1, 1], load_end=[2.2, 1, 1])) == "quiet"
    assert claims.likely_cause(machine(threads=1, load_start=[1.6, 1, 1], load_end=[1.0, 1, 1])) == "load"
    assert claims.likely_cause(machine(threads=1, load_start=[0.2, 0, 0], load_end=[2.6, 1, 1])) == "load"
    assert claims.likely_cause(machine(threads=2, load_start=[0.6, 0, 0], load_end=[2.0, 1, 1])) == "load"
    assert claims.likely_cause(machine(threads=1)) == "no-load"


@pytest.mark.parametrize(
    ("versions", "line"),
    [
        ({"numpy": "2.4.6", "torch": "2.13.0"}, "numpy 2.4.6 (BLAS: openblas), torch 2.13.0, Python 3.11.7;"),
        ({"torch": "2.13.0", "jax": "0.4.30"}, "torch 2.13.0, jax 0.4.30, BLAS: openblas, Python 3.11.7;"),
        ({}, "BLAS: openblas, Python 3.11.7;"),
    ],
    ids=["numpy and torch", "no numpy", "none"],
)
def test_the_header_names_each_frameworks_version_and_the_blas_once(versions: dict, line: str) -> None:
    """Every version the report holds, in its order; numpy's BLAS beside it, or on its own without numpy."""
    env = machine()
    env.versions = versions
    report = Report(SCHEMA_VERSION, True, env, RunConfig(), ["cpu"], "64-50-10")
    (shown,) = [x for x in text.header_lines(report) if "Python" in x]
    assert shown.startswith(line) and shown.count("BLAS") == 1, shown
