"""Tables of the report's sections: each function takes a section of the model, returns (header, rows).

Shared by the text and Markdown renderers, the teaching page and the CSV files; nothing here
computes a result, it only lays out what the model holds.

Longer than 300 lines: one table per section of the report, so that every renderer lays them
out alike.
"""

from __future__ import annotations

import math

from tabulate import tabulate

from compare.i18n import N_, _
from compare.report import layout
from compare.report.diff import FAMILY_ALPHA, Mismatch, ReportDiff, TimeChange
from compare.report.format import (
    SLOPE_REASONS,
    WIDTH,
    count,
    e2,
    escaped,
    fill,
    format_seconds,
    ok_word,
    orders_of_magnitude,
    paragraph,
    ratio,
    sci,
    slope_span,
)
from compare.report.model import (
    MIN_SIZES,
    PLAUSIBLE_SLOPES,
    SLOPE_WIDTH,
    DiagnosisNote,
    FrameworkSection,
    GradientSection,
    LessonSection,
    MethodNote,
    ScalingFit,
    ScalingSection,
    TimingRow,
    TrajectorySection,
)

MAX_EPOCH_ROWS = 20  # accuracy records shown in the text report (all are in JSON / CSV)
Table = tuple[list[str], list[list[object]]]


def gradient_table(section: GradientSection) -> Table:
    head = ["A", "B", "param", "max abs", "max rel", "rtol", "worst index", "A value", "B value", "kinks", "status"]
    rows = [
        [
            r.method_a,
            r.method_b,
            r.param,
            e2(r.max_abs),
            e2(r.max_rel),
            e2(r.rtol),
            str(tuple(r.index)),
            f"{r.a_value:.6g}",
            f"{r.b_value:.6g}",
            r.kinks or "",
            ok_word(r.ok),
        ]
        for r in section.rows
    ]
    return head, rows


def trajectory_table(section: TrajectorySection) -> Table:
    head = [
        "A",
        "B",
        "steps",
        "loss max abs",
        "loss max rel",
        "rtol",
        "first bad step",
        "acc Δ max",
        "weights rel",
        "status",
    ]
    rows = [
        [
            p.method_a,
            p.method_b,
            p.steps,
            e2(p.max_abs),
            e2(p.max_rel),
            e2(p.rtol),
            "-" if p.first_bad_step is None else p.first_bad_step,
            f"{p.acc_max_diff:.4f}",
            e2(p.weights_max_rel) if p.weights_checked else "not compared",
            ok_word(p.ok) if p.checked else "info *",
        ]
        for p in section.pairs
    ]
    return head, rows


def trajectory_notes(section: TrajectorySection) -> list[str]:
    """The distinct notes of the trajectory rows (why something was not checked)."""
    notes = []
    for p in section.pairs:
        for note in filter(None, p.note.split("; ")):
            if note not in notes:
                notes.append(note)
    return notes


def accuracy_table(section: TrajectorySection) -> tuple[list[str], list[list[object]], int]:
    """Accuracy records of the full-length runs side by side (a sample when there are many)."""
    runs = [r for r in section.runs if r.eval_steps]
    longest = max((len(r.eval_steps) for r in runs), default=0)
    runs = [r for r in runs if len(r.eval_steps) == longest]
    if not runs:
        return [], [], 0
    steps = runs[0].eval_steps
    picks = list(range(len(steps)))
    if len(picks) > MAX_EPOCH_ROWS:
        picks = sorted({round(i * (len(steps) - 1) / (MAX_EPOCH_ROWS - 1)) for i in range(MAX_EPOCH_ROWS)})
    head = ["step"] + [f"{r.method} {part}" for r in runs for part in ("train", "test")]
    rows = [
        [steps[i]] + [f"{getattr(r, key)[i]:.4f}" for r in runs for key in ("train_acc", "test_acc")] for i in picks
    ]
    return head, rows, len(steps)


def _method_name(r: TimingRow) -> str:
    """The family for the project's own methods (device and dtype have columns), else the label."""
    own = (r.method, f"{r.method}[{r.dtype}]", f"{r.method}[{r.device},{r.dtype}]")
    return r.method if r.label in own else r.label


def notes_lines(notes: list[MethodNote]) -> list[str]:
    """One line per method that failed or offers nothing: ``FAIL mine: ValueError: ... (mine.py:12)``."""
    out = []
    for n in notes:
        where = f" ({n.where})" if n.where else ""
        out.append(f"{n.status} {n.method}: {n.message}{where}")
    return out


