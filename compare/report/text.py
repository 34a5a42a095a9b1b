"""The report as text for the terminal (``fmt="simple"``) or as Markdown (``fmt="github"``).

Reads only the typed model (:mod:`compare.report.model`): a run prints it as it finishes,
``python -m compare.report show RUN.json`` prints the same text from the saved file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from tabulate import tabulate

from compare.i18n import _
from compare.report import layout, lesson_tables, scaling_tables, tables
from compare.report.format import WIDTH, count, escaped, fill, format_seconds, versions_text
from compare.report.model import Env, Report

TITLE = "The book's two-layer net: every implementation from the same weights and batches"


def _provenance(env: Env) -> list[str]:
    """``dlfs-compare 0.1.0``, and ``git abc1234`` when run from the project's checkout (older reports: git alone)."""
    parts = [f"dlfs-compare {env.version}"] if env.version else []
    if env.git or not parts:
        parts.append(f"git {env.git or 'n/a'}")
    return parts


def load_line(env: Env) -> str | None:
    """``load average (1, 5, 15 min): 0.12 0.30 0.25 at the start, ...; 2 CPUs usable`` (None: not recorded)."""
    parts = []
    for values, when in ((env.load_start, "at the start"), (env.load_end, "at the end")):
        if values:
            parts.append(" ".join(f"{v:.2f}" for v in values) + f" {when}")
    if not parts:
        return None
    usable = "" if env.usable_cpus is None else f"; {count(env.usable_cpus, 'CPU')} usable"
    return "load average (1, 5, 15 min): " + ", ".join(parts) + usable


def header_lines(report: Report) -> list[str]:
    env, cfg = report.env, report.config
    gpus = f" ({', '.join(env.gpus)})" if env.gpus else ""
    load = load_line(env)
    return [
        f"CPU: {env.cpu} ({env.cores} cores); threads: {env.threads} "
        f"(numpy BLAS: {env.numpy_threads}, torch: {env.torch_threads})",
        *([load] if load else []),
        f"{versions_text(env.versions, env.blas)}, Python {env.python}; devices: {', '.join(env.devices)}{gpus}",
        ", ".join([*_provenance(env), env.date, f"seed {env.seed}"]),
        f"data: {cfg.dataset}, net {report.shape} ({cfg.activation}), batch {cfg.batch_size}, "
        f"lr {cfg.learning_rate}, {cfg.iters} iterations ({cfg.numerical_iters} numerical), dtype {cfg.dtype}",
    ]


# Shorter headers for the terminal's narrow layout (Markdown and CSV keep the full ones).
COMPACT_HEADERS = {
    "worst index": "index",
    "loss max abs": "loss\nmax abs",
    "loss max rel": "loss\nmax rel",
    "first bad step": "first\nbad step",
    "acc Δ max": "acc Δ\nmax",
    "weights rel": "weights\nrel",
    "grad max rel vs backprop": "grad max rel\nvs backprop",
    "model lines": "model\nlines",
}


def verdict_text(report: Report, width: int | None = None) -> str:
    """The verdict for the terminal: wrapped at ``width`` (default: the terminal's), continuation lines indented."""
    return layout.wrap(verdict(report), width or layout.terminal_width())


def failing_pairs(pairs: list[tuple[str, str, str]]) -> list[str]:
    """Failing comparisons ``(method A, method B, parameter or "")`` in few words, blaming the common method.

    The method in the most failing comparisons is named once with what failed and whom it failed
    against (``mine W1, b1, W2, b2 against numerical, backprop, autograd``), then the same for what
    is left; a method that failed against one other only keeps the pair as it was
    (``numerical vs backprop W1``).
    """
    left, phrases = list(pairs), []
    while left:
        seen = [m for a, b, _ in left for m in (a, b)]
        culprit = max(dict.fromkeys(seen), key=seen.count)  # the most failing comparisons; ties: first seen
        mine, left = [r for r in left if culprit in r[:2]], [r for r in left if culprit not in r[:2]]
        partners: dict[str, list[str]] = {}  # the other method -> the parameters that failed against it
        for a, b, param in mine:
            partners.setdefault(b if a == culprit else a, []).append(param)
        if len(partners) == 1:
            groups = {}
            for a, b, param in mine:
                groups.setdefault((a, b), []).append(param)
            phrases += [
                " ".join(filter(None, [f"{a} vs {b}", ", ".join(filter(None, ps))])) for (a, b), ps in groups.items()
            ]
            continue
        by_params: dict[tuple[str, ...], list[str]] = {}
        for partner, params in partners.items():
            by_params.setdefault(tuple(params), []).append(partner)
        for params, others in by_params.items():
            phrases.append(
                " ".join(filter(None, [culprit, ", ".join(filter(None, params)), "against", ", ".join(others)]))
            )
    return phrases


