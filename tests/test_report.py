"""The report files and tables: JSON schema and round trip, Markdown, CSV, atomic writes, timing.

Run: ``python -m pytest tests/test_report.py``. One small run of all the
sections (digits, hidden size 10, 200 steps; timing at a small stand-in for the
book's 784-50-10, the cost-growth study at small stand-in shapes) writes every
output once; the tests read those files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from compare import harness
from compare.config import SECTIONS
from compare.engine import timer
from compare.engine.runners import epoch_steps
from compare.env import THREAD_VARS
from compare.report import files as report_files
from compare.report import text as report
from compare.run import main
from compare.sections import scaling

ITERS = 200
SMALL_BOOK_SHAPE = (30, 8, 10, 20)  # input, hidden, output, batch: P = 338 > the default sample of 200
SMALL_SCALING = scaling.ScalingPlan(hidden_sizes=(4, 8), input_sizes=(), input_size=30, sample=20, runs=1)
GRADIENT_KEYS = {"method_a", "method_b", "param", "max_abs", "max_rel", "ok"}
PAIR_KEYS = {"method_a", "method_b", "max_rel", "steps", "ok", "losses_a", "losses_b", "first_bad_step"}
RUN_KEYS = {"method", "steps", "losses", "eval_steps", "train_acc", "test_acc"}
TIMING_KEYS = {"method", "device", "dtype", "threads", "shape", "median_s", "iqr_s", "estimated"}
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
    full: dict  # the report dict handed to the JSON writer
    json_path: Path
    markdown_path: Path
    csv_dir: Path


@contextlib.contextmanager
def kept_threads(mp: pytest.MonkeyPatch) -> Iterator[None]:
    """``main`` pins thread counts (environment and torch); put them back afterwards."""
    for var in THREAD_VARS:
        mp.setenv(var, os.environ.get(var, "1"))  # restored (or removed) when ``mp`` is undone
    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("report")
    captured: list[dict] = []
    real_to_json = report_files.to_json

    def spy(full: dict) -> str:
        captured.append(full)
        return real_to_json(full)

    paths = {"json": out / "report.json", "markdown": out / "report.md", "csv": out / "csv"}
    args = [f"--{k}={v}" for k, v in paths.items()]
    args += ["--iters", str(ITERS), "--numerical-iters", "2", "--hidden-size", "10", "--threads", "1"]
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, kept_threads(mp), contextlib.redirect_stdout(stdout):
        mp.setattr(harness, "BOOK_SHAPE", SMALL_BOOK_SHAPE)
        mp.setattr(scaling, "REDUCED_PLAN", SMALL_SCALING)
        mp.setattr(report_files, "to_json", spy)
        status = main(args + ["--no-progress"])
    assert len(captured) == 1
    return Run(status, stdout.getvalue(), captured[0], paths["json"], paths["markdown"], paths["csv"])


def strict_json(text: str) -> object:
    """``json.loads`` that refuses NaN and Infinity (not JSON, though Python writes them by default)."""

    def refuse(name: str) -> object:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def as_json_values(value: object) -> object:
    """What a strict JSON round trip should give back: tuples as lists, NaN and infinities as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: as_json_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json_values(v) for v in value]
    return value


# -- JSON ------------------------------------------------------------------------------------------


def test_small_run_passes(small_run: Run) -> None:
    assert small_run.status == 0, small_run.stdout
    assert small_run.full["ok"] is True


def test_json_round_trips(small_run: Run) -> None:
    with small_run.json_path.open(encoding="utf-8") as f:
        loaded = strict_json(f.read())
    assert loaded == as_json_values(small_run.full)


