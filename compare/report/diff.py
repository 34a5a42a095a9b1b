"""Two saved runs side by side (two machines, two commits, CPU and GPU): what changed, by how much, and is it noise.

Rows are matched by their keys (timing: method label and shape; gradients: the pair and the
parameter; trajectories: the pair).

A timing row differs *beyond noise* when a two-sided Mann–Whitney rank test of A's timed runs
against B's (``samples_s``, :mod:`compare.report.significance`) gives p < alpha **and** the
interval of the ratio B / A at level 1 - alpha lies wholly above or below 1. alpha is
:data:`FAMILY_ALPHA` shared among the rows compared (Bonferroni): with 16 rows, 0.0031 each, so
that two runs of unchanged code see a row called beyond noise by chance in at most one diff of
twenty, however many rows the reports hold. The test sees only the two runs' own spread: a
machine whose speed drifts between runs (load from other work, clocks) moves every row alike,
and the test calls that real, which it is; ``--fail-slower FACTOR`` asks for more than that.

A row is judged by the older rule instead, and says so (``rule == "iqr"``: the medians further
apart than the sum of the two interquartile ranges) when the rank test cannot judge it: a report
without raw values (schema version 2), values that are not positive and finite (a file edited
by hand), or too few runs for that alpha (3 runs against 3 cannot reach p below 0.1; 7 against 7,
the fewest a run times, reach 0.00058: enough for 85 rows).

The two runs are also compared for what makes timings comparable at all (:func:`mismatches`):
the data set, the net, dtype and activation, threads, the machine as the report's Env records it
(CPU model and count; there is no host name), devices, each framework's version and Python's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from compare.report.format import count
from compare.report.model import Report, TimingRow
from compare.report.significance import rank_test, ratio_interval, smallest_p

FAMILY_ALPHA = 0.05  # chance, over all rows of one diff, of calling some row beyond noise when nothing changed


@dataclass
class TimeChange:
    label: str
    shape: str
    a_s: float  # median of run A
    b_s: float  # median of run B
    ratio: float  # B / A of the medians (nan when A's median is 0)
    beyond_noise: bool  # by `rule`
    rule: str = "iqr"  # rank: the rank test and the ratio's interval | iqr: |B - A| > IQR_A + IQR_B
    p: float | None = None  # the rank test's two-sided p-value (null: not tested)
    low: float = math.nan  # B / A at level 1 - alpha: lowest (nan: not tested; 0 and inf: unbounded)
    high: float = math.nan
    runs: tuple[int, int] = (0, 0)  # raw values of A and B
    why_iqr: str = ""  # why the IQR rule judged the row ("" under the rank test)

    def slower_than(self, factor: float) -> bool:
        """B is slower than A by more than ``factor``, beyond noise."""
        return self.beyond_noise and self.ratio > factor


@dataclass
class Mismatch:
    what: str  # a key of FACTS ("data set", "net", "machine", ...), a framework name ("numpy", ...) or "python"
    a: str  # run A's value
    b: str


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
    alpha: float = FAMILY_ALPHA  # each timing row's level: FAMILY_ALPHA / rows compared
    mismatches: list[Mismatch] = field(default_factory=list)  # what makes the two runs' timings not comparable


# -- comparability --------------------------------------------------------------------------------------

# Then each framework's version (the keys of env.versions: "numpy", "torch", "jax", ...), then Python's.
FACTS = ("data set", "net", "dtype", "activation", "threads", "machine", "devices", "GPUs")


def facts(r: Report) -> dict[str, str]:
    """What a run's timings depend on besides the code, as its report records it (:data:`FACTS`, versions, Python)."""
    env, cfg = r.env, r.config
    return {
        "data set": cfg.dataset,
        "net": f"{r.shape} x{cfg.batch_size}",
        "dtype": cfg.dtype,
        "activation": cfg.activation,
        "threads": f"{count(env.threads, 'thread')} (numpy: {env.numpy_threads}; torch: {env.torch_threads})",
        "machine": f"{env.cpu} ({env.cores} CPUs)",
        "devices": ", ".join(r.devices) or "none",
        "GPUs": ", ".join(env.gpus) or "none",
        **env.versions,
        "python": env.python,
    }