def diagnosis_lines(notes: list[DiagnosisNote]) -> list[str]:
    return [f"diagnosis ({n.method}): {n.message}" for n in notes]


def timing_table(rows_in: list[TimingRow]) -> Table:
    head = [N_("method"), N_("device"), N_("dtype"), N_("median"), N_("IQR"), N_("min"), N_("runs×loops")]
    head += [N_("×fastest"), N_("×numerical"), N_("note")]  # marked: the teaching page translates them
    rows = []
    for r in rows_in:
        note = _("estimated from {sampled} of {n_params}").format(sampled=r.sampled, n_params=r.n_params)
        note = note if r.estimated else ""
        if r.compile_s is not None:
            note = _("compile {time}, apart").format(time=format_seconds(r.compile_s))
        rows.append(
            [
                _method_name(r),
                r.device,
                r.dtype,
                format_seconds(r.median_s),
                format_seconds(r.iqr_s) + (" !" if r.noisy else ""),
                format_seconds(r.min_s),
                f"{r.runs}×{r.loops}",
                ratio(r.ratio_fastest),
                ratio(r.ratio_numerical),
                note,
            ]
        )
    return head, rows


def framework_table(section: FrameworkSection) -> Table:
    """A row per exact method: agreement with float64 backprop, time per gradient, compile time, code lines."""
    head = ["framework", "method", "dtype", "grad max rel vs backprop", "", "gradient", "compile", "model lines"]
    rows = []
    for r in section.rows:
        rel = "-" if r.grad_max_rel is None else ("reference" if r.grad_ok is None else e2(r.grad_max_rel))
        rows.append(
            [
                r.framework,
                r.method,
                r.dtype,
                rel,
                "" if r.grad_ok is None else ok_word(r.grad_ok),
                "-" if r.gradient_s is None else format_seconds(r.gradient_s),
                "-" if r.compile_s is None else format_seconds(r.compile_s),
                "-" if r.code_lines is None else r.code_lines,
            ]
        )
    return head, rows


def framework_note(section: FrameworkSection) -> str:
    """What the table's columns are measured on and which files were counted."""
    files = "; ".join(f"{fw}: {', '.join(paths)}" for fw, paths in section.code_files.items())
    return (
        f"gradient: median time per gradient at {section.shape} (timing section); compile: done once, before "
        f"timing; model lines: non-blank lines, not comments or docstrings, of {files}. The step time against "
        "the FLOP-limited time is in `python -m compare.bench`."
    )


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
        lines.append(_table(head, rows, md) + "\n")
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


def _table(head: list[str], rows: list[list[object]], md: bool) -> str:
    """A Markdown table, or a compact one for the terminal (no padding beyond the widest cell)."""
    if md:
        return tabulate(rows, headers=head, tablefmt="github", disable_numparse=True)
    return "\n".join(layout.compact_table(head, rows))


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
    lines = [paragraph(intro, md), _table(head, rows, md) + "\n\n"]
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


def summary_text(lines: list[str], markdown: bool = False, width: int = 100) -> str:
    """The summary's sentences: wrapped text lines, or Markdown bullets."""
    if markdown:
        return "".join(f"- {line}\n" for line in lines)
    return "".join(fill(line, width, "  ") + "\n" for line in lines)


NOT_COMPARABLE = {  # how each fact of compare.report.diff.FACTS reads in a warning
    "data set": "A ran on {a}, B on {b}",
    "net": "A timed a {a} net, B a {b} net",
    "dtype": "A ran in {a}, B in {b}",
    "activation": "A's net used {a}, B's {b}",
    "threads": "A ran with {a}, B with {b}",
    "machine": "A ran on {a}, B on {b}",
    "devices": "A compared devices {a}, B {b}",
    "GPUs": "A saw GPUs {a}, B {b}",
}


def mismatch_line(m: Mismatch) -> str:
    """One warning: ``not comparable: A ran on digits, B on mnist``."""
    template = NOT_COMPARABLE.get(m.what, "A had {what} {a}, B {what} {b}")
    return "not comparable: " + template.format(a=m.a, b=m.b, what=m.what)


def _interval(c: TimeChange) -> str:
    if c.rule != "rank":
        return "-"
    if c.low <= 0 or math.isinf(c.high):
        return "unbounded"
    return f"[{c.low:.3g}, {c.high:.3g}]"


def p_text(p: float | None) -> str:
    """A p-value: two significant digits, ``-`` when none."""
    if p is None or math.isnan(p):
        return "-"
    return f"{p:.2g}" if p >= 1e-3 else sci(p, 2)


