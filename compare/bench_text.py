"""The benchmark's text report: the numerical section, the step section and the targets, from its result dict.

Formats only (:mod:`compare.bench` measures); the JSON of ``--json`` holds the same result.
"""

from __future__ import annotations

STEP_HEAD = ["method", "device", "dtype", "median", "min-max", "FLOP-limited", "× FLOP-limited", "compile", "2 GEMMs"]


def _step_table(rows_in: list[dict]) -> list[list[str]]:
    from compare.report.format import format_seconds as fs

    rows = []
    for r in rows_in:
        vs = r["vs_flop_limited"]
        rows.append(
            [
                r["name"], r["device"], r["dtype"], fs(r["median_s"]), f"{fs(r['min_s'])}-{fs(r['max_s'])}",
                fs(r["flop_limited_s"]), f"{vs['value']:.2f} ({vs['lo']:.2f}-{vs['hi']:.2f})",
                "-" if r["compile_s"] is None else fs(r["compile_s"]), fs(r["gemm_s"]) if "gemm_s" in r else "-",
            ]
        )  # fmt: skip
    return rows


def render(result: dict) -> str:
    from tabulate import tabulate

    from compare.report.format import versions_text

    lines = []
    env = result["env"]
    lines.append(
        f"CPU: {env['cpu']} ({env['cores']} cores), {env['threads']} threads; "
        f"{versions_text(env['versions'], env['blas'])}; {env['date']}"
    )
    peaks = result["matmul_gflops"]
    lines.append(f"matrix-product peak: {peaks['float64']:.1f} GFLOP/s float64, {peaks['float32']:.1f} GFLOP/s float32")
    num = result["numerical"]
    lines += _numerical_lines(num)
    st = result["steps"]
    lines.append(f"\n== Training step (gradient + SGD update) at {st['shape']}: {st['flops'] / 1e6:.2f} MFLOP ==\n")
    lines.append(tabulate(_step_table(st["rows"]), headers=STEP_HEAD, disable_numparse=True))
    lines.append(
        f"({st['rounds']} interleaved rounds: each method's block, then the next's, never call by call; "
        "min-max over rounds; × FLOP-limited against the peak measured in the same round)"
    )
    lines += _target_lines(result, num)
    if result["config"]["quick"]:
        lines.append("(--quick: smoke sizes, so the targets, set for 784-50-10, are shown but not judged)")
    return "\n".join(lines)


def _numerical_lines(num: dict) -> list[str]:
    """The numerical section: the book loop against the fast gradient, per activation."""
    from tabulate import tabulate

    from compare.report.format import format_seconds as fs

    lines = [f"\n== Numerical gradient at {num['shape']}, float64: book loop vs fast ==\n"]
    rows = []
    for act, r in num["activations"].items():
        worst = max(r["agreement"].values(), key=lambda v: v["max_rel"])
        rows.append(
            [
                act,
                fs(r["book"]["median_s"]),
                f"{fs(r['fast']['median_s'])} ± {fs(r['fast']['iqr_s'])}",
                f"{r['speedup']:.0f}×",
                f"{r['fast_peak_bytes'] / 2**20:.1f} MiB",
                f"{worst['max_abs']:.2e}",
                f"{worst['max_rel']:.2e}",
                f"{max(v['normwise_rel'] for v in r['agreement'].values()):.2e}",
                "ok" if r["ok"] else "FAIL",
            ]
        )
    lines.append(
        tabulate(
            rows,
            headers=[
                "activation",
                "book loop",
                "fast (median ± IQR)",
                "speedup",
                "fast peak mem",
                "max abs diff",
                "max rel (floor)",
                "max |diff|/max|g|",
                "",
            ],
            disable_numparse=True,
        )
    )
    lines.append(
        f"(relative error floor atol/rtol: agreement to rtol {next(iter(num['activations'].values()))['rtol']:g} "
        "above the book loop's rounding noise, see dlfs_gradcheck.metrics)"
    )
    return lines


def _target_lines(result: dict, num: dict) -> list[str]:
    """The targets and framework ratios, each taken within a round, and a warning on drift."""
    from tabulate import tabulate

    lines = []
    lines.append("\n== Targets and framework ratios (median over rounds, each ratio taken within a round) ==\n")
    rows = []
    for o in result["targets"]:
        target = "-" if o["target"] is None else f"≤ {o['target']}"
        met = "-" if o["met"] is None else ("met" if o["met"] else "NOT met")
        span = f"{o['lo']:.2f}-{o['hi']:.2f}" if "lo" in o else "-"
        drift = "-" if "drift" not in o else f"{100 * o['drift']:.0f}%" + (" DRIFT" if o["drifting"] else "")
        rows.append([o["what"], f"{o['value']:.2f}", span, drift, target, met])
    speed = [r["speedup"] for r in num["activations"].values()]
    rows.insert(
        0,
        [
            "book loop / fast numerical (min over activations)",
            f"{min(speed):.0f}",
            "-",  # timed apart (the book loop takes seconds), not in the rounds
            "-",
            "≥ 50",
            "-" if result["config"]["quick"] else ("met" if min(speed) >= 50 else "NOT met"),
        ],
    )
    head = ["ratio", "median", "min-max over rounds", "drift (2nd half vs 1st)", "target", "status"]
    lines.append(tabulate(rows, headers=head, disable_numparse=True))
    drifting = [o["what"] for o in result["targets"] if o.get("drifting")]
    if drifting:
        lines.append(
            f"warning: {len(drifting)} ratio(s) drifted between the first and second half of the rounds by more than "
            "the spread within a round (and 5%): the machine's speed changed during the run; rerun when it is idle"
        )
    return lines
