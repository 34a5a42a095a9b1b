"""The lesson's table: the numerical gradient's error against the step h, per dtype.

Shared by the text and Markdown renderers, the teaching page and the CSV files; nothing here
computes a result, it only lays out what the model holds (:class:`LessonSection`).
"""

from __future__ import annotations

import math

from compare.i18n import _
from compare.report.format import (
    orders_of_magnitude,
    paragraph,
    sci,
)
from compare.report.model import (
    LessonSection,
)
from compare.report.tables import Table, compact_or_markdown


def lesson_table(section: LessonSection) -> Table:
    """A row per h; per dtype the largest error and that error relative to the largest gradient entry."""
    dtypes = list(dict.fromkeys(r.dtype for r in section.rows))
    hs = list(dict.fromkeys(r.h for r in section.rows))
    head = ["h"] + [f"{d} {what}" for d in dtypes for what in (_("max error"), _("relative"))] + [_("note")]
    rows: list[list[object]] = []
    for h in hs:
        row: list[object] = [f"{h:.0e}"]
        notes = []
        for d in dtypes:
            r = section.at(d, h)
            row += ["-", "-"] if r is None else [f"{r.max_abs:.1e}", f"{r.rel:.1e}"]
            if d in section.best and math.isclose(section.best[d], h, rel_tol=1e-9):
                notes.append(_("best {dtype}").format(dtype=d))
        if math.isclose(section.book_h, h, rel_tol=1e-9):
            notes.insert(0, _("book's h"))
        rows.append(row + [", ".join(notes)])
    return head, rows


def lesson_text(section: LessonSection, fmt: str = "simple") -> str:
    """The section as text (``fmt="simple"``) or Markdown (``fmt="github"``)."""
    md = fmt == "github"
    head, rows = lesson_table(section)
    intro = _(
        "The book's loop on {entries} sampled entries of the {shape} net ({activation}, batch {batch}), against "
        "float64 backprop; relative = max error / largest gradient entry ({grad_max}):"
    ).format(
        entries=section.entries,
        shape=section.shape,
        activation=section.activation,
        batch=section.batch_size,
        grad_max=f"{section.grad_max:.1e}",
    )
    lines = [paragraph(intro, md), compact_or_markdown(head, rows, md) + "\n\n"]
    rule = ", ".join(f"{d} {sci(e ** (1 / 3)) if e >= 0 else '-'}" for d, e in section.eps.items())
    best = ", ".join(f"{d} {sci(h)}" for d, h in section.best.items())
    lines.append(
        paragraph(_("Best h measured: {best}; rule of thumb ε^(1/3): {rule}.").format(best=best, rule=rule), md)
    )
    book = section.book_h
    lo, hi = (section.at("float64", book), section.at("float32", book)) if book else (None, None)
    if lo and hi:
        factor = orders_of_magnitude(hi.max_abs, lo.max_abs)
        median = section.grad_median
        # "noise": the typical entry's error is at least half the typical entry's size
        if hi.median_abs >= 0.5 * median:
            text = _(
                "At h = {h}: float32 errs by {e32}, about {factor} times float64's {e64}; on the median entry "
                "float32 errs by {median32}, noise: as large as the median gradient entry ({median})."
            )
        else:
            text = _(
                "At h = {h}: float32 errs by {e32}, about {factor} times float64's {e64}; on the median entry "
                "float32 errs by {median32}, against the median gradient entry ({median})."
            )
        text = text.format(
            h=sci(book),
            e32=sci(hi.max_abs, 2),
            factor=factor,
            e64=sci(lo.max_abs, 2),
            median32=sci(hi.median_abs, 2),
            median=sci(median, 2),
        )
        lines.append(paragraph(text, md))
    return "".join(lines).rstrip("\n") + "\n"
