"""The plain-words answer to "why backprop?", built from one run's own measurements.

Printed at the end of ``python -m compare.run`` and stored in the report as its
:class:`~compare.report.model.Summary`. Every number comes from the report the run produced
(the timing rows, the trajectory wall times, the agreement rows, the scaling fits, the h
sweep); nothing is quoted from elsewhere. A section that was not run (``--only``) leaves its
sentence out.

Usage::

    s = build(report, iters=10_000, h=1e-4, dtype="float64", book_shape="784-50-10 x100")
    print("\\n".join(s.lines))

Longer than 60 lines for ``build``: the summary's sentences are written in the order they are
read, each next to the numbers it quotes.
"""

from __future__ import annotations

import math

from compare.report.format import format_seconds, orders_of_magnitude, plain_duration, sci, times
from compare.report.model import GradientRow, Report, Summary, TimingRow

BOOK_SCRIPT = "train_neuralnet.py"


def n_params_of(shape: str) -> int:
    """P of a net written ``"D-H-C"`` (optionally followed by ``" xB"``)."""
    d, h, c = (int(part) for part in shape.split()[0].split("-"))
    return d * h + h + h * c + c


def _shape_text(shape: str) -> str:
    """``"784-50-10 x100"`` -> ``"784-50-10 (batch 100)"``."""
    net, _, batch = shape.partition(" x")
    return f"{net} (batch {batch})" if batch else net


def _times(rows: list[TimingRow], shape: str, dtype: str) -> dict | None:
    """Numerical and backprop medians at one timing shape, or None when either is missing."""
    at = [r for r in rows if r.shape == shape]
    numerical = [r for r in at if r.method == "numerical"]
    backprop = [r for r in at if r.method == "backprop" and r.dtype == dtype]
    backprop = backprop or [r for r in at if r.method == "backprop"]
    if not numerical or not backprop:
        return None
    num, bp = numerical[0], backprop[0]
    return {
        "shape": shape,
        "n_params": num.n_params,
        "numerical_s": num.median_s,
        "backprop_s": bp.median_s,
        "backprop_dtype": bp.dtype,
        "ratio": num.median_s / bp.median_s,
        "sampled": num.sampled if num.estimated else None,
    }


def _worst(rows: list[GradientRow], a: str, b_prefix: str) -> tuple[str, float, bool] | None:
    """(label of B, largest max_rel over parameters, all ok) for the first pair A vs B* of the gradient rows."""
    pair = [r for r in rows if r.method_a == a and r.method_b.startswith(b_prefix)]
    if not pair:
        return None
    b = pair[0].method_b
    mine = [r for r in pair if r.method_b == b]
    return b, max(r.max_rel for r in mine), all(r.ok for r in mine)


