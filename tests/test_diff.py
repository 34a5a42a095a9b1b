"""Saved timings that can be judged again, and ``compare.report diff`` as a gate for CI.

Run: ``python -m pytest tests/test_diff.py``. Four parts:

1. raw values: every timing row (and cost-growth point) keeps each timed run's time, the JSON
   keeps them, and a version-2 report (without them) still loads;
2. the rank test: its p-values against scipy's (when scipy is installed), its null distribution
   against enumeration, its interval against its p-value;
3. ``diff``'s verdicts on synthetic reports where the rank test and the older IQR rule disagree,
   and the warnings when two runs are not comparable;
4. ``diff --fail-slower FACTOR``: exit 1 on a row slower beyond FACTOR and noise, 0 otherwise,
   2 for a FACTOR that is not a number above 1, 3 when no row can be judged.

No test times anything against a clock: the reports of parts 3 and 4 are made of chosen numbers.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compare.config import RunConfig
from compare.engine.timer import summarize
from compare.report.__main__ import main as report_main
from compare.report.model import SCHEMA_VERSION, Env, Report, TimingRow, TimingSection

REPO = Path(__file__).resolve().parents[1]
BOOK = "784-50-10 x100"

# Two samples of 9 runs whose medians lie far apart against their interquartile ranges (the older
# rule: beyond noise), while their ranks interleave (32 of 81 pairs in A's favour: p ~ 0.5).
TAILS_A = [0.90, 0.95, 1.000, 1.001, 1.002, 1.003, 1.004, 3.0, 3.1]
TAILS_B = [0.10, 0.20, 1.100, 1.101, 1.102, 1.103, 1.104, 1.2, 1.3]
# Two evenly spread samples, B = A + 1.3: the medians are closer than the sum of the IQRs (the older
# rule: within noise), yet only 3 of 81 pairs have A above B (exact p = 14 / 48620 ~ 2.9e-4).
SPREAD_A = [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6]
SPREAD_B = [v + 1.3 for v in SPREAD_A]
# Steady runs of about 1 ms (within 1%), in an order that is not sorted.
STEADY = [1.000e-3, 1.004e-3, 0.998e-3, 1.007e-3, 1.001e-3, 0.996e-3, 1.003e-3, 1.009e-3, 1.002e-3]


def environment(cpu: str = "a CPU", numpy: str = "2.4.6") -> Env:
    return Env(
        cpu, 2, 2, "openblas 2", 2, "3.11.7", {"numpy": numpy, "torch": "2.13.0"}, "scipy-openblas 0.3.31",
        ["cpu"], [], None, "2026-01-01 00:00:00 UTC", 0,
    )  # fmt: skip


def row(label: str, samples: list[float], shape: str = BOOK) -> TimingRow:
    """A timing row made of chosen per-run times, summarized as the timer summarizes a measurement."""
    t = summarize(samples)
    return TimingRow(
        method="backprop", label=label, device="cpu", dtype="float64", threads=2, shape=shape, n_params=39_760,
        median_s=t.median_s, iqr_s=t.iqr_s, min_s=t.min_s, samples_s=list(samples), runs=t.runs, loops=1,
        noisy=t.noisy, estimated=False, sampled=39_760, ratio_fastest=math.nan, ratio_numerical=math.nan,
    )  # fmt: skip


def report(rows: list[TimingRow], dataset: str = "digits", shape: str = "64-50-10", **env: str) -> Report:
    cfg = RunConfig(dataset=dataset, threads=2, only=("timing",))
    return Report(SCHEMA_VERSION, True, environment(**env), cfg, ["cpu"], shape, timing=TimingSection(rows))


def save(path: Path, r: Report) -> str:
    path.write_text(r.to_json(), encoding="utf-8")
    return str(path)


def diff_of(tmp_path: Path, a: Report, b: Report, *options: str, capsys) -> tuple[int, str, str]:
    """``compare.report diff A B [options]`` in-process: (exit status, stdout, stderr)."""
    status = report_main(["diff", save(tmp_path / "a.json", a), save(tmp_path / "b.json", b), *options])
    out, err = capsys.readouterr()
    return status, out, err


def line_of(out: str, label: str) -> str:
    return next(x for x in out.splitlines() if x.startswith(f"{label} "))


def cell(out: str, label: str, column: str) -> str:
    """The value under ``column`` in the timing table (tabulate "simple": a column starts where its header does)."""
    header = next(x for x in out.splitlines() if x.startswith("method "))
    start = re.search(rf"(?<= ){re.escape(column)}(?= |$)", header).start()  # "p", not the p of "shape"
    return line_of(out, label)[start:].split()[0]


# -- 1. raw values ----------------------------------------------------------------------------------------


def test_timing_rows_keep_every_timed_runs_time(one_thread) -> None:
    from compare.engine.builtin_runners import BACKPROP, NUMERICAL, builtin_info, builtin_runner
    from compare.engine.gradient_timing import Shape, time_runners
    from impl_numpy import init_params

    shape = Shape(10, 4, 3, 5)  # P = 63: the book's loop is timed on 8 of them and scaled by 63 / 8
    params = init_params(10, 4, 3, seed=0)
    x = np.random.default_rng(0).random((5, 10))  # (N, D)
    t = np.arange(5) % 3  # (N,)
    runners = [builtin_runner(builtin_info(f), params, "sigmoid") for f in (NUMERICAL, BACKPROP)]
    rows = time_runners(runners, x, t, shape, threads=1, sample=8, runs=4)
    assert [r.estimated for r in rows] == [True, False]
    for r in rows:
        assert len(r.samples_s) == r.runs == 4 and all(v > 0 for v in r.samples_s)
        q1, med, q3 = np.percentile(r.samples_s, [25, 50, 75])  # the row's figures are those of its raw values
        assert r.median_s == pytest.approx(med, rel=1e-12)  # scaled before or after: a few ulps apart
        assert r.iqr_s == pytest.approx(q3 - q1, rel=1e-9, abs=1e-15)  # a difference: its rounding, relative to q3
        assert r.min_s == pytest.approx(min(r.samples_s), rel=1e-12)
    saved = Report.from_json(report(rows).to_json())
    assert [r.samples_s for r in saved.timing.rows] == [r.samples_s for r in rows]  # the JSON keeps them


def test_cost_growth_points_keep_every_timed_runs_time(one_thread) -> None:
    from compare.report.model import ScalingPlan
    from compare.sections.scaling import StudySettings, run_study

    plan = ScalingPlan(hidden_sizes=(4, 8), input_sizes=(), input_size=30, sample=20, runs=3, fast=False, torch=False)
    section = run_study(plan, StudySettings(batch_size=10))
    assert section.points
    for p in section.points:
        assert len(p.samples_s) == 3 and p.median_s == pytest.approx(float(np.median(p.samples_s)), rel=1e-12)


def as_written_before_version_4(data: dict, version: int, jax: str | None = None) -> dict:
    """A report's JSON as versions 2 and 3 wrote it: a field per framework version, and jax and compile switches."""
    env, config = data["env"], data["config"]
    versions = env.pop("versions")
    env |= {"numpy": versions["numpy"], "torch": versions["torch"], "jax": jax}
    switches = config.pop("switches")
    config |= {"jax": switches.get("jax", True), "compile": switches.get("torch.compile", False)}
    return data | {"schema_version": version}