def _verdict(c: TimeChange) -> str:
    word = "beyond noise" if c.beyond_noise else "within noise"
    return word if c.rule == "rank" else f"{word} (IQR)"


def _time_rows(d: ReportDiff) -> list[list[object]]:
    return [
        [
            c.label,
            c.shape,
            format_seconds(c.a_s),
            format_seconds(c.b_s),
            ratio(c.ratio),
            _interval(c),
            p_text(c.p),
            _verdict(c),
        ]
        for c in d.times
    ]


def _rule_notes(d: ReportDiff) -> str:
    """How the verdicts were reached: the rank test and its alpha; the rows the IQR rule judged, and why."""
    out = []
    rows = count(len(d.times), "row")
    level = f"{(1 - d.alpha) * 100:.3g}%"
    if any(c.rule == "rank" for c in d.times):
        out.append(
            f"Beyond noise: a two-sided Mann-Whitney rank test of A's timed runs against B's gives p < {d.alpha:.2g} "
            f"({FAMILY_ALPHA:.0%} shared by the {rows} compared) and the {level} interval of B / A (from every "
            "pair of runs, assuming B's times are A's scaled) lies wholly above or below 1."
        )
    reasons: dict[str, list[str]] = {}
    for c in d.times:
        if c.rule != "rank":
            reasons.setdefault(c.why_iqr, []).append(f"{c.label} {c.shape}")
    if reasons:
        why = "; ".join(
            f"{reason} ({'every row' if len(names) == len(d.times) else ', '.join(names)})"
            for reason, names in reasons.items()
        )
        out.append(
            "(IQR): judged by the medians alone, beyond noise when they lie further apart than the sum of the two "
            f"interquartile ranges; the rank test could not judge: {why}."
        )
    return "\n" + "".join(paragraph(line, False) for line in out).rstrip("\n") + "\n" if out else ""


def diff_text(d: ReportDiff, fmt: str = "simple") -> str:
    """Two runs side by side (``python -m compare.report diff``), control characters escaped.

    Warnings first (what makes the runs not comparable), then the timing rows with their verdict,
    how the verdicts were reached, the agreement figures, and the rows only one run has.
    """
    d = escaped(d)
    out = [f"A: {d.a_name}\nB: {d.b_name}\n"]
    out += [f"warning: {mismatch_line(m)}\n" for m in d.mismatches]

    def table(head: list[str], rows: list[list[object]]) -> None:
        out.append("\n" + tabulate(rows, headers=head, tablefmt=fmt, disable_numparse=True) + "\n")

    if d.times:
        head = ["method", "shape", "A median", "B median", "B / A", "B / A interval", "p", "vs noise"]
        table(head, _time_rows(d))
        out.append(_rule_notes(d))
    for title, changes in (("gradient", d.gradients), ("trajectory", d.trajectories)):
        if changes:
            rows = [[c.what, e2(c.a_rel), e2(c.b_rel), ok_word(c.a_ok), ok_word(c.b_ok)] for c in changes]
            table([f"{title} pair", "A max rel", "B max rel", "A", "B"], rows)
    for name, missing in ((d.a_name, d.only_in_a), (d.b_name, d.only_in_b)):
        if missing:
            out.append(f"\nonly in {name}: {', '.join(missing)}\n")
    return "".join(out)


def gate_text(d: ReportDiff, factor: float) -> tuple[str, bool]:
    """The verdict of ``diff --fail-slower FACTOR``: (its lines, whether a row failed), control characters escaped.

    The rows of B slower than A by more than ``factor`` beyond noise, each with its ratio, interval
    and p; the warnings' subjects repeated when the runs are not comparable.
    """
    d = escaped(d)
    slow = [c for c in d.times if c.slower_than(factor)]
    caveat = ""
    if d.mismatches:
        what = ", ".join(m.what for m in d.mismatches)
        caveat = f" The runs are not comparable ({what}: see the warnings above): a change may come from that."
    rows = count(len(d.times), "timing row")
    if not slow:
        line = f"OK: no timing row of B is slower than A by more than {factor:g}× beyond noise ({rows} compared)."
        return f"\n{line}{caveat}\n", False
    lines = [f"\nFAIL: {count(len(slow), 'timing row')} of B slower than A by more than {factor:g}× beyond noise:\n"]
    for c in slow:
        judged = f" {_interval(c)}, p {p_text(c.p)}" if c.rule == "rank" else ", by the IQR rule"
        lines.append(f"  {c.label} {c.shape}: B / A {ratio(c.ratio)}{judged}\n")
    return "".join(lines) + (caveat.strip() + "\n" if caveat else ""), True
