"""Section 1: every method's gradient on the first batch, compared pairwise, failures diagnosed.

Each method's runner computes the gradient at the shared initial weights; every pair is
compared parameter by parameter with the tolerances of :mod:`dlfs_gradcheck.metrics`. A method that
raised (a user's implementation) becomes a FAIL note naming its file and line; one that
does not offer a gradient, a "not provided" note. A method whose gradient fails against
``backprop`` gets the diagnoses of :mod:`dlfs_gradcheck.diagnose`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from compare.engine import agreement
from compare.engine.builtin_runners import BACKPROP
from compare.engine.protocol import ImplementationFailure, MethodEntry, MethodInfo, NotProvided
from compare.report.model import DiagnosisNote, GradientRow, GradientSection, MethodNote
from compare.sections.notes import method_note
from dlfs_gradcheck import diagnose, metrics
from dlfs_gradcheck.usercode import book_loss_gradient
from dlfs_gradcheck.usercode.numcheck import judge_numerical
from impl_numpy import TwoLayerNet

# A numerical gradient through the book's loss (1e-7 inside the log) is compared with the exact
# gradient of that loss, not with backprop of the exact cross-entropy (README: the 1e-7 story).
BOOK_REFERENCE = MethodInfo("book-loss reference", "reference", "exact")


def collect(
    entries: Sequence[MethodEntry], params: Mapping[str, np.ndarray], x: np.ndarray, t: np.ndarray
) -> tuple[dict[MethodInfo, dict[str, np.ndarray]], list[MethodNote]]:
    """Each method's gradient (book layout, float64), and notes for those that failed or have none."""
    grads, notes = {}, []
    for entry in entries:
        try:
            runner = entry.make(params)
            grads[entry.info] = runner.gradient(x, t)
            notes += [MethodNote(entry.info.label, "note", n) for n in getattr(runner, "notes", ())]
            if getattr(runner, "method", None) == "numerical_gradient":  # a user's own: gradcheck's verdict on it
                verdict = judge_numerical(runner.net, grads[entry.info], x, t)  # raises when it is wrong
                if not verdict.checked:  # no exact gradient of its loss to hold it to: reported, not compared
                    del grads[entry.info]
                    notes.append(MethodNote(entry.info.label, "note", verdict.line))
        except (NotProvided, ImplementationFailure) as e:
            notes.append(method_note(entry.info.label, e))
    return grads, notes


def _findings(entries: Sequence[MethodEntry], params: Mapping[str, np.ndarray]) -> dict[str, list]:
    """What probing each method found before any comparison, by label (plugged-in classes only have any)."""
    out = {}
    for entry in entries:
        if entry.findings:
            out[entry.info.label] = list(entry.findings)
    return out


def _diagnoses(
    grads: Mapping[MethodInfo, Mapping[str, np.ndarray]],
    rows: list[GradientRow],
    shape: tuple[int, int],
    findings: Mapping[str, Sequence[diagnose.Diagnosis]],
    log_gap: Mapping[str, np.ndarray],
) -> list[DiagnosisNote]:
    """Diagnose each method whose gradient fails against the float64 backprop reference.

    ``findings`` (by label) are what probing a method found before any comparison (a gradient that
    reuses the last forward pass); they come first, for a method that failed.
    """
    ref = next((m for m in grads if m.family == BACKPROP and m.dtype == "float64"), None)
    if ref is None:
        return []
    out = []
    for m, g in grads.items():
        if m == ref:
            continue
        failed = [r.param for r in rows if not r.ok and {r.method_a, r.method_b} == {m.label, ref.label}]
        pairs = {k: (g[k], grads[ref][k]) for k in g}
        context = diagnose.Context(
            batch_size=shape[0], features=shape[1], dtype=m.dtype, log_loss=True, log_gap=log_gap
        )
        found = list(findings.get(m.label, ())) if failed else []
        for d in found + diagnose.diagnose(pairs, failed, context):
            out.append(DiagnosisNote(m.label, d.code, list(d.params), d.message))
    return out


def run(
    entries: Sequence[MethodEntry],
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    activation: str,
    h: float,
) -> GradientSection:
    """The gradient section on one batch ``x`` (N, D), ``t`` (N,)."""
    grads, notes = collect(entries, params, x, t)
    book = {e.info for e in entries if e.reference_loss == "book" and e.info in grads}
    book_gradient = book_loss_gradient(params, x, t, activation)
    if book:  # their numerical gradient differentiates the book's loss: check it against that loss's gradient
        grads[BOOK_REFERENCE] = book_gradient
        book.add(BOOK_REFERENCE)
    loss = TwoLayerNet.from_params(params, activation=activation).loss(x, t)
    mask = metrics.relu_kink_mask(params, x, h) if activation == "relu" else None
    rows = agreement.gradient_rows(
        grads, loss_value=loss, h=h, kink_mask=mask, pair_filter=lambda a, b: (a in book) == (b in book)
    )
    ok = all(r.ok for r in rows) and not any(n.status == "FAIL" for n in notes)
    exact = book_loss_gradient(params, x, t, activation, 0.0)
    gap = {k: book_gradient[k] - exact[k] for k in exact}
    diagnoses = _diagnoses(grads, rows, x.shape, _findings(entries, params), gap)
    return GradientSection(loss=float(loss), rows=rows, ok=ok, notes=notes, diagnoses=diagnoses)
