"""What this run's measurements can support: the cost growth with its range, and the caution on noisy timings.

The summary (:mod:`compare.sections.summary`) quotes a growth rate only where the cost-growth
section judged its fit ``measured`` (:func:`compare.sections.slopefit.judge_slope`); otherwise it
says why this run's times cannot give one, and states the theory as theory. The caution counts
every ``!`` the report's tables show (the timing tables and the cost-growth tables,
:mod:`compare.report.tables` and :mod:`compare.report.scaling_tables`), and names the likely
cause from the load average the run recorded at its start and end against the CPUs it may use
and the threads it ran, and the remedy.

Usage::

    growth = growth_fits(report.scaling.fits)   # None without numerical and backprop fits
    line = growth_line(growth)
    warned = caution(report, growth)            # None when nothing needs a caution
"""

from __future__ import annotations

import math

from compare.report.format import SLOPE_REASONS, slope_span, times
from compare.report.model import Env, Report, ScalingFit

# -- cost growth: quoted only where the scaling section's fits support it ------------------------------------


def growth_fits(fits: list[ScalingFit]) -> dict | None:
    """The numerical and backprop fits of one series (hidden, else input), as the summary quotes them."""
    series = "hidden" if any(f.series == "hidden" for f in fits) else "input"
    mine = [f for f in fits if f.series == series]
    numerical = next((f for f in mine if f.method == "numerical"), None)
    backprop = next((f for f in mine if f.method.startswith("backprop")), None)
    if numerical is None or backprop is None:
        return None

    def one(f: ScalingFit) -> dict:
        return {"method": f.method, "slope": f.slope, "low": f.slope_low, "high": f.slope_high, "claim": f.claim}

    return {"series": series, "numerical": one(numerical), "backprop": one(backprop)}


def growth_line(g: dict) -> str:
    """Each method's growth rate with its range, or why this run's times cannot give one."""
    what = "hidden layer" if g["series"] == "hidden" else "input"
    clauses = []
    for key, name in (("numerical", "the numerical gradient"), ("backprop", "backprop")):
        f = g[key]
        span = slope_span(f["low"], f["high"])
        if f["claim"] == "measured":
            clauses.append(
                f"{name}'s time grows as P^{f['slope']:.2f} (range {span}), so doubling the {what} makes it about "
                f"{2 ** f['slope']:.1f}× slower ({2 ** f['low']:.1f}–{2 ** f['high']:.1f}×)"
            )
        else:
            fitted = f"it fitted P^{f['slope']:.2f}, but " if math.isfinite(f["slope"]) else ""
            reason = SLOPE_REASONS.get(f["claim"], f["claim"])
            clauses.append(f"{name}'s growth cannot be quoted: {fitted}{reason} (slope range {span})")
    return f"Cost growth as the {what} grows, from this run's times: " + "; ".join(clauses) + "."


def so_line(main: dict, growth: dict | None) -> str:
    """The conclusion: the measured speed-up, the theory's growth, and what this run's slopes say of it."""
    line = (
        f"So: backprop gets the gradient {times(main['ratio'])}× sooner at {main['shape'].split()[0]}. In theory "
        "its cost grows with P and the numerical gradient's with P² (2P forward passes, each costing about P)"
    )
    if growth is None:
        return line + "; this run did not measure how both costs grow."
    num, bp = growth["numerical"], growth["backprop"]
    if num["claim"] != "measured" or bp["claim"] != "measured":
        return line + "; this run's times could not confirm it (see the cost-growth line above)."
    if num["low"] > bp["high"]:
        return line + (
            f"; this run measured P^{num['slope']:.2f} against backprop's P^{bp['slope']:.2f}: the numerical "
            "gradient's cost grew faster."
        )
    return line + f"; this run's slopes, P^{num['slope']:.2f} and P^{bp['slope']:.2f}, did not tell the two apart."


# -- the caution: every ! of the tables shown, its likely cause and the remedy -----------------------------------

BUSY_MARGIN = 0.5  # other work averaging more than half a CPU beyond what the run's threads leave free: busy
DRIFT_CLAIMS = ("noisy", "scatter", "implausible")  # slopes the machine's load can spoil (not too few sizes)


