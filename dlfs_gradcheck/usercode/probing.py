"""What a user's book-style class does, found by calling it: one answer for the harness and the checker.

:func:`probe` runs once per net, at the shared weights and the first batch, and records on the
:class:`~dlfs_gradcheck.usercode.booknet.BookNet`:

- ``output`` and ``activation``: whether ``predict`` returns logits (the book's ch. 5) or softmax
  probabilities (ch. 4), and of which hidden layer (sigmoid or ReLU), by comparing it with the
  book's net at the same weights; a net of its own design keeps ``activation = None``, and its
  output is taken for probabilities when its rows are non-negative and sum to 1;
- ``not_read``: parameters the output does not change with, a fault of ``predict`` saying why (a layer
  that ignores one, holds a copy of it, or nothing reads it: :mod:`dlfs_gradcheck.usercode.readers`);
- ``loss_kind`` and the label format each method takes: ``exact`` (the exact cross-entropy of the
  output), ``book`` (the book's ``cross_entropy_error``, with ``1e-7`` inside the log) or ``other``;
- ``label_conflict``: where ``loss`` takes one-hot rows and class indices alike, ``gradient``
  gives one gradient for both; if not, the format that disagrees with the loss's slope is the
  one the gradient is checked with;
- ``faults``: a loss that is not the cross-entropy of ``predict``, an accuracy that is not the
  share of its argmax, a forward pass whose hidden layer is named sigmoid or ReLU but computes
  something else (the layer whose forward is wrong, named);
- what calling it in training's and checking's patterns shows (``deterministic``,
  ``gradient_fault``, ``stale_gradient``): see :mod:`dlfs_gradcheck.usercode.callpatterns`.

:func:`describe` says what was found in one line, :func:`findings` what of it is wrong, as
diagnoses. The user's weights are put back after every probe (the caller holds :meth:`BookNet.kept`).
"""

from __future__ import annotations

import numpy as np

from dlfs_gradcheck.diagnose import Diagnosis, finding
from dlfs_gradcheck.usercode import callpatterns, labelforms
from dlfs_gradcheck.usercode.checks import (
    PARAM_NAMES,
    book_loss,
    detect_forward,
    exact_loss,
    looks_like_probabilities,
    loss_tolerance,
)
from dlfs_gradcheck.usercode.failures import ImplementationFailure, definition_of
from dlfs_gradcheck.usercode.forwardblame import forward_fault, on_copies
from dlfs_gradcheck.usercode.readers import why_unread


def probe(net, x: np.ndarray, t: np.ndarray) -> None:
    """Find out what ``net`` (a BookNet) does; see the module docstring."""
    callpatterns.determinism(net, x, t)
    if net.loss_varies:
        net.loss_kind = "random"
    if not net.deterministic:  # nothing else can be established from values that change by themselves
        if "predict" in net.provided:
            net.output = "probabilities" if looks_like_probabilities(net.output_of(x), net.dtype) else "logits"
        net.loss_kind = "random" if "loss" in net.provided else None
        return
    if "predict" in net.provided:
        _output(net, x)
    if {"predict", "loss"} & set(net.provided):
        _reads(net, x, t)
    if "loss" in net.provided and "predict" in net.provided and not net.loss_varies:
        _loss_kind(net, x, t)
    if "accuracy" in net.provided and "predict" in net.provided:
        _accuracy(net, x, t)
    if "gradient" in net.provided and ({"loss", "predict"} & set(net.provided)) and net.gradient_fault is None:
        callpatterns.staleness(net, x, t)
    if "gradient" in net.provided and net.activation and net.gradient_fault is None:
        callpatterns.against_backprop(net, x, t)
    if (
        {"gradient", "loss", "predict"} <= set(net.provided)
        and net.loss_kind in ("exact", "book")
        and not (net.gradient_fault or net.stale_gradient)
    ):
        labelforms.check_label_forms(net, x, t)
    mismatch = labelforms.common_format_fault(net)
    if mismatch is not None:
        net.faults.append(mismatch)
    elif not any(f.method == "accuracy" for f in net.faults):
        miscount = labelforms.accuracy_format_fault(net, x, t)
        if miscount is not None:
            net.faults.append(miscount)


def _output(net, x: np.ndarray) -> None:
    z = net.output_of(x)
    if np.asarray(z).dtype == np.float32 and net.dtype == np.float64:  # it computes in float32: judged as such
        net.dtype = np.dtype(np.float32)
    net.activation, output = detect_forward(z, net.params(), x, net.dtype)
    fault = forward_fault(net, x) if output is None else None
    if fault is not None:
        output = "probabilities" if looks_like_probabilities(z, net.dtype) else "logits"
        net.faults.append(fault)
    elif output is None and on_copies(net):  # layers on copies of the weights: the not-read fault says so
        output = "probabilities" if looks_like_probabilities(z, net.dtype) else "logits"
    elif output is None:
        output = "probabilities" if looks_like_probabilities(z, net.dtype) else "logits"
        net.notes.append(
            f"predict is not the book's sigmoid or ReLU net at the shared weights (a design of its own): its {output} "
            "are used as they are"
        )
    net.output = output


