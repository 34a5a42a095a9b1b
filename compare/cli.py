"""What every command line of the project shares: option types, one-line errors, exit statuses, signals.

Exit statuses: 0 every check passed; 1 a check failed; 2 bad usage or input (one line on
stderr); 3 a run that could not complete (training diverged, an internal error; one line);
130 interrupted (SIGINT or SIGTERM), with no output half-written and no temporary file left.

SIGINT and SIGTERM go through one handler. Inside :func:`run_main` it raises
:class:`~dlfs_gradcheck.interrupts.SignalInterrupt` (a ``KeyboardInterrupt``), so ``finally``
blocks clean up, and a ``KeyboardInterrupt`` that a user's code raises itself is told apart from a
real one; before it (while the command's modules load) it prints one line and exits 130. Code
that must not be cut in half (the atomic writer) runs under :func:`deferred_interrupts`: a signal
that arrives there takes effect at its end. After the command, signals stay effective until the
process exits, and threads a user's code left running do not keep it alive (:func:`run_main`).
Standard library only (and the stdlib-only :mod:`dlfs_gradcheck.interrupts`), so that options
are parsed and thread counts set before numpy or torch load.

Longer than 300 lines: it is the one place for everything the commands share (option types, the
memory and thread limits, the signal handler, the exit statuses), so that no command handles
them on its own.
"""

from __future__ import annotations

import argparse
import os
import pwd
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from compare.incomplete import RunIncomplete  # noqa: F401  (exit status 3; raised below the command line)
from compare.terminal import printable, use_stand_ins
from dlfs_gradcheck.interrupts import SignalInterrupt

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class UsageError(ValueError):
    """A bad command-line option (exit status 2)."""


EXIT_STATUSES = (
    "Exit status: 0 every check passed; 1 a check failed (the implementations disagree); 2 bad usage or input "
    "(one line on stderr); 3 the run could not complete (training diverged, an internal error; one line); "
    "130 interrupted (SIGINT or SIGTERM), nothing half-written; 141 the reader of stdout left (| head)."
)
BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell shows for a writer whose reader left


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


# -- one-line messages -------------------------------------------------------------------------


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


# -- signals -----------------------------------------------------------------------------------


class _Signals:
    installed = False  # our handler is in place
    in_main = False  # inside run_main: raise KeyboardInterrupt (else exit at once)
    defer = 0  # depth of deferred_interrupts blocks
    pending = False  # a signal arrived inside one
    received = False  # a signal arrived during run_main (its KeyboardInterrupt may have been swallowed)


def _interrupt() -> None:
    if _Signals.in_main:
        _Signals.received = True
        raise SignalInterrupt
    fail("interrupted", 130)
    raise SystemExit(130)


def _exit_now(signum: int, frame: object) -> None:
    """After the command: a signal ends the process at once (its outputs are complete by then)."""
    os._exit(130)


def _on_signal(signum: int, frame: object) -> None:
    if _Signals.defer:
        _Signals.pending = True
        return
    _interrupt()


def install_signal_handlers() -> dict[int, object]:
    """Route SIGINT and SIGTERM to the one handler; return the previous handlers (empty off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in SIGNALS:
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN:  # e.g. started with nohup: leave it ignored
            continue
        previous[sig] = current
        signal.signal(sig, _on_signal)
    _Signals.installed = True
    return previous


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM (when our handler is installed) until the block ends, then act on them."""
    _Signals.defer += 1
    try:
        yield
    finally:
        _Signals.defer -= 1
        if not _Signals.defer and _Signals.pending:
            _Signals.pending = False
            _interrupt()


