"""pytest plugin: the ``gradcheck`` fixture and the ``--gradcheck-mode`` / ``--gradcheck-reference`` options.

Registered through the ``pytest11`` entry point of the ``dlfs-compare`` distribution, under
its module's name, so it is active in any project where the package is installed, and
``pytest -p dlfs_gradcheck.pytest_plugin`` (what to write where it is not installed) is then
a no-op rather than a second registration::

    def test_my_backward(gradcheck):
        gradcheck(loss_fn, grad_fn, params)                # the signature of assert_gradients
        gradcheck.problem(torch_function_problem(MyFn.apply, x, w))

    pytest --gradcheck-mode full --gradcheck-reference richardson

A failure shows the checker's table (worst entries first, lines of at most 100
columns) under the test's own line, with no frame of the checker. The options set
``mode`` and ``reference`` for every call that does not pass them itself.

Loading the plugin imports pytest only: the checker (numpy, and never a module named
``compare``) is imported when a test first uses the fixture, so a repository with its own
``compare.py`` or ``compare/`` is never shadowed, and a test session that does not use the
fixture pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dlfs_gradcheck.probe import LossFn
    from dlfs_gradcheck.report import GradcheckReport

# The choices of the options, spelled out so that loading the plugin imports nothing else
# (a test checks them against dlfs_gradcheck.check_arguments.MODES and dlfs_gradcheck.probe.REFERENCES).
MODES = ("full", "fast")
REFERENCES = ("central", "richardson", "complex")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradient checking (dlfs_gradcheck)")
    group.addoption("--gradcheck-mode", choices=MODES, default=None, help="mode of every call (default: full)")
    group.addoption(
        "--gradcheck-reference", choices=REFERENCES, default=None, help="reference of every call (default: central)"
    )


class GradcheckFixture:
    """What the ``gradcheck`` fixture gives a test: call it like :func:`dlfs_gradcheck.assert_gradients`.

    A check that cannot be made (a :class:`dlfs_gradcheck.GradcheckError`: bad input, a loss that
    is not deterministic) fails the test with its one-line message, no frame of the checker, and
    so does a ``KeyboardInterrupt``, ``SystemExit`` or ``GeneratorExit`` the code under test raises
    (a real Ctrl-C still ends the session). A
    reference chosen on the command line (``--gradcheck-reference complex``) that a loss cannot
    take (a torch loss is not complex-safe) falls back to ``richardson``, and the report says so;
    a reference the test passes itself is never replaced.
    """

    def __init__(self, defaults: Mapping[str, object]) -> None:
        self.defaults = dict(defaults)  # options from the command line, for calls that do not pass them

    def __call__(self, loss_fn: LossFn, grad_fn, params: Mapping[str, object], **options) -> GradcheckReport:
        """Check; fail the test with the report's table when the gradient is wrong; return the report."""
        __tracebackhide__ = True
        from dlfs_gradcheck.core import check_gradients

        return self._run(lambda **o: check_gradients(loss_fn, grad_fn, params, **o), options)

    def problem(self, problem, **options) -> GradcheckReport:
        """The same for a :class:`dlfs_gradcheck.GradProblem` (the adapters' result, notes and findings kept)."""
        __tracebackhide__ = True
        return self._run(problem.check, options)

    def _run(self, check, options: dict) -> GradcheckReport:
        __tracebackhide__ = True
        from dlfs_gradcheck.errors import DtypeError, GradcheckError
        from dlfs_gradcheck.interrupts import SignalInterrupt, is_real_interrupt, telling_interrupts_apart
        from dlfs_gradcheck.usercode.failures import from_exception

        merged = {**self.defaults, **options}
        fallback = ""
        with telling_interrupts_apart():  # until the handlers below have told them apart
            try:
                try:
                    report = check(**merged)
                except DtypeError as e:
                    if merged.get("reference") != "complex" or "reference" in options:
                        raise
                    fallback = f"--gradcheck-reference complex does not apply to this loss ({e}); richardson used"
                    report = check(**{**merged, "reference": "richardson"})
            except GradcheckError as e:
                cannot = f"gradcheck: {e}"
            except (KeyboardInterrupt, SystemExit, GeneratorExit) as e:  # raised by the code under test: its failure
                if isinstance(e, SignalInterrupt):  # Ctrl-C: as pytest shows it
                    raise KeyboardInterrupt from None
                if is_real_interrupt(e):
                    raise
                cannot = f"gradcheck: {from_exception('your code', e).line()}"
            else:
                cannot = ""
        if cannot:  # failed outside the handler: the message alone, not the error it replaces
            pytest.fail(cannot, pytrace=False)
        if fallback:
            report.notes.insert(0, fallback)
        if not report.ok:
            raise AssertionError(report.table())
        return report


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradcheckFixture:
    """Check a gradient against a float64 numerical reference; see :mod:`dlfs_gradcheck.pytest_plugin`."""
    defaults = {}
    for option, key in (("gradcheck_mode", "mode"), ("gradcheck_reference", "reference")):
        value = request.config.getoption(option)
        if value is not None:
            defaults[key] = value
    return GradcheckFixture(defaults)
