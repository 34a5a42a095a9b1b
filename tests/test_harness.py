"""The comparison harness end to end: it catches wrong gradients and diverging runs, and fails cleanly.

Run: ``python -m pytest tests/test_harness.py``. Each check breaks one thing on
purpose (a gradient scaled by 1.01, a learning rate changed from step k on, a
bad option, an unwritable path) and asserts that the harness names it. Runs are
kept small (hidden size 10, a few hundred steps on the bundled digits) so the
file stays fast on a busy two-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_close, verdict_of

from compare import harness, registry
from compare.data import Dataset
from compare.engine.agreement import TRAJECTORY_RTOL, trajectory_row
from compare.engine.builtin_runners import (
    AUTOGRAD,
    BACKPROP,
    NUMERICAL,
    NumpyRunner,
    TorchRunner,
    builtin_info,
    builtin_runner,
)
from compare.engine.devices import torch_devices
from compare.engine.protocol import TrainRecord, batch_stream, epoch_steps
from compare.report.model import Report
from compare.run import main, parse_args
from dlfs_gradcheck.metrics import Tolerance
from impl_numpy import TwoLayerNet, init_params

REPO = Path(__file__).resolve().parents[1]
# Small runs: a 64-10-10 net on the bundled digits, one BLAS / torch thread.
SMALL = ["--hidden-size", "10", "--numerical-iters", "2", "--threads", "1", "--no-progress"]
# One torch / BLAS thread (as --threads 1 sets), the thread settings main changes restored after each test.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def no_mnist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No MNIST anywhere: ``$DLFS_MNIST_DIR`` unset and an empty cache root. Returns that environment."""
    monkeypatch.delenv("DLFS_MNIST_DIR", raising=False)
    monkeypatch.setenv("DLFS_CACHE_DIR", str(tmp_path / "empty-cache"))
    return dict(os.environ)


def fail_rows(stdout: str) -> list[str]:
    """Table rows of the text report that end in FAIL, each after the pair heading its group (``A = .., B = ..``)."""
    rows, heading = [], ""
    for line in stdout.splitlines():
        if line.startswith("A = "):
            heading = line
        elif line.rstrip().endswith("FAIL"):
            rows.append(f"{heading} | {line}")
    return rows


def assert_one_line_error(err: str) -> None:
    assert err.startswith("error: "), err
    assert err.count("\n") == 1 and err.endswith("\n"), f"expected exactly one line on stderr, got:\n{err}"
    assert "Traceback" not in err


# -- a wrong gradient is caught and named ---------------------------------------------------


def _scale(g: np.ndarray) -> np.ndarray:
    return g * 1.01  # 1e-2 relative: far above every gradient tolerance (at most 1e-4)


def _transpose(g: np.ndarray) -> np.ndarray:
    return g.T.copy()  # W2 is (H, C) = (10, 10) here, so the shape still fits


def _negate(g: np.ndarray) -> np.ndarray:
    return -g