def verdict(report: Report) -> str:
    """The last line: OK or FAILED, with what failed."""
    report = escaped(report)
    parts = []
    if report.gradients is not None:
        rows = report.gradients.rows
        bad = failing_pairs([(r.method_a, r.method_b, r.param) for r in rows if not r.ok])
        ok = sum(r.ok for r in rows)
        parts.append(_counted("gradients", ok, len(rows), bad, report.gradients.notes))
    if report.trajectory is not None:
        pairs = [p for p in report.trajectory.pairs if p.checked]
        bad = failing_pairs([(p.method_a, p.method_b, "") for p in pairs if not p.ok])
        shown = len(report.trajectory.pairs) - len(pairs)
        counted = _counted("trajectories", sum(p.ok for p in pairs), len(pairs), bad, report.trajectory.notes)
        parts.append(counted + (f", {shown} reported only" if shown else ""))
    word = "OK" if report.ok else "FAILED"
    return f"{word}: " + ("; ".join(parts) if parts else "no agreement checks run")


def _counted(what: str, ok: int, total: int, bad: list[str], notes) -> str:
    """``gradients 28/44 ok (FAIL: ...)``; with a method that failed outright, its rows are called rows:
    ``gradients 44/44 rows ok, but mine failed`` (its FAIL line says why), never "44/44 ok" beside a FAIL."""
    failed = [n.method for n in notes if n.status == "FAIL"]
    failed = list(dict.fromkeys(failed))  # one name per method, in order
    text = f"{what} {ok}/{total} {'rows ' if failed else ''}ok" + (f" (FAIL: {'; '.join(bad)})" if bad else "")
    return text + (f", but {', '.join(failed)} failed" if failed else "")


class _Doc:
    """A text or Markdown document being written."""

    def __init__(self, fmt: str) -> None:
        self.fmt, self.md, self.out = fmt, fmt == "github", io.StringIO()

    def write(self, text: str) -> None:
        self.out.write(text)

    def title(self, text: str) -> None:
        self.write(f"\n## {text}\n\n" if self.md else f"\n== {text} ==\n")

    def table(self, head: list[str], rows: list[list[object]]) -> None:
        self.write(tabulate(rows, headers=head, tablefmt=self.fmt, disable_numparse=True) + "\n")

    def pairs(self, head: list[str], rows: list[list[object]], keys: int) -> None:
        """A table of method pairs: flat in Markdown; in the terminal, grouped under ``A = ..., B = ...`` lines."""
        if self.md:
            self.table(head, rows)
            return

        def heading(key: Sequence[object]) -> str:
            return ", ".join(f"{name} = {value}" for name, value in zip("AB", key, strict=False))

        short = [COMPACT_HEADERS.get(h, h) for h in head]
        self.write(layout.grouped_table(short, rows, keys, heading))

    def compact(self, head: list[str], rows: list[list[object]]) -> None:
        """A table as is in Markdown; in the terminal with short headers and no padding beyond the widest cell."""
        if self.md:
            self.table(head, rows)
            return
        short = [COMPACT_HEADERS.get(h, h) for h in head]
        self.write("\n".join(layout.compact_table(short, rows)) + "\n")

    def wide(self, head: list[str], rows: list[list[object]], keep: int, group: int) -> None:
        """A table with many value columns: whole in Markdown; in the terminal, split into tables that fit."""
        if self.md:
            self.table(head, rows)
            return
        for i, (part_head, part_rows) in enumerate(layout.split_columns(head, rows, keep, group)):
            self.write(("\n" if i else "") + "\n".join(layout.compact_table(part_head, part_rows)) + "\n")

    def line(self, text: str) -> None:
        """One line of text: wrapped for the terminal (continuations indented), whole in Markdown."""
        self.write((text if self.md else layout.wrap(text, WIDTH)) + "\n")

    def lines(self, lines: list[str]) -> None:
        """Notes under a table: wrapped for the terminal, whole in Markdown."""
        if lines:
            shown = lines if self.md else [fill(line, WIDTH, "  ") for line in lines]
            self.write("\n" + "".join(f"{line}\n" for line in shown))


