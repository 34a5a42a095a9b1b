"""Distributed training and the sharded numerical gradient against one process (torchrun, gloo, 127.0.0.1).

Every job runs 2 local ranks with 1 thread each, on small nets and few steps, and is
bounded by its own limits (``timeout_s``, ``stall_s``): a job that did not end would fail
with a "wall-clock limit" message instead of the one asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from children import CEILING_S, wait_until
from helpers import assert_grads_close
from threadpoolctl import threadpool_limits

from compare.distributed import DistributedFailure, api, ddp_gradient, ddp_train, sharded_numerical_gradient
from compare.distributed.api import uneven_explanation
from compare.distributed.ddp_runner import DistributedRunner
from compare.distributed.jobfiles import write_json
from compare.distributed.launch import _diagnose
from compare.distributed.measure import summarize_rounds
from compare.distributed.rank_train import fsdp_unsupported, shard_bounds
from compare.engine.builtin_runners import NumpyRunner, builtin_info
from compare.engine.protocol import batch_stream
from compare.gradcheck.command import main as gradcheck_main
from compare.gradcheck.command_options import GradcheckConfig
from compare.gradcheck.sharded import sharded_gradcheck
from compare.run import main as run_main
from dlfs_gradcheck.metrics import Tolerance
from dlfs_gradcheck.probe import setup_evals
from impl_numpy import TwoLayerNet, init_params
from impl_numpy.validation import ConfigError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on POSIX only")

# float64, the same sums in another order (DDP averages two half-batch gradients): rounding
# differences of ~1e-16 per step, far under 1e-10 after 50 steps.
TRAJ = Tolerance(rtol=1e-10, atol=1e-14)
LIMIT = dict(timeout_s=120.0)  # per job; a healthy one here takes ~5-10 s on 2 busy cores
STEPS, EVALS, SNAPS = 50, [0, 20, 49], [25]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Job directories go under tmp_path, so the test can see what is left behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def processes_naming(path: Path) -> list[int]:
    """Pids of processes whose command line mentions ``path`` (ranks and launchers of a job there)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if str(path).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def assert_nothing_left(tmp: Path) -> None:
    # torch's own compile cache (torchinductor_<user>) lives in the temp folder by design; it is not a job file.
    left = [p for p in tmp.iterdir() if not p.name.startswith("torchinductor_")]
    assert left == [], f"left behind: {left}"
    assert processes_naming(tmp) == [], "a rank or launcher of the job is still running"


def reference(params, data, batches) -> object:
    return NumpyRunner(builtin_info("backprop"), params, "sigmoid").train(data, batches, 0.1, EVALS, SNAPS)


def assert_same_run(record, ref) -> None:
    assert_grads_close({"loss": record.losses}, {"loss": ref.losses}, TRAJ, "ddp", "backprop")
    assert record.eval_steps == ref.eval_steps
    np.testing.assert_array_equal(record.train_acc, ref.train_acc)
    np.testing.assert_array_equal(record.test_acc, ref.test_acc)
    assert sorted(record.snapshots) == sorted(ref.snapshots) == [25, STEPS]
    for n in record.snapshots:
        assert_grads_close(record.snapshots[n], ref.snapshots[n], TRAJ, f"ddp after {n}", f"backprop after {n}")


def test_ddp_two_ranks_follows_single_process_backprop(digits, digits_params, private_tmp):
    batches = batch_stream(digits.train_size, 20, STEPS, 0)  # (50, 20): shards of 10 and 10
    record, info = ddp_train(digits_params, digits, batches, 0.1, EVALS, SNAPS, ranks=2, **LIMIT)
    assert info["label"] == "ddp[gloo,2]" and info["shards"] == [10, 10] and not info["uneven"]
    assert info["explanation"] is None
    assert_same_run(record, reference(digits_params, digits, batches))
    assert_nothing_left(private_tmp)


