"""The Python API of distributed runs: DDP/FSDP training, the distributed and the sharded numerical gradient.

Usage::

    record, info = ddp_train(params, data, batches, lr=0.1, eval_at=[0, 15], ranks=2)
    grads = sharded_numerical_gradient(params, x, t, activation="sigmoid", ranks=2)

Each starts a local torchrun job (:mod:`compare.distributed.launch`), pass the inputs as
``.npy`` files, and read rank 0's outputs back before the job directory is removed.
A job that cannot complete raises :class:`DistributedFailure` (one line: rank and cause);
bad arguments raise :class:`impl_numpy.validation.ConfigError` before anything starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from compare.distributed.jobfiles import (
    RESULT,
    SPEC,
    read_array,
    read_arrays,
    read_json,
    write_array,
    write_arrays,
    write_json,
)
from compare.distributed.launch import JobDir, Limits, choose_backend, launch
from compare.distributed.worker import FAULT_KINDS
from compare.engine.protocol import TrainRecord
from impl_numpy.validation import PARAM_NAMES, ConfigError, check_activation, check_params

WEIGHTINGS = ("ddp", "batch")  # ddp: plain mean of per-rank means; batch: full-batch mean gradient
METHODS = ("ddp", "fsdp")


def job_limits(timeout_s: float | None, stall_s: float) -> Limits:
    base = Limits()
    return Limits(timeout_s=base.timeout_s if timeout_s is None else float(timeout_s), stall_s=float(stall_s))


def _check_ranks(ranks: int, batch: int) -> None:
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1:
        raise ConfigError(f"ranks must be a positive integer, got {ranks!r}")
    if ranks > batch:
        raise ConfigError(f"{ranks} ranks cannot share a batch of {batch} rows (a rank would get none)")


def check_fault(fault: Mapping | None) -> dict | None:
    if fault is None:
        return None
    if set(fault) != {"rank", "at_step", "kind"} or fault["kind"] not in FAULT_KINDS:
        raise ConfigError(f"fault must be {{'rank', 'at_step', 'kind' in {FAULT_KINDS}}}, got {dict(fault)!r}")
    return {"rank": int(fault["rank"]), "at_step": int(fault["at_step"]), "kind": str(fault["kind"])}


def uneven_explanation(shards: list[int], weighting: str) -> str | None:
    """One paragraph on what uneven shards do to DDP's average (None when the shards are even)."""
    if len(set(shards)) <= 1:
        return None
    batch, world = sum(shards), len(shards)
    split = "/".join(map(str, shards))
    counts = ", ".join(f"1/{n * world}" for n in sorted(set(shards), reverse=True))
    text = (
        f"The batch of {batch} rows splits over {world} ranks as {split} rows. Each rank's loss is the mean over "
        f"its own rows and DistributedDataParallel averages the {world} ranks' gradients with equal weights, so "
        f"a row counts {counts} depending on its rank instead of 1/{batch} each: every step follows a slightly "
        "different gradient than the full-batch mean, and the trajectory drifts from the single-process one. "
    )
    if weighting == "batch":
        return text + "Here each rank's loss was scaled by n_rank * world / B, which makes the average exact again."
    return text + (
        "--ddp-weighting batch (weighting='batch' in the API) scales each rank's loss by n_rank * world / B and "
        "makes the average exact again."
    )


def ddp_train(
    params: Mapping[str, np.ndarray],
    data: object,
    batches: np.ndarray,
    lr: float,
    eval_at: Iterable[int],
    snapshot_at: Iterable[int] = (),
    activation: str = "sigmoid",
    ranks: int = 2,
    weighting: str = "ddp",
    method: str = "ddp",
    timeout_s: float | None = None,
    *,
    dtype: str = "float64",
    backend: str = "auto",
    stall_s: float = 60.0,
    fault: Mapping | None = None,
) -> tuple[TrainRecord | None, dict]:
    """Train the two-layer net on ``ranks`` local ranks (DDP or FSDP2); TrainRecord semantics of one process.

    ``data`` has x_train (N, D), t_train (N,), x_test (M, D), t_test (M,); ``batches`` is (steps, B) row
    indices. Returns ``(record, info)``; ``record`` is None only when FSDP2 cannot run here, and then
    ``info["unsupported"]`` says why in one line. ``info`` also holds the label, backend, shard sizes,
    ``uneven`` and its ``explanation``, and the wall time with (``wall_s``) and without (``seconds``)
    the launch.
    """
    batches = np.asarray(batches)
    if batches.ndim == 2:
        _check_ranks(ranks, batches.shape[1])
    chosen = choose_backend(ranks, backend)
    start = time.perf_counter()
    with JobDir() as job:
        spec = write_train_job(
            job, params, data, batches, lr, eval_at, snapshot_at, activation, weighting, method,
            dtype=dtype, backend=chosen, fault=fault,
        )  # fmt: skip
        launch(job, spec, ranks, job_limits(timeout_s, stall_s))
        record, info = read_train_job(job)
    info["wall_s"] = time.perf_counter() - start
    return record, info