def _gradients(doc: _Doc, report: Report) -> None:
    g = report.gradients
    doc.title(f"1. Gradient agreement (first batch, loss {g.loss:.6f})")
    doc.pairs(*tables.gradient_table(g), keys=2)
    doc.lines(tables.notes_lines(g.notes) + tables.diagnosis_lines(g.diagnoses))


def _trajectory(doc: _Doc, report: Report) -> None:
    t = report.trajectory
    doc.title("2. Trajectory agreement (same weights, same batches)")
    doc.pairs(*tables.trajectory_table(t), keys=1)
    for note in tables.trajectory_notes(t):
        doc.write(f"* {note}\n")
    doc.lines(tables.notes_lines(t.notes))
    head, rows, n = tables.accuracy_table(t)
    if rows:
        shown = "" if len(rows) == n else f", {len(rows)} of {n} shown"
        doc.write(f"\naccuracy after step i when i % {t.iter_per_epoch:g} == 0 ({count(n, 'record')}{shown}):\n\n")
        doc.wide(head, rows, keep=1, group=2)  # a method's train and test columns stay together
    secs = ", ".join(
        f"{r.method} {count(r.steps, 'step')} {format_seconds(r.seconds)}"
        + ("" if r.compile_s is None else f" (compile {format_seconds(r.compile_s)})")
        for r in t.runs
    )
    doc.write("\n")
    doc.line(f"wall time: {secs}")


def _timing(doc: _Doc, report: Report) -> None:
    doc.title("3. Timing: one gradient (forward + backward) per call")
    by_shape: dict[str, list] = {}
    for r in report.timing.rows:
        by_shape.setdefault(r.shape, []).append(r)
    for shape, rows in by_shape.items():
        doc.write(f"\nshape {shape}, P = {rows[0].n_params} parameters, {count(rows[0].threads, 'thread')}:\n\n")
        head, body = tables.timing_table(rows)
        if doc.md:
            doc.table(head, body)
            continue
        doc.compact(head[:-1], [row[:-1] for row in body])  # the notes under the table: they are long
        doc.write("".join(f"  {row[0]} {row[1]} {row[2]}: {row[-1]}\n" for row in body if row[-1]))
    doc.lines(tables.notes_lines(report.timing.notes))
    doc.write("\n(! marks an IQR above 10% of the median: a noisy measurement)\n")


def _frameworks(doc: _Doc, report: Report) -> None:
    doc.title("Frameworks side by side")
    doc.compact(*tables.framework_table(report.frameworks))
    note = tables.framework_note(report.frameworks)
    doc.write("\n")
    doc.line(note if doc.md else note.replace("`", ""))


def render(report: Report, fmt: str = "simple") -> str:
    """The whole report as text (``fmt="simple"``) or Markdown (``fmt="github"``), control characters escaped."""
    report = escaped(report)
    doc = _Doc(fmt)
    doc.write(f"# {TITLE}\n\n" if doc.md else f"{TITLE}\n")
    for line in header_lines(report):
        doc.write(f"- {line}\n" if doc.md else layout.wrap(f"  {line}", WIDTH, "    ") + "\n")
    if report.gradients is not None:
        _gradients(doc, report)
    if report.trajectory is not None:
        _trajectory(doc, report)
    if report.timing is not None:
        _timing(doc, report)
    if report.frameworks is not None and report.frameworks.rows:
        _frameworks(doc, report)
    if report.scaling is not None:
        doc.title("4. Cost growth: time per gradient against the number of parameters P")
        doc.write(scaling_tables.scaling_text(report.scaling, fmt))
    if report.lesson is not None:
        doc.title(_("5. The float32 lesson: numerical-gradient error against the step h"))
        doc.write(lesson_tables.lesson_text(report.lesson, fmt))
    if report.summary is not None and report.summary.lines:
        doc.title("Why backprop? This run's numbers in plain words")
        doc.write(tables.summary_text(report.summary.lines, markdown=doc.md))
    doc.write(f"\n{verdict(report) if doc.md else verdict_text(report)}\n")
    return doc.out.getvalue()
