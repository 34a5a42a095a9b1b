"""The launcher process: torch's own ``torch.distributed.run`` (torchrun), plus two duties.

Run by :mod:`compare.distributed.launch` as
``python -m compare.distributed.elastic JOB_DIR -- <torchrun arguments>``. It hands
the arguments to ``torch.distributed.run`` unchanged (standalone rendezvous, worker
processes, failure detection and teardown are torch's), and adds:

- when a rank fails, torch's ``ChildFailedError`` is written to ``JOB_DIR/failures.json``
  (global rank, exit code, signal name, message, time), so the parent can name the
  rank and the cause without parsing log text;
- if the parent dies without cleaning up (``SIGKILL``), this process notices within a
  second, removes ``JOB_DIR`` and kills its own process group (the ranks included).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from compare.distributed.jobfiles import FAILURES, write_json


def _watch_parent(job: Path, parent: int) -> None:
    """Daemon loop: once the parent is gone (we are re-parented), clean up and end the group."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            shutil.rmtree(job, ignore_errors=True)
            os.killpg(os.getpgid(0), signal.SIGKILL)


def _failures(err: Exception) -> dict:
    found = {}
    for rank, failure in err.failures.items():
        found[str(rank)] = {
            "exitcode": failure.exitcode,
            "signal": failure.signal_name() if failure.exitcode < 0 else "",
            "message": str(failure.message)[-2000:],
            "time": failure.timestamp,
        }
    return found


def main(argv: list[str]) -> int:
    job = Path(argv[0])
    torchrun_args = argv[2:] if len(argv) > 1 and argv[1] == "--" else argv[1:]
    threading.Thread(target=_watch_parent, args=(job, os.getppid()), daemon=True).start()

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(torchrun_args))
    except ChildFailedError as err:
        write_json(job / FAILURES, _failures(err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