def noisy_marks(report: Report) -> tuple[int, int]:
    """(timing-table marks, cost-growth-table marks): the ``!`` the report's tables show."""
    in_timing = sum(r.noisy for r in report.timing.rows) if report.timing else 0
    in_scaling = 0
    if report.scaling is not None:
        methods = set(report.scaling.methods)
        shown = {(p.series, p.shape, p.method): p for p in report.scaling.points if p.method in methods}
        in_scaling = sum(p.noisy for p in shown.values())
    return in_timing, in_scaling


def likely_cause(env: Env) -> str:
    """``load`` (other work: the load average beyond the CPUs the run's threads leave free), ``threads`` (more than
    one thread per framework on a machine that looked idle), ``quiet`` (one thread, idle), ``no-load`` (no figure)."""
    cpus = env.usable_cpus or env.cores
    start = env.load_start[0] if env.load_start else None
    end = env.load_end[0] - env.threads if env.load_end else None  # the run's own threads are in the end figure
    known = [x for x in (start, end) if x is not None and math.isfinite(x)]
    if not known:
        return "no-load"
    if max(known) + env.threads > cpus + BUSY_MARGIN:
        return "load"
    return "threads" if env.threads > 1 else "quiet"


def caution(report: Report, growth: dict | None) -> dict | None:
    """What the caution says, as figures: the ``!`` marks, the slopes not measured, the load and the likely cause."""
    in_timing, in_scaling = noisy_marks(report)
    unsupported = []
    if growth is not None:
        unsupported = [growth[k]["method"] for k in ("numerical", "backprop") if growth[k]["claim"] in DRIFT_CLAIMS]
    if not (in_timing or in_scaling or unsupported):
        return None
    env = report.env
    return {
        "noisy_marks": in_timing + in_scaling,
        "in_timing": in_timing,
        "in_scaling": in_scaling,
        "unsupported_slopes": unsupported,
        "cause": likely_cause(env),
        "load_start": env.load_start,
        "load_end": env.load_end,
        "usable_cpus": env.usable_cpus or env.cores,
        "threads": env.threads,
    }


def caution_line(c: dict) -> str:
    n, unsupported = c["noisy_marks"], ", ".join(c["unsupported_slopes"])
    if n:
        tables = ((c["in_timing"], "timing"), (c["in_scaling"], "cost-growth"))
        where = [f"{k} in the {name} tables" for k, name in tables if k]
        line = f"Caution: {n} timing(s) were noisy (marked !: IQR above 10% of the median; {' and '.join(where)})"
        line += f", and the cost growth of {unsupported} could not be measured" if unsupported else ""
    else:
        line = f"Caution: no timing was noisy, but the cost growth of {unsupported} could not be measured"
    return f"{line}. {_cause_text(c)} Times, ratios and slopes above may be off."


def _cause_text(c: dict) -> str:
    """The likely cause and the remedy, in words."""
    threads, cpus = c["threads"], c["usable_cpus"]
    loads = [f"{v[0]:.2f} at the {when}" for v, when in ((c["load_start"], "start"), (c["load_end"], "end")) if v]
    load = f"load average {', '.join(loads)}, on {cpus} usable CPU(s)"
    fewer = " or with --threads 1" if threads > 1 else ""
    if c["cause"] == "load":
        worse = f", with {threads} threads per framework" if threads > 1 else ""
        return f"Likely cause: other work on the machine ({load}{worse}). Remedy: rerun on an idle machine{fewer}."
    if c["cause"] == "threads":
        return (
            f"Likely cause: {threads} threads per framework on {cpus} CPU(s): the {load} shows little other work, "
            "but any burst of it stalls every thread pool. Remedy: --threads 1 (the default)."
        )
    if c["cause"] == "quiet":
        return (
            f"The {load} shows no other work: the likely cause is a burst of it that the one-minute average smooths "
            "away, or the run itself. Remedy: rerun and compare the two (python -m compare.report diff A.json B.json)."
        )
    return (
        "Likely cause: other work on the machine (no load average on this system). "
        f"Remedy: rerun on an idle machine{fewer}."
    )