def test_a_version_3_report_keeps_its_versions_and_switches(tmp_path: Path, capsys) -> None:
    """env.numpy/torch/jax and config.jax/compile of a version-3 file are read as versions and switches."""
    data = json.loads(report([row("backprop", STEADY)]).to_json())
    data = as_written_before_version_4(data, 3, jax="0.4.30")
    data["config"] |= {"jax": False, "compile": True}
    old = tmp_path / "v3.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    loaded = Report.load(old)
    assert loaded.env.versions == {"numpy": "2.4.6", "torch": "2.13.0", "jax": "0.4.30"}
    assert loaded.config.switches == {"jax": False, "torch.compile": True}
    assert report_main(["diff", str(old), save(tmp_path / "b.json", report([row("backprop", STEADY)]))]) == 0
    warned = [x for x in capsys.readouterr().out.splitlines() if x.startswith("warning: not comparable: ")]
    assert warned == ["warning: not comparable: A had jax 0.4.30, B jax none"]  # B's header names no jax


def test_a_version_2_report_loads_and_is_judged_by_the_iqr_rule_saying_so(tmp_path: Path, capsys) -> None:
    data = json.loads(report([row("backprop", TAILS_A)]).to_json())
    data = as_written_before_version_4(data, 2)
    for r in data["timing"]["rows"]:
        del r["samples_s"]  # written before the raw values were kept
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    assert Report.load(old).timing.rows[0].samples_s == []
    status = report_main(["diff", str(old), save(tmp_path / "b.json", report([row("backprop", TAILS_B)]))])
    out, err = capsys.readouterr()
    assert status == 0 and err == "", err
    assert line_of(out, "backprop").rstrip().endswith("beyond noise (IQR)")  # medians apart beyond the IQRs
    assert cell(out, "backprop", "p") == "-" and "no raw values in A (every row)" in " ".join(out.split())