def build(report: Report, *, iters: int, h: float, dtype: str, book_shape: str) -> Summary:
    """The summary of ``report``: its sentences and the figures they quote.

    ``iters`` is the training length to project (the book's 10,000), ``h`` the run's
    central-difference step, ``dtype`` the run's backprop/autograd dtype and ``book_shape``
    the timing shape of the book's net (``"784-50-10 x100"``).
    """
    numbers: dict[str, object] = {"iters": iters}
    lines: list[str] = []
    book = book_shape.split()[0]
    own = report.shape
    p_book, p_own = n_params_of(book), n_params_of(own)
    numbers.update(p_book=p_book, p_own=p_own, loss_evaluations_book=2 * p_book)

    if own == book:
        lines.append(f"The net {book} has P = {p_book:,} parameters (weights and biases).")
    else:
        lines.append(
            f"This run's net {own} has P = {p_own:,} parameters; the book's MNIST net {book} has P = {p_book:,}."
        )
    lines.append(
        f"The book's numerical gradient nudges one parameter at a time and evaluates the loss twice for each: "
        f"2P = {2 * p_book:,} loss evaluations (full forward passes) per gradient at {book}. "
        "Backprop gets all P entries from one forward and one backward pass."
    )

    rows = report.timing.rows if report.timing else []
    at_book = _times(rows, book_shape, dtype)
    own_shapes = [r.shape for r in rows if r.shape.split()[0] == own and r.shape != book_shape]
    at_own = _times(rows, own_shapes[0], dtype) if own_shapes else None
    main = at_book or at_own
    if main is None:
        lines.append("(The timing section was not run: no times per gradient or projections.)")
    else:
        numbers["timing"] = {"book": at_book, "own": at_own}
        for t in (at_book, at_own):
            if t is None:
                continue
            how = f" (timed on {t['sampled']:,} of its {t['n_params']:,} parameters, scaled)" if t["sampled"] else ""
            where = "the book's net" if t is at_book else "this run's net"
            lines.append(
                f"Measured time per gradient on {where}, {_shape_text(t['shape'])}: "
                f"numerical {format_seconds(t['numerical_s'])}"
                f"{how}, backprop {format_seconds(t['backprop_s'])}: backprop is {times(t['ratio'])}× faster."
            )
        slow, fast = main["numerical_s"] * iters, main["backprop_s"] * iters
        numbers.update(projected_numerical_s=slow, projected_backprop_s=fast, projected_shape=main["shape"])
        lines.append(
            f"Projected {iters:,}-step training (as in the book's {BOOK_SCRIPT}) at {main['shape'].split()[0]}: "
            f"{plain_duration(slow)} with the numerical gradient versus {plain_duration(fast)} with backprop "
            f"(a projection: {iters:,} × the time per gradient)."
        )

    runs = report.trajectory.runs if report.trajectory else []
    shown = [r for r in runs if r.method == "numerical"] + [r for r in runs if r.method.startswith("backprop")]
    if shown:
        numbers["trained"] = {r.method: {"steps": r.steps, "seconds": r.seconds} for r in shown}
        parts = [
            f"{r.method} {r.steps:,} steps in {format_seconds(r.seconds)} "
            f"({format_seconds(r.seconds / r.steps)} per step)"
            for r in shown
            if r.steps
        ]
        lines.append(f"Actually trained in this run on {own}: " + "; ".join(parts) + ".")

    grad_rows = report.gradients.rows if report.gradients else []
    exact = _worst(grad_rows, "backprop", "autograd")
    numeric = _worst(grad_rows, "numerical", "backprop")
    if exact or numeric:
        parts = []
        if exact:
            numbers["agreement_backprop_autograd"] = exact[1]
            why = f"{dtype} rounding" if exact[2] else "MORE than rounding explains: see the FAIL rows"
            parts.append(f"backprop and {exact[0]} agree to {sci(exact[1])} (relative; {why})")
        if numeric:
            numbers["agreement_numerical_backprop"] = numeric[1]
            why = (
                f"within what central differences with h = {sci(h)} reach in float64"
                if numeric[2]
                else "MORE than central differences explain: see the FAIL rows"
            )
            parts.append(f"the numerical gradient agrees with backprop to {sci(numeric[1])}, {why}")
        ok = all(x[2] for x in (exact, numeric) if x)
        lead = "The methods compute the same gradient: " if ok else "The agreement checks found a difference: "
        lines.append(lead + "; ".join(parts) + ".")

    fits = report.scaling.fits if report.scaling else []
    series = "hidden" if any(f.series == "hidden" for f in fits) else "input"
    slope = {f.method: f.slope for f in fits if f.series == series and not math.isnan(f.slope)}
    bp_label = next((m for m in slope if m.startswith("backprop")), None)
    if "numerical" in slope and bp_label:
        a, b = slope["numerical"], slope[bp_label]
        numbers["slopes"] = {"series": series, "numerical": a, "backprop": b}
        what = "hidden layer" if series == "hidden" else "input"
        lines.append(
            f"Cost growth (the {what} grows): time per gradient grows as P^{a:.2f} for the numerical gradient and "
            f"P^{b:.2f} for backprop, so doubling the {what} makes the first about {2**a:.1f}× slower and the "
            f"second about {2**b:.1f}×."
        )

    lesson = report.lesson
    if lesson:
        lo, hi = lesson.at("float64", h), lesson.at("float32", h)
        if lo and hi:
            numbers["lesson"] = {"float64": lo.max_abs, "float32": hi.max_abs}
            lines.append(
                f"In float32 the book's h = {sci(h)} fails: the numerical gradient errs by {sci(hi.max_abs)}, about "
                f"{orders_of_magnitude(hi.max_abs, lo.max_abs)} times float64's {sci(lo.max_abs)}, so "
                "reference gradients are computed in float64."
            )

    if main is not None:
        lines.append(
            f"So: backprop gets the gradient {times(main['ratio'])}× sooner at {main['shape'].split()[0]}, "
            "and its cost grows with P, where the numerical gradient's grows with P²."
        )
    # Only the measurements quoted above: the numerical and backprop times per gradient, and their slopes.
    quoted = [r for r in rows if r.method in ("numerical", "backprop") and r.dtype == dtype]
    noisy = [r for r in quoted if r.noisy]
    odd = [v for m, v in slope.items() if (m == "numerical" or m == bp_label) and not 0.3 <= v <= 3.0]
    if noisy or odd:
        numbers["noisy_timings"] = len(noisy)
        lines.append(
            f"Caution: {len(noisy)} timing(s) were noisy (IQR above 10% of the median)"
            + (" and a fitted slope is implausible" if odd else "")
            + ": was the machine busy? Times, ratios and slopes may be off; rerun on an idle machine."
        )
    return Summary(lines=lines, numbers=numbers)
