"""The cost-growth section's tables: time per gradient by size, per series, with the fitted slopes.

Shared by the text and Markdown renderers, the teaching page and the CSV files; nothing here
computes a result, it only lays out what the model holds (:class:`ScalingSection`).
"""

from __future__ import annotations

import math

from compare.i18n import N_, _
from compare.report import layout
from compare.report.format import (
    SLOPE_REASONS,
    WIDTH,
    format_seconds,
    paragraph,
    slope_span,
)
from compare.report.model import (
    MIN_SIZES,
    PLAUSIBLE_SLOPES,
    SLOPE_WIDTH,
    ScalingFit,
    ScalingSection,
)
from compare.report.tables import Table, compact_or_markdown

SERIES_TITLES = {
    "hidden": N_("Hidden size H varies, input {input_size}, output {output_size}"),
    "input": N_("Input size D varies, hidden {hidden_size}, output {output_size}"),
}


def _slope_text(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}"


def series_table(section: ScalingSection, series: str) -> Table:
    """One series as a table: a row per shape, a column per method, then the fitted and expected slopes."""
    methods = section.methods
    points = [p for p in section.points if p.series == series]
    shapes = list(dict.fromkeys(p.shape for p in points))
    by_key = {(p.shape, p.method): p for p in points}
    head = [_("net"), "P", _("loss evals (book loop)")] + methods
    rows: list[list[object]] = []
    for shape in shapes:
        first = next(p for p in points if p.shape == shape)
        row: list[object] = [shape, f"{first.n_params:,}", f"{2 * first.n_params:,}"]
        for m in methods:
            p = by_key.get((shape, m))  # a hand-edited file may lack one: "-"
            cell = "-" if p is None else ("≈" if p.estimated else "") + format_seconds(p.median_s)
            row.append(cell + (" !" if p is not None and p.noisy else ""))
        rows.append(row)
    fits = {f.method: f for f in section.fits if f.series == series}
    fitted = [_slope_text(fits[m].slope if m in fits else None) for m in methods]
    rows.append([_("slope vs P (fitted)"), "", ""] + fitted)
    spans = [slope_span(fits[m].slope_low, fits[m].slope_high) if m in fits else "-" for m in methods]
    rows.append([_("slope range (spread)"), "", ""] + spans)
    rows.append([_("slope expected"), "", ""] + [f"{fits[m].expected:g}" if m in fits else "-" for m in methods])
    return head, rows


def fit_text(f: ScalingFit) -> str:
    """One fitted slope in words: measured with its range, or not supported by the run's times and why."""
    span = slope_span(f.slope_low, f.slope_high)
    if f.claim == "measured":
        text = _("{method} {slope} (range {span}; theory {expected}), measured")
        return text.format(method=f.method, slope=f"{f.slope:.2f}", span=span, expected=f"{f.expected:g}")
    reason = _(SLOPE_REASONS[f.claim]) if f.claim in SLOPE_REASONS else f.claim
    text = _("{method} {slope}, not supported by this run's times: {reason} (range {span}; theory {expected})")
    return text.format(
        method=f.method, slope=_slope_text(f.slope), reason=reason, span=span, expected=f"{f.expected:g}"
    )


def slope_notes(section: ScalingSection) -> list[str]:
    """Per series, each fitted slope: quoted as measured with its range, or why this run's times do not support it."""
    notes = []
    for name in dict.fromkeys(f.series for f in section.fits):
        fits = [f for f in section.fits if f.series == name]
        text = _("Fitted slopes, series {name}: {fits}.")
        notes.append(text.format(name=name, fits="; ".join(fit_text(f) for f in fits)))
    return notes


def scaling_text(section: ScalingSection, fmt: str = "simple") -> str:
    """The section as text (``fmt="simple"``) or Markdown (``fmt="github"``)."""
    plan = section.plan
    series = list(dict.fromkeys(p.series for p in section.points))
    md = fmt == "github"
    form = _("full study")
    if section.form == "reduced":
        form = _("reduced form; `--only scaling` runs the full study, with more sizes and methods")
    if not md:
        form = form.replace("`", "")
    intro = _("Time per gradient, batch {batch}, threads: {threads} ({form}).")
    intro = intro.format(batch=section.batch_size, threads=section.threads, form=form)
    lines = [(intro if md else layout.wrap(intro, WIDTH, "")) + "\n"]
    for name in series:
        sizes = {"input_size": plan.input_size, "hidden_size": plan.hidden_size, "output_size": plan.output_size}
        title = _(SERIES_TITLES[name]).format(**sizes) if name in SERIES_TITLES else f"series {name}"
        lines.append(f"\n{title}:\n\n")
        head, rows = series_table(section, name)
        lines.append(compact_or_markdown(head, rows, md) + "\n")
    lines.append("\n")
    if any(p.noisy for p in section.points):
        lines.append(paragraph(_("!: a noisy time (its IQR above {limit} of its median).").format(limit="10%"), md))
    low, high = PLAUSIBLE_SLOPES
    text = _(
        "Slope range: the fitted slope with each size's time anywhere within its interquartile range, widened by "
        "two standard errors of the sizes' scatter about the line. A slope is quoted as measured when at least "
        "{sizes} sizes give a range at most {width} wide and the slope lies between {low} and {high}."
    ).format(sizes=MIN_SIZES, width=f"{SLOPE_WIDTH:g}", low=f"{low:g}", high=f"{high:g}")
    lines.append(paragraph(text, md))
    for note in slope_notes(section):
        lines.append(paragraph(note, md))
    sampled = [p for p in section.points if p.estimated]
    if sampled:
        text = _(
            "≈: the book's loop timed on {sampled} sampled parameters and scaled to P "
            "(each costs the same two forward passes)."
        ).format(sampled=sampled[0].sampled)
        lines.append(paragraph(text, md))
    counted = section.count
    text = _(
        "Counted: one book numerical gradient of a {shape} net (P = {n_params}) called the loss {evaluations} "
        "times (2P); backprop and autograd run one forward and one backward pass, whatever P."
    ).format(shape=counted.shape, n_params=f"{counted.n_params:,}", evaluations=f"{counted.loss_evaluations:,}")
    lines.append(paragraph(text, md))
    return "".join(lines).rstrip("\n") + "\n"