def test_uneven_shards_plain_ddp_drifts_and_batch_weighting_agrees(digits, digits_params):
    batches = batch_stream(digits.train_size, 9, STEPS, 0)  # (50, 9): shards of 5 and 4
    ref = reference(digits_params, digits, batches)
    plain, info = ddp_train(digits_params, digits, batches, 0.1, EVALS, SNAPS, ranks=2, **LIMIT)
    assert info["shards"] == [5, 4] and info["uneven"]
    assert "1/10, 1/8" in info["explanation"] and "weighting='batch'" in info["explanation"]
    # Step 0's loss is on the shared initial weights; after it, rows weigh 1/10 or 1/8 instead of 1/9.
    assert plain.losses[0] == pytest.approx(ref.losses[0], rel=1e-14)
    assert np.max(np.abs(plain.losses - ref.losses) / ref.losses) > 1e-6  # far above rounding (1e-16)
    weighted, info = ddp_train(digits_params, digits, batches, 0.1, EVALS, SNAPS, ranks=2, weighting="batch", **LIMIT)
    assert info["shards"] == [5, 4]
    assert_same_run(weighted, ref)


def test_fsdp_agrees_or_says_why(digits, digits_params):
    batches = batch_stream(digits.train_size, 20, STEPS, 0)
    record, info = ddp_train(digits_params, digits, batches, 0.1, EVALS, SNAPS, ranks=2, method="fsdp", **LIMIT)
    if record is None:
        line = info["unsupported"]
        assert line.startswith("FSDP2") and "\n" not in line
        return
    assert info["label"] == "fsdp[gloo,2]"
    assert_same_run(record, reference(digits_params, digits, batches))


def test_ddp_gradient_is_the_full_batch_gradient(digits_params, digits_batch):
    x, t = digits_batch  # (100, 64), (100,)
    grads, info = ddp_gradient(digits_params, x[:9], t[:9], ranks=2, weighting="batch", **LIMIT)
    expected = TwoLayerNet.from_params(digits_params).gradient(x[:9], t[:9])
    assert info["shards"] == [5, 4]
    # float64 backprop vs autograd of the same loss split in two: rounding only.
    assert_grads_close(grads, expected, Tolerance(rtol=1e-10, atol=1e-16), "ddp", "backprop")


def test_sharded_numerical_gradient_is_bit_identical_to_one_process(digits_batch, private_tmp):
    x, t = digits_batch
    params = init_params(64, 6, 10, weight_init_std=0.3, seed=3)  # 460 entries split 230 / 230
    sharded = sharded_numerical_gradient(params, x[:20], t[:20], ranks=2, **LIMIT)
    with threadpool_limits(limits=1):  # each rank's BLAS thread count: the count itself can change the last bits
        single = TwoLayerNet.from_params(params).numerical_gradient(x[:20], t[:20])
    for name in single:
        assert np.array_equal(sharded[name], single[name]), f"{name} differs from one process"
    assert_nothing_left(private_tmp)


@pytest.mark.parametrize(
    ("kind", "message", "stall_s"),
    [
        # A rank that raises or dies is reported by torchrun; the watchdog keeps its default, so that
        # a busy machine cannot make it fire first (it would kill the launcher before the report).
        ("raise", "rank 1 raised ValueError: fault injected at step 5", 60.0),
        ("kill", "rank 1 exited with signal 9 (SIGKILL)", 60.0),
        ("hang", "no progress for 3 s", 3.0),  # only the watchdog ends a hang: a short one
    ],
)
def test_a_failing_rank_ends_the_whole_job(kind, message, stall_s, digits, digits_params, private_tmp):
    batches = batch_stream(digits.train_size, 20, STEPS, 0)
    fault = {"rank": 1, "at_step": 5, "kind": kind}
    with pytest.raises(DistributedFailure) as caught:
        ddp_train(digits_params, digits, batches, 0.1, [], ranks=2, fault=fault, stall_s=stall_s, **LIMIT)
    assert message in str(caught.value)
    assert_nothing_left(private_tmp)


def test_a_failing_rank_ends_the_sharded_gradient(digits_batch, private_tmp):
    x, t = digits_batch
    params = init_params(64, 6, 10, seed=3)
    fault = {"rank": 0, "at_step": 100, "kind": "raise"}  # entry 100 lies in rank 0's half (0..229)
    with pytest.raises(DistributedFailure, match="rank 0 raised ValueError: fault injected at step 100"):
        sharded_numerical_gradient(params, x[:20], t[:20], ranks=2, fault=fault, **LIMIT)
    assert_nothing_left(private_tmp)


