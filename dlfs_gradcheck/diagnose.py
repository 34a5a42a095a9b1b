"""What a wrong gradient most likely got wrong: the diagnoses shown under a failing table.

Used by the harness (``python -m compare.run --impl ...``) and by the gradient checker alike.
Given, per parameter, the gradient under test ``a`` and a trusted reference ``r`` (full
arrays, or the same entries of both), and which parameters failed, :func:`diagnose` names
the patterns a hand-written backward typically gets wrong:

- ``scaled``: ``a ≈ k r`` for one constant k over the failing parameters; k = N or 1/N (the
  batch size) points at a missing or doubled ``/ batch_size``;
- ``sign``: ``a ≈ -r`` (gradient ascent, or ``t - y`` for ``y - t``);
- ``transpose``: ``a`` is ``r`` transposed (``x @ dout`` for ``x.T @ dout``);
- ``zero``: ``a`` is all zero where ``r`` is not: not computed, or computed on arrays the
  loss no longer reads (weights replaced instead of written in place);
- ``ignored``: ``r`` is all zero where ``a`` is not: the loss does not change when the
  parameter changes, so the loss does not read it;
- ``hidden-only``: ``W1`` and ``b1`` fail while ``W2``/``b2`` pass: the error lies between the
  layers (the hidden activation's backward or mask, or ``dout @ W2.T``);
- ``own-line``: one parameter fails while its layer's partner (``W1``/``b1``) passes: both come
  from one upstream gradient, so the error is in that parameter's own line;
- ``small-smooth``: a tiny mismatch (below 1e-5 of the gradient's norm) on otherwise parallel
  gradients: two slightly different functions; the book's ``1e-7`` inside the log is named only
  when the loss has a log (``Context.log_loss``); in float32, and in float64 when the mismatch is
  below 1e-6 and has no pattern (nearly orthogonal to the gradient, as rounding noise is, where
  the 1e-7 or a constant factor lies along it), it is float32 rounding (``float32-rounding``).

Each test is a fit with an explicit threshold, so a correct gradient (which fails nothing)
gets no diagnosis. What the code under test is known to do wrong before any comparison (a
``gradient`` that reuses the last forward pass, a loss that is not deterministic) is found by
probing it (:mod:`dlfs_gradcheck.usercode.probing`) and reported with :func:`finding`. The
harness and the checker both call :func:`diagnose` with a :class:`Context`, so one gradient gets
one set of words everywhere. Standard library and numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

HIDDEN = ("W1", "b1")  # the hidden layer's parameters in the book's net
OUTPUT = ("W2", "b2")
PARTNER = {"W1": "b1", "b1": "W1", "W2": "b2", "b2": "W2"}  # computed from the same upstream gradient
FIT_RTOL = 1e-3  # a pattern "fits" when the residual is below this fraction of the gradient's norm
SMALL_REL = 1e-5  # below this relative error a mismatch counts as "small"
ROUNDING_REL = 1e-6  # float32 rounding through a layer's products: a few ε (6e-8) of the gradient's norm
NOISE_COSINE = 0.5  # |cos| of a mismatch with the gradient below this: no pattern (measured < 0.15 for rounding)


@dataclass(frozen=True)
class Context:
    """What is known about the gradient being diagnosed, beyond the numbers."""

    batch_size: int | None = None  # N: a factor of N or 1/N is named as a missing or doubled / batch_size
    features: int | None = None  # D, the input size: a factor N / D is named as x.shape[1] for the batch
    dtype: str = "float64"  # the tested dtype: a tiny mismatch in float32 is float32 rounding
    log_loss: bool = False  # the loss has a log (a cross-entropy): the book's 1e-7 is a candidate
    # The book loss's gradient minus the exact one at the point, when known: then the 1e-7 is named
    # only for a mismatch that is this gap (either sign), and said not to be it otherwise.
    log_gap: Mapping[str, np.ndarray] | None = None


@dataclass(frozen=True)
class Diagnosis:
    code: str  # scaled | sign | transpose | zero | ignored | hidden-only | own-line | small-smooth | ...
    params: tuple[str, ...]  # the parameters it explains
    message: str  # one line for people

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "params": list(self.params), "message": self.message}


def _norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(np.ravel(v)))


def _fits(a: np.ndarray, model: np.ndarray) -> bool:
    """``a`` equals ``model`` up to FIT_RTOL of their size (and both are not ~zero)."""
    scale = max(_norm(a), _norm(model))
    return scale > 0 and _norm(a - model) <= FIT_RTOL * scale


def _scale_factor(a: np.ndarray, r: np.ndarray) -> float | None:
    """The k of ``a ≈ k r`` by least squares, or None when ``r`` is zero or the fit is poor."""
    rr = float(np.vdot(r, r).real)
    if rr == 0:
        return None
    k = float(np.vdot(r, a).real) / rr
    return k if _fits(a, k * r) else None


def factor_text(k: float) -> str:
    """``k`` with enough digits to tell it from 1 (``1.004``, never ``1``)."""
    digits = max(4, 2 + math.ceil(-math.log10(abs(k - 1)))) if k != 1 else 4
    return f"{k:.{digits}g}"


def _batch_hint(k: float, batch_size: int | None, features: int | None = None) -> str:
    if batch_size and features and batch_size != features and abs(k * features / batch_size - 1) < 1e-3:
        return " = the batch size / the input size: divided by x.shape[1] where x.shape[0] (the batch) belongs?"
    if batch_size and batch_size > 1:
        if abs(k / batch_size - 1) < 1e-3:
            return " = the batch size: a missing `/ batch_size`?"
        if abs(k * batch_size - 1) < 1e-3:
            return " = 1 / the batch size: divided by the batch size twice?"
        if abs(k / batch_size**2 - 1) < 1e-3:
            return " = the batch size squared: multiplied by the batch size where it should divide?"
    return ""


def _scaled(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], failed: list[str], context: Context):
    """One constant k (not 1) explaining every failing parameter."""
    ks = [_scale_factor(*pairs[n]) for n in failed]
    if not ks or any(k is None for k in ks):
        return None
    k0 = ks[0]
    # Within FIT_RTOL of 1 a factor cannot be told from a small mismatch (small-smooth says that).
    if any(abs(k - k0) > 1e-3 * abs(k0) for k in ks) or abs(k0 - 1) <= FIT_RTOL:  # type: ignore[operator]
        return None
    names = tuple(failed)
    if abs(k0 + 1) < 1e-3:
        return Diagnosis("sign", names, f"{', '.join(names)}: the sign is flipped (analytic = -reference)")
    hint = _batch_hint(k0, context.batch_size, context.features)
    what = f"× {k0:.6g}{hint}" if hint else f"× {factor_text(k0)}"
    return Diagnosis("scaled", names, f"{', '.join(names)}: analytic = reference {what}")


def _per_param(name: str, a: np.ndarray, r: np.ndarray) -> Diagnosis | None:
    """Patterns of one parameter: transposed, all zero, or ignored by the loss."""
    if a.ndim == 2 and a.shape == r.shape[::-1] and _fits(a.T, r):
        return Diagnosis("transpose", (name,), f"{name}: the gradient is the transpose of the reference ({a.shape})")
    if a.shape == r.shape and a.ndim == 2 and a.shape[0] == a.shape[1] and _fits(a.T, r) and not _fits(a, r):
        return Diagnosis("transpose", (name,), f"{name}: the gradient is the transpose of the reference")
    if a.shape != r.shape:
        return None
    if not np.any(a) and np.any(r):
        return Diagnosis(
            "zero",
            (name,),
            f"{name}: the gradient is all zero: not computed, or computed on arrays the loss no longer "
            "reads (weights replaced instead of written in place?)",
        )
    if not np.any(r) and np.any(a):
        return Diagnosis(
            "ignored", (name,), f"{name}: the loss does not change when {name} changes: the loss does not read it"
        )
    return None


def _near_one_factor(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], failed: list[str]) -> float | None:
    """One k near 1 with ``a = k r`` far more closely than ``a = r``: a mismatch that is a constant factor."""
    a = np.concatenate([np.ravel(pairs[n][0]) for n in failed])
    r = np.concatenate([np.ravel(pairs[n][1]) for n in failed])
    rr = float(np.vdot(r, r))
    if rr == 0:
        return None
    k = float(np.vdot(r, a)) / rr
    # The fitted factor must leave at most 1% of the mismatch: a different function leaves most of it.
    return k if _norm(a - k * r) <= 1e-2 * _norm(a - r) else None


def _patternless(a: np.ndarray, r: np.ndarray) -> bool:
    """The mismatch ``a - r`` is nearly orthogonal to ``r``, as rounding noise is (a smooth change lies along it)."""
    e = np.ravel(a - r)
    return abs(float(np.vdot(e, np.ravel(r)).real)) <= NOISE_COSINE * _norm(e) * _norm(r)


def _is_log_gap(pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], failed: list[str], gap: Mapping) -> bool:
    """The mismatch on every failed parameter is the 1e-7's own gap (either sign) to within 10%."""
    for n in failed:
        e, g = pairs[n][0] - pairs[n][1], np.asarray(gap[n])
        if e.shape != g.shape or min(_norm(e - g), _norm(e + g)) > 0.1 * _norm(g):
            return False
    return True


