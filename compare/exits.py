"""How a command ends: its exit statuses, and the one line it prints on failing.

Exit statuses: 0 every check passed; 1 a check failed; 2 bad usage or input (one line on
stderr, :func:`fail`); 3 a run that could not complete (training diverged, an internal error;
one line); 130 interrupted (SIGINT or SIGTERM); 141 the reader of standard output left.
:func:`compare.supervise.run_main` turns every way a command can end into one of them. Standard
library only.
"""

from __future__ import annotations

import os
import sys

from compare.terminal import printable


class UsageError(ValueError):
    """A bad command-line option (exit status 2)."""


class RunIncomplete(RuntimeError):
    """A run that could not complete, e.g. training diverged (exit status 3)."""


EXIT_STATUSES = (
    "Exit status: 0 every check passed; 1 a check failed (the implementations disagree); 2 bad usage or input "
    "(one line on stderr); 3 the run could not complete (training diverged, an internal error; one line); "
    "130 interrupted (SIGINT or SIGTERM), nothing half-written; 141 the reader of stdout left (| head)."
)


BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell shows for a writer whose reader left


def fail(message: str, status: int = 2) -> int:
    """Print ``message`` as one line on stderr (lines joined, control characters escaped); return ``status``."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"error: {printable(line)}", file=sys.stderr, flush=True)
    return status


def describe_os_error(error: OSError) -> str:
    """One line naming the file and the reason, e.g. ``cannot access /x/y: Permission denied``."""
    if error.filename is None or error.strerror is None:
        return str(error)
    where = os.fsdecode(error.filename) if isinstance(error.filename, (str, bytes)) else error.filename
    return f"cannot access {printable(where)}: {error.strerror}"