PARENT = """
import sys
sys.path.insert(0, {root!r})
from compare.data import load_digits
from compare.distributed import ddp_train
from compare.engine.protocol import batch_stream
from impl_numpy import init_params
data = load_digits()
ddp_train(init_params(64, 10, 10), data, batch_stream(1500, 20, 50, 0), 0.1, [], ranks=2,
          fault={{"rank": 1, "at_step": 3, "kind": "hang"}}, timeout_s=120)
"""


def test_sigterm_to_the_parent_removes_the_job(tmp_path):
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, TMPDIR=str(tmp_path))
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(root=root)], env=env, stderr=subprocess.PIPE)
    # The job is running once rank 1 has beaten (it hangs at step 3, long before its 60 s watchdog).
    wait_until(lambda: any(tmp_path.glob("*/beat_rank1.json")), "rank 1's heartbeat", parent)
    parent.send_signal(signal.SIGTERM)
    # SIGTERM is an interrupt (KeyboardInterrupt): the parent ends, unwinding through the cleanup.
    _, err = parent.communicate(timeout=CEILING_S)
    assert parent.returncode != 0 and b"KeyboardInterrupt" in err, err.decode()
    assert_nothing_left(tmp_path)


# -- no processes: arguments, shards, diagnosis ------------------------------------------------------
def test_shards_follow_array_split():
    for batch, world in [(100, 3), (9, 2), (7, 7), (20, 2)]:
        parts = np.array_split(np.arange(batch), world)
        assert [shard_bounds(batch, world, r) for r in range(world)] == [(p[0], p[-1] + 1) for p in parts]


def test_even_shards_need_no_explanation():
    assert uneven_explanation([50, 50], "ddp") is None
    assert "34/33/33" in uneven_explanation([34, 33, 33], "ddp")


def test_bad_arguments_are_refused_before_launch(digits, digits_params):
    batches = batch_stream(digits.train_size, 4, 3, 0)
    with pytest.raises(ConfigError, match="5 ranks cannot share a batch of 4 rows"):
        ddp_train(digits_params, digits, batches, 0.1, [], ranks=5)
    with pytest.raises(ConfigError, match="weighting"):
        ddp_train(digits_params, digits, batches, 0.1, [], ranks=2, weighting="mean")
    with pytest.raises(ConfigError, match="fault"):
        ddp_train(digits_params, digits, batches, 0.1, [], fault={"rank": 1, "at_step": 0, "kind": "explode"})


def test_diagnosis_names_the_root_cause(tmp_path):
    log = tmp_path / "launcher.log"
    log.write_text("")
    # torch lists rank 0 too (it sent it SIGTERM while tearing down); rank 1's error came first.
    write_json(tmp_path / "failures.json", {
        "0": {"exitcode": -15, "signal": "SIGTERM", "message": "", "time": 10},
        "1": {"exitcode": 1, "signal": "", "message": "", "time": 10},
    })  # fmt: skip
    write_json(tmp_path / "error_rank0.json", {"rank": 0, "type": "RuntimeError", "message": "peer gone", "time": 2.0})
    write_json(tmp_path / "error_rank1.json", {"rank": 1, "type": "KeyError", "message": "'x'\nmore", "time": 1.0})
    assert _diagnose(tmp_path, 1, 2, log) == "rank 1 raised KeyError: 'x'"
    # A rank killed by another signal outranks the errors that followed it.
    write_json(tmp_path / "failures.json", {"1": {"exitcode": -9, "signal": "SIGKILL", "message": "", "time": 10}})
    assert _diagnose(tmp_path, 1, 2, log) == "rank 1 exited with signal 9 (SIGKILL)"


def test_fsdp_refusal_is_one_line():
    line = fsdp_unsupported(RuntimeError("reduce_scatter is not supported\nsecond line"))
    assert line.startswith("FSDP2 (fully_shard) does not run on torch ") and "\n" not in line
    assert line.endswith("RuntimeError: reduce_scatter is not supported")


