"""What every command line of the project shares: parsing types, one-line errors, exit statuses.

Exit statuses: 0 every check passed; 1 a check failed; 2 bad usage or input (one line on
stderr); 3 a run that could not complete (one line); 130 interrupted. Standard library only,
so that options are parsed and thread counts set before numpy or torch load.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


class UsageError(ValueError):
    """A bad command-line option (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def int_at_least(low: int, wording: str):
    """An argparse type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {wording}, got {text!r}")
        return value

    return parse


positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0, "an integer >= 0")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def fail(message: str, status: int = 2) -> int:
    """Print ``message`` as one line on stderr (a multi-line message is joined); return ``status``."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"error: {line}", file=sys.stderr)
    return status


def run_main(main: Callable[[], int]) -> int:
    """Run a command's ``main``; Ctrl-C becomes one line and exit status 130, not a traceback."""
    try:
        return main()
    except KeyboardInterrupt:
        return fail("interrupted", 130)


def comma_choices(choices: tuple[str, ...], what: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: a comma list of ``choices``, returned in the order of ``choices``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(s.strip() for s in text.split(",") if s.strip())
        unknown = [s for s in names if s not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {unknown or text!r}; choose from {', '.join(choices)}")
        return tuple(s for s in choices if s in names)

    return parse


def command(
    argv: list[str] | None, parse: Callable[[list[str] | None], object], execute: Callable[[object], int]
) -> int:
    """Every command's ``main``: parse (bad usage: exit 2), pin the thread count, run (Ctrl-C: exit 130).

    The thread count (an option's ``threads``) is set before ``execute`` imports numpy or
    torch: BLAS libraries read it when they load.
    """
    try:
        cfg = parse(argv)
    except UsageError as e:
        return fail(str(e))
    threads = getattr(cfg, "threads", None)
    if threads:
        from compare.env import set_threads

        set_threads(threads)
    return run_main(lambda: execute(cfg))
