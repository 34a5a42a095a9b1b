"""PNG charts of a run's report (``--plot DIR``); needs matplotlib (``pip install ".[plot]"``).

Run: ``python -m compare.run --plot plots/``. Writes, for the sections the run made:

- ``scaling.png``  — time per gradient against P (log-log), one line per method, fitted slopes;
- ``lesson.png``   — numerical-gradient error against h (log-log), float64 and float32;
- ``losses.png``   — loss at every training step, one curve per method;
- ``accuracy.png`` — train and test accuracy at the book's records, one curve per method;
- ``loss-time.png`` — loss against wall-clock time, one curve per method (:func:`compare.report.learner.loss_clock`).

Labels come from the message catalogs (:mod:`compare.i18n`). For a language written in Han
characters or kana a CJK-capable font is used when one is installed; without one the labels stay
English (:func:`chart_language`), and the teaching page says so.

Charts are drawn with matplotlib's Agg canvas (no display, no global pyplot state) and
written atomically (:func:`compare.files.write_files`). The report's strings are drawn as they
are: control characters escaped, a ``$`` never read as the start of matplotlib's math mode.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import warnings
from collections.abc import Collection
from pathlib import Path

from compare import i18n
from compare.files import write_files
from compare.i18n import _
from compare.report.fonts import chart_language, quiet_logger
from compare.report.format import escaped
from compare.report.learner import LossClock, loss_clock
from compare.report.model import LessonSection, Report, ScalingFit, ScalingSection, TrajectorySection
from compare.terminal import printable

STYLES = ("-", "--", ":", "-.")  # curves that agree lie on top of each other: different dashes keep both visible
MARKERS = ("o", "s", "^", "D", "v", "P")


def available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def _new_figure(width: float = 7.0, height: float = 4.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _plain(text: str) -> str:
    """``text`` drawn as it is: control characters escaped, and ``$`` not starting matplotlib's math mode."""
    return printable(text).replace("$", r"\$")


def _fitted(fit: ScalingFit, sizes: list[int]) -> list[float] | None:
    """The fitted power law at ``sizes``; None when there is none to draw (no fit, a size <= 0, beyond float range)."""
    if not (math.isfinite(fit.slope) and math.isfinite(fit.intercept)) or any(s <= 0 for s in sizes):
        return None
    try:
        return [math.exp(fit.intercept + fit.slope * math.log(s)) for s in sizes]
    except OverflowError:
        return None


def _guide(sizes: list[int], secs: list[float], k: float) -> list[float] | None:
    """Slope ``k`` through the first point; None when the first point is not positive (a file edited by hand)."""
    if not (sizes[0] > 0 and secs[0] > 0 and math.isfinite(secs[0])):
        return None
    try:
        return [secs[0] * (s / sizes[0]) ** k for s in sizes]
    except OverflowError:
        return None