def test_runner_describes_itself_without_starting_a_job(digits_params):
    runner = DistributedRunner(digits_params, "sigmoid", ranks=3, weighting="batch", backend="gloo")
    assert runner.info.label == "ddp[gloo,3,weighted]"
    assert (runner.info.family, runner.info.kind, runner.info.framework) == ("ddp", "exact", "torch")
    digits_params["W1"][0, 0] = 123.0  # the runner holds a copy
    assert runner.params["W1"][0, 0] != 123.0


# -- the sharded full check and the harness's sharded book-loop gradient ------------------------------
@pytest.fixture
def bounded_jobs(monkeypatch):
    """Jobs started by the commands get this test's limits instead of the 30-minute default."""
    real = api.job_limits
    monkeypatch.setattr(api, "job_limits", lambda timeout_s, stall_s: real(120.0, min(stall_s, 30.0)))


def gradcheck_doc(tmp_path: Path, options: list[str], ranks: int) -> tuple[int, dict]:
    out = tmp_path / f"check{ranks}.json"
    status = gradcheck_main([*options, "--ranks", str(ranks), "--threads", "1", "--quiet", "--json", str(out)])
    doc = json.loads(out.read_text())
    # What differs by design: the timings, and the options that name the ranks and the output file.
    for report in doc["reports"]:
        report.pop("seconds")
    for key in ("ranks", "json_path"):
        doc["config"].pop(key)
    return status, doc


@pytest.mark.parametrize(
    ("options", "passing"),
    [
        (["--activation", "relu"], True),  # every entry passes
        (["--impl", "numpy", "--loss", "book"], False),  # W2 and b2 mismatch (the book's 1e-7): entries listed
    ],
)
def test_sharded_full_check_gives_the_one_process_report(options, passing, tmp_path, bounded_jobs, private_tmp):
    small = ["--sizes", "20,6,3", "--batch", "8", "--max-entries", "0", *options]
    (tmp_path / "out").mkdir()
    status_one, one = gradcheck_doc(tmp_path / "out", small, 1)
    status_two, two = gradcheck_doc(tmp_path / "out", small, 2)
    assert status_one == status_two == (0 if passing else 1)
    assert two == one  # every number: values, allowed errors, worst entries, loss evaluations
    # Each entry's 2 evaluations once over both ranks, plus the set-up's (the point, the noise estimate);
    # failing entries add kink tests.
    evals, least = two["reports"][0]["n_loss_evals"], 2 * (20 * 6 + 6 + 6 * 3 + 3) + setup_evals("central")
    assert evals == least if passing else evals > least
    assert [p.name for p in private_tmp.iterdir()] == ["out"]  # the job's folder is gone


def test_a_check_the_ranks_cannot_make_exits_2_like_one_process(capsys, bounded_jobs):
    small = ["--sizes", "20,6,3", "--batch", "8", "--eps", "1e-30", "--impl", "numpy", "--threads", "1"]
    assert gradcheck_main([*small, "--ranks", "1"]) == 2
    alone = capsys.readouterr().err
    assert gradcheck_main([*small, "--ranks", "2"]) == 2
    assert capsys.readouterr().err == alone and alone.startswith("error: eps=1e-30 is unusable")


