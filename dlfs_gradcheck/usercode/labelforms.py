"""Which label format each method of a user's book-style class takes: one-hot rows or class indices.

The book's scripts load MNIST with ``one_hot_label=True``; its ch. 5 layers branch on the
format (``SoftmaxWithLoss.backward`` has one path for each), its ch. 4 ``gradient`` needs one-hot
rows. Two rules, used by :class:`~dlfs_gradcheck.usercode.booknet.BookNet` for the harness and the
checker alike:

- :func:`call_with_labels`: a method's first call tries both formats; the one that works is kept
  (for ``loss``, the one that is the cross-entropy of ``predict`` when both run);
- :func:`check_label_forms`: where ``loss`` takes both formats, ``gradient`` must give one
  gradient for both. When the two differ, the one farther from the loss's slope along a random
  direction is the wrong branch; it becomes the format ``gradient`` is checked and trained with,
  so the comparison fails where the bug is, and :func:`finding_of` says why.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlfs_gradcheck.diagnose import Diagnosis, finding
from dlfs_gradcheck.usercode.checks import (
    PARAM_NAMES,
    book_loss,
    check_gradients,
    check_scalar,
    exact_loss,
    loss_tolerance,
    one_hot,
)
from dlfs_gradcheck.usercode.failures import ImplementationFailure, definition_of

FORMATS = ("one-hot", "index")
STALE_RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-3}  # one point, two correct paths: rounding


def differing(a: dict[str, np.ndarray], b: dict[str, np.ndarray], dtype: np.dtype) -> list[str]:
    """The parameters whose gradients ``a`` and ``b`` differ by more than ``dtype``'s rounding."""
    return [k for k in PARAM_NAMES if not np.allclose(a[k], b[k], rtol=STALE_RTOL[dtype], atol=0.0)]


def labels(net, t: np.ndarray, fmt: str) -> np.ndarray:
    """Class indices ``t`` (N,) in the format ``fmt``: (N, C) one-hot rows, or ``t`` itself."""
    return one_hot(t, net.sizes[2]) if fmt == "one-hot" else t


def call_with_labels(net, method: str, x: np.ndarray, t: np.ndarray, check: Callable[[object], object]) -> object:
    """``check(user.method(x, labels))`` in the method's label format, found on the first call."""
    fmt = net.formats.get(method)
    if fmt is not None:
        return check(net._invoke(method, x, labels(net, t, fmt)))
    # The format the loss takes first (a crash in both is then reported as that format's).
    order = (net.formats["loss"],) if "loss" in net.formats else ("one-hot",)
    order += tuple(f for f in FORMATS if f not in order)
    results, errors = {}, {}
    for fmt in order:
        with net.kept():
            try:
                results[fmt] = check(net._invoke(method, x, labels(net, t, fmt)))
            except ImplementationFailure as e:
                if e.error == "side-effect":  # it ran, and changed the caller's data: a fault in any format
                    raise
                errors[fmt] = e
    net.accepted[method] = frozenset(results)
    if not results:
        raise errors[order[0]]
    if method == "loss" and len(results) == 2 and "predict" in net.provided:
        # Both run: keep the one that is the cross-entropy of predict (exact or the book's).
        z = net.output_of(x)
        want = (exact_loss(z, t, net.output), book_loss(z, t, net.output))
        fmt = min(FORMATS, key=lambda f: min(abs(results[f] - w) for w in want))
    else:
        fmt = next(f for f in order if f in results)
    net.formats[method] = fmt
    return results[fmt]


def check_label_forms(net, x: np.ndarray, t: np.ndarray) -> None:
    """``gradient`` with one-hot rows and with class indices, when ``loss`` takes both: one gradient.

    A class whose loss gives the cross-entropy with either format (the book's ch. 5 layers
    branch on the format) must give one gradient with either. When the two differ, the one
    farther from the loss's slope along a random direction is the wrong branch: it becomes the
    format ``gradient`` is checked (and trained) with, so the comparison fails where the bug is.
    """
    if len(x) == net.sizes[2]:  # (N,) indices broadcast against (N, C) rows: drop a row so they cannot
        if len(x) < 2:
            return
        x, t = x[:-1], t[:-1]
    z = net.output_of(x)
    want = (exact_loss if net.loss_kind == "exact" else book_loss)(z, t, net.output)
    tol = loss_tolerance(np.empty(0, net.dtype), z) * max(1.0, abs(want))
    where = definition_of(getattr(net.net, "gradient", None))
    grads = {}
    for fmt in FORMATS:
        rows = labels(net, t, fmt)
        try:
            if abs(check_scalar("loss", net._invoke("loss", x, rows), where) - want) > tol:
                return  # the loss does not take this format: nothing to compare
            got = check_gradients("gradient", net._invoke("gradient", x, rows), net.shapes, where, net.dtype)
        except ImplementationFailure:
            return  # one format only (or a crash the gradient section reports itself)
        grads[fmt] = {k: np.array(v, dtype=np.float64) for k, v in got.items()}
    differs = differing(grads["one-hot"], grads["index"], net.dtype)
    if not differs:
        return
    miss = {fmt: _slope_miss(net, x, t, grads[fmt]) for fmt in FORMATS}
    wrong = max(FORMATS, key=miss.__getitem__)
    right = next(f for f in FORMATS if f != wrong)
    net.formats["gradient"] = wrong
    net.label_conflict = (wrong, tuple(differs))
    net.notes.append(
        f"gradient differs between one-hot labels and class indices ({', '.join(differs)} differ) though loss takes "
        f"both: the {right} result follows the loss's slope, so gradient is checked with {wrong} labels"
    )