def _small_smooth(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], failed: list[str], context: Context
) -> Diagnosis | None:
    worst = 0.0
    for n in failed:
        a, r = pairs[n]
        if a.shape != r.shape or not _fits(a, r):
            return None
        worst = max(worst, _norm(a - r) / max(_norm(a), _norm(r)))  # relative to the gradient's size
    if not 0 < worst < FIT_RTOL:  # above it, _scaled names a factor
        return None
    names = ", ".join(failed)
    k = _near_one_factor(pairs, failed)
    if k is None and worst >= SMALL_REL:
        return None
    if k is not None:
        return Diagnosis(
            "scaled",
            tuple(failed),
            f"{names}: analytic = reference × {factor_text(k)}: a constant factor slightly off 1 (a constant written "
            "with too few digits, or an extra factor in the backward pass?)",
        )
    if context.dtype == "float32" or (worst <= ROUNDING_REL and all(_patternless(*pairs[n]) for n in failed)):
        how = (
            "(1.2e-7 per operation, summed over the products of a layer): check the gradient in float64 to see finer "
            "errors"
            if context.dtype == "float32"
            else "in a float64 computation, with no pattern: a float32 array inside it (an astype(np.float32), a "
            "float32 constant), or a tiny term added to it?"
        )
        rounding = f"{names}: a mismatch of {worst:.1e} of the gradient's norm, the size of float32 rounding {how}"
        return Diagnosis("float32-rounding", tuple(failed), rounding)
    why = (
        "e.g. the book's 1e-7 inside the log of cross_entropy_error"
        if context.log_loss
        else "e.g. a constant or a small extra term inside the loss that the backward pass leaves out"
    )
    if context.log_loss and context.log_gap is not None:
        if _is_log_gap(pairs, failed, context.log_gap):
            why = "exactly the book's 1e-7 inside the log of cross_entropy_error, which one side leaves out"
        else:
            why = "not the book's 1e-7 inside the log (it would move the gradient differently)"
    return Diagnosis(
        "small-smooth",
        tuple(failed),
        f"{names}: a small, smooth mismatch ({worst:.1e} of the gradient's norm): the two sides differentiate "
        f"slightly different functions, {why}",
    )


