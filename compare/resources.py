"""What a command may use on this machine: its CPUs, its memory, the ranks they carry.

Checked before any work, so that a run too large for the machine is refused with one line
(:class:`~compare.exits.UsageError`, exit 2) instead of swapping or starting dozens of processes.
"""

from __future__ import annotations

import os

from compare.exits import UsageError


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: fewer than the machine's under ``taskset``)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity call on this platform
        return os.cpu_count() or 1


RANKS_PER_CPU = 2  # ranks a usable CPU may carry: 3 ranks on 2 CPUs run (the README's measured case), 64 do not


def check_processes(option: str, count: int) -> None:
    """:class:`UsageError` when ``option`` would start more processes (one per rank) than the usable CPUs carry.

    The one rule of every command that starts ranks (``--ranks``, ``--ddp``), checked before any
    process starts: at most :data:`RANKS_PER_CPU` ranks per CPU of :func:`usable_cpus`. Ranks
    step together, so a few more than the CPUs only take turns; dozens start as many
    interpreters (torch's ~400 MB each) that spend their time waiting for each other.
    """
    cpus = usable_cpus()
    limit = RANKS_PER_CPU * cpus
    if count > limit:
        raise UsageError(
            f"{option} {count} would start {count} processes, more than the {limit} that the {cpus} CPU(s) this "
            f"process may use can carry ({RANKS_PER_CPU} ranks per CPU; sched_getaffinity)"
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: ``MemAvailable`` of /proc/meminfo, else sysconf."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} EB"


def check_memory(estimate: int, cause: str) -> None:
    """:class:`UsageError` when ``estimate`` bytes exceed the available memory; ``cause`` names the sizes."""
    free = available_memory()
    if free is not None and estimate > free:
        raise UsageError(
            f"{cause} needs about {_size(estimate)} of memory, more than the {_size(free)} available; "
            "choose smaller sizes"
        )
