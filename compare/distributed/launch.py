"""Start a distributed job on this machine through torchrun, watch it, and end it cleanly.

Usage::

    with JobDir() as job:
        write inputs into job (see compare.distributed.jobfiles)
        result = launch(job, spec, ranks=2, limits=Limits())
        read outputs from job

:func:`launch` runs ``torch.distributed.run`` (torchrun) with a standalone rendezvous on
127.0.0.1 (the launcher picks a free port), N ranks of :mod:`compare.distributed.worker`,
one thread each, gloo on CPU or NCCL when every rank has a GPU. It returns rank 0's
``result.json`` or raises one :class:`DistributedFailure` naming the rank and the cause:

- a rank raises: ``rank 1 raised ValueError: ...`` (from the rank's own error file);
- a rank dies: ``rank 1 exited with signal 9 (SIGKILL)`` (from torch's ``ChildFailedError``);
- a rank hangs: ``no progress for 60 s ...`` once no rank has written a heartbeat for
  ``Limits.stall_s``; ``Limits.timeout_s`` bounds the whole job; ``Limits.startup_s`` the
  time until every rank has joined.

Whatever happens, every rank and the launcher are killed (SIGKILL) before this returns or
raises, so a failure ends the job within ``stall_s`` + ~1 s. :class:`JobDir` removes the
temporary directory on exit, also on SIGINT and SIGTERM of this process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from compare.distributed.jobfiles import FAILURES, RESULT, SPEC, read_beats, read_json, write_json
from compare.incomplete import RunIncomplete

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding compare/ and impl_*/


class DistributedFailure(RunIncomplete):
    """A distributed job that could not complete; the message names the rank and the cause."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 1800.0  # the whole job, wall clock
    stall_s: float = 60.0  # no heartbeat from any rank for this long: a hang
    startup_s: float = 120.0  # launcher start, rendezvous, imports and process-group setup


def choose_backend(ranks: int, backend: str = "auto") -> str:
    """``nccl`` when every rank can have its own GPU (and torch has NCCL), else ``gloo``."""
    if backend != "auto":
        return backend
    import torch
    import torch.distributed as dist

    if torch.cuda.is_available() and torch.cuda.device_count() >= ranks and dist.is_nccl_available():
        return "nccl"
    return "gloo"


class JobDir(contextlib.AbstractContextManager):
    """A private temporary directory, removed on exit; SIGTERM meanwhile exits through the cleanup."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="dlfs-dist-"))
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
        shutil.rmtree(self.path, ignore_errors=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # The project's one meaning of SIGTERM: an interrupt (exit status 130). It unwinds through
    # launch()'s and JobDir's cleanup, which end the ranks and remove the job's files.
    raise KeyboardInterrupt


def _torchrun_args(job: Path, ranks: int, module: str = "compare.distributed.worker") -> list[str]:
    return [
        "--standalone",  # c10d rendezvous on this host, free port chosen by the launcher
        "--nnodes=1",
        f"--nproc-per-node={ranks}",
        "--local-addr=127.0.0.1",  # MASTER_ADDR for the ranks: loopback only
        "--max-restarts=0",
        "--monitor-interval=0.1",
        f"--log-dir={job / 'logs'}",  # torchrun's own files stay inside the job directory
        "-m",
        module,
        str(job),
    ]


def _environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")  # ranks import this checkout
    if sys.platform.startswith("linux") and Path("/sys/class/net/lo").exists():
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    return env


def kill_job(job: Path, launcher: subprocess.Popen | None, ranks: int) -> None:
    """SIGKILL every rank (each has its own session) and the launcher's process group; wait for the launcher."""
    for rank in range(ranks):
        try:
            pid = int(read_json(job / f"pid_rank{rank}.json")["pid"])
        except (OSError, ValueError, KeyError):
            continue
        if _is_rank_of(pid, job):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    if launcher is not None and launcher.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()


def _is_rank_of(pid: int, job: Path) -> bool:
    """Guard against a reused pid: the process's command line must name this job directory."""
    try:
        return str(job).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return not Path("/proc/self").exists()  # no /proc (macOS): trust the pid file


