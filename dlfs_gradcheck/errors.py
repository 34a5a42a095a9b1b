"""The gradient checker's exceptions: every bad input or unusable check is a :class:`GradcheckError`.

All derive from ``ValueError`` (``DtypeError`` also from ``TypeError``), so a caller
can catch them together and a command line can turn any of them into one line on
stderr. Messages name the parameter, or the loss value, and the problem.
"""

from __future__ import annotations


class GradcheckError(ValueError):
    """Base class: the checker cannot check this gradient as given."""


class ShapeError(GradcheckError):
    """Parameter and gradient names or shapes disagree, or a value is not an array of one shape."""


class DtypeError(GradcheckError, TypeError):
    """An integer, complex, half-precision or object array where float32 or float64 is needed."""


class NonFiniteError(GradcheckError):
    """NaN or Inf in the parameters, the gradients, or the loss at the point or a shifted point."""


class NonDeterministicError(GradcheckError):
    """The loss returns different values at one point (randomness left on): no reference can be computed."""


class ConfigError(GradcheckError):
    """An unknown mode or reference, or an option out of range (a step the reference cannot use)."""


class LossScaleError(ConfigError):
    """The loss is so large (or so flat) that the reference cannot resolve its gradient: no verdict is possible."""