def test_a_file_of_a_version_this_code_does_not_read_is_refused(tmp_path: Path, capsys) -> None:
    data = json.loads(report([row("backprop", STEADY)]).to_json())
    data["schema_version"] = 1
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert report_main(["diff", str(path), str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "schema version 1" in err, err


# -- 2. the rank test -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def significance():
    from compare.report import significance

    return significance


@pytest.fixture(scope="module")
def scipy_stats():
    """scipy's statistics (installed with scikit-learn, in the test extra); the tests that need it skip without."""
    return pytest.importorskip("scipy.stats")


def test_null_counts_are_the_orderings_counted_one_by_one(significance) -> None:
    for n, m in [(1, 1), (1, 4), (2, 3), (3, 3), (4, 5), (6, 2)]:
        counts = [0] * (n * m + 1)
        for a_positions in itertools.combinations(range(n + m), n):  # where A's values fall in the pooled order
            b_positions = [i for i in range(n + m) if i not in a_positions]
            counts[sum(1 for i in a_positions for j in b_positions if i > j)] += 1  # U: pairs with a above b
        assert list(significance.null_counts(n, m)) == counts, (n, m)


def test_known_p_values(significance) -> None:
    # Every value of A below every value of B: U = 0, and only 2 of the C(n + m, n) orderings are as extreme.
    assert significance.rank_test([1, 2, 3], [4, 5, 6]).p == pytest.approx(2 / 20, rel=1e-12)
    assert significance.rank_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p == pytest.approx(2 / 252, rel=1e-12)
    assert significance.rank_test(SPREAD_A, SPREAD_B).p == pytest.approx(14 / 48_620, rel=1e-12)
    assert significance.rank_test(TAILS_A, TAILS_B).p > 0.3
    assert significance.rank_test([1.0, 1.0], [1.0, 1.0, 1.0]).p == 1.0  # every value tied: nothing tells them apart


SMALL_TIED = st.lists(st.integers(0, 6), min_size=1, max_size=12)  # ties likely: the normal approximation
UNTIED = st.lists(st.integers(0, 10**6), min_size=1, max_size=70, unique=True)  # both branches by size


@settings(max_examples=300, deadline=None)
@given(a=SMALL_TIED, b=SMALL_TIED)
def test_p_values_match_scipy_with_ties(significance, scipy_stats, a: list[int], b: list[int]) -> None:
    assume(len(set(a + b)) > 1)  # every value tied: scipy has no p-value (0 / 0), this module says 1
    _against_scipy(significance, scipy_stats, a, b)


@settings(max_examples=200, deadline=None)
@given(pooled=UNTIED, cut=st.floats(0, 1))
def test_p_values_match_scipy_without_ties(significance, scipy_stats, pooled: list[int], cut: float) -> None:
    assume(len(pooled) >= 2)
    k = min(max(1, round(cut * len(pooled))), len(pooled) - 1)
    _against_scipy(significance, scipy_stats, pooled[:k], pooled[k:])


def _against_scipy(significance, stats, a: list[int], b: list[int]) -> None:
    mine = significance.rank_test(a, b)
    method = "exact" if mine.exact else "asymptotic"
    ref = stats.mannwhitneyu(a, b, alternative="two-sided", method=method, use_continuity=True)
    assert mine.u == ref.statistic
    # The same p in double precision either way (a ratio of integer counts; one normal tail): 1e-9 relative is
    # millions of ulps of slack, and far below any difference between the exact and the normal p (~1e-3).
    assert math.isclose(mine.p, ref.pvalue, rel_tol=1e-9, abs_tol=1e-15), (mine, ref.pvalue, method)


@settings(max_examples=200, deadline=None)
@given(pooled=st.lists(st.integers(1, 10**6), min_size=2, max_size=24, unique=True), cut=st.floats(0, 1))
def test_the_interval_excludes_ratio_1_exactly_when_p_is_at_most_alpha(significance, pooled, cut) -> None:
    k = min(max(1, round(cut * len(pooled))), len(pooled) - 1)
    a, b = pooled[:k], pooled[k:]  # distinct integers: no ratio b / a is exactly 1
    for alpha in (0.2, 0.05, 0.01):
        low, high = significance.ratio_interval(a, b, alpha)
        assert low <= high
        assert (low > 1 or high < 1) == (significance.rank_test(a, b).p <= alpha), (a, b, alpha, low, high)


def test_the_interval_brackets_a_known_factor(significance) -> None:
    low, high = significance.ratio_interval(STEADY, [2 * v for v in reversed(STEADY)], 0.01)
    assert 1.98 < low <= 2 <= high < 2.02  # every pairwise ratio lies within 2 × (1 ± 1.3%)


# -- 3. diff's verdicts and warnings ---------------------------------------------------------------------


def test_medians_apart_beyond_the_iqrs_but_interleaved_ranks_are_within_noise(tmp_path: Path, capsys) -> None:
    status, out, err = diff_of(
        tmp_path, report([row("backprop", TAILS_A)]), report([row("backprop", TAILS_B)]), capsys=capsys
    )
    assert status == 0 and err == "", err
    assert line_of(out, "backprop").rstrip().endswith("within noise")
    assert float(cell(out, "backprop", "p")) > 0.3


def test_medians_within_the_iqrs_but_separated_ranks_are_beyond_noise(tmp_path: Path, capsys) -> None:
    status, out, _ = diff_of(
        tmp_path, report([row("backprop", SPREAD_A)]), report([row("backprop", SPREAD_B)]), capsys=capsys
    )
    assert status == 0
    assert line_of(out, "backprop").rstrip().endswith("beyond noise")
    assert cell(out, "backprop", "p") == "2.9e-4"
    assert "p < 0.05 (5% shared by the 1 row compared)" in " ".join(out.split())


def test_alpha_is_shared_among_the_rows_compared(tmp_path: Path, capsys) -> None:
    """p = 2.88e-4 is beyond noise among 150 rows (alpha 0.05 / 150 = 3.3e-4), within noise among 200 (2.5e-4)."""
    for rows, verdict in ((150, "beyond noise"), (200, "within noise")):
        a = [row(f"m{i}", STEADY) for i in range(rows - 1)] + [row("backprop", SPREAD_A)]
        b = [row(f"m{i}", list(reversed(STEADY))) for i in range(rows - 1)] + [row("backprop", SPREAD_B)]
        status, out, _ = diff_of(tmp_path, report(a), report(b), capsys=capsys)
        assert status == 0 and line_of(out, "backprop").rstrip().endswith(verdict), (rows, line_of(out, "backprop"))
        assert f"p < {0.05 / rows:.2g} (5% shared by the {rows} rows compared)" in " ".join(out.split())


def test_too_few_runs_for_the_rank_test_fall_back_to_the_iqr_rule_saying_so(tmp_path: Path, capsys) -> None:
    a, b = [1.0, 1.01, 1.02], [2.0, 2.01, 2.02]  # 3 against 3: p cannot go below 0.1
    status, out, _ = diff_of(tmp_path, report([row("backprop", a)]), report([row("backprop", b)]), capsys=capsys)
    assert status == 0 and line_of(out, "backprop").rstrip().endswith("beyond noise (IQR)")
    assert "too few runs (3 against 3: p cannot go below 0.1)" in " ".join(out.split())


def test_odd_raw_values_fall_back_to_the_iqr_rule(tmp_path: Path, capsys) -> None:
    odd = row("backprop", STEADY)
    odd.samples_s[0] = math.nan  # a file edited by hand
    status, out, err = diff_of(tmp_path, report([odd]), report([row("backprop", STEADY)]), capsys=capsys)
    assert status == 0 and err == "" and line_of(out, "backprop").rstrip().endswith("(IQR)")
    assert "raw values that are not positive and finite" in " ".join(out.split())


def test_a_digits_run_against_an_mnist_run_warns_first(tmp_path: Path, capsys) -> None:
    a = report([row("backprop", STEADY)], dataset="digits", shape="64-50-10")
    b = report([row("backprop", STEADY)], dataset="mnist", shape="784-50-10")
    status, out, _ = diff_of(tmp_path, a, b, capsys=capsys)
    assert status == 0
    assert out.splitlines()[2:4] == [
        "warning: not comparable: A ran on digits, B on mnist",
        "warning: not comparable: A timed a 64-50-10 x100 net, B a 784-50-10 x100 net",
    ]


def test_other_machines_threads_and_versions_warn_and_the_same_setup_does_not(tmp_path: Path, capsys) -> None:
    a = report([row("backprop", STEADY)])
    b = report([row("backprop", STEADY)], cpu="another CPU", numpy="2.5.0")
    b.config.threads = b.env.threads = 1
    b.config.dtype, b.env.versions["torch"], b.devices = "float32", "2.14.0", ["cpu", "cuda"]
    _, out, _ = diff_of(tmp_path, a, b, capsys=capsys)
    warned = [x for x in out.splitlines() if x.startswith("warning: not comparable: ")]
    assert len(warned) == 6, warned
    expected = [
        "A ran in float64, B in float32",
        "A ran on a CPU (2 CPUs), B on another CPU (2 CPUs)",
        "A compared devices cpu, B cpu, cuda",
        "A ran with 2 threads (numpy: openblas 2; torch: 2), B with 1 thread (",
        "A had numpy 2.4.6, B numpy 2.5.0",
        "A had torch 2.13.0, B torch 2.14.0",
    ]
    for words in expected:
        assert any(words in w for w in warned), (words, warned)
    _, out, _ = diff_of(tmp_path, a, report([row("backprop", STEADY)]), capsys=capsys)
    assert "warning" not in out


# -- 4. --fail-slower ------------------------------------------------------------------------------------------


def slower(factor: float) -> Report:
    """B: STEADY times ``factor``, in another order, plus a row that did not change."""
    return report([row("backprop", [factor * v for v in reversed(STEADY)]), row("autograd", STEADY)])


def baseline() -> Report:
    """A: two rows of steady runs."""
    return report([row("backprop", STEADY), row("autograd", list(reversed(STEADY)))])


def test_fail_slower_exits_1_on_a_row_twice_as_slow_and_names_it(tmp_path: Path, capsys) -> None:
    status, out, err = diff_of(tmp_path, baseline(), slower(2.0), "--fail-slower", "1.5", capsys=capsys)
    assert status == 1 and err == "", err
    tail = out.splitlines()[-2:]
    assert tail[0] == "FAIL: 1 timing row of B slower than A by more than 1.5× beyond noise:"
    assert tail[1].startswith(f"  backprop {BOOK}: B / A 2 [1.9") and tail[1].endswith(", p 4.1e-5"), tail


def test_fail_slower_exits_0_on_a_row_1_2_times_as_slow(tmp_path: Path, capsys) -> None:
    status, out, _ = diff_of(tmp_path, baseline(), slower(1.2), "--fail-slower", "1.5", capsys=capsys)
    assert status == 0
    assert line_of(out, "backprop").rstrip().endswith("beyond noise")  # slower beyond noise, but not 1.5×
    assert (
        out.splitlines()[-1]
        == "OK: no timing row of B is slower than A by more than 1.5× beyond noise (2 timing rows compared)."
    )


def test_fail_slower_passes_a_twice_slower_median_that_lies_within_noise(tmp_path: Path, capsys) -> None:
    a = [1.0, 1.1, 1.2, 1.3, 1.4, 5.0, 5.1, 5.2, 5.3]  # median 1.4
    b = [0.5, 0.6, 0.7, 0.8, 2.8, 5.4, 5.5, 5.6, 5.7]  # median 2.8: twice A's, and the ranks interleave
    status, out, _ = diff_of(
        tmp_path, report([row("backprop", a)]), report([row("backprop", b)]), "--fail-slower", "1.5", capsys=capsys
    )
    assert cell(out, "backprop", "B / A") == "2" and line_of(out, "backprop").rstrip().endswith("within noise")
    assert status == 0


def test_fail_slower_without_raw_values_uses_the_iqr_rule_and_says_so(tmp_path: Path, capsys) -> None:
    b = slower(2.0)
    for r in b.timing.rows:
        r.samples_s = []
    status, out, _ = diff_of(tmp_path, baseline(), b, "--fail-slower", "1.5", capsys=capsys)
    assert status == 1 and out.splitlines()[-1] == f"  backprop {BOOK}: B / A 2, by the IQR rule"


def test_without_fail_slower_a_slower_row_exits_0(tmp_path: Path, capsys) -> None:
    status, out, _ = diff_of(tmp_path, baseline(), slower(2.0), capsys=capsys)
    assert status == 0 and line_of(out, "backprop").rstrip().endswith("beyond noise") and "FAIL" not in out


@pytest.mark.parametrize("factor", ["1", "0.5", "-2", "abc", "nan", "inf", ""])
def test_a_factor_that_is_not_a_number_above_1_is_bad_usage(tmp_path: Path, capsys, factor: str) -> None:
    status, out, err = diff_of(tmp_path, baseline(), slower(2.0), "--fail-slower", factor, capsys=capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: argument --fail-slower: ") and err.count("\n") == 1, err


def test_runs_that_are_not_comparable_are_still_gated_loudly(tmp_path: Path, capsys) -> None:
    """Another machine: the rows still match one for one, so the gate judges them; its last line says why to doubt."""
    b = slower(2.0)
    b.env.cpu = "another CPU"
    status, out, _ = diff_of(tmp_path, baseline(), b, "--fail-slower", "1.5", capsys=capsys)
    assert status == 1
    lines = out.splitlines()
    assert lines[2] == "warning: not comparable: A ran on a CPU (2 CPUs), B on another CPU (2 CPUs)"
    assert lines[-1] == "The runs are not comparable (machine: see the warnings above): a change may come from that."
    status, out, _ = diff_of(tmp_path, baseline(), b, "--fail-slower", "3", capsys=capsys)
    assert status == 0 and out.splitlines()[-1].endswith("a change may come from that.")


def test_no_matching_row_gives_no_verdict(tmp_path: Path, capsys) -> None:
    other = report([row("backprop", STEADY, shape="64-50-10 x100")])
    status, out, err = diff_of(tmp_path, baseline(), other, "--fail-slower", "1.5", capsys=capsys)
    assert status == 3 and err.count("\n") == 1 and "no timing row of B matches one of A" in err, err
    assert "only in " in out


def test_the_console_script_gates_too(tmp_path: Path) -> None:
    script = shutil.which("dlfs-report")
    if script is None:
        pytest.skip("dlfs-report is not installed (pip install -e .)")
    a, b = save(tmp_path / "a.json", baseline()), save(tmp_path / "b.json", slower(2.0))
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's code, whatever the script was installed from
    proc = subprocess.run(
        [script, "diff", a, b, "--fail-slower", "1.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # generous: the command answers in about a second
    assert proc.returncode == 1 and "FAIL: 1 timing row" in proc.stdout, proc.stderr


def test_a_report_written_by_version_3_code_loads_with_its_versions_and_switches(tmp_path: Path, capsys) -> None:
    """tests/data/report-v3.json: ``compare.run --only gradients --hidden-size 5 --compile`` before version 4."""
    source = Path(__file__).parent / "data" / "report-v3.json"
    raw = json.loads(source.read_text(encoding="utf-8"))
    assert raw["schema_version"] == 3 and "versions" not in raw["env"]  # the file is what version-3 code wrote
    r = Report.load(source)
    env = raw["env"]
    assert r.env.versions == {"numpy": env["numpy"], "torch": env["torch"], "jax": env["jax"]}
    assert r.config.switches == {"jax": raw["config"]["jax"], "torch.compile": raw["config"]["compile"]}
    assert r.gradients is not None and len(r.gradients.rows) == len(raw["gradients"]["rows"])
    assert report_main(["show", str(source)]) == 0
    assert f"numpy {env['numpy']} (BLAS: {env['blas']}), torch {env['torch']}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d["env"].pop("numpy"), "env.numpy: missing"),
        (lambda d: d["env"].update(versions={"numpy": "1"}), "env: unknown field 'versions'"),
        (lambda d: d["config"].update(switches={}), "config: unknown field 'switches'"),
        (lambda d: d["env"].update(torch=None), "env.versions.torch: expected str"),
        (lambda d: d["config"].update(jax="yes"), "config.switches.jax: expected bool"),
    ],
    ids=["no numpy", "a version-4 field", "a version-4 switch", "torch null", "a switch not a bool"],
)
def test_a_broken_version_3_report_is_refused_in_one_line(change, said: str, tmp_path: Path, capsys) -> None:
    """What version-3 code refused stays refused after the upgrade: exit 2, one line naming the field."""
    data = json.loads((Path(__file__).parent / "data" / "report-v3.json").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert report_main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and said in err, err
