"""The full check on local ranks: ``python -m compare.gradcheck --mode full --ranks N``.

Usage::

    ok, doc, text = sharded_gradcheck(asdict(GradcheckConfig(ranks=2)), ranks=2)

A torchrun job (:mod:`compare.distributed.launch`) runs :mod:`compare.gradcheck.ranks` on each
rank; the reference derivatives are split over the ranks and rank 0 writes the same report as one
process. A check that cannot be made raises :class:`~dlfs_gradcheck.errors.GradcheckError`; a
failed job, :class:`~compare.distributed.launch.DistributedFailure`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from compare.distributed import api
from compare.distributed.jobfiles import read_json
from compare.distributed.launch import DistributedFailure, JobDir, launch
from dlfs_gradcheck.errors import GradcheckError
from impl_numpy.validation import ConfigError

GRADCHECK_RANKS = "compare.gradcheck.ranks"  # the rank program of a sharded check (an entry point)
GRADCHECK_DOC = "gradcheck.json"  # its report, as compare.files.to_json writes it (rank 0)
GRADCHECK_REFUSED = "refused.json"  # a check that cannot be made: {"rank", "message"}


def sharded_gradcheck(
    config: Mapping, ranks: int, threads: int = 1, timeout_s: float | None = None, *, stall_s: float = 60.0,
    fault: Mapping | None = None,
) -> tuple[bool, dict, str]:  # fmt: skip
    """``python -m compare.gradcheck --mode full`` on ``ranks`` local ranks: ``(ok, JSON doc, text)``.

    ``config`` is the checker's configuration as a JSON-ready dict (``dataclasses.asdict`` of
    :class:`compare.gradcheck.command_options.GradcheckConfig`); every rank rebuilds the problem from it
    (see :mod:`compare.gradcheck.ranks`, the rank program). The doc equals one process's at ``threads``
    BLAS threads, except its ``seconds`` (rank 0's) and ``config["ranks"]``. A check that cannot
    be made raises :class:`compare.gradcheck.GradcheckError` as in one process; a failed job,
    :class:`DistributedFailure`.
    """
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1:
        raise ConfigError(f"ranks must be a positive integer, got {ranks!r}")
    spec = {"task": "gradcheck", "backend": "gloo", "config": dict(config), "fault": api.check_fault(fault)}
    with JobDir() as job:
        try:
            limits = api.job_limits(timeout_s, stall_s)
            result = launch(job, spec, ranks, limits, threads=threads, module=GRADCHECK_RANKS)
        except DistributedFailure:
            if (job / GRADCHECK_REFUSED).exists():  # the check itself cannot be made: not a failure of the job
                raise GradcheckError(read_json(job / GRADCHECK_REFUSED)["message"]) from None
            raise
        doc = json.loads((job / GRADCHECK_DOC).read_text(encoding="utf-8"))
    return bool(result["ok"]), doc, str(result["text"])