def _slope_miss(net, x: np.ndarray, t: np.ndarray, grads: dict[str, np.ndarray]) -> float:
    """|directional derivative of the exact loss of predict - grads · direction|, along one random direction."""
    rng = np.random.default_rng(2)
    point = net.params()
    direction = {k: rng.standard_normal(v.shape) for k, v in point.items()}
    norm = np.sqrt(sum(float(np.sum(d * d)) for d in direction.values()))
    h = 1e-5 if net.dtype == np.float64 else 1e-2  # central differences: truncation h², rounding ε/h

    def loss_at(sign: float) -> float:
        net.load({k: point[k] + sign * h * direction[k] / norm for k in PARAM_NAMES})
        return exact_loss(net.output_of(x), t, net.output)

    slope = (loss_at(1.0) - loss_at(-1.0)) / (2 * h)
    net.load(point)
    return abs(slope - sum(float(np.sum(grads[k] * direction[k])) for k in PARAM_NAMES) / norm)


TRAINED_WITH = ("loss", "gradient", "accuracy", "numerical_gradient")  # the book's training passes them one t


def common_format_fault(net) -> ImplementationFailure | None:
    """A FAIL when no one label format runs every method training calls (the book passes one-hot t to all)."""
    ran = {m: net.accepted[m] for m in TRAINED_WITH if net.accepted.get(m)}
    if len(ran) < 2 or frozenset.intersection(*ran.values()):
        return None
    culprit = next((m for m in ran if "one-hot" not in ran[m]), next(iter(ran)))
    shown = {"index": "class-index", "one-hot": "one-hot"}
    takes = "; ".join(
        f"{m} runs only with {shown[next(iter(ran[m]))]} labels" if len(ran[m]) == 1 else f"{m} runs with both"
        for m in ran
    )
    return ImplementationFailure(
        culprit,
        f"no one label format runs every method training calls ({takes}): the book's training passes the same "
        "one-hot t to each, so it would crash",
        definition_of(getattr(net.net, culprit, None)),
        error="label-format",
    )


def accuracy_format_fault(net, x: np.ndarray, t: np.ndarray) -> ImplementationFailure | None:
    """A FAIL when ``accuracy`` crashes or miscounts in a label format every other trained method takes.

    The format it was first called in may be right while its other branch is not (ch. 5's
    ``if t.ndim != 1: t = np.argmax(t, axis=1)``): training passes one format to every method.
    """
    # A method that ran in neither format (it crashes) leaves no format settled: an empty set here.
    others = [net.accepted[m] for m in TRAINED_WITH if m != "accuracy" and m in net.accepted]
    if not others or "accuracy" not in net.provided or "predict" not in net.provided:
        return None
    guess = np.argmax(net.output_of(x), axis=1)
    want = float(np.mean(guess == t))
    where = definition_of(getattr(net.net, "accuracy", None))
    shown = {"index": "class-index", "one-hot": "one-hot"}
    for fmt in FORMATS:
        if fmt == net.formats.get("accuracy") or not all(fmt in ran for ran in others):
            continue
        taken = f"with {shown[fmt]} labels, which the other methods take (training passes one format to all)"
        try:
            with net.kept():
                theirs = check_scalar("accuracy", net._invoke("accuracy", x, labels(net, t, fmt)), where)
        except ImplementationFailure as e:
            return ImplementationFailure(
                "accuracy", f"crashes {taken}: {e.message}", e.where or where, error="label-format"
            )
        if abs(theirs - want) > 1e-12:
            message = f"returns {theirs:.6g} {taken}, where predict's argmax matches {want:.6g} of them"
            return ImplementationFailure("accuracy", message, where, error="wrong-accuracy")
    return None


def finding_of(conflict: tuple[str, tuple[str, ...]]) -> Diagnosis:
    """The diagnosis of a ``(wrong format, params)`` conflict found by :func:`check_label_forms`."""
    wrong, params = conflict
    branch, other = ("class-index", "one-hot") if wrong == "index" else ("one-hot", "class-index")
    return finding(
        "label-branch",
        f"gradient gives another gradient for {branch} labels than for {other} labels: its {branch} branch is wrong "
        "(the book's SoftmaxWithLoss.backward has one for each format)",
        params,
    )