def test_json_is_strict_even_with_nan() -> None:
    text = report.to_json({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": (1, 2)})
    assert strict_json(text) == {"a": None, "b": [None, None, 1.5], "c": [1, 2]}


def test_json_schema(small_run: Run) -> None:
    data = strict_json(small_run.json_path.read_text(encoding="utf-8"))
    assert {"schema_version", "env", "config", "ok", "summary", *SECTIONS} <= set(data)
    assert data["schema_version"] == report.SCHEMA_VERSION
    assert isinstance(data["ok"], bool)
    assert data["config"]["iters"] == ITERS and data["config"]["only"] == list(SECTIONS)
    assert {"cpu", "threads", "numpy", "torch", "devices", "seed"} <= set(data["env"])

    gradients = data["gradients"]
    assert {row["param"] for row in gradients["rows"]} == {"W1", "b1", "W2", "b2"}
    for row in gradients["rows"]:
        assert GRADIENT_KEYS <= set(row), row
        assert isinstance(row["ok"], bool) and row["max_abs"] >= 0 and row["max_rel"] >= 0

    trajectory = data["trajectory"]
    assert trajectory["pairs"] and trajectory["runs"]
    for pair in trajectory["pairs"]:
        assert PAIR_KEYS <= set(pair), pair
        assert len(pair["losses_a"]) == len(pair["losses_b"]) == pair["steps"]
    by_method = {run["method"]: run for run in trajectory["runs"]}
    assert len(by_method["numerical"]["losses"]) == 2
    assert len(by_method["backprop"]["losses"]) == ITERS
    for run in trajectory["runs"]:
        assert RUN_KEYS <= set(run), run
        assert run["steps"] == len(run["losses"])
    # The bundled digits have 1,500 training images: accuracy every 15 steps, as the book's test says.
    assert by_method["backprop"]["eval_steps"] == list(range(0, ITERS, 15))

    rows = data["timing"]["rows"]
    assert rows
    for row in rows:
        assert TIMING_KEYS <= set(row), row
        assert row["median_s"] > 0 and row["iqr_s"] >= 0 and row["threads"] == 1
        assert row["estimated"] == (row["sampled"] < row["n_params"])
    # The book's shape (here a small stand-in) first, then the data set's own 64-10-10 with batch 100.
    assert sorted({row["shape"] for row in rows}) == ["30-8-10 x20", "64-10-10 x100"]
    assert {(row["method"], row["dtype"]) for row in rows} >= {
        ("numerical", "float64"),
        ("backprop", "float64"),
        ("backprop", "float32"),
        ("autograd", "float64"),
        ("autograd", "float32"),
    }


def test_harness_uses_the_books_epoch_steps_for_accuracy(small_run: Run) -> None:
    for run in small_run.full["trajectory"]["runs"]:
        expected = [i for i in epoch_steps(1500, 100, ITERS) if i < run["steps"]]
        assert run["eval_steps"] == expected, run["method"]
        assert len(run["train_acc"]) == len(run["test_acc"]) == len(expected)


# -- Markdown, CSV, text -----------------------------------------------------------------------


def test_markdown_file(small_run: Run) -> None:
    text = small_run.markdown_path.read_text(encoding="utf-8")
    assert text.startswith("# numpy vs PyTorch")
    for title in ("## 1. Gradient agreement", "## 2. Trajectory agreement", "## 3. Timing"):
        assert title in text
    assert text.rstrip().splitlines()[-1] == report.verdict(small_run.full)


def test_csv_files(small_run: Run) -> None:
    assert sorted(p.name for p in small_run.csv_dir.iterdir()) == CSV_FILES  # and no temporary files

    def read(name: str) -> list[dict[str, str]]:
        with (small_run.csv_dir / name).open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    full = small_run.full
    gradients = read("gradients.csv")
    assert len(gradients) == len(full["gradients"]["rows"])
    assert [r["param"] for r in gradients] == [r["param"] for r in full["gradients"]["rows"]]
    losses = read("losses.csv")
    assert len(losses) == ITERS and losses[0]["step"] == "0"
    backprop = next(r for r in full["trajectory"]["runs"] if r["method"] == "backprop")
    assert [float(r["backprop"]) for r in losses] == backprop["losses"]  # floats written as repr: exact
    assert losses[5]["numerical"] == ""  # the numerical run stopped after 2 steps
    assert len(read("trajectory.csv")) == len(full["trajectory"]["pairs"])
    assert len(read("timing.csv")) == len(full["timing"]["rows"])
    accuracy = read("accuracy.csv")
    assert {r["method"] for r in accuracy} == {r["method"] for r in full["trajectory"]["runs"] if r["eval_steps"]}


def test_csv_only_for_the_sections_run(tmp_path: Path, small_run: Run) -> None:
    partial = {k: v for k, v in small_run.full.items() if k not in ("trajectory", "timing", "scaling", "lesson")}
    written = report.write_csv(tmp_path, partial)
    assert [p.name for p in written] == ["gradients.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradients.csv"]


def test_render_shows_the_sections_and_the_verdict(small_run: Run) -> None:
    text = report.render(small_run.full)
    for title in ("== 1. Gradient agreement", "== 2. Trajectory agreement", "== 3. Timing", "== 4. Cost growth"):
        assert title in text
    verdict = text.rstrip().splitlines()[-1]
    assert verdict == report.verdict(small_run.full)
    n_rows = len(small_run.full["gradients"]["rows"])
    n_pairs = len(small_run.full["trajectory"]["pairs"])
    assert verdict == f"OK: gradients {n_rows}/{n_rows} ok; trajectories {n_pairs}/{n_pairs} ok"
    assert text in small_run.stdout  # what the command printed


def test_render_of_a_failing_report_says_what_failed(small_run: Run) -> None:
    broken = json.loads(json.dumps(small_run.full))  # a deep copy
    row = broken["gradients"]["rows"][2]
    row["ok"] = False
    broken["ok"] = False
    text = report.render(broken)
    assert text.rstrip().splitlines()[-1].startswith("FAILED: gradients")
    assert f"{row['method_a']} vs {row['method_b']} {row['param']}" in text.rstrip().splitlines()[-1]
    fail_lines = [line for line in text.splitlines() if line.rstrip().endswith("FAIL")]
    assert len(fail_lines) == 1 and f" {row['param']} " in fail_lines[0]


def test_render_without_sections() -> None:
    minimal = {"env": {}, "config": {}, "ok": True}
    assert report.verdict(minimal) == "OK: no agreement checks run"


# -- atomic writes -------------------------------------------------------------------------------


def test_write_atomic_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    report.write_atomic(target, "first\n")
    report.write_atomic(target, "second\n")
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
        report.write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_check_writable_probes_without_leaving_files(tmp_path: Path) -> None:
    report.check_writable(tmp_path / "r.json")
    report.check_writable(tmp_path / "csv", directory=True)  # a new --csv directory: its parent exists
    assert list(tmp_path.rglob("*")) == []  # nothing created: a refused run leaves nothing behind
    with pytest.raises(report.OutputError, match="directory"):
        report.check_writable(tmp_path)
    with pytest.raises(report.OutputError, match="does not exist"):
        report.check_writable(tmp_path / "missing" / "r.json")
    with pytest.raises(report.OutputError, match="does not exist"):
        report.check_writable(tmp_path / "missing" / "csv", directory=True)


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
    ("seconds", "text"),
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
def test_format_seconds(seconds: float, text: str) -> None:
    assert timer.format_seconds(seconds) == text
