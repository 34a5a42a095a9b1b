"""Child processes in tests: wait for what a child shows (a line, a file), never for a length of time.

- :data:`CEILING_S` bounds every wait on a child. It is a ceiling, not an expectation: the children
  here take well under 10 s on an idle 2-core machine, and a busy one (load 4-6) makes them several
  times slower; only a child that hangs reaches it, and then the test fails instead of blocking CI.
- :func:`read_line` reads one line from a child's pipe, failing the test if none comes in time.
- :func:`wait_until` waits for a state a test can see (a file present), failing the test if the
  child exits first or the ceiling passes.
- :data:`TERMINAL_SIGINT` starts a child's code so that Ctrl-C reaches it as it does from a terminal.
"""

from __future__ import annotations

import selectors
import subprocess
import time
from collections.abc import Callable

CEILING_S = 120.0  # seconds; see the module docstring
POLL_S = 0.05  # how often wait_until looks again (while it waits on the child itself)

# A shell that starts a command in the background (``pytest &`` in a script, CI runners) starts it
# with SIGINT ignored, and the project's commands rightly leave an ignored signal ignored (a nohup'd
# run must not stop). A child that must receive SIGINT sets the terminal's disposition first.
TERMINAL_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def read_line(proc: subprocess.Popen, timeout: float = CEILING_S) -> str:
    """The next line on ``proc.stdout`` (a text pipe); fails the test if none comes within ``timeout``."""
    assert proc.stdout is not None, "the child's stdout is not a pipe"
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            proc.kill()
            raise AssertionError(f"no line from the child within {timeout:g} s")
    return proc.stdout.readline()


def wait_until(ready: Callable[[], bool], what: str, proc: subprocess.Popen, timeout: float = CEILING_S) -> None:
    """Return once ``ready()`` is true; fail naming ``what`` if ``proc`` exits first or ``timeout`` passes.

    Between two looks it waits on the child itself (``proc.wait``), so that a child that dies is
    reported at once with its status.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what}: not seen within {timeout:g} s")
        try:
            status = proc.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            continue
        said = proc.stderr.read() if proc.stderr is not None else ""
        said = said.decode(errors="replace") if isinstance(said, bytes) else said
        raise AssertionError(f"{what}: the child exited ({status}) before it was seen; its stderr: {said}")