def launch(
    job: Path, spec: dict, ranks: int, limits: Limits = Limits(), threads: int = 1, module: str | None = None
) -> dict:
    """Run ``spec`` on ``ranks`` local ranks of ``threads`` threads: rank 0's result or a DistributedFailure.

    ``module``: the rank program torchrun starts (default :mod:`compare.distributed.worker`; another
    one runs its task through :func:`compare.distributed.worker.main`).
    """
    write_json(job / SPEC, spec | {"stall_s": limits.stall_s})
    args = _torchrun_args(job, ranks, module or "compare.distributed.worker")
    cmd = [sys.executable, "-m", "compare.distributed.elastic", str(job), "--", *args]
    log_path = job / "launcher.log"
    launcher = None
    try:
        with open(log_path, "wb") as log:
            launcher = subprocess.Popen(
                cmd, env=_environment(threads), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as a whole
            )  # fmt: skip
            cause = _watch(job, launcher, ranks, limits)
    finally:
        kill_job(job, launcher, ranks)
    # A rank's own error or death explains a stall that followed it; otherwise the watchdog's cause stands.
    cause = _diagnose(job, launcher.returncode, ranks, log_path, root_only=cause is not None) or cause
    if cause is not None:
        raise DistributedFailure(cause)
    return read_json(job / RESULT)


def _watch(job: Path, launcher: subprocess.Popen, ranks: int, limits: Limits) -> str | None:
    """Poll until the launcher exits (None) or a limit is passed (the cause, as one line)."""
    start = time.monotonic()
    while launcher.poll() is None:
        elapsed = time.monotonic() - start
        if elapsed > limits.timeout_s:
            return f"the job ran past its {limits.timeout_s:g} s wall-clock limit"
        beats = read_beats(job, ranks)
        if not beats and elapsed > limits.startup_s:
            return f"the ranks did not all start within {limits.startup_s:g} s"
        if beats:
            silent = time.time() - max(b["time"] for b in beats.values())
            if silent > limits.stall_s:
                return f"no progress for {limits.stall_s:g} s ({_last_steps(beats, ranks)})"
        time.sleep(0.1)
    return None


def _last_steps(beats: dict[int, dict], ranks: int) -> str:
    parts = []
    for rank in range(ranks):
        if rank not in beats:
            parts.append(f"rank {rank} never reported")
            continue
        ago, step = time.time() - beats[rank]["time"], beats[rank]["step"]
        where = "after setup" if step < 0 else f"at step {step}"
        parts.append(f"rank {rank} last seen {where}, {ago:.0f} s ago")
    return "; ".join(parts)


def _diagnose(job: Path, returncode: int, ranks: int, log_path: Path, root_only: bool = False) -> str | None:
    """None if the job succeeded, else one line naming the failed rank and why.

    ``root_only``: only a rank's own error or death counts (the launcher was killed by the watchdog).
    """
    failures = read_json(job / FAILURES) if (job / FAILURES).exists() else {}
    by_time = sorted(failures.items(), key=lambda kv: (kv[1]["time"], int(kv[0])))
    # A rank killed by a signal other than SIGTERM (which torch sends when it tears the job
    # down) is the root cause: the others' errors (lost connections) follow from it.
    for rank, failure in by_time:
        if failure["exitcode"] < 0 and failure["signal"] != "SIGTERM":
            return _signalled(rank, failure)
    errors = [read_json(job / f"error_rank{r}.json") for r in range(ranks) if (job / f"error_rank{r}.json").exists()]
    if errors:
        first = min(errors, key=lambda e: e["time"])  # later errors are the other ranks losing their peer
        message = first["message"].strip().splitlines()[0] if first["message"].strip() else ""
        return f"rank {first['rank']} raised {first['type']}: {message}"
    if root_only:
        return None
    for rank, failure in by_time:
        if failure["exitcode"] < 0:
            return _signalled(rank, failure)
    for rank, failure in failures.items():
        return f"rank {rank} exited with code {failure['exitcode']}"
    if returncode != 0:
        return f"the launcher exited with code {returncode}: {_last_line(log_path)}"
    if not (job / RESULT).exists():
        return "the job ended without rank 0's result"
    return None


def _signalled(rank: str, failure: dict) -> str:
    return f"rank {rank} exited with signal {-failure['exitcode']} ({failure['signal']})"


def _last_line(path: Path) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"
