"""Calls that expose state a user's class keeps between calls: one set for the harness and the checker.

A correct book-style class is a function of ``x``, ``t`` and the weights. These probes call it in
the patterns real training and checking use, and record on the
:class:`~dlfs_gradcheck.usercode.booknet.BookNet` what breaks that:

- :func:`determinism`: ``loss`` twice, ``predict`` twice, and ``gradient`` :data:`REPEATS` times at one
  point. A ``predict`` whose output changes (dropout left on) makes nothing checkable
  (``deterministic = False``); a ``loss`` or ``gradient`` that changes (a call counter, gradients
  added with ``+=`` to arrays it keeps, something random) is a failure of that method: a ``fault`` of
  the loss, the ``gradient_fault`` of the gradient, so every later call of it fails;
- :func:`staleness`: ``gradient`` right after a forward pass at other weights (:func:`forward_elsewhere`)
  must equal ``gradient`` right after one at the point itself; if not, it back-propagates whatever
  forward ran last instead of running its own (``stale_gradient``);
- :func:`against_backprop`: the gradient against the book's backprop at the shared weights (a
  mismatch that is only float32-sized noise in a float64 class is a fault saying so), then at drawn
  biases (the shared ones are zero, so a forward pass in ``gradient`` that leaves out a bias agrees
  there) and at drawn weights (agreeing only at the shared point: a value kept from an earlier call).
"""

from __future__ import annotations

import numpy as np

from dlfs_gradcheck.usercode.checks import book_loss_gradient
from dlfs_gradcheck.usercode.failures import ImplementationFailure, definition_of
from dlfs_gradcheck.usercode.labelforms import STALE_RTOL, differing

DECOY_SCALE = 0.5  # the forward pass elsewhere runs at weights moved by this fraction of their size (or of 0.1)
REPEATS = 100  # gradient calls at one point: a class that goes wrong after a few dozen calls is caught
BIAS_STD = 0.1  # the drawn biases of against_backprop (the drawn weights: a tenth of it)
FLOAT32_LEVEL = 1e-6  # float32 rounding through a layer's products: a few ε (6e-8) of the gradient's norm
NOISE_COSINE = 0.5  # |cos| between a mismatch and the gradient below this: no pattern (measured: < 0.15 for rounding)