def test_a_failing_rank_ends_the_sharded_check(private_tmp):
    config = asdict(GradcheckConfig(sizes=(20, 6, 3), batch=8, max_entries=None, ranks=2))
    fault = {"rank": 1, "at_step": 90, "kind": "raise"}  # position 90 of W1's 120 entries lies in rank 1's half
    with pytest.raises(DistributedFailure, match="rank 1 raised ValueError: fault injected at step 90"):
        sharded_gradcheck(config, 2, fault=fault, **LIMIT)
    assert_nothing_left(private_tmp)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--mode", "fast"], "error: --ranks applies to --mode full"),
        (["--impl", "mine.py:Net"], "error: --ranks checks the numpy and torch nets"),
    ],
)
def test_ranks_are_refused_where_they_do_not_apply(options, message, capsys):
    assert gradcheck_main([*options, "--ranks", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_harness_gradient_table_is_the_same_on_two_ranks(tmp_path, bounded_jobs, monkeypatch):
    jobs, real = [], api.sharded_numerical_gradient

    def counted(*args, **kw):
        jobs.append((args[5], kw["threads"]))  # (ranks, threads per rank)
        return real(*args, **kw)

    monkeypatch.setattr(api, "sharded_numerical_gradient", counted)

    def numerical_rows(ranks: int) -> list[dict]:
        out = tmp_path / f"run{ranks}.json"
        small = ["--only", "gradients", "--hidden-size", "5", "--threads", "1", "--no-jax", "--quiet"]
        assert run_main([*small, "--ranks", str(ranks), "--json", str(out)]) == 0
        rows = json.loads(out.read_text())["gradients"]["rows"]
        return [r for r in rows if "numerical" in (r["method_a"], r["method_b"])]

    one = numerical_rows(1)
    assert jobs == []  # one rank: the loop runs in this process
    two = numerical_rows(2)
    assert jobs == [(2, 1)]  # the gradient section's numerical row came from 2 ranks of 1 thread
    assert len(one) >= 3 * 4  # numerical against numerical-fast, backprop and autograd, per parameter
    assert two == one


def test_sharded_rounds_report_medians_spreads_and_speedups():
    one = [{"compute_s": c, "wall_s": w} for c, w in ((10.0, 12.0), (12.0, 14.0), (11.0, 13.0))]
    many = [{"compute_s": c, "wall_s": w} for c, w in ((5.0, 8.0), (8.0, 7.0), (5.5, 6.5))]
    out = summarize_rounds(one, many)
    assert out["rounds"] == 3
    assert out["compute_s"]["1"] == {"median": 11.0, "spread": 1.0, "values": [10.0, 12.0, 11.0]}
    assert out["compute_s"]["n"]["median"] == 5.5 and out["compute_s"]["n"]["spread"] == 1.5
    assert out["compute_s"]["speedup"]["values"] == [2.0, 1.5, 2.0]  # per round, not a ratio of medians
    assert out["compute_s"]["speedup"]["median"] == 2.0 and out["compute_s"]["speedup"]["spread"] == 0.25
    assert out["wall_s"]["speedup"]["values"] == [1.5, 2.0, 2.0]


def test_a_failed_job_is_exit_3_with_one_line(monkeypatch, capsys):
    """``compare.run --ddp 2``: the job's failure (tested above with real ranks) ends the command with exit 3."""
    from compare.distributed.ddp_runner import DistributedRunner
    from compare.run import main

    def killed(self, *args, **kwargs):
        raise DistributedFailure("rank 1 exited with signal 9 (SIGKILL)")

    monkeypatch.setattr(DistributedRunner, "train", killed)
    args = ["--ddp", "2", "--only", "trajectory", "--iters", "20", "--hidden-size", "5", "--threads", "1"]
    assert main([*args, "--numerical-iters", "0", "--fast-numerical-iters", "0", "--no-jax", "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert err == "error: rank 1 exited with signal 9 (SIGKILL)\n"


def test_uneven_shards_are_explained_in_the_report(tmp_path):
    """``compare.run --ddp 3``: 20 rows over 3 ranks (7/7/6); the report says why DDP's trajectory drifts."""
    import json

    from compare.run import main

    out = tmp_path / "r.json"
    args = ["--ddp", "3", "--only", "trajectory", "--iters", "20", "--batch-size", "20", "--hidden-size", "5"]
    args += ["--numerical-iters", "0", "--fast-numerical-iters", "0", "--no-jax", "--threads", "1", "--no-progress"]
    main([*args, "--json", str(out)])  # exit 1 or 0: the drift over 20 steps may stay under the tolerance
    notes = json.loads(out.read_text())["trajectory"]["notes"]
    (note,) = [n for n in notes if n["method"] == "ddp[gloo,3]"]
    assert note["status"] == "note" and "7/7/6" in note["message"] and "--ddp-weighting batch" in note["message"]
