"""The report and its files: the typed model's JSON round trip, saved runs shown and compared, Markdown, CSV.

Run: ``python -m pytest tests/test_report.py``. One small run of all the sections (digits,
hidden size 10, 200 steps; timing at a small stand-in for the book's 784-50-10, the
cost-growth study at small stand-in shapes) writes every output once; the tests read those
files, re-render the saved run with ``python -m compare.report show`` and compare it with a
second run with ``python -m compare.report diff``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import importlib.util
import io
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers import pinned_threads, verdict_of
from hypothesis import given
from hypothesis import strategies as st

from compare import files as report_files
from compare import harness, pathsafety, preflight, registry
from compare.config import SECTIONS
from compare.engine import timer
from compare.engine.gradient_timing import Shape
from compare.engine.protocol import epoch_steps
from compare.manifest import MANIFEST
from compare.report import csvfiles, text
from compare.report.__main__ import main as report_main
from compare.report.codec import SchemaError, from_data, to_data
from compare.report.diff_tables import p_text
from compare.report.format import format_seconds
from compare.report.model import SCHEMA_VERSION, Report, ScalingPlan, TrajectoryRow
from compare.report.significance import rank_test
from compare.run import main
from compare.sections import scaling
from compare.sections import timing as timing_section

REPO = Path(__file__).resolve().parents[1]
ITERS = 200
SMALL_BOOK_SHAPE = Shape(30, 8, 10, 20)  # P = 338 > the default sample of 200: the book's loop is sampled
SMALL_SCALING = ScalingPlan(hidden_sizes=(4, 8), input_sizes=(), input_size=30, sample=20, runs=1)
SMALL = ["--iters", str(ITERS), "--numerical-iters", "2", "--hidden-size", "10", "--threads", "1", "--no-progress"]
CSV_FILES = [
    "accuracy.csv",
    "gradients.csv",
    "lesson.csv",
    "losses.csv",
    "scaling.csv",
    "timing.csv",
    "trajectory.csv",
]


@dataclass
class Run:
    status: int
    stdout: str
    report: Report  # what harness.run returned
    json_path: Path
    markdown_path: Path
    csv_dir: Path


def run_small(out: Path, extra: list[str]) -> tuple[int, str, list[Report]]:
    """``compare.run`` in-process with small stand-ins for the book's shapes: (status, stdout, reports made)."""
    made: list[Report] = []
    real_run = harness.run

    def spy(*args, **kwargs) -> Report:
        made.append(real_run(*args, **kwargs))
        return made[-1]

    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, pinned_threads(mp), contextlib.redirect_stdout(stdout):
        mp.setattr(timing_section, "BOOK_SHAPE", SMALL_BOOK_SHAPE)
        mp.setattr(scaling, "REDUCED_PLAN", SMALL_SCALING)
        mp.setattr(harness, "run", spy)
        status = main(extra)
    return status, stdout.getvalue(), made


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("report")
    paths = {"json": out / "report.json", "markdown": out / "report.md", "csv": out / "csv"}
    status, stdout, made = run_small(out, [f"--{k}={v}" for k, v in paths.items()] + SMALL)
    assert len(made) == 1
    return Run(status, stdout, made[0], paths["json"], paths["markdown"], paths["csv"])


def strict_json(source: str) -> object:
    """``json.loads`` that refuses NaN and Infinity (not JSON, though Python writes them by default)."""

    def refuse(name: str) -> object:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(source, parse_constant=refuse)


def assert_same(a: object, b: object, path: str = "report") -> None:
    """``a`` and ``b`` equal field by field, with the same types, NaN equal to NaN (dataclass ``==`` is not).

    Floats compare by value: a numpy float64 (a float subclass) that the run made loads back as a float.
    """
    if isinstance(a, float) and isinstance(b, float):
        assert a == b or (math.isnan(a) and math.isnan(b)), f"{path}: {a!r} against {b!r}"
        return
    assert type(a) is type(b), f"{path}: {type(a).__name__} against {type(b).__name__}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} against {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    else:
        assert a == b, f"{path}: {a!r} against {b!r}"