def mismatches(a: Report, b: Report) -> list[Mismatch]:
    """Every fact of :func:`facts` on which the two runs differ, in the order of :data:`FACTS`."""
    fa, fb = facts(a), facts(b)
    keys = [*FACTS, *dict.fromkeys([*a.env.versions, *b.env.versions]), "python"]
    return [Mismatch(k, fa.get(k, "none"), fb.get(k, "none")) for k in keys if fa.get(k) != fb.get(k)]


# -- timing rows ----------------------------------------------------------------------------------------


def _iqr_rule(ra: TimingRow, rb: TimingRow) -> bool:
    return abs(rb.median_s - ra.median_s) > ra.iqr_s + rb.iqr_s


def _untestable(ra: TimingRow, rb: TimingRow, alpha: float) -> str:
    """Why the rank test cannot judge this pair of rows at ``alpha`` ("" when it can)."""
    n, m = len(ra.samples_s), len(rb.samples_s)
    if not n or not m:
        return "no raw values in " + " and ".join(x for x, k in (("A", n), ("B", m)) if not k)
    if not all(v > 0 and math.isfinite(v) for v in [*ra.samples_s, *rb.samples_s]):
        return "raw values that are not positive and finite"
    if smallest_p(n, m) >= alpha:
        return f"too few runs ({n} against {m}: p cannot go below {smallest_p(n, m):.2g})"
    return ""


def compare_rows(ra: TimingRow, rb: TimingRow, alpha: float) -> TimeChange:
    """One matched timing row: the ratio of the medians, and whether it lies beyond noise (module docstring)."""
    ratio = rb.median_s / ra.median_s if ra.median_s else math.nan  # a zero time has no ratio: "-"
    runs = (len(ra.samples_s), len(rb.samples_s))
    why = _untestable(ra, rb, alpha)
    if why:
        return TimeChange(
            ra.label, ra.shape, ra.median_s, rb.median_s, ratio, _iqr_rule(ra, rb), runs=runs, why_iqr=why
        )
    p = rank_test(ra.samples_s, rb.samples_s).p
    low, high = ratio_interval(ra.samples_s, rb.samples_s, alpha)
    moved = low > 1 or high < 1
    return TimeChange(
        ra.label, ra.shape, ra.median_s, rb.median_s, ratio, p < alpha and moved, "rank", p, low, high, runs
    )


def _times(a: Report, b: Report) -> tuple[list[TimeChange], float, set[str], set[str]]:
    rows_a = {(r.label, r.shape): r for r in (a.timing.rows if a.timing else [])}
    rows_b = {(r.label, r.shape): r for r in (b.timing.rows if b.timing else [])}
    both = [k for k in rows_a if k in rows_b]
    alpha = FAMILY_ALPHA / max(1, len(both))
    out = [compare_rows(rows_a[k], rows_b[k], alpha) for k in both]
    name = " ".join
    return (
        out,
        alpha,
        {name(k) for k in rows_a.keys() - rows_b.keys()},
        {name(k) for k in rows_b.keys() - rows_a.keys()},
    )


def _agreement(rows_a: dict, rows_b: dict) -> list[AgreementChange]:
    return [
        AgreementChange(what, rows_a[what].max_rel, rows_b[what].max_rel, rows_a[what].ok, rows_b[what].ok)
        for what in rows_a
        if what in rows_b
    ]


def diff(a: Report, b: Report, a_name: str = "A", b_name: str = "B") -> ReportDiff:
    """Match the rows of two reports and compare them."""
    times, alpha, only_a, only_b = _times(a, b)
    grads_a = {f"{r.method_a} vs {r.method_b} {r.param}": r for r in (a.gradients.rows if a.gradients else [])}
    grads_b = {f"{r.method_a} vs {r.method_b} {r.param}": r for r in (b.gradients.rows if b.gradients else [])}
    traj_a = {f"{p.method_a} vs {p.method_b}": p for p in (a.trajectory.pairs if a.trajectory else [])}
    traj_b = {f"{p.method_a} vs {p.method_b}": p for p in (b.trajectory.pairs if b.trajectory else [])}
    only_a |= (grads_a.keys() - grads_b.keys()) | (traj_a.keys() - traj_b.keys())
    only_b |= (grads_b.keys() - grads_a.keys()) | (traj_b.keys() - traj_a.keys())
    return ReportDiff(
        a_name,
        b_name,
        times,
        _agreement(grads_a, grads_b),
        _agreement(traj_a, traj_b),
        sorted(only_a),
        sorted(only_b),
        alpha,
        mismatches(a, b),
    )
