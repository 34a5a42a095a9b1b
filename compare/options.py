"""The command lines' option types: argparse ``type=`` functions with one-line errors."""

from __future__ import annotations

import argparse
import os
import pwd
from collections.abc import Callable

from compare.exits import UsageError
from compare.resources import usable_cpus
from compare.terminal import printable


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


def thread_count(text: str) -> int:
    """An argparse type: a thread count from 1 to :func:`usable_cpus`."""
    value = positive_int(text)
    cpus = usable_cpus()
    if value > cpus:
        raise argparse.ArgumentTypeError(
            f"expected at most {cpus} (the CPUs this process may use, sched_getaffinity), got {text!r}"
        )
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def expand_path(text: str) -> str:
    """``~`` and ``~user`` expanded; :class:`UsageError` for an empty path or an unknown user."""
    if not text:
        raise UsageError("a path must not be empty (use . for the current directory)")
    if text.startswith("~"):
        user = text[1:].split("/", 1)[0]
        if user:
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise UsageError(f"no such user {user!r} in {printable(text)!r}") from None
        expanded = os.path.expanduser(text)
        if expanded.startswith("~"):
            raise UsageError(f"cannot expand {printable(text)!r}: no home directory")
        return expanded
    return text


def path_option(text: str) -> str:
    """An argparse type: a non-empty path, ``~`` expanded."""
    try:
        return expand_path(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def comma_choices(choices: tuple[str, ...], what: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: a comma list of ``choices``, returned in the order of ``choices``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(s.strip() for s in text.split(",") if s.strip())
        unknown = [s for s in names if s not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {unknown or text!r}; choose from {', '.join(choices)}")
        return tuple(s for s in choices if s in names)

    return parse
