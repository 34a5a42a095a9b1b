"""Two saved runs side by side (two machines, two commits, CPU and GPU): what changed, and by how much.

Rows are matched by their keys (timing: method label and shape; gradients: the pair and the
parameter; trajectories: the pair). A time differs *beyond the runs' own noise* when the two
medians are further apart than the sum of the two interquartile ranges: each run's spread
says how far its median could move on a rerun.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from compare.report.model import Report


@dataclass
class TimeChange:
    label: str
    shape: str
    a_s: float  # median of run A
    b_s: float  # median of run B
    ratio: float  # B / A (nan when A's median is 0)
    beyond_noise: bool  # |B - A| > IQR_A + IQR_B


@dataclass
class AgreementChange:
    what: str  # "A vs B param" or "A vs B"
    a_rel: float  # max relative difference in run A
    b_rel: float
    a_ok: bool
    b_ok: bool


@dataclass
class ReportDiff:
    a_name: str
    b_name: str
    times: list[TimeChange]
    gradients: list[AgreementChange]
    trajectories: list[AgreementChange]
    only_in_a: list[str]  # rows of A with no match in B
    only_in_b: list[str]


def _times(a: Report, b: Report) -> tuple[list[TimeChange], set[str], set[str]]:
    rows_a = {(r.label, r.shape): r for r in (a.timing.rows if a.timing else [])}
    rows_b = {(r.label, r.shape): r for r in (b.timing.rows if b.timing else [])}
    out = []
    for key in [k for k in rows_a if k in rows_b]:
        ra, rb = rows_a[key], rows_b[key]
        out.append(
            TimeChange(
                ra.label,
                ra.shape,
                ra.median_s,
                rb.median_s,
                rb.median_s / ra.median_s if ra.median_s else math.nan,  # a zero time has no ratio: "-"
                abs(rb.median_s - ra.median_s) > ra.iqr_s + rb.iqr_s,
            )
        )
    name = " ".join
    return out, {name(k) for k in rows_a.keys() - rows_b.keys()}, {name(k) for k in rows_b.keys() - rows_a.keys()}


def _agreement(rows_a: dict, rows_b: dict) -> list[AgreementChange]:
    return [
        AgreementChange(what, rows_a[what].max_rel, rows_b[what].max_rel, rows_a[what].ok, rows_b[what].ok)
        for what in rows_a
        if what in rows_b
    ]


def diff(a: Report, b: Report, a_name: str = "A", b_name: str = "B") -> ReportDiff:
    """Match the rows of two reports and compare them."""
    times, only_a, only_b = _times(a, b)
    grads_a = {f"{r.method_a} vs {r.method_b} {r.param}": r for r in (a.gradients.rows if a.gradients else [])}
    grads_b = {f"{r.method_a} vs {r.method_b} {r.param}": r for r in (b.gradients.rows if b.gradients else [])}
    traj_a = {f"{p.method_a} vs {p.method_b}": p for p in (a.trajectory.pairs if a.trajectory else [])}
    traj_b = {f"{p.method_a} vs {p.method_b}": p for p in (b.trajectory.pairs if b.trajectory else [])}
    only_a |= (grads_a.keys() - grads_b.keys()) | (traj_a.keys() - traj_b.keys())
    only_b |= (grads_b.keys() - grads_a.keys()) | (traj_b.keys() - traj_a.keys())
    return ReportDiff(
        a_name, b_name, times, _agreement(grads_a, grads_b), _agreement(traj_a, traj_b), sorted(only_a), sorted(only_b)
    )