def _located(agreed: Collection[str], names: list[str], rest: list[str]) -> Diagnosis | None:
    """Where in the backward pass the unexplained failures sit, when the parameters that agree pin it down.

    Only W1 and b1 failing (W2, b2 agree) puts the error between the two layers; one parameter of a
    layer failing while its partner agrees puts it in that parameter's own line, since both are
    computed from the same upstream gradient.
    """
    if not rest or set(names) != set(rest):  # a failure with a diagnosis of its own: no location guessed
        return None
    if set(rest) == set(HIDDEN) and all(n in agreed for n in OUTPUT):
        return Diagnosis(
            "hidden-only",
            tuple(rest),
            "only the hidden layer's parameters are wrong (W2, b2 agree): the error lies between the two layers, in "
            "the hidden activation's backward (or its mask) or in the gradient passed back through W2 (dout @ W2.T)",
        )
    if len(rest) == 1 and (partner := PARTNER.get(rest[0])) in agreed:
        name = rest[0]
        line = "x.T @ dout" if name.startswith("W") else "dout summed over the batch, axis 0"
        return Diagnosis(
            "own-line",
            (name,),
            f"only {name} is wrong and {partner} agrees: both come from the same upstream gradient, so the error is "
            f"in {name}'s own line of the backward pass ({line})",
        )
    return None


def finding(code: str, message: str, params: tuple[str, ...] = ()) -> Diagnosis:
    """A diagnosis found by probing the code under test rather than from the numbers (stale forward, randomness)."""
    return Diagnosis(code, params, message)


def diagnose(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    failed: Collection[str],
    context: Context | None = None,
    agreed: Collection[str] | None = None,
) -> list[Diagnosis]:
    """The diagnoses of the failing parameters, most specific first (empty when nothing failed).

    Parameters
    ----------
    pairs : name -> (analytic, reference), arrays of one shape (or transposed shapes), float
    failed : the names whose comparison failed
    context : what is known beyond the numbers (batch size, dtype, whether the loss has a log)
    agreed : the names checked and found right (they locate the error); default: those in ``pairs``
        that did not fail. Fast mode passes its passing blocks, whose entries it never compared.
    """
    context = context or Context()
    names = [n for n in pairs if n in set(failed)]
    if not names:
        return []
    pairs = {n: (np.asarray(a, dtype=np.float64), np.asarray(r, dtype=np.float64)) for n, (a, r) in pairs.items()}
    out: list[Diagnosis] = []
    single = [d for n in names if (d := _per_param(n, *pairs[n])) is not None]
    out += single
    rest = [n for n in names if n not in {p for d in single for p in d.params}]
    if rest:
        found = _scaled(pairs, rest, context) or _small_smooth(pairs, rest, context)
        if found is None and len(rest) > 1:  # not one pattern for all: try each on its own
            for n in rest:
                one = _scaled(pairs, [n], context)
                if one is not None:
                    out.append(one)
        elif found is not None:
            out.append(found)
    agreed = [n for n in pairs if n not in set(failed)] if agreed is None else list(agreed)
    located = _located(agreed, names, rest)
    if located is not None:
        out.append(located)
    return out