def _main_is_a_command() -> bool:
    """This process is one of the commands: ``python -m compare.X`` or an installed ``dlfs-...`` script."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None:
        return spec.name.startswith("compare.")
    return os.path.basename(sys.argv[0] if sys.argv else "").startswith("dlfs-")


def _leave_if_threads_linger(status: int) -> None:
    """End the process now when threads that are not daemons (a user's code started them) would keep it alive.

    The command's work is done and written; Python would wait for those threads forever.
    """
    lingering = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if lingering:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)


if _main_is_a_command():  # `python -m compare.X`: an early Ctrl-C is one line, not a traceback
    install_signal_handlers()


# Bad input found while running (exit 2), named by module so that this module needs no numpy.
INPUT_ERRORS = (("compare.data.base", "DataError"), ("impl_numpy.validation", "NetInputError"))


def _input_errors() -> tuple[type[BaseException], ...]:
    """The classes of :data:`INPUT_ERRORS` that are loaded (an error of one that is not cannot occur)."""
    loaded = (getattr(sys.modules.get(module), name, None) for module, name in INPUT_ERRORS)
    return tuple(cls for cls in loaded if isinstance(cls, type))


def _quiet_interrupts(hook: Callable[..., object]) -> Callable[..., object]:
    """An unraisable-exception hook that drops our swallowed KeyboardInterrupt (no traceback printed)."""

    def quiet(unraisable: object) -> object:
        if isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt):
            return None  # check_interrupted() acts on it
        return hook(unraisable)

    return quiet


def _users_own_ignored(hook: Callable[..., object]) -> Callable[..., object]:
    """An unraisable-exception hook: what the user's code raises where Python cannot raise it (a
    ``__del__``, a weakref callback) is one line on stderr, once per place, instead of a traceback."""
    seen: set[str] = set()

    def one_line(unraisable: object) -> object:
        error = getattr(unraisable, "exc_value", None)
        try:
            from dlfs_gradcheck.usercode.failures import user_frame

            where = user_frame(getattr(unraisable, "exc_traceback", None)) if error is not None else ""
        except Exception:  # during the interpreter's teardown, anything may be gone
            where = ""
        if not where or isinstance(error, KeyboardInterrupt):
            return hook(unraisable)
        if where not in seen:
            seen.add(where)
            text = str(error).strip().splitlines()
            what = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
            print(f"note: your code raised {what} where Python ignores it (a __del__?) ({where})", file=sys.stderr)
        return None

    return one_line


def check_interrupted() -> None:
    """Raise KeyboardInterrupt if a signal arrived whose own KeyboardInterrupt was swallowed.

    Python ignores an exception raised inside a garbage-collection callback or a ``__del__``
    (it prints "Exception ignored in ..."); JAX registers such a callback, so an interrupt can be
    lost there. Long runs call this between their phases, and :func:`run_main` once at the end.
    """
    if _Signals.in_main and _Signals.received:
        raise KeyboardInterrupt


def _interruptible(main: Callable[[], int]) -> int:
    """``main()``; an exception raised after a signal arrived is that interrupt, re-raised as KeyboardInterrupt.

    The handler's KeyboardInterrupt can be turned into another exception on its way out: a C
    extension that is initialising (numpy, torch) reports any failure as ``ImportError:
    initialization failed``. Once a signal has arrived, the command was interrupted, whatever
    the exception says.
    """
    try:
        return main()
    except Exception:
        if _Signals.received:
            raise KeyboardInterrupt from None
        raise


def run_main(main: Callable[[], int]) -> int:
    """Run a command's ``main`` and turn every way it can end into an exit status and at most one line.

    KeyboardInterrupt (SIGINT, SIGTERM) -> 130; bad input (:class:`UsageError`, the data's and the
    nets' input errors) and OSError (a file that cannot be read or written) -> 2, naming the file;
    :class:`RunIncomplete` -> 3; a closed pipe on stdout (``| head``) -> 141, as for a writer
    killed by SIGPIPE, silently; MemoryError and any other exception -> 3, ``internal error: ...``
    (``DLFS_TRACEBACK=1``, ``true``, ``yes`` or ``on`` prints the traceback before that line).
    """
    previous = install_signal_handlers()
    outer, outer_hook = _Signals.in_main, sys.unraisablehook
    _Signals.in_main, _Signals.received = True, False
    sys.unraisablehook = _quiet_interrupts(_users_own_ignored(outer_hook))
    try:
        status = _interruptible(main)
        check_interrupted()  # a signal whose interrupt was swallowed still ends the command as interrupted
        if _main_is_a_command():
            _leave_if_threads_linger(status)
        return status
    except KeyboardInterrupt:
        status = fail("interrupted", 130)
        if _main_is_a_command():
            # Everything has unwound (temporary files removed, ranks stopped). Leave now: tearing
            # down torch's and JAX's native thread pools right after an interrupt crashed (SIGSEGV)
            # once in 30 SIGTERM trials here, which would turn "interrupted" into "killed".
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        return status
    except (UsageError, *_input_errors()) as e:
        return fail(str(e))
    except RunIncomplete as e:
        return fail(str(e), 3)
    except BrokenPipeError:  # the reader of stdout left (| head): nothing more can be said there
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return BROKEN_PIPE
    except OSError as e:
        return fail(describe_os_error(e))
    except MemoryError:
        return fail("internal error: out of memory (try smaller sizes)", 3)
    except Exception as e:
        if os.environ.get("DLFS_TRACEBACK", "").strip().lower() in ("1", "true", "yes", "on"):
            traceback.print_exc()  # then the one line, and the same exit status
        return fail(f"internal error: {type(e).__name__}: {e}", 3)
    except (SystemExit, GeneratorExit) as e:  # none of the commands' own: code it ran tried to end the run
        return fail(f"internal error: {type(e).__name__} ({e}) escaped from the code the command ran", 3)
    finally:
        _Signals.in_main, sys.unraisablehook = outer, outer_hook
        if _main_is_a_command():
            sys.unraisablehook = _users_own_ignored(outer_hook)  # the user's objects die at teardown too
            # The work is done and written: a signal during the interpreter's teardown (torch's takes
            # a while) ends the process at once as interrupted, never as "killed", and never is
            # ignored (a process that cannot be stopped but with SIGKILL is worse than either).
            for sig in previous:
                signal.signal(sig, _exit_now)
        else:  # a caller's own handlers come back (tests, embedding)
            for sig, handler in previous.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]


# -- option types ------------------------------------------------------------------------------


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


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: fewer than the machine's under ``taskset``)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity call on this platform
        return os.cpu_count() or 1


def thread_count(text: str) -> int:
    """An argparse type: a thread count from 1 to :func:`usable_cpus`."""
    value = positive_int(text)
    cpus = usable_cpus()
    if value > cpus:
        raise argparse.ArgumentTypeError(
            f"expected at most {cpus} (the CPUs this process may use, sched_getaffinity), got {text!r}"
        )
    return value


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


# -- resources ---------------------------------------------------------------------------------


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
    torch: BLAS libraries read it when they load. A terminal that cannot show a character gets
    an ASCII stand-in for it (:func:`compare.terminal.use_stand_ins`), not a failed command.
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
