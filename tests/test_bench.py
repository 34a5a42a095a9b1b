"""The benchmark command: a quick smoke run, its FLOP count and its ratio arithmetic.

Speed itself is never asserted here (that is what the benchmark is for); only that the
command runs, that the fast and book-loop values agree, and that the report is well formed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from compare import bench, registry
from compare.registry.framework_info import Framework


def test_quick_run_writes_a_complete_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--book-runs", "1", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "book loop / fast numerical" in text and "FLOP-limited" in text
    result = json.loads(out.read_text())
    assert result["ok"] is True
    for activation in ("sigmoid", "relu"):
        r = result["numerical"]["activations"][activation]
        assert r["ok"] and all(v["ok"] for v in r["agreement"].values())
        assert r["fast_peak_bytes"] > 0
        for timed, runs in ((r["book"], 1), (r["fast"], 7)):  # every run's time kept, as pyperf keeps them
            assert len(timed["samples_s"]) == timed["runs"] == runs and min(timed["samples_s"]) == timed["min_s"]
    loads = result["env"]["load_start"], result["env"]["load_end"]  # read before and after the bench's work
    assert all(isinstance(v, list) and len(v) == 3 for v in loads), loads
    rounds = result["steps"]["rounds"]
    assert all(len(r["per_round_s"]) == rounds for r in result["steps"]["rows"])
    matmul = result["steps"]["matmul_per_round_s"]
    assert {dt: len(v) for dt, v in matmul.items()} == {"float64": rounds, "float32": rounds}
    rows = result["steps"]["rows"]
    assert {(r["framework"], r["dtype"]) for r in rows} >= {
        ("numpy", "float64"),
        ("numpy", "float32"),
        ("torch", "float64"),
        ("torch", "float32"),
    }
    assert {t["what"] for t in result["targets"]} >= {"numpy f64 step / FLOP-limited time"}


def test_step_flops_counts_the_five_products() -> None:
    # x @ W1 and x.T @ dA: 2·N·D·H each; z @ W2, z.T @ dY, dY @ W2.T: 2·N·H·C each.
    n, d, h, c = 100, 784, 50, 10
    assert bench.step_flops(n, d, h, c) == 2 * (2 * n * d * h) + 3 * (2 * n * h * c) == 15_980_000


def test_targets_are_ratios_of_the_rows() -> None:
    def row(framework: str, dtype: str, median: float, gemm: float = 1.0) -> dict:
        return {
            "name": {"numpy": "numpy backprop", "torch": "torch autograd"}[framework],
            "framework": framework,
            "dtype": dtype,
            "device": "cpu",
            "median_s": median,
            "gemm_s": gemm,
            "flop_limited_s": 1.0,
        }

    steps = {
        "rows": [
            row("numpy", "float64", 3.0, 2.0),
            row("numpy", "float32", 2.0),
            row("torch", "float64", 4.0),
            row("torch", "float32", 2.4),
        ]
    }
    got = {t["what"]: (t["value"], t["met"]) for t in bench.targets(steps)}
    assert got["numpy f64 step / FLOP-limited time"] == (3.0, False)
    assert got["numpy f64 step / torch f64 step"] == (0.75, False)
    assert got["torch float64 step / numpy float64 step"] == (pytest.approx(4 / 3), False)
    assert got["torch float32 step / numpy float32 step"] == (pytest.approx(1.2), True)


def test_a_registered_framework_gets_step_rows_and_ratios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A framework registered with a step hook is timed after the ones before it, and measured against numpy's step
    with its own target; one registered without torch leaves out the numpy-vs-torch ratio."""

    def steps(params, x, t, dtypes, quick):  # numpy's steps under the new framework's name (and a detail after it)
        made = registry.NUMPY.bench_steps(params, x, t, dtypes, quick)
        return [replace(s, name="fake step (numpy inside)") for s in made]

    fake = Framework(name="fake", title="a test's framework", group="fakes", bench_steps=steps, bench_row="fake step",
                     step_target=3.0)  # fmt: skip
    monkeypatch.setattr(registry, "FRAMEWORKS", (registry.NUMPY, fake, registry.USER))
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--book-runs", "1", "--threads", "1", "--json", str(out)]) == 0
    assert "fake step (numpy inside)" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert [(r["name"], r["framework"], r["dtype"]) for r in result["steps"]["rows"]] == [
        ("numpy backprop", "numpy", "float64"),
        ("numpy backprop", "numpy", "float32"),
        ("fake step (numpy inside)", "fakes", "float64"),
        ("fake step (numpy inside)", "fakes", "float32"),
    ]
    targets = {t["what"]: t for t in result["targets"]}
    for dtype in ("float64", "float32"):
        ratio = targets[f"fake {dtype} step / numpy {dtype} step"]
        assert ratio["target"] == 3.0 and ratio["value"] > 0, ratio
    assert "numpy f64 step / FLOP-limited time" in targets
    assert not any("torch" in what for what in targets), sorted(targets)


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--seed", "-1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
