"""A command's ``main``, run so that every way it can end is an exit status and at most one line.

:func:`run_main` installs the signal handler (:mod:`compare.signals`), runs the command, and maps
what escapes it to a status of :mod:`compare.exits`. After the command, signals stay effective
until the process exits, and threads a user's code left running do not keep it alive.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable

from compare.exits import BROKEN_PIPE, RunIncomplete, UsageError, describe_os_error, fail
from compare.signals import SignalState, check_interrupted, exit_now, install_signal_handlers, main_is_a_command


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
        if SignalState.received:
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
    outer, outer_hook = SignalState.in_main, sys.unraisablehook
    SignalState.in_main, SignalState.received = True, False
    sys.unraisablehook = _quiet_interrupts(_users_own_ignored(outer_hook))
    try:
        status = _interruptible(main)
        check_interrupted()  # a signal whose interrupt was swallowed still ends the command as interrupted
        if main_is_a_command():
            _leave_if_threads_linger(status)
        return status
    except KeyboardInterrupt:
        status = fail("interrupted", 130)
        if main_is_a_command():
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
        SignalState.in_main, sys.unraisablehook = outer, outer_hook
        if main_is_a_command():
            sys.unraisablehook = _users_own_ignored(outer_hook)  # the user's objects die at teardown too
            # The work is done and written: a signal during the interpreter's teardown (torch's takes
            # a while) ends the process at once as interrupted, never as "killed", and never is
            # ignored (a process that cannot be stopped but with SIGKILL is worse than either).
            for sig in previous:
                signal.signal(sig, exit_now)
        else:  # a caller's own handlers come back (tests, embedding)
            for sig, handler in previous.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
