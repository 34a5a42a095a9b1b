"""The plain-words answer to "why backprop?", built from one run's own measurements.

Printed at the end of ``python -m compare.run`` and stored in the report as its
:class:`~compare.report.model.Summary`. Every number comes from the report the run produced
(the timing rows, the trajectory wall times, the agreement rows, the scaling fits, the h
sweep); nothing is quoted from elsewhere. A section that was not run (``--only``) leaves its
sentence out.

Usage::

    s = build(report, iters=10_000, h=1e-4, dtype="float64", book_shape="784-50-10 x100")
    print("\\n".join(s.lines))
"""

from __future__ import annotations

import math

from compare.config import param_count
from compare.report.format import format_seconds, orders_of_magnitude, plain_duration, sci, times
from compare.report.model import GradientRow, Report, Summary, TimingRow
from compare.sections.claims import caution, caution_line, growth_fits, growth_line, so_line

BOOK_SCRIPT = "train_neuralnet.py"


def n_params_of(shape: str) -> int:
    """P of a net written ``"D-H-C"`` (optionally followed by ``" xB"``)."""
    d, h, c = (int(part) for part in shape.split()[0].split("-"))
    return param_count(d, h, c)


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
    low, high = ratio_range(num, bp)
    return {
        "shape": shape,
        "n_params": num.n_params,
        "numerical_s": num.median_s,
        "numerical_iqr_s": num.iqr_s,
        "numerical_noisy": num.noisy,
        "backprop_s": bp.median_s,
        "backprop_iqr_s": bp.iqr_s,
        "backprop_noisy": bp.noisy,
        "backprop_dtype": bp.dtype,
        "ratio": num.median_s / bp.median_s,
        "ratio_low": low,
        "ratio_high": high,
        "sampled": num.sampled if num.estimated else None,
    }


def ratio_range(a: TimingRow, b: TimingRow) -> tuple[float, float]:
    """The range of ``a / b`` with each time anywhere in its median ± IQR / 2 (``inf`` when b's band reaches 0)."""
    a_low, a_high = a.median_s - a.iqr_s / 2, a.median_s + a.iqr_s / 2
    b_low, b_high = b.median_s - b.iqr_s / 2, b.median_s + b.iqr_s / 2
    low = max(a_low, 0.0) / b_high if b_high > 0 else math.nan
    high = a_high / b_low if b_low > 0 else math.inf
    return low, high


def _time_text(seconds: float, iqr: float, noisy: bool) -> str:
    """``"18.3 s"``, or ``"16.7 min (noisy: IQR 45% of the median)"``."""
    text = format_seconds(seconds)
    if noisy and seconds > 0:
        text += f" (noisy: IQR {iqr / seconds:.0%} of the median)"
    return text


def _ratio_text(t: dict) -> str:
    """``"backprop is 39,500× faster (37,000–42,000× within the two times' interquartile ranges)"``."""
    low, high = t["ratio_low"], t["ratio_high"]
    span = f"{times(low)}–{times(high)}×" if math.isfinite(high) else f"at least {times(low)}×"
    return f"backprop is {times(t['ratio'])}× faster ({span} within the two times' interquartile ranges)"


def _worst(rows: list[GradientRow], a: str, b_prefix: str) -> tuple[str, float, bool] | None:
    """(label of B, largest max_rel over parameters, all ok) for the first pair A vs B* of the gradient rows."""
    pair = [r for r in rows if r.method_a == a and r.method_b.startswith(b_prefix)]
    if not pair:
        return None
    b = pair[0].method_b
    mine = [r for r in pair if r.method_b == b]
    return b, max(r.max_rel for r in mine), all(r.ok for r in mine)


def _net_lines(book: str, own: str, numbers: dict[str, object]) -> list[str]:
    """The nets' sizes P, and what a numerical gradient costs at the book's (``numbers`` gets P of each)."""
    p_book, p_own = n_params_of(book), n_params_of(own)
    numbers.update(p_book=p_book, p_own=p_own, loss_evaluations_book=2 * p_book)
    if own == book:
        first = f"The net {book} has P = {p_book:,} parameters (weights and biases)."
    else:
        first = f"This run's net {own} has P = {p_own:,} parameters; the book's MNIST net {book} has P = {p_book:,}."
    return [
        first,
        f"The book's numerical gradient nudges one parameter at a time and evaluates the loss twice for each: "
        f"2P = {2 * p_book:,} loss evaluations (full forward passes) per gradient at {book}. "
        "Backprop gets all P entries from one forward and one backward pass.",
    ]


