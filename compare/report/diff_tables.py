"""Two saved runs side by side: the facts that differ, the times that changed, the gate's verdict.

Used by ``python -m compare.report diff``; nothing here computes a result, it only lays out
what :class:`~compare.report.diff.ReportDiff` holds.
"""

from __future__ import annotations

import math

from tabulate import tabulate

from compare.report.diff import FAMILY_ALPHA, Mismatch, ReportDiff, TimeChange
from compare.report.format import (
    count,
    e2,
    escaped,
    format_seconds,
    ok_word,
    paragraph,
    ratio,
    sci,
)

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