def write_train_job(
    job: Path,
    params: Mapping[str, np.ndarray],
    data: object,
    batches: np.ndarray,
    lr: float,
    eval_at: Iterable[int],
    snapshot_at: Iterable[int] = (),
    activation: str = "sigmoid",
    weighting: str = "ddp",
    method: str = "ddp",
    *,
    dtype: str = "float64",
    backend: str = "gloo",
    fault: Mapping | None = None,
) -> dict:
    """Write a training job into the folder ``job`` (spec.json + .npy inputs); returns the spec.

    :func:`ddp_train` does this in a private temporary folder; on several machines, write it on a
    folder every node sees, start ``torchrun ... -m compare.distributed.worker JOB`` on each node,
    then read the outcome with :func:`read_train_job`.
    """
    batches = np.asarray(batches)
    if batches.ndim != 2 or batches.dtype.kind not in "iu":
        raise ConfigError(f"batches must be a (steps, B) integer array, got {batches.dtype} {batches.shape}")
    if weighting not in WEIGHTINGS or method not in METHODS:
        raise ConfigError(f"weighting must be one of {WEIGHTINGS} and method one of {METHODS}")
    spec = {
        "task": "train", "method": method, "weighting": weighting, "backend": backend, "dtype": dtype,
        "activation": check_activation(activation), "lr": float(lr), "batch": int(batches.shape[1]),
        "eval_at": sorted({int(i) for i in eval_at}), "snapshot_at": sorted({int(i) for i in snapshot_at}),
        "fault": check_fault(fault), "stall_s": Limits().stall_s,
    }  # fmt: skip
    job = Path(job)
    write_arrays(job, "param_", check_params(params))
    for name in ("x_train", "t_train", "x_test", "t_test"):
        write_array(job, name, getattr(data, name))
    write_array(job, "batches", batches)
    write_json(job / SPEC, spec)
    return spec


def read_train_job(job: Path) -> tuple[TrainRecord | None, dict]:
    """The record and info of a finished training job in folder ``job`` (see :func:`ddp_train`)."""
    job = Path(job)
    spec, result = read_json(job / SPEC), read_json(job / RESULT)
    method, weighting = spec["method"], spec["weighting"]
    info = {"label": f"{method}[{spec['backend']},{result['world']}]", "backend": spec["backend"]}
    info |= {"ranks": result["world"], "method": method, "weighting": weighting}
    if "unsupported" in result:
        return None, info | {"unsupported": result["unsupported"]}
    shards = result["shards"]
    info |= {"shards": shards, "uneven": len(set(shards)) > 1, "explanation": uneven_explanation(shards, weighting)}
    acc = read_array(job, "accuracy")  # (evals, 2)
    snaps = {n: read_arrays(job, f"snap{n}_", PARAM_NAMES) for n in result["snapshot_steps"]}
    losses = read_array(job, "losses")  # (steps,)
    record = TrainRecord(losses, list(result["eval_steps"]), acc[:, 0].copy(), acc[:, 1].copy(), snaps)
    record.seconds = info["seconds"] = result["seconds"]
    return record, info


def ddp_gradient(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    activation: str = "sigmoid",
    ranks: int = 2,
    weighting: str = "ddp",
    method: str = "ddp",
    timeout_s: float | None = None,
    *,
    dtype: str = "float64",
    backend: str = "auto",
) -> tuple[dict[str, np.ndarray] | None, dict]:
    """The gradient DDP (or FSDP2) leaves on the weights after one backward of batch ``(x, t)`` split by rank."""
    x, t = np.asarray(x), np.asarray(t)
    _check_ranks(ranks, len(t))
    chosen = choose_backend(ranks, backend)
    spec = {"task": "gradient", "method": method, "weighting": weighting, "backend": chosen, "dtype": dtype}
    spec["activation"] = check_activation(activation)
    info = {"label": f"{method}[{chosen},{ranks}]", "backend": chosen, "ranks": ranks, "weighting": weighting}
    with JobDir() as job:
        write_arrays(job, "param_", check_params(params))
        write_array(job, "x", x)
        write_array(job, "t", t)
        result = launch(job, spec, ranks, job_limits(timeout_s, 60.0))
        if "unsupported" in result:
            return None, info | {"unsupported": result["unsupported"]}
        grads = read_arrays(job, "grad_", PARAM_NAMES)
    shards = result["shards"]
    return grads, info | {"shards": shards, "explanation": uneven_explanation(shards, weighting)}


def sharded_numerical_gradient(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    activation: str = "sigmoid",
    h: float = 1e-4,
    ranks: int = 2,
    timeout_s: float | None = None,
    *,
    stall_s: float = 60.0,
    fault: Mapping | None = None,
    timings: dict | None = None,
    threads: int = 1,
) -> dict[str, np.ndarray]:
    """The book's central-difference gradient (float64), entries split over ``ranks``: bit-identical to one process.

    Bit-identical means: equal to one process whose BLAS uses the same number of threads as each rank
    (``threads``, default 1). The thread count itself changes the last bits of a matrix product (OpenBLAS
    splits the sums differently), so a 2-thread process differs from a 1-thread one, sharded or not.

    Pass a dict as ``timings`` to get ``seconds`` (rank 0, barrier to gather), ``rank_seconds`` and
    ``wall_s`` (launch included) filled in.
    """
    p = check_params(params)
    total = sum(v.size for v in p.values())
    if isinstance(ranks, bool) or not isinstance(ranks, int) or not 1 <= ranks <= total:
        raise ConfigError(f"ranks must be an integer from 1 to the {total} parameter entries, got {ranks!r}")
    spec = {"task": "numgrad", "backend": "gloo", "activation": check_activation(activation), "h": float(h)}
    spec["fault"] = check_fault(fault)
    start = time.perf_counter()
    with JobDir() as job:
        write_arrays(job, "param_", {k: np.asarray(v, dtype=np.float64) for k, v in p.items()})
        write_array(job, "x", np.asarray(x, dtype=np.float64))
        write_array(job, "t", np.asarray(t))
        result = launch(job, spec, ranks, job_limits(timeout_s, stall_s), threads=threads)
        grads = read_arrays(job, "grad_", PARAM_NAMES)
    if timings is not None:
        timings.update(result, wall_s=time.perf_counter() - start)
    return grads