def _reads(net, x: np.ndarray, t: np.ndarray) -> None:
    look = net.output_of if "predict" in net.provided else (lambda xb: np.asarray(net.loss(xb, t)))
    before = np.array(look(x))
    rng = np.random.default_rng(0)
    unread = []
    arrays = net.arrays()
    for k in PARAM_NAMES:
        a = arrays[k]
        keep = a.copy()
        a += (0.1 * max(float(np.max(np.abs(a))), 0.1)) * rng.standard_normal(a.shape)  # in place
        if np.array_equal(np.array(look(x)), before):
            unread.append(k)
        a[...] = keep
    net.not_read = tuple(unread)
    if unread:
        why, culprit, made = why_unread(net.net, arrays, unread, net.births)
        method = "predict" if "predict" in net.provided else "loss"
        verb = "changes" if len(unread) == 1 else "change"
        net.faults.append(
            ImplementationFailure(
                method,
                f"its output does not change when {', '.join(unread)} {verb}: {why}",
                made or definition_of(culprit or getattr(net.net, method, None)),
                error="not-read",
                params=net.not_read,
            )
        )


def _loss_kind(net, x: np.ndarray, t: np.ndarray) -> None:
    z = net.output_of(x)
    theirs = net.loss(x, t)
    exact, book = exact_loss(z, t, net.output), book_loss(z, t, net.output)
    tol = loss_tolerance(np.empty(0, net.dtype), z) * max(1.0, abs(exact))  # float32 params or logits: float32's
    if abs(theirs - exact) <= tol:
        net.loss_kind = "exact"
    elif abs(theirs - book) <= tol:
        net.loss_kind = "book"
        net.notes.append(
            f"the book's 1e-7 inside the log moves the loss by {theirs - exact:+.2e} from the exact cross-entropy here"
            + ("; numerical_gradient differentiates that loss" if "numerical_gradient" in net.provided else "")
        )
    else:
        net.loss_kind = "other"
        what = (
            f"returns {theirs:.10g}, not the cross-entropy of predict ({exact:.10g}, or {book:.10g} with the "
            "book's 1e-7)"
        )
        for ref in (exact, book):
            ratio = theirs / ref if ref else float("nan")
            if not np.isfinite(ratio):
                continue
            if abs(ratio - round(ratio)) <= 1e-6 * abs(ratio) and round(ratio) not in (0, 1):
                what += f" but {round(ratio)} × it"
                if round(ratio) == len(x):
                    what += f", the batch's {len(x)} rows: a missing / batch_size?"
                break
        net.faults.append(
            ImplementationFailure(
                "loss",
                what,
                definition_of(getattr(net.net, "loss", None)),
                error="wrong-loss",
            )
        )


def _accuracy(net, x: np.ndarray, t: np.ndarray) -> None:
    """Their accuracy must be the share of rows whose argmax of predict is the label.

    Checked on the batch's labels, and on labels every row gets right or wrong by construction
    (the argmax itself, the next class): a count that skips or repeats a row shows on one of them.
    """
    guess = np.argmax(net.output_of(x), axis=1)
    classes = int(net.sizes[2])
    for labels in (t, guess, (guess + 1) % classes):
        theirs = net.accuracy(x, labels)
        want = float(np.mean(guess == labels))
        if abs(theirs - want) > 1e-12:
            net.faults.append(
                ImplementationFailure(
                    "accuracy",
                    f"returns {theirs:.6g} on a batch where predict's argmax matches {want:.6g} of the labels",
                    definition_of(getattr(net.net, "accuracy", None)),
                    error="wrong-accuracy",
                )
            )
            return


def findings(net, method: str) -> tuple[Diagnosis, ...]:
    """What probing found wrong before any comparison, as diagnoses (shown when ``method`` fails)."""
    out = []
    if method == "gradient" and net.label_conflict is not None:
        out.append(labelforms.finding_of(net.label_conflict))
    if method == "numerical_gradient" and net.dtype == np.float32:
        out.append(
            finding(
                "float32-numerical",
                "numerical_gradient differences a float32 loss: a change of the loss over 2h smaller than float32's "
                "rounding of it (~1e-7 of the loss) is lost, so its entries are mostly rounding noise (the lesson's "
                "float32 row shows why)",
            )
        )
    if not net.deterministic:
        out.append(
            finding(
                "nondeterministic",
                "the loss returns different values at the same point: something random is left on (dropout?), so "
                "the gradient cannot be checked; turn it off for the check",
            )
        )
    return tuple(out)


def describe(net) -> str:
    """One line: what predict returns, the hidden layer, the loss, the labels, the dtype."""
    parts = []
    if "predict" in net.provided:
        what = "softmax probabilities" if net.output == "probabilities" else "logits"
        layer = f" of a {net.activation} hidden layer" if net.activation else " (a net of its own design)"
        parts.append(f"predict returns {what}{layer if net.deterministic else ' that change from call to call'}")
    elif net.activation:  # no predict: the caller named the book's net that stands in for it
        parts.append(f"no predict: the reference is the book's {net.activation} net at its weights")
    if net.loss_kind == "exact" and net.dtype != np.float64:  # the 1e-7 moves it by ~1e-6: below float32's rounding
        parts.append(
            "loss is the cross-entropy (float32 cannot tell the exact one from the book's, 1e-7 inside the log)"
        )
    elif net.loss_kind is not None:
        parts.append(
            {
                "exact": "loss is the exact cross-entropy",
                "book": "loss is the book's cross_entropy_error (1e-7 inside the log)",
                "other": "loss is not a cross-entropy of predict",
                "random": "loss is not deterministic",
            }[net.loss_kind]
        )
    if net.formats:
        parts.append(", ".join(f"{m} takes {f} labels" for m, f in net.formats.items()))
    if net.dtype != np.float64:
        held = {a.dtype for a in net.arrays().values()} if hasattr(net, "arrays") else {net.dtype}
        what = "params are" if net.dtype in held else "predict computes in"
        parts.append(f"{what} {net.dtype.name}: compared at {net.dtype.name} tolerances")
    return "found: " + "; ".join(parts) if parts else ""
