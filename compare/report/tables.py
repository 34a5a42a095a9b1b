"""Tables of a run's sections: each function takes a section of the model, returns (header, rows).

The gradients, the trajectory, the timing, the frameworks and the summary; the cost-growth
study, the lesson and the comparison of two runs have theirs beside it
(:mod:`~compare.report.scaling_tables`, :mod:`~compare.report.lesson_tables`,
:mod:`~compare.report.diff_tables`). Shared by the text and Markdown renderers, the teaching
page and the CSV files; nothing here computes a result, it only lays out what the model holds.
"""

from __future__ import annotations

from tabulate import tabulate

from compare.i18n import N_, _
from compare.report import layout
from compare.report.format import (
    e2,
    fill,
    format_seconds,
    ok_word,
    ratio,
)
from compare.report.model import (
    DiagnosisNote,
    FrameworkSection,
    GradientSection,
    MethodNote,
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


def compact_or_markdown(head: list[str], rows: list[list[object]], md: bool) -> str:
    """A Markdown table, or a compact one for the terminal (no padding beyond the widest cell)."""
    if md:
        return tabulate(rows, headers=head, tablefmt="github", disable_numparse=True)
    return "\n".join(layout.compact_table(head, rows))


def summary_text(lines: list[str], markdown: bool = False, width: int = 100) -> str:
    """The summary's sentences: wrapped text lines, or Markdown bullets."""
    if markdown:
        return "".join(f"- {line}\n" for line in lines)
    return "".join(fill(line, width, "  ") + "\n" for line in lines)
