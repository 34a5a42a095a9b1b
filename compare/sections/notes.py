"""The one way a method that could not answer becomes a line of the report.

A runner that raised :class:`NotProvided` gets a "not provided" note; one whose implementation
failed (:class:`ImplementationFailure`) a FAIL note naming the method, the step and the place in
the implementation's own code. Every section uses this, so the three tables say it alike.
"""

from __future__ import annotations

from compare.engine.protocol import ImplementationFailure, NotProvided
from compare.report.model import MethodNote


def method_note(label: str, error: NotProvided | ImplementationFailure) -> MethodNote:
    """The report's note for ``label`` on ``error``."""
    if isinstance(error, ImplementationFailure):
        at = f" at step {error.step}" if getattr(error, "step", None) is not None else ""
        return MethodNote(label, "FAIL", f"{error.method}{at}: {error.message}", error.where)
    return MethodNote(label, "not provided", str(error))
