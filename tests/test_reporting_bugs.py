"""Six reporting bugs that once went unnoticed by the suite, each pinned by a test that fails when it is planted.

Run: ``python -m pytest tests/test_reporting_bugs.py``. Each test feeds known values to one
step between a measurement and the printed report:

1. the gradient table's "max abs" and "max rel" columns (distinct known values, read by header position);
2. the P / k scaling of the book's loop timed on a sample of k parameters (a fixed fake timing);
3. the accuracy tolerance of a trajectory pair (one sample of difference passes, two fail);
4. the final-weights check in the verdict (identical losses, different final weights: FAILED);
5. the median of the timer (data whose median and quartile midpoint differ);
6. the numerical time budget (a fake clock: the run stops at the budget, final snapshot at the steps made).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from helpers import verdict_of

from compare.config import RunConfig
from compare.engine import gradient_timing as timing
from compare.engine import training
from compare.engine.agreement import trajectory_row
from compare.engine.builtin_runners import AUTOGRAD, BACKPROP, NUMERICAL, NumpyRunner, TorchRunner, builtin_info
from compare.engine.protocol import TrainRecord, batch_stream
from compare.engine.timer import Timing, summarize
from compare.harness import environment
from compare.report import tables, text
from compare.report.model import SCHEMA_VERSION, GradientRow, GradientSection, Report
from compare.run import main
from impl_numpy import init_params

pytestmark = pytest.mark.usefixtures("one_thread")


def bare_report(**sections) -> Report:
    """A report of this machine's environment and default options holding only ``sections``."""
    return Report(SCHEMA_VERSION, True, environment(0, 1, ["cpu"], None), RunConfig(), ["cpu"], "64-50-10", **sections)


# -- 1. the gradient table's columns ------------------------------------------------------------------


def cell(header: str, row: str, column: str) -> str:
    """The value under ``column`` in a tabulate "simple" table (columns start where their header starts)."""
    start = header.index(column)
    return row[start:].split()[0]


def test_gradient_table_shows_max_abs_and_max_rel_under_their_headers() -> None:
    row = GradientRow("numerical", "backprop", "W2", 1.25e-3, 6.5e-9, [3, 1], 0.5, 0.25, 1e-6, 1e-9, 0, True)
    section = GradientSection(loss=2.3, rows=[row], ok=True)
    head, rows = tables.gradient_table(section)
    assert rows[0][head.index("max abs")] == "1.25e-03"
    assert rows[0][head.index("max rel")] == "6.50e-09"
    assert rows[0][head.index("rtol")] == "1.00e-06"
    # and in the printed report, by the header's position
    lines = text.render(bare_report(gradients=section)).splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("param ") and "max abs" in line)
    assert lines[header + 2] == "A = numerical, B = backprop"  # the pair heads its rows
    printed = lines[header + 3]  # below the dashes and the pair
    assert cell(lines[header], printed, "max abs") == "1.25e-03"
    assert cell(lines[header], printed, "max rel") == "6.50e-09"
    assert cell(lines[header], printed, "A value") == "0.5" and cell(lines[header], printed, "B value") == "0.25"


# -- 2. the book's loop, timed on k of P parameters, scaled by P / k --------------------------------------