# -- the model's JSON ------------------------------------------------------------------------------


def test_small_run_passes(small_run: Run) -> None:
    assert small_run.status == 0, small_run.stdout
    assert small_run.report.ok is True


def test_saved_file_loads_back_to_the_same_report(small_run: Run) -> None:
    saved = small_run.json_path.read_text(encoding="utf-8")
    strict_json(saved)  # strict JSON: no NaN / Infinity constants
    assert_same(Report.from_json(saved), small_run.report)


def test_round_trip_keeps_non_finite_floats_and_writes_strict_json(small_run: Run) -> None:
    report = copy.deepcopy(small_run.report)
    row = report.gradients.rows[0]
    row.max_abs, row.max_rel, row.a_value = math.inf, math.nan, -math.inf
    report.trajectory.runs[0].losses[1] = math.nan
    saved = report.to_json()
    data = strict_json(saved)
    first = data["gradients"]["rows"][0]
    assert (first["max_abs"], first["max_rel"], first["a_value"]) == ("inf", "nan", "-inf")
    back = Report.from_json(saved)
    assert_same(back, report)
    assert back.gradients.rows[0].a_value == -math.inf and math.isnan(back.trajectory.runs[0].losses[1])
    assert back.to_json() == saved


def test_non_finite_floats_in_the_summary_numbers_round_trip(small_run: Run) -> None:
    report = copy.deepcopy(small_run.report)
    report.summary.numbers["ratio"] = math.inf
    report.summary.numbers["nested"] = {"a": [-math.inf, 1.5]}
    back = Report.from_json(report.to_json()).summary.numbers
    assert back["ratio"] == math.inf and back["nested"] == {"a": [-math.inf, 1.5]}


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@given(
    rel=finite_or_not,
    weights=finite_or_not,
    first_bad=st.none() | st.integers(0, 10_000),
    note=st.text(max_size=20),
)
def test_trajectory_row_round_trips(rel: float, weights: float, first_bad: int | None, note: str) -> None:
    row = TrajectoryRow("a", "b", 10, 0.5, rel, first_bad, 1e-10, 1, 0.0, True, weights, 1e-8, True, True, False, note)
    data = to_data(row)
    strict_json(json.dumps(data, allow_nan=False))
    assert_same(from_data(TrajectoryRow, json.loads(json.dumps(data))), row)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["gradients"]["rows"][0].pop("max_rel"), "gradients.rows[0].max_rel: missing"),
        (lambda d: d["gradients"]["rows"][0].update(max_rel="big"), "gradients.rows[0].max_rel"),
        (lambda d: d["gradients"]["rows"][0].update(extra=1), "unknown field 'extra'"),
        (lambda d: d["trajectory"]["runs"][0].update(steps=1.5), "trajectory.runs[0].steps"),
        (lambda d: d["env"].update(cores=True), "env.cores"),
    ],
    ids=["missing", "wrong-type", "unknown", "float-for-int", "bool-for-int"],
)
def test_a_file_that_does_not_match_the_schema_is_refused(small_run: Run, change, named: str) -> None:
    data = json.loads(small_run.json_path.read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(SchemaError, match=named.replace("[", r"\[").replace("]", r"\]")):
        Report.from_json(json.dumps(data), source="r.json")


def test_json_schema(small_run: Run) -> None:
    data = strict_json(small_run.json_path.read_text(encoding="utf-8"))
    assert {"schema_version", "env", "config", "ok", "summary", "shape", "devices", *SECTIONS} <= set(data)
    assert data["schema_version"] == SCHEMA_VERSION
    assert isinstance(data["ok"], bool)
    assert data["config"]["iters"] == ITERS and data["config"]["only"] == list(SECTIONS)
    assert {"cpu", "threads", "versions", "devices", "seed"} <= set(data["env"])
    # each installed framework's version, as the library itself says it (not as the registry reads it)
    versions = data["env"]["versions"]
    assert versions["numpy"] == np.__version__ and versions["torch"] == torch.__version__
    assert ("jax" in versions) == (importlib.util.find_spec("jax") is not None)
    # every optional framework's switch is recorded, given or not: here none was given
    assert data["config"]["switches"] == {fw.name: fw.switch.default for fw in registry.FRAMEWORKS if fw.switch}
    report = small_run.report

    assert {row.param for row in report.gradients.rows} == {"W1", "b1", "W2", "b2"}
    for row in report.gradients.rows:
        assert row.max_abs >= 0 and row.max_rel >= 0 and len(row.index) in (1, 2)

    trajectory = report.trajectory
    assert trajectory.pairs and trajectory.runs
    by_method = {run.method: run for run in trajectory.runs}
    assert len(by_method["numerical"].losses) == 2
    assert len(by_method["backprop"].losses) == ITERS
    for run in trajectory.runs:
        assert run.steps == len(run.losses)
    for pair in trajectory.pairs:
        assert pair.steps == min(by_method[pair.method_a].steps, by_method[pair.method_b].steps)
    # The bundled digits have 1,500 training images: accuracy every 15 steps, as the book's test says.
    assert by_method["backprop"].eval_steps == list(range(0, ITERS, 15))

    rows = report.timing.rows
    assert rows
    for row in rows:
        assert row.median_s > 0 and row.iqr_s >= 0 and row.threads == 1
        assert row.estimated == (row.sampled < row.n_params)
    # The book's shape (here a small stand-in) first, then the data set's own 64-10-10 with batch 100.
    assert sorted({row.shape for row in rows}) == ["30-8-10 x20", "64-10-10 x100"]
    assert {(row.method, row.dtype) for row in rows} >= {
        ("numerical", "float64"),
        ("backprop", "float64"),
        ("backprop", "float32"),
        ("autograd", "float64"),
        ("autograd", "float32"),
    }


def test_harness_uses_the_books_epoch_steps_for_accuracy(small_run: Run) -> None:
    for run in small_run.report.trajectory.runs:
        expected = [i for i in epoch_steps(1500, 100, ITERS) if i < run.steps]
        assert run.eval_steps == expected, run.method
        assert len(run.train_acc) == len(run.test_acc) == len(expected)


# -- saved runs: show, diff, schema ---------------------------------------------------------------


def run_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compare.report", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_show_prints_the_runs_text_byte_for_byte(small_run: Run, tmp_path: Path) -> None:
    proc = run_command("show", str(small_run.json_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout == small_run.stdout  # the saved run renders exactly as the run printed it


def test_show_exit_status_is_the_saved_runs_own(small_run: Run, tmp_path: Path, capsys) -> None:
    failing = copy.deepcopy(small_run.report)
    failing.gradients.rows[0].ok = failing.gradients.ok = failing.ok = False
    path = tmp_path / "failing.json"
    path.write_text(failing.to_json(), encoding="utf-8")
    assert report_main(["show", str(path)]) == 1
    assert capsys.readouterr().out == text.render(failing) + "\n"


def test_diff_of_two_runs_from_the_command_line(small_run: Run, tmp_path: Path, capsys) -> None:
    status, _, made = run_small(tmp_path, ["--only", "gradients,timing", "--json", str(tmp_path / "b.json"), *SMALL])
    assert status == 0 and len(made) == 1
    assert report_main(["diff", str(small_run.json_path), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"A: {small_run.json_path}\nB: {tmp_path / 'b.json'}\n")
    b = made[0]
    for row in b.timing.rows:  # every timing row of B is in A too: one line each, with B / A
        a_row = next(r for r in small_run.report.timing.rows if (r.label, r.shape) == (row.label, row.shape))
        line = next(x for x in out.splitlines() if x.startswith(f"{row.label} ") and row.shape in x)
        assert f" {row.median_s / a_row.median_s:.3g} " in line, line
        if line.rstrip().endswith("(IQR)"):  # judged by the older rule (too few runs for the rank test): as before
            noise = abs(row.median_s - a_row.median_s) > row.iqr_s + a_row.iqr_s
            assert line.rstrip().endswith("beyond noise (IQR)" if noise else "within noise (IQR)"), line
        else:  # the rank test on the two runs' raw times: its p is shown
            assert len(row.samples_s) == row.runs and len(a_row.samples_s) == a_row.runs
            assert f" {p_text(rank_test(a_row.samples_s, row.samples_s).p)} " in line, line
    assert "numerical vs backprop W1" in out
    # B ran no trajectory: A's pairs are listed as only in A
    assert f"only in {small_run.json_path}: " in out and "backprop vs autograd[cpu,float64]" in out


def test_diff_marks_a_slower_row_beyond_noise_and_a_failed_check(small_run: Run, tmp_path: Path, capsys) -> None:
    a = copy.deepcopy(small_run.report)  # row 0 with 9 runs of its own, so no load on this machine decides
    a0 = a.timing.rows[0]
    a0.samples_s = [a0.median_s * (1 + 0.01 * i) for i in range(9)]
    a0.iqr_s = a0.median_s * 0.04
    b = copy.deepcopy(a)
    slow = b.timing.rows[0]
    slow.median_s, slow.iqr_s = slow.median_s * 3, 0.0  # 3x the median, no spread: beyond A's IQR
    slow.samples_s = [3 * v for v in slow.samples_s]  # and every run 3x: the rank test's smallest p
    b.gradients.rows[1].ok = b.gradients.ok = b.ok = False  # the verdicts as a run would write them
    b.gradients.rows[1].max_rel = 0.25
    (tmp_path / "a.json").write_text(a.to_json(), encoding="utf-8")
    (tmp_path / "b.json").write_text(b.to_json(), encoding="utf-8")
    assert report_main(["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    line = next(x for x in out if x.startswith(f"{slow.label} ") and slow.shape in x)
    assert " 3 " in line and "beyond noise" in line, line
    row = b.gradients.rows[1]
    line = next(x for x in out if x.startswith(f"{row.method_a} vs {row.method_b} {row.param} "))
    assert "2.50e-01" in line and line.split()[-2:] == ["ok", "FAIL"], line


@pytest.mark.parametrize("command", ["show", "diff"])
def test_another_schema_version_is_refused_with_one_line(small_run: Run, tmp_path: Path, command: str) -> None:
    data = json.loads(small_run.json_path.read_text(encoding="utf-8"))
    data["schema_version"] = SCHEMA_VERSION + 1
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    files = [str(other)] if command == "show" else [str(small_run.json_path), str(other)]
    proc = run_command(command, *files, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert f"schema version {SCHEMA_VERSION + 1}" in proc.stderr


@pytest.mark.parametrize("content", ['{"schema_version": 2, "ok": tru', "[1, 2]", "", '{"schema_version": 2}'], ids=str)
def test_a_malformed_file_is_refused_with_one_line(tmp_path: Path, capsys, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    assert report_main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "bad.json" in err


def test_a_missing_file_is_refused_with_one_line(tmp_path: Path, capsys) -> None:
    assert report_main(["show", str(tmp_path / "none.json")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1


# -- Markdown, CSV, text -----------------------------------------------------------------------


def test_markdown_file(small_run: Run) -> None:
    markdown = small_run.markdown_path.read_text(encoding="utf-8")
    assert markdown.startswith(f"# {text.TITLE}")
    for title in ("## 1. Gradient agreement", "## 2. Trajectory agreement", "## 3. Timing"):
        assert title in markdown
    assert markdown.rstrip().splitlines()[-1] == text.verdict(small_run.report)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_files(small_run: Run) -> None:
    assert sorted(p.name for p in small_run.csv_dir.iterdir()) == [MANIFEST, *CSV_FILES]  # and no temporary files
    report = small_run.report
    gradients = read_csv(small_run.csv_dir / "gradients.csv")
    assert [r["param"] for r in gradients] == [r.param for r in report.gradients.rows]
    assert [float(r["max_rel"]) for r in gradients] == [r.max_rel for r in report.gradients.rows]
    losses = read_csv(small_run.csv_dir / "losses.csv")
    assert len(losses) == ITERS and losses[0]["step"] == "0"
    backprop = next(r for r in report.trajectory.runs if r.method == "backprop")
    assert [float(r["backprop"]) for r in losses] == backprop.losses  # floats written as repr: exact
    assert losses[5]["numerical"] == ""  # the numerical run stopped after 2 steps
    assert len(read_csv(small_run.csv_dir / "trajectory.csv")) == len(report.trajectory.pairs)
    assert len(read_csv(small_run.csv_dir / "timing.csv")) == len(report.timing.rows)
    accuracy = read_csv(small_run.csv_dir / "accuracy.csv")
    assert {r["method"] for r in accuracy} == {r.method for r in report.trajectory.runs if r.eval_steps}


def test_csv_only_for_the_sections_run(tmp_path: Path, small_run: Run) -> None:
    partial = dataclasses.replace(small_run.report, trajectory=None, timing=None, scaling=None, lesson=None)
    written = csvfiles.write_csv(tmp_path, partial)
    assert [p.name for p in written] == ["gradients.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST, "gradients.csv"]


def test_render_shows_the_sections_and_the_verdict(small_run: Run) -> None:
    rendered = text.render(small_run.report)
    for title in ("== 1. Gradient agreement", "== 2. Trajectory agreement", "== 3. Timing", "== 4. Cost growth"):
        assert title in rendered
    verdict = verdict_of(rendered)
    assert verdict == text.verdict(small_run.report)
    n_rows = len(small_run.report.gradients.rows)
    n_pairs = len(small_run.report.trajectory.pairs)
    assert verdict == f"OK: gradients {n_rows}/{n_rows} ok; trajectories {n_pairs}/{n_pairs} ok"
    assert small_run.stdout == rendered + "\n"  # what the command printed


def test_render_of_a_failing_report_says_what_failed(small_run: Run) -> None:
    broken = copy.deepcopy(small_run.report)
    row = broken.gradients.rows[2]
    row.ok = False
    broken.ok = False
    rendered = text.render(broken)
    last = verdict_of(rendered)
    assert last.startswith("FAILED: gradients")
    assert f"{row.method_a} vs {row.method_b} {row.param}" in last
    fail_lines = [line for line in rendered.splitlines() if line.rstrip().endswith("FAIL")]
    assert len(fail_lines) == 1 and f" {row.param} " in fail_lines[0]


def test_render_without_sections(small_run: Run) -> None:
    bare = dataclasses.replace(
        small_run.report,
        gradients=None,
        trajectory=None,
        timing=None,
        frameworks=None,
        scaling=None,
        lesson=None,
        summary=None,
    )
    assert text.verdict(bare) == "OK: no agreement checks run"
    assert "==" not in text.render(bare)


# -- atomic writes -------------------------------------------------------------------------------


def test_write_atomic_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    report_files.write_atomic(target, "first\n")
    report_files.write_atomic(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


@pytest.mark.parametrize("error", [OSError(5, "Input/output error"), KeyboardInterrupt()], ids=["oserror", "ctrl-c"])
def test_write_atomic_cleans_up_when_interrupted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error) -> None:
    target = tmp_path / "r.txt"
    target.write_text("old\n", encoding="utf-8")

    def broken(*a, **k):
        raise error

    monkeypatch.setattr(os, "fsync", broken)  # fails after the temporary file has been written
    with pytest.raises(type(error)):
        report_files.write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_check_writable_probes_without_leaving_files(tmp_path: Path) -> None:
    preflight.check_writable(tmp_path / "r.json")
    preflight.check_writable(tmp_path / "csv", directory=True)  # a new --csv directory: its parent exists
    assert list(tmp_path.rglob("*")) == []  # nothing created: a refused run leaves nothing behind
    with pytest.raises(pathsafety.OutputError, match="directory"):
        preflight.check_writable(tmp_path)
    with pytest.raises(pathsafety.OutputError, match="does not exist"):
        preflight.check_writable(tmp_path / "missing" / "r.json")
    with pytest.raises(pathsafety.OutputError, match="does not exist"):
        preflight.check_writable(tmp_path / "missing" / "csv", directory=True)


# -- the timer -----------------------------------------------------------------------------------


class FakeClock:
    """A clock that only the timed function advances: every call costs exactly ``cost`` seconds."""

    def __init__(self, cost: float) -> None:
        self.now = 0.0
        self.cost = cost
        self.calls = 0
        self.syncs = 0

    def perf_counter(self) -> float:
        return self.now

    def fn(self) -> None:
        self.calls += 1
        self.now += self.cost

    def sync(self) -> None:
        self.syncs += 1


def test_measure_on_a_known_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(cost=1e-3)
    monkeypatch.setattr(timer, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    t = timer.measure(clock.fn, sync=clock.sync, runs=5, warmup=2, min_run_s=0.02)
    assert t.median_s == pytest.approx(1e-3, rel=1e-9)  # only float summation error
    assert t.min_s == pytest.approx(1e-3, rel=1e-9)
    assert t.iqr_s == pytest.approx(0.0, abs=1e-15)
    assert not t.noisy
    assert t.runs == 5
    assert t.loops * 1e-3 >= 0.02  # auto-ranged until one run lasts min_run_s
    assert clock.calls >= 2 + 5 * t.loops
    assert clock.syncs % 2 == 0 and clock.syncs >= 2 * (2 + 5)  # before and after every run


def test_measure_respects_max_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(cost=0.0)  # a call that takes no time at all
    monkeypatch.setattr(timer, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    t = timer.measure(clock.fn, runs=3, warmup=0, max_loops=64)
    assert t.loops == 64 and t.median_s == 0.0


def test_measure_structure_on_the_real_clock() -> None:
    values = list(range(200))
    t = timer.measure(lambda: sum(values), runs=5, warmup=1, min_run_s=1e-4)
    assert t.runs == 5 and t.loops >= 1
    assert 0 < t.min_s <= t.median_s
    assert t.iqr_s >= 0


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (12.3, "12.3 s"),
        (1.0, "1 s"),
        (1.05e-3, "1.05 ms"),
        (293e-6, "293 µs"),
        (4.2e-9, "4.2 ns"),
        (90.0, "1.5 min"),
        (7200.0, "2 h"),
        # Values that round up to the next unit take that unit, never "1e+03 ms".
        (0.99996, "1 s"),
        (999.7e-6, "1 ms"),
        (59.999, "1 min"),
        (3599.9, "1 h"),
    ],
)
def test_format_seconds(seconds: float, expected: str) -> None:
    assert format_seconds(seconds) == expected


# -- the verdict's list of failures ------------------------------------------------------------------------


def test_the_verdict_names_the_method_that_every_failing_pair_shares_once() -> None:
    others = ["numerical", "numerical-fast", "backprop", "autograd[cpu,float64]"]
    rows = [(m, "mine", p) for m in others for p in ("W1", "b1", "W2", "b2")] + [("mine", "book", "W1")]
    assert text.failing_pairs(rows) == [
        "mine W1, b1, W2, b2 against numerical, numerical-fast, backprop, autograd[cpu,float64]",
        "mine W1 against book",
    ]


def test_the_verdict_keeps_a_lone_pair_as_it_is_and_loses_no_failure() -> None:
    assert text.failing_pairs([("numerical", "backprop", "W1"), ("numerical", "backprop", "b2")]) == [
        "numerical vs backprop W1, b2"
    ]
    assert text.failing_pairs([("a", "x", ""), ("b", "x", ""), ("c", "d", "")]) == ["x against a, b", "c vs d"]
    rows = [("a", "x", "W1"), ("b", "x", "W1"), ("x", "c", "W2"), ("a", "b", "W2")]
    said = text.failing_pairs(rows)
    assert said == ["x W1 against a, b", "x W2 against c", "a vs b W2"]