@pytest.mark.parametrize(
    ("param", "corrupt"), [("W2", _scale), ("W2", _transpose), ("b1", _negate)], ids=["W2x1.01", "W2.T", "-b1"]
)
def test_wrong_backprop_gradient_fails_the_run_and_names_the_parameter(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    param: str,
    corrupt: Callable[[np.ndarray], np.ndarray],
) -> None:
    real = TwoLayerNet.gradient

    def wrong(self: TwoLayerNet, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        grads = dict(real(self, x, t))
        grads[param] = corrupt(grads[param])
        return grads

    monkeypatch.setattr(TwoLayerNet, "gradient", wrong)
    args = ["--only", "gradients", "--iters", "1", *SMALL]
    status = main(args)
    out = capsys.readouterr().out

    assert status == 1
    rows = fail_rows(out)
    # backprop is compared with every other method (numerical, autograd on each device, ...): each
    # of those pairs fails, on `param` only, and no pair without backprop fails.
    cfg = parse_args(args)
    methods = registry.entries(cfg, torch_devices(cfg.device, cfg.dtype))
    assert len(rows) == len(methods) - 1, out
    for row in rows:
        assert f" {param} " in row and "backprop" in row, row
    verdict = verdict_of(out)
    # the verdict blames the one method every failing pair shares, once: "backprop W2 against numerical, ..."
    assert verdict.startswith("FAILED: gradients") and f"(FAIL: backprop {param} against numerical, " in verdict


def test_correct_gradients_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """The same run without the corruption passes: the failures above come from the corruption."""
    status = main(["--only", "gradients", "--iters", "1", *SMALL])
    out = capsys.readouterr().out
    assert status == 0, out
    assert fail_rows(out) == []
    assert verdict_of(out).startswith("OK: gradients")


# -- a diverging trajectory is caught at the right step -------------------------------------


def _record(losses: np.ndarray) -> TrainRecord:
    return TrainRecord(np.asarray(losses, dtype=np.float64), [], np.empty(0), np.empty(0))


def _loss_curve(steps: int) -> np.ndarray:
    return 2.3 * np.exp(-np.linspace(0.0, 2.0, steps))  # a decreasing loss, like training from 2.3


EXACT_PAIR = (builtin_info(BACKPROP), builtin_info(AUTOGRAD))
EXACT_RTOL = TRAJECTORY_RTOL[("exact", "exact", "float64")]  # 1e-10


@pytest.mark.parametrize("k", [0, 17, 49])
def test_trajectory_row_reports_the_first_step_that_drifts(k: int) -> None:
    a = _loss_curve(50)
    b = a * (1 + 1e-3 * EXACT_RTOL)  # rounding-level noise on every step, 1000x under the tolerance
    b[k:] = a[k:] * (1 + 100 * EXACT_RTOL)  # from step k on: 100x over the tolerance
    row = trajectory_row(*EXACT_PAIR, _record(a), _record(b), n_train=1500, n_test=297)
    assert row.first_bad_step == k
    assert not row.ok
    assert row.steps == 50
    assert row.max_rel == pytest.approx(100 * EXACT_RTOL, rel=1e-3)  # loose: the relative error's own rounding


def test_trajectory_row_passes_identical_runs() -> None:
    a = _loss_curve(50)
    row = trajectory_row(*EXACT_PAIR, _record(a), _record(a.copy()), n_train=1500, n_test=297)
    assert row.ok and row.first_bad_step is None and row.max_rel == 0.0


@pytest.mark.parametrize("side", ["a", "b", "both"])
def test_trajectory_row_catches_a_nan_loss(side: str) -> None:
    a, b = _loss_curve(30), _loss_curve(30)
    if side in ("a", "both"):
        a[12:] = np.nan
    if side in ("b", "both"):
        b[12:] = np.nan
    row = trajectory_row(*EXACT_PAIR, _record(a), _record(b), n_train=1500, n_test=297)
    assert row.first_bad_step == 12
    assert not row.ok


def test_trajectory_row_compares_the_steps_both_ran() -> None:
    """The numerical run is short: only its steps are compared, with the numerical tolerance."""
    a = _loss_curve(40)
    short = a[:3] * (1 + 1e-9)  # within the numerical pair's 1e-7, over the exact pair's 1e-10
    numerical, backprop = builtin_info(NUMERICAL), builtin_info(BACKPROP)
    row = trajectory_row(numerical, backprop, _record(short), _record(a), n_train=1500, n_test=297)
    assert row.steps == 3 and row.ok and row.first_bad_step is None
    row = trajectory_row(*EXACT_PAIR, _record(short), _record(a), n_train=1500, n_test=297)
    assert row.first_bad_step == 0 and not row.ok


def test_run_catches_training_that_drifts_from_step_k(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """numpy backprop uses 1.5x the learning rate from update k on: the loss differs from step k + 1.

    Step i's loss is measured on the weights before update i, so update k first shows at step k + 1.
    """
    k = 40
    real = TwoLayerNet.train_step

    def drifting(self: TwoLayerNet, x: np.ndarray, t: np.ndarray, learning_rate: float) -> float:
        step = getattr(self, "_test_step", 0)
        self._test_step = step + 1
        return real(self, x, t, learning_rate * (1.5 if step >= k else 1.0))

    monkeypatch.setattr(TwoLayerNet, "train_step", drifting)
    report = tmp_path / "report.json"
    status = main(["--only", "trajectory", "--iters", "100", "--quiet", "--json", str(report), *SMALL])
    assert status == 1

    saved = Report.from_json(report.read_text(encoding="utf-8"))
    pairs = {(p.method_a, p.method_b): p for p in saved.trajectory.pairs}
    assert pairs[("numerical", "backprop")].ok  # 2 steps, before the drift
    drifted = pairs[("backprop", "autograd[cpu,float64]")]
    assert drifted.first_bad_step == k + 1
    assert not drifted.ok and not saved.ok


# -- the book's epoch test and the shared batch stream --------------------------------------


def book_eval_steps(train_size: int, batch_size: int, iters_num: int) -> list[int]:
    """train_neuralnet.py's loop, written out: float iter_per_epoch, ``i % iter_per_epoch == 0``."""
    iter_per_epoch = max(train_size / batch_size, 1)
    steps = []
    for i in range(iters_num):
        if i % iter_per_epoch == 0:
            steps.append(i)
    return steps


@pytest.mark.parametrize(
    ("train_size", "batch_size", "iters", "expected"),
    [
        (60000, 100, 10000, list(range(0, 10000, 600))),  # MNIST: every 600 steps
        (1500, 100, 10000, list(range(0, 10000, 15))),  # digits: every 15 steps
        (1437, 100, 10000, [0]),  # 14.37 is not a float divisor of any later i
        (1450, 100, 100, [0, 29, 58, 87]),  # 14.5 divides 29: neither floor (14) nor ceil (15)
        (50, 100, 5, [0, 1, 2, 3, 4]),  # batch larger than the data: max(0.5, 1) = 1, every step
    ],
)
def test_epoch_steps_follow_the_books_float_test(train_size: int, batch_size: int, iters: int, expected: list[int]):
    assert book_eval_steps(train_size, batch_size, iters) == expected  # the literal loop agrees with the table
    assert epoch_steps(train_size, batch_size, iters) == expected


def test_batch_stream_is_seeded_and_in_range() -> None:
    stream = batch_stream(1500, 100, 300, seed=3)  # (iters, B)
    assert stream.shape == (300, 100)
    assert np.issubdtype(stream.dtype, np.integer)
    assert stream.min() >= 0 and stream.max() < 1500
    np.testing.assert_array_equal(stream, batch_stream(1500, 100, 300, seed=3))
    assert not np.array_equal(stream, batch_stream(1500, 100, 300, seed=4))
    # A shorter run sees the same first batches.
    np.testing.assert_array_equal(stream[:50], batch_stream(1500, 100, 50, seed=3))
    # Drawn with replacement over the whole range: 7 indices, 1000 draws, all appear.
    assert set(np.unique(batch_stream(7, 10, 100, seed=0))) == set(range(7))


def test_every_method_trains_on_the_same_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, np.ndarray] = {}
    for cls in (NumpyRunner, TorchRunner):
        real = cls.train

        def spy(self, data: Dataset, batches: np.ndarray, *args, _real=real, **kwargs) -> TrainRecord:
            seen[self.info.label] = batches.copy()
            return _real(self, data, batches, *args, **kwargs)

        monkeypatch.setattr(cls, "train", spy)
    assert main(["--only", "trajectory", "--iters", "30", "--quiet", *SMALL]) == 0

    expected = batch_stream(1500, 100, 30, seed=0)  # digits: 1,500 training images, the book's batch of 100
    assert {"numerical", "backprop", "autograd[cpu,float64]"} <= set(seen)
    assert seen["numerical"].shape[0] == 2  # --numerical-iters 2
    assert seen["backprop"].shape[0] == seen["autograd[cpu,float64]"].shape[0] == 30
    for label, batches in seen.items():
        np.testing.assert_array_equal(batches, expected[: batches.shape[0]], err_msg=label)


def test_backprop_and_autograd_losses_agree_over_200_steps(digits: Dataset) -> None:
    params = init_params(64, 10, 10, seed=0)
    batches = batch_stream(digits.train_size, 100, 200, seed=0)  # (200, 100)
    losses = {}
    for info in (builtin_info(BACKPROP), builtin_info(AUTOGRAD)):
        losses[info.label] = builtin_runner(info, params, "sigmoid").train(digits, batches, 0.1, []).losses
    # Same formulas, float64, same batches: 1e-10 relative is the harness's own requirement.
    tol = Tolerance(rtol=1e-10, atol=1e-13)
    a, b = losses.values()
    assert a.shape == b.shape == (200,)
    assert_close(a, b, tol, "loss per step (backprop vs autograd)")


# -- bad options: exit 2, one line on stderr --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--dataset", "foo"], "--dataset"),
        (["--iters", "-5"], "--iters"),
        (["--iters", "0"], "--iters"),
        (["--lr", "0"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--only", "gradients,foo"], "foo"),
        (["--only", ","], "--only"),
        (["--hidden-size", "ten"], "--hidden-size"),
    ],
)
def test_bad_option_exits_2_before_any_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    def must_not_run(*a, **k):
        raise AssertionError("the harness ran despite a bad option")

    monkeypatch.setattr(harness, "run", must_not_run)
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    assert named in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: --device cuda is valid")
def test_missing_cuda_device_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--device", "cuda", "--iters", "1", *SMALL]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    assert "cuda" in err


def test_mnist_without_data_exits_2(no_mnist: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dataset", "mnist", "--iters", "1", *SMALL]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    assert "MNIST" in err


@pytest.mark.parametrize(
    "args",
    [["--lr", "nan"], ["--dataset", "mnist", "--iters", "1"], ["--json", "no-such-dir/report.json"]],
    ids=["lr-nan", "mnist-missing", "json-unwritable"],
)
def test_command_line_errors_reach_stderr_without_traceback(
    no_mnist: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    """The real command in a child process: status 2 and one line, whatever layer raised."""
    env = {**no_mnist, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "compare.run", *args, "--threads", "1"],
        cwd=tmp_path,  # relative paths (no-such-dir/...) resolve here
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert_one_line_error(proc.stderr)


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "run", interrupted)
    assert main(["--iters", "1", *SMALL]) == 130
    assert_one_line_error(capsys.readouterr().err)


# -- unwritable outputs fail first; a failed write leaves nothing behind ----------------------


@pytest.mark.parametrize("option", ["--json", "--markdown", "--csv"])
@pytest.mark.parametrize("where", ["missing-dir", "is-a-directory-or-file"])
def test_unwritable_output_fails_before_any_work(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    option: str,
    where: str,
) -> None:
    calls = []

    def must_not_run(*a, **k):
        calls.append(a)
        raise AssertionError("the harness ran before the output path was checked")

    monkeypatch.setattr(harness, "run", must_not_run)
    if where == "missing-dir":
        # --csv creates its directory, so make the parent a file: nothing can be created below it.
        blocker = tmp_path / "blocker"
        blocker.write_text("not a directory\n")
        target = blocker / "out" if option == "--csv" else tmp_path / "no-such-dir" / "out"
    else:
        # --json / --markdown onto a directory; --csv onto a file.
        target = tmp_path / "existing"
        if option == "--csv":
            target.write_text("a file\n")
        else:
            target.mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    assert main([option, str(target), "--iters", "1", *SMALL]) == 2
    out, err = capsys.readouterr()
    assert calls == []
    assert out == ""
    assert_one_line_error(err)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no probe, no partial file


def test_failed_write_leaves_no_partial_or_temporary_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    old = out_dir / "report.json"
    old.write_text('{"previous": true}\n')

    def broken_replace(src, dst, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    status = main(
        ["--only", "gradients", "--iters", "1", "--json", str(old), "--markdown", str(out_dir / "r.md"), *SMALL]
    )
    out, err = capsys.readouterr()

    assert status == 2
    assert_one_line_error(err)
    assert "No space left on device" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.json"]  # no temporary file, no Markdown
    assert old.read_text() == '{"previous": true}\n'  # the old report is untouched


def test_relu_run_checks_exact_pairs_and_reports_numerical_ones(capsys: pytest.CaptureFixture[str]) -> None:
    # ReLU: a numerical gradient is not the derivative where a ±h step crosses a kink, so
    # numerical-vs-exact trajectories drift and are reported only; the exact pair (and the two
    # numerical runs, which cross kinks alike) must still agree, and the run exits 0.
    argv = ["--activation", "relu", "--only", "trajectory", "--iters", "200", "--numerical-iters", "3"]
    argv += ["--fast-numerical-iters", "40", "--no-progress", "--hidden-size", "10"]
    status = main(argv)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "info *" in out and "ReLU kinks" in out
    assert "reported only" in verdict_of(out)


@pytest.mark.parametrize("option", [["--data-dir", "/somewhere"], ["--download"]])
def test_mnist_options_without_mnist_are_refused(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # Silently ignoring them would let `--data-dir` typos pass unnoticed.
    assert main([*option, "--only", "gradients"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--dataset mnist" in err[0]