def test_sampled_book_loop_time_is_scaled_by_p_over_k(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = Timing(median_s=2e-3, iqr_s=1e-4, min_s=1.5e-3, runs=5, loops=1)
    monkeypatch.setattr(timing, "measure", lambda fn, **kw: fixed)
    shape = timing.Shape(8, 4, 3, 5)
    p, k = shape.n_params, 10  # P = 8·4 + 4 + 4·3 + 3 = 51
    assert p == 51
    params = init_params(8, 4, 3, seed=0)
    x = np.random.default_rng(0).random((5, 8))  # (N, D)
    t = np.arange(5) % 3  # (N,)
    runners = [NumpyRunner(builtin_info(f), params, "sigmoid") for f in (NUMERICAL, BACKPROP)]
    rows = {r.method: r for r in timing.time_runners(runners, x, t, shape, threads=1, sample=k, seed=0)}
    book = rows[NUMERICAL]
    assert book.estimated and book.sampled == k and book.n_params == p
    # P / k = 5.1 is not exact in binary: equal up to the rounding of one product
    assert book.median_s == pytest.approx(2e-3 * p / k, rel=1e-12)
    assert book.iqr_s == pytest.approx(1e-4 * p / k, rel=1e-12)
    assert book.min_s == pytest.approx(1.5e-3 * p / k, rel=1e-12)
    exact = rows[BACKPROP]  # timed whole: not scaled
    assert not exact.estimated and exact.sampled == p and exact.median_s == 2e-3
    assert book.ratio_fastest == pytest.approx(p / k, rel=1e-12)
    full = timing.time_runners(runners[:1], x, t, shape, threads=1, full=True, sample=k, seed=0)[0]
    assert not full.estimated and full.median_s == 2e-3  # --full: the whole loop, no scaling


def test_a_users_own_numerical_gradient_is_timed_in_one_call() -> None:
    """It cannot be sampled; 7 runs and a warm-up of it at 784-50-10 took minutes: one call, its row says 1 run."""
    from compare.engine.plugin_runner import FAMILY as PLUGIN
    from compare.engine.protocol import MethodInfo

    calls = []
    theirs = SimpleNamespace(
        info=MethodInfo("mine[numerical]", PLUGIN, "numerical", framework="user"),
        timed_gradient=lambda x, t: ((lambda: calls.append(1)), None),
    )
    shape = timing.Shape(8, 4, 3, 5)
    (row,) = timing.time_runners([theirs], np.zeros((5, 8)), np.zeros(5, dtype=int), shape, threads=1)
    assert len(calls) == 1 and row.runs == 1 and row.loops == 1 and not row.estimated
    assert row.median_s == row.min_s and row.iqr_s == 0.0


# -- 3. accuracy within one sample ----------------------------------------------------------------------


def record(train_acc: float, test_acc: float) -> TrainRecord:
    losses = 2.3 * np.exp(-np.linspace(0.0, 1.0, 20))  # (20,)
    return TrainRecord(losses, [0, 15], np.array([0.1, train_acc]), np.array([0.1, test_acc]))


N_TRAIN, N_TEST = 1500, 297
PAIR = (builtin_info(BACKPROP), builtin_info(AUTOGRAD))


@pytest.mark.parametrize(
    ("d_train", "d_test", "ok"),
    [(0, 0, True), (1, 0, True), (0, 1, True), (1, 1, True), (2, 0, False), (0, 2, False)],
)
def test_accuracy_may_differ_by_one_sample_not_two(d_train: int, d_test: int, ok: bool) -> None:
    a = record(0.5, 0.5)
    b = record(0.5 + d_train / N_TRAIN, 0.5 + d_test / N_TEST)
    row = trajectory_row(*PAIR, a, b, n_train=N_TRAIN, n_test=N_TEST)
    assert row.acc_records == 2
    assert row.acc_ok is ok and row.ok is ok
    assert row.acc_max_diff == pytest.approx(max(d_train / N_TRAIN, d_test / N_TEST), rel=1e-9)


# -- 4. the final weights are part of the verdict ----------------------------------------------------------


def test_different_final_weights_fail_the_pair_despite_identical_losses() -> None:
    a, b = record(0.5, 0.5), record(0.5, 0.5)
    weights = init_params(4, 3, 2, weight_init_std=0.5, seed=1)
    a.snapshots[20] = {k: v.copy() for k, v in weights.items()}
    b.snapshots[20] = {k: v * (1 + 1e-6) for k, v in weights.items()}  # 100x the float64 rtol of 1e-8
    row = trajectory_row(*PAIR, a, b, n_train=N_TRAIN, n_test=N_TEST)
    assert row.max_rel == 0.0 and row.acc_ok and row.weights_checked
    assert row.weights_max_rel == pytest.approx(1e-6, rel=1e-5)  # 1e-6 / (1 + 1e-6): relative to the larger side
    assert not row.ok
    b.snapshots[20] = {k: v.copy() for k, v in weights.items()}
    assert trajectory_row(*PAIR, a, b, n_train=N_TRAIN, n_test=N_TEST).ok  # the same weights pass


def test_a_run_whose_final_weights_differ_is_reported_failed(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    real = TorchRunner.train

    def off_at_the_end(self, data, batches, *args, **kwargs) -> TrainRecord:
        rec = real(self, data, batches, *args, **kwargs)
        final = rec.snapshots[len(rec.losses)]
        final["W2"] = final["W2"] * (1 + 1e-6)  # losses untouched: only the final weights differ
        return rec

    monkeypatch.setattr(TorchRunner, "train", off_at_the_end)
    argv = ["--only", "trajectory", "--iters", "30", "--hidden-size", "10", "--numerical-iters", "2"]
    assert main([*argv, "--fast-numerical-iters", "2", "--threads", "1", "--no-progress"]) == 1
    out = capsys.readouterr().out
    verdict = verdict_of(out)
    assert verdict.startswith("FAILED: trajectories") and "(FAIL: autograd[cpu,float64] against backprop" in verdict


# -- 5. the median ----------------------------------------------------------------------------------------


def test_summarize_reports_the_median_not_the_quartile_midpoint() -> None:
    t = summarize([10.0, 1.0, 100.0, 1.0, 1.0])  # sorted 1, 1, 1, 10, 100: median 1, quartiles 1 and 10
    assert t.median_s == 1.0  # the quartiles' midpoint would be 5.5
    assert t.iqr_s == 9.0 and t.min_s == 1.0 and t.runs == 5
    assert summarize([4.0, 1.0, 2.0, 3.0]).median_s == 2.5  # even count: the mean of the middle two


# -- 6. the numerical time budget -------------------------------------------------------------------------


def test_numerical_run_stops_at_its_time_budget(monkeypatch: pytest.MonkeyPatch, digits) -> None:
    clock = SimpleNamespace(now=-1.0)

    def perf_counter() -> float:  # every reading is one second after the last
        clock.now += 1.0
        return clock.now

    params = init_params(64, 4, 10, seed=0)
    batches = batch_stream(digits.train_size, 10, 8, seed=0)  # (8, 10)
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=perf_counter))
    info = builtin_info(NUMERICAL)
    rec = NumpyRunner(info, params, "sigmoid").train(digits, batches, 0.1, [0], [2], time_budget_s=2.5)
    # start at 0 s; after steps 0, 1, 2 the clock reads 1, 2, 3 s: the third step uses the budget up
    assert len(rec.losses) == 3
    assert sorted(rec.snapshots) == [2, 3]  # the one asked for, and the final weights after 3 updates
    monkeypatch.undo()
    whole = NumpyRunner(info, params, "sigmoid").train(digits, batches[:3], 0.1, [0])
    np.testing.assert_array_equal(rec.losses, whole.losses)
    for k in whole.snapshots[3]:
        np.testing.assert_array_equal(rec.snapshots[3][k], whole.snapshots[3][k], err_msg=k)
