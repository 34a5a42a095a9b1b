"""What every command line of the project shares: its parser, its name, its ``main``.

Every command's ``main`` is :func:`command`: parse the options (:class:`Parser`; bad usage is
exit 2), pin the thread count, run under :func:`compare.supervise.run_main`. What the commands
share besides lives beside this module: the exit statuses and the one-line errors
(:mod:`compare.exits`), the signal handler (:mod:`compare.signals`), the option types
(:mod:`compare.options`) and the machine's limits (:mod:`compare.resources`). Standard library
only, so that options are parsed and thread counts set before the command computes anything
(:func:`compare.env.set_threads` also limits a BLAS that a parser's imports have loaded).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from compare.exits import EXIT_STATUSES, UsageError, fail
from compare.supervise import run_main
from compare.terminal import use_stand_ins


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting; ``--help`` ends with the exit statuses.

    Every command gets ``--version`` (``<prog> <version>``, exit 0); a subcommand's parser is made
    with ``version=False``.
    """

    def __init__(self, *args: object, version: bool = True, **kwargs: object) -> None:
        kwargs.setdefault("epilog", EXIT_STATUSES)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if version:
            import compare

            self.add_argument("--version", action="version", version=f"%(prog)s {compare.__version__}")

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def program(module: str) -> str:
    """The command's name as the user typed it: an installed script's (``dlfs-report``), else ``python -m module``."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    script = script.removesuffix(".exe")  # the launchers pip writes on Windows
    return script if script.startswith("dlfs-") else f"python -m {module}"


def command(
    argv: list[str] | None, parse: Callable[[list[str] | None], object], execute: Callable[[object], int]
) -> int:
    """Every command's ``main``: parse (bad usage: exit 2), pin the thread count, run (Ctrl-C: exit 130).

    The thread count (an option's ``threads``) is set before ``execute`` computes anything: in
    the environment, read by a BLAS as it loads, and in those already loaded. A terminal that
    cannot show a character gets an ASCII stand-in for it (:func:`compare.terminal.use_stand_ins`),
    not a failed command.
    """
    use_stand_ins()
    try:
        cfg = parse(argv)
    except UsageError as e:
        return fail(str(e))
    threads = getattr(cfg, "threads", None)
    if threads:
        from compare.env import set_threads

        set_threads(threads)
    return run_main(lambda: execute(cfg))