def _timing_lines(
    report: Report, own: str, book_shape: str, dtype: str, iters: int, numbers: dict[str, object]
) -> tuple[list[str], dict | None]:
    """The measured times per gradient and the projected training; also the times the projection used."""
    rows = report.timing.rows if report.timing else []
    at_book = _times(rows, book_shape, dtype)
    own_shapes = [r.shape for r in rows if r.shape.split()[0] == own and r.shape != book_shape]
    at_own = _times(rows, own_shapes[0], dtype) if own_shapes else None
    main = at_book or at_own
    if main is None:
        return ["(The timing section was not run: no times per gradient or projections.)"], None
    lines = []
    numbers["timing"] = {"book": at_book, "own": at_own}
    for t in (at_book, at_own):
        if t is None:
            continue
        how = f" (timed on {t['sampled']:,} of its {t['n_params']:,} parameters, scaled)" if t["sampled"] else ""
        where = "the book's net" if t is at_book else "this run's net"
        numerical = _time_text(t["numerical_s"], t["numerical_iqr_s"], t["numerical_noisy"])
        backprop = _time_text(t["backprop_s"], t["backprop_iqr_s"], t["backprop_noisy"])
        lines.append(
            f"Measured time per gradient on {where}, {_shape_text(t['shape'])}: "
            f"numerical {numerical}{how}, backprop {backprop}: {_ratio_text(t)}."
        )
    slow, fast = main["numerical_s"] * iters, main["backprop_s"] * iters
    numbers.update(projected_numerical_s=slow, projected_backprop_s=fast, projected_shape=main["shape"])
    noisy = " from noisy times" if main["numerical_noisy"] or main["backprop_noisy"] else ""
    lines.append(
        f"Projected {iters:,}-step training (as in the book's {BOOK_SCRIPT}) at {main['shape'].split()[0]}: "
        f"{plain_duration(slow)} with the numerical gradient versus {plain_duration(fast)} with backprop "
        f"(a projection{noisy}: {iters:,} × the time per gradient)."
    )
    return lines, main


def _trained_lines(report: Report, own: str, numbers: dict[str, object]) -> list[str]:
    """How long the trajectory section's numerical and backprop runs actually took."""
    runs = report.trajectory.runs if report.trajectory else []
    shown = [r for r in runs if r.method == "numerical"] + [r for r in runs if r.method.startswith("backprop")]
    if not shown:
        return []
    numbers["trained"] = {r.method: {"steps": r.steps, "seconds": r.seconds} for r in shown}
    parts = [
        f"{r.method} {r.steps:,} steps in {format_seconds(r.seconds)} ({format_seconds(r.seconds / r.steps)} per step)"
        for r in shown
        if r.steps
    ]
    return [f"Actually trained in this run on {own}: " + "; ".join(parts) + "."]


def _agreement_lines(report: Report, dtype: str, h: float, numbers: dict[str, object]) -> list[str]:
    """How closely backprop matches autograd, and the numerical gradient matches backprop."""
    grad_rows = report.gradients.rows if report.gradients else []
    exact = _worst(grad_rows, "backprop", "autograd")
    numeric = _worst(grad_rows, "numerical", "backprop")
    if not (exact or numeric):
        return []
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
    return [lead + "; ".join(parts) + "."]


def _lesson_lines(report: Report, h: float, numbers: dict[str, object]) -> list[str]:
    """What the book's h does in float32, against float64 (from the lesson's h sweep)."""
    lesson = report.lesson
    lo, hi = (lesson.at("float64", h), lesson.at("float32", h)) if lesson else (None, None)
    if not (lo and hi):
        return []
    numbers["lesson"] = {"float64": lo.max_abs, "float32": hi.max_abs}
    return [
        f"In float32 the book's h = {sci(h)} fails: the numerical gradient errs by {sci(hi.max_abs)}, about "
        f"{orders_of_magnitude(hi.max_abs, lo.max_abs)} times float64's {sci(lo.max_abs)}, so "
        "reference gradients are computed in float64."
    ]


def build(report: Report, *, iters: int, h: float, dtype: str, book_shape: str) -> Summary:
    """The summary of ``report``: its sentences and the figures they quote.

    ``iters`` is the training length to project (the book's 10,000), ``h`` the run's
    central-difference step, ``dtype`` the run's backprop/autograd dtype and ``book_shape``
    the timing shape of the book's net (``"784-50-10 x100"``). The sentences come in the order
    they are read; each helper adds the figures its sentences quote to ``numbers``.
    """
    numbers: dict[str, object] = {"iters": iters}
    own = report.shape
    lines = _net_lines(book_shape.split()[0], own, numbers)
    timing, main = _timing_lines(report, own, book_shape, dtype, iters, numbers)
    lines += timing
    lines += _trained_lines(report, own, numbers)
    lines += _agreement_lines(report, dtype, h, numbers)
    growth = growth_fits(report.scaling.fits if report.scaling else [])
    if growth is not None:
        numbers["slopes"] = growth
        lines.append(growth_line(growth))
    lines += _lesson_lines(report, h, numbers)
    if main is not None:
        lines.append(so_line(main, growth))
    warned = caution(report, growth)
    if warned is not None:
        numbers["noisy_timings"] = warned["noisy_marks"]
        numbers["caution"] = warned
        lines.append(caution_line(warned))
    return Summary(lines=lines, numbers=numbers)