def fresh_gradient(net, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """``gradient`` right after a forward pass at the point itself (float64 copies)."""
    if "loss" in net.provided:
        net.loss(x, t)
    elif "predict" in net.provided:
        net.output_of(x)
    return {k: np.array(v, dtype=np.float64) for k, v in net.raw_gradient("gradient", x, t).items()}


def determinism(net, x: np.ndarray, t: np.ndarray) -> None:
    """``loss`` and ``predict`` twice, ``gradient`` REPEATS times, at one point (numpy's random state advancing)."""
    if "predict" in net.provided and not np.array_equal(net.output_of(x), net.output_of(x)):
        net.deterministic = False
        net.notes.append(
            "predict returns different values at the same point: something random is left on (dropout?), so no "
            "gradient of it can be checked"
        )
        return
    if "loss" in net.provided:
        first, second = net.loss(x, t), net.loss(x, t)
        if first != second:
            net.loss_varies = True
            net.faults.append(
                ImplementationFailure(
                    "loss",
                    f"returns different values at the same point ({first:.10g}, then {second:.10g}): it depends on "
                    "something besides x, t and the weights (a call counter, state kept between calls, something "
                    "random left on)",
                    definition_of(getattr(net.net, "loss", None)),
                    error="path-dependent",
                )
            )
            if "predict" not in net.provided:  # the loss is all there is to check against
                net.deterministic = False
                return
    if "gradient" in net.provided:
        _repeated_gradient(net, x, t)


def _repeated_gradient(net, x: np.ndarray, t: np.ndarray) -> None:
    differs, call = [], 1
    try:
        first = fresh_gradient(net, x, t)
        while not differs and call < REPEATS:
            call += 1
            differs = differing(first, fresh_gradient(net, x, t), net.dtype)
    except ImplementationFailure:
        return  # the gradient section reports the crash itself
    if differs:
        net.gradient_fault = ImplementationFailure(
            "gradient",
            f"returns different values at the same point on successive calls ({', '.join(differs)} differ on call "
            f"{call} from call 1): it depends on something besides x, t and the weights (state kept between calls, "
            "such as gradients added with += to arrays it keeps, a call counter, or something random left on)",
            definition_of(getattr(net.net, "gradient", None)),
            error="path-dependent",
            params=tuple(differs),
        )


def forward_elsewhere(net, x: np.ndarray, t: np.ndarray) -> None:
    """A forward pass (their ``loss``, else ``predict``) at other weights; their weights put back after.

    Whatever state a forward pass leaves behind (cached activations, layer inputs) is then that
    of another point, so a ``gradient`` that reuses it instead of running its own forward pass
    returns another point's gradient.
    """
    rng = np.random.default_rng(1)
    with net.kept():
        for a in net.arrays().values():
            a += DECOY_SCALE * max(float(np.max(np.abs(a), initial=0.0)), 0.1) * rng.standard_normal(a.shape)
        if "loss" in net.provided:
            net.loss(x, t)
        elif "predict" in net.provided:
            net.output_of(x)


def staleness(net, x: np.ndarray, t: np.ndarray) -> None:
    """``gradient`` after a forward pass at the point vs after one at other weights."""
    try:
        fresh = fresh_gradient(net, x, t)
        forward_elsewhere(net, x, t)
        after = {k: np.array(v, dtype=np.float64) for k, v in net.raw_gradient("gradient", x, t).items()}
    except ImplementationFailure:
        return  # the gradient section reports the crash itself
    differs = differing(fresh, after, net.dtype)
    if differs:
        net.stale_gradient = True
        net.gradient_fault = ImplementationFailure(
            "gradient",
            "returns another gradient at the same point right after a forward pass at other weights "
            f"({', '.join(differs)} differ): it back-propagates the last forward pass instead of running its own "
            "(the book's ch. 5 calls self.loss(x, t) first), or keeps other state between calls",
            definition_of(getattr(net.net, "gradient", None)),
            error="stale-forward",
            params=tuple(differs),
        )


def _off_backprop(net, x: np.ndarray, t: np.ndarray) -> tuple[list[str], dict, dict]:
    """The params whose gradient differs from the book's backprop (of predict's net) at the current weights.

    Returned with both gradients (theirs, backprop's), float64.
    """
    want = book_loss_gradient(net.params(), x, t, net.activation, 0.0)
    got = fresh_gradient(net, x, t)
    rtol = STALE_RTOL[net.dtype]
    off = [
        k
        for k in want
        if not np.allclose(got[k], want[k], rtol=rtol, atol=rtol * float(np.max(np.abs(want[k]), initial=0.0)))
    ]
    return off, got, want


def _rounding_only(net, x: np.ndarray, t: np.ndarray, off: list[str], got: dict, want: dict) -> float | None:
    """The relative size of a mismatch that is float32 rounding in a float64 class, else None.

    Rounding noise is small (below :data:`FLOAT32_LEVEL` of each gradient's norm) and has no
    pattern: it is nearly orthogonal to the gradient, where a constant factor or the book's 1e-7
    inside the log lies along it (cosine near 1), and it is not the gradient of the book's loss.
    """
    if net.dtype != np.float64:
        return None
    book = book_loss_gradient(net.params(), x, t, net.activation)
    worst = 0.0
    for k in off:
        e, r = np.ravel(got[k] - want[k]), np.ravel(want[k])
        size, norm = float(np.linalg.norm(e)), float(np.linalg.norm(r))
        if norm == 0 or size > FLOAT32_LEVEL * norm or abs(float(np.vdot(e, r))) > NOISE_COSINE * size * norm:
            return None
        if np.allclose(got[k], book[k], rtol=STALE_RTOL[net.dtype], atol=0.0):
            return None  # the exact gradient of the book's loss: the comparison says so
        worst = max(worst, size / norm)
    return worst


def _refuted(net, x: np.ndarray, t: np.ndarray, rng: np.random.Generator, prefix: str) -> list[str]:
    """The params off backprop at the current weights with those named ``prefix``* moved at random."""
    with net.kept():
        for k, a in net.arrays().items():
            if k.startswith(prefix):
                a += BIAS_STD * rng.standard_normal(a.shape) * (1.0 if prefix == "b" else 0.1)
        return _off_backprop(net, x, t)[0]


def against_backprop(net, x: np.ndarray, t: np.ndarray) -> None:
    """The gradient against the book's backprop at the shared weights and, if it agrees there, elsewhere.

    At the shared weights a mismatch is the comparison's to report, unless it is float32 rounding
    in a float64 class (then a fault saying so). Agreeing there, it is compared at drawn biases
    (the shared ones are zero, so a bias left out of ``gradient``'s forward pass agrees there) and,
    if it fails at those, at drawn weights with the biases left at zero: failing there too, it is
    not about the biases but state kept from an earlier call (a value computed once and cached).
    """
    rng = np.random.default_rng(2)
    try:
        off, got, want = _off_backprop(net, x, t)
        if off:
            rounding = _rounding_only(net, x, t, off, got, want)
            if rounding is not None:
                net.gradient_fault = _fault(
                    net,
                    f"agrees with backprop only to about float32 rounding ({', '.join(off)}: {rounding:.1e} of their "
                    "norm, with no pattern) while its params and predict are float64: a float32 array inside gradient "
                    "(an astype(np.float32), a float32 constant), or a tiny term added to it?",
                    "float32-gradient",
                    off,
                )
            return  # otherwise: wrong at the shared weights already, the comparison itself says where
        off = _refuted(net, x, t, rng, "b")
        elsewhere = _refuted(net, x, t, rng, "W") if off else []
    except ImplementationFailure:
        return  # the gradient section reports the crash itself
    if off and elsewhere:
        net.gradient_fault = _fault(
            net,
            "agrees with backprop at the shared weights but not at other weights "
            f"({', '.join(elsewhere)} differ at weights moved at random, biases still zero): it returns what an "
            "earlier call computed (a value computed once and kept, e.g. a cached softmax?)",
            "kept-state",
            elsewhere,
        )
    elif off:
        net.gradient_fault = _fault(
            net,
            "agrees with backprop at the shared weights, whose biases are zero, but not where they are not "
            f"({', '.join(off)} differ at biases drawn with std 0.1): a bias left out of the forward pass in gradient?",
            "bias",
            off,
        )


def _fault(net, message: str, error: str, params: list[str]) -> ImplementationFailure:
    return ImplementationFailure(
        "gradient", message, definition_of(getattr(net.net, "gradient", None)), error=error, params=tuple(params)
    )