def scaling_figure(section: ScalingSection):
    """Time per gradient against P, one panel per series, fitted power laws dashed."""
    series = list(dict.fromkeys(p.series for p in section.points))
    fig = _new_figure(6.0 * len(series), 6.0)
    axes = fig.subplots(1, len(series), squeeze=False)[0]
    fits = {(f.series, f.method): f for f in section.fits}
    plan = section.plan
    for ax, name in zip(axes, series, strict=True):
        for i, method in enumerate(section.methods):
            pts = [p for p in section.points if p.series == name and p.method == method]
            sizes = [p.n_params for p in pts]
            secs = [p.median_s for p in pts]
            fit = fits.get((name, method))
            fitted = None if fit is None else _fitted(fit, sizes)
            label = (
                method
                if fitted is None
                else _("{method}: slope {slope}").format(method=method, slope=f"{fit.slope:.2f}")
            )
            line = ax.plot(sizes, secs, MARKERS[i % len(MARKERS)], label=label)[0]
            if fitted is not None:
                ax.plot(sizes, fitted, "--", color=line.get_color(), linewidth=1)
            # the theory's slope (2 for the book's loop, 1 for backprop) from the first point, for comparison
            k = {"numerical": 2.0, "backprop": 1.0}.get(method)
            guide = _guide(sizes, secs, k) if k and sizes else None
            if guide is not None:
                ax.plot(sizes, guide, ":", color="grey", linewidth=1, label=_("slope {k} (theory)").format(k=f"{k:g}"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(_("parameters P"))
        ax.set_ylabel(_("seconds per gradient"))
        if name == "hidden":
            title = _("Cost growth: H varies (D = {d}, C = {c})").format(d=plan.input_size, c=plan.output_size)
        else:
            title = _("Cost growth: D varies (H = {h}, C = {c})").format(h=plan.hidden_size, c=plan.output_size)
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return fig


def lesson_figure(section: LessonSection):
    """Error of the numerical gradient against h: one V per dtype; the book's h marked."""
    fig = _new_figure()
    ax = fig.subplots()
    for i, dtype in enumerate(dict.fromkeys(r.dtype for r in section.rows)):
        rows = [r for r in section.rows if r.dtype == dtype]
        style = MARKERS[i % len(MARKERS)] + STYLES[i % len(STYLES)]
        ax.plot([r.h for r in rows], [r.rel for r in rows], style, label=dtype)
    f64 = [r for r in section.rows if r.dtype == "float64"]
    if len(f64) >= 3:
        # name the two arms of float64's V at its ends: truncation at large h, rounding at small h
        # (the second point from each end, labelled on the empty side below its arm)
        by_h = sorted(f64, key=lambda r: r.h)
        big, small = by_h[-2], by_h[1]
        offset = {"textcoords": "offset points", "va": "top", "fontsize": "small", "color": "C0"}
        ax.annotate(_("truncation ~ h²"), (big.h, big.rel), xytext=(-8, -8), ha="right", **offset)
        ax.annotate(_("rounding ~ ε/h"), (small.h, small.rel), xytext=(8, -8), ha="left", **offset)
    if section.book_h:
        ax.axvline(section.book_h, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            _("book's h = {h}").format(h=f"{section.book_h:g}"),
            (section.book_h, 0.5),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="center",
            ha="right",
            fontsize="small",
            color="grey",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()  # h shrinks to the right, as it would when one tries smaller and smaller steps
    ax.set_xlabel(_("step h (shrinking →)"))
    ax.set_ylabel(_("max error / largest gradient entry"))
    title = _("Numerical gradient error against h ({shape}, {entries} entries)")
    ax.set_title(title.format(shape=section.shape, entries=section.entries))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig


def losses_figure(section: TrajectorySection):
    """Loss at every step, one curve per method (short numerical runs end early)."""
    fig = _new_figure()
    ax = fig.subplots()
    for i, run in enumerate(section.runs):
        losses = run.losses
        ax.plot(
            range(len(losses)),
            losses,
            STYLES[i % len(STYLES)],
            label=_("{method} ({steps} steps)").format(method=run.method, steps=f"{len(losses):,}"),
        )
    longest = max((len(r.losses) for r in section.runs), default=1)
    if longest > 100:
        ax.set_xscale("symlog", linthresh=10)  # the short numerical runs stay visible beside 10,000 steps
    ax.set_xlabel(_("training step"))
    ax.set_ylabel(_("loss (before the step's update)"))
    ax.set_title(_("Training loss per method (same weights and batches: the curves coincide)"))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def accuracy_figure(section: TrajectorySection):
    """Train (solid markers) and test (open markers) accuracy at the book's records, per method."""
    fig = _new_figure()
    ax = fig.subplots()
    runs = [r for r in section.runs if r.eval_steps]
    for i, run in enumerate(runs):
        style = STYLES[i % len(STYLES)]
        line = ax.plot(run.eval_steps, run.train_acc, style, label=_("{method} train").format(method=run.method))[0]
        color = line.get_color()
        ax.plot(
            run.eval_steps,
            run.test_acc,
            style,
            color=color,
            alpha=0.5,
            label=_("{method} test").format(method=run.method),
        )
    ax.set_xlabel(_("training step"))
    ax.set_ylabel(_("accuracy"))
    ax.set_ylim(0, 1)
    ax.set_title(_("Accuracy per method (train: dark, test: light)"))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def clock_figure(clock: LossClock):
    """Loss against wall-clock time (log time axis): the numerical runs end where backprop has long finished."""
    fig = _new_figure()
    ax = fig.subplots()
    for i, curve in enumerate(clock.curves):
        steps = _("{method} ({steps} steps)").format(method=curve.method, steps=f"{len(curve.losses):,}")
        ax.plot(curve.seconds, curve.losses, STYLES[i % len(STYLES)], label=steps)
        ax.plot(curve.seconds[-1:], curve.losses[-1:], MARKERS[i % len(MARKERS)], color=f"C{i}")
    ax.set_xscale("log")
    ax.set_xlabel(_("wall-clock time (seconds, log scale)"))
    ax.set_ylabel(_("loss"))
    ax.set_title(_("Training loss against wall-clock time"))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


CHART_FILES = {  # section -> the charts drawn from it
    "scaling": ("scaling.png",),
    "lesson": ("lesson.png",),
    "trajectory": ("losses.png", "accuracy.png", "loss-time.png"),
}
CHART_NAMES = tuple(name for names in CHART_FILES.values() for name in names)  # every chart a run may write


def chart_names(sections: Collection[str]) -> tuple[str, ...]:
    """The charts a report holding ``sections`` may write (each checked before any work)."""
    return tuple(name for section, names in CHART_FILES.items() if section in sections for name in names)


def write_plots(report: Report, directory: str | os.PathLike[str]) -> list[Path]:
    """Write the charts of the sections ``report`` holds into ``directory``; return the paths written.

    The directory is created only when there is a chart to write; charts an earlier run wrote there
    that this report has no section for are removed, if unchanged since (:func:`compare.files.write_files`).
    """
    report = escaped(report, _plain)
    lang, font = chart_language()
    previous = i18n.current()
    i18n.use(lang)
    try:
        return write_files(directory, _draw(report, font), owned=CHART_NAMES)
    finally:
        i18n.use(previous)


def _draw(report: Report, font: str | None) -> dict[str, bytes]:
    """The charts of ``report`` as PNG bytes, by file name; labels in the language in use, in ``font``."""
    from matplotlib import rc_context

    charts = {}
    # matplotlib's own font first (the log axes' exponents need its minus sign), the CJK font for what it lacks
    rc = {"font.family": ["DejaVu Sans", font]} if font else {}
    with warnings.catch_warnings(), rc_context(rc), quiet_logger("matplotlib"):
        # matplotlib's remarks on odd data (a zero on a log axis, an empty legend, a missing glyph)
        # would be lines of noise on stderr: the chart shows what there is to show
        warnings.simplefilter("ignore")
        if report.scaling is not None and report.scaling.points:
            charts["scaling.png"] = _png(scaling_figure(report.scaling))
        if report.lesson is not None:
            charts["lesson.png"] = _png(lesson_figure(report.lesson))
        if report.trajectory is not None and report.trajectory.runs:
            charts["losses.png"] = _png(losses_figure(report.trajectory))
            if any(r.eval_steps for r in report.trajectory.runs):
                charts["accuracy.png"] = _png(accuracy_figure(report.trajectory))
            clock = loss_clock(report.trajectory)
            if clock.curves:
                charts["loss-time.png"] = _png(clock_figure(clock))
    return charts
