"""Rendering the report: text (terminal), Markdown, JSON and CSV; atomic writes.

Every file is written to a temporary file in the target directory and moved
into place with ``os.replace``, so a reader never sees half a report and an
interrupted run leaves the old file (or none) behind.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from tabulate import tabulate

from compare.engine.timer import format_seconds
from compare.report.files import OutputError, _json_safe, check_writable, to_json, write_atomic  # noqa: F401

SCHEMA_VERSION = 1
MAX_EPOCH_ROWS = 20  # accuracy records shown in the text report (all are in JSON / CSV)


# -- tables --------------------------------------------------------------------------------------


def _e(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2e}"


def _ok(flag: bool) -> str:
    return "ok" if flag else "FAIL"


def gradient_table(section: dict) -> tuple[list[str], list[list[object]]]:
    head = ["A", "B", "param", "max abs", "max rel", "rtol", "worst index", "A value", "B value", "kinks", "status"]
    rows = [
        [
            r["method_a"],
            r["method_b"],
            r["param"],
            _e(r["max_abs"]),
            _e(r["max_rel"]),
            _e(r["rtol"]),
            str(tuple(r["index"])),
            f"{r['a_value']:.6g}",
            f"{r['b_value']:.6g}",
            r["kinks"] or "",
            _ok(r["ok"]),
        ]
        for r in section["rows"]
    ]
    return head, rows


def trajectory_table(section: dict) -> tuple[list[str], list[list[object]]]:
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
            p["method_a"],
            p["method_b"],
            p["steps"],
            _e(p["max_abs"]),
            _e(p["max_rel"]),
            _e(p["rtol"]),
            "-" if p["first_bad_step"] is None else p["first_bad_step"],
            f"{p['acc_max_diff']:.4f}",
            _e(p["weights_max_rel"]) if p.get("weights_checked", True) else "not compared",
            _ok(p["ok"]) if p.get("checked", True) else "info *",
        ]
        for p in section["pairs"]
    ]
    return head, rows


def trajectory_notes(section: dict) -> list[str]:
    """The distinct notes of the trajectory rows (why something was not checked)."""
    notes = []
    for p in section["pairs"]:
        for note in filter(None, p.get("note", "").split("; ")):
            if note not in notes:
                notes.append(note)
    return notes


def accuracy_table(section: dict) -> tuple[list[str], list[list[object]], int]:
    """Accuracy records of the full-length runs side by side (a sample when there are many)."""
    runs = [r for r in section["runs"] if r["eval_steps"]]
    longest = max((len(r["eval_steps"]) for r in runs), default=0)
    runs = [r for r in runs if len(r["eval_steps"]) == longest]
    if not runs:
        return [], [], 0
    steps = runs[0]["eval_steps"]
    picks = list(range(len(steps)))
    if len(picks) > MAX_EPOCH_ROWS:
        picks = sorted({round(i * (len(steps) - 1) / (MAX_EPOCH_ROWS - 1)) for i in range(MAX_EPOCH_ROWS)})
    head = ["step"] + [f"{r['method']} {part}" for r in runs for part in ("train", "test")]
    rows = [[steps[i]] + [f"{r[key][i]:.4f}" for r in runs for key in ("train_acc", "test_acc")] for i in picks]
    return head, rows, len(steps)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _ratio(v: float | None) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.3g}"


def timing_table(rows_in: list[dict]) -> tuple[list[str], list[list[object]]]:
    head = ["method", "device", "dtype", "median", "IQR", "min", "runs×loops", "×fastest", "×numerical", "note"]
    rows = []
    for r in rows_in:
        note = f"estimated from {r['sampled']} of {r['n_params']}" if r["estimated"] else ""
        rows.append(
            [
                r["method"],
                r["device"],
                r["dtype"],
                format_seconds(r["median_s"]),
                format_seconds(r["iqr_s"]) + (" !" if r["noisy"] else ""),
                format_seconds(r["min_s"]),
                f"{r['runs']}×{r['loops']}",
                _ratio(r["ratio_fastest"]),
                _ratio(r["ratio_numerical"]),
                note,
            ]
        )
    return head, rows


# -- documents ---------------------------------------------------------------------------------


def header_lines(report: dict) -> list[str]:
    env, cfg = report["env"], report["config"]
    lines = [
        f"CPU: {env['cpu']} ({env['cores']} cores); threads: {env['threads']} "
        f"(numpy BLAS: {env['numpy_threads']}, torch: {env['torch_threads']})",
        f"numpy {env['numpy']} (BLAS: {env['blas']}), torch {env['torch']}, Python {env['python']}; "
        f"devices: {', '.join(env['devices'])}{' (' + ', '.join(env['gpus']) + ')' if env['gpus'] else ''}",
        f"git {env['git'] or 'n/a'}, {env['date']}, seed {env['seed']}",
        f"data: {cfg['dataset']}, net {report.get('shape', '?')} ({cfg['activation']}), batch {cfg['batch_size']}, "
        f"lr {cfg['learning_rate']}, {cfg['iters']} iterations ({cfg['numerical_iters']} numerical), "
        f"dtype {cfg['dtype']}",
    ]
    return lines


def verdict(report: dict) -> str:
    parts = []
    if "gradients" in report:
        rows = report["gradients"]["rows"]
        bad = [f"{r['method_a']} vs {r['method_b']} {r['param']}" for r in rows if not r["ok"]]
        parts.append(f"gradients {len(rows) - len(bad)}/{len(rows)} ok" + (f" (FAIL: {', '.join(bad)})" if bad else ""))
    if "trajectory" in report:
        pairs = [p for p in report["trajectory"]["pairs"] if p.get("checked", True)]
        bad = [f"{p['method_a']} vs {p['method_b']}" for p in pairs if not p["ok"]]
        shown = len(report["trajectory"]["pairs"]) - len(pairs)
        parts.append(
            f"trajectories {len(pairs) - len(bad)}/{len(pairs)} ok"
            + (f" (FAIL: {', '.join(bad)})" if bad else "")
            + (f", {shown} reported only" if shown else "")
        )
    word = "OK" if report["ok"] else "FAILED"
    return f"{word}: " + ("; ".join(parts) if parts else "no agreement checks run")


def render(report: dict, fmt: str = "simple") -> str:
    """The whole report as text (``fmt="simple"``) or Markdown (``fmt="github"``)."""
    md = fmt == "github"
    out = io.StringIO()

    def title(text: str) -> None:
        out.write(f"\n## {text}\n\n" if md else f"\n== {text} ==\n")

    def table(head: list[str], rows: list[list[object]]) -> None:
        out.write(tabulate(rows, headers=head, tablefmt=fmt, disable_numparse=True) + "\n")

    out.write(
        "# numpy vs PyTorch on the book's two-layer net\n\n" if md else "numpy vs PyTorch on the book's two-layer net\n"
    )
    for line in header_lines(report):
        out.write(f"- {line}\n" if md else f"  {line}\n")
    if "gradients" in report:
        g = report["gradients"]
        title(f"1. Gradient agreement (first batch, loss {g['loss']:.6f})")
        table(*gradient_table(g))
    if "trajectory" in report:
        t = report["trajectory"]
        title("2. Trajectory agreement (same weights, same batches)")
        table(*trajectory_table(t))
        for note in trajectory_notes(t):
            out.write(f"* {note}\n")
        head, rows, n = accuracy_table(t)
        if rows:
            shown = "" if len(rows) == n else f", {len(rows)} of {n} shown"
            out.write(
                f"\naccuracy after step i when i % {t['iter_per_epoch']:g} == 0 ({_count(n, 'record')}{shown}):\n\n"
            )
            table(head, rows)
        secs = ", ".join(
            f"{r['method']} {_count(r['steps'], 'step')} {format_seconds(r['seconds'])}" for r in t["runs"]
        )
        out.write(f"\nwall time: {secs}\n")
    if "timing" in report:
        title("3. Timing: one gradient (forward + backward) per call")
        by_shape: dict[str, list[dict]] = {}
        for r in report["timing"]["rows"]:
            by_shape.setdefault(r["shape"], []).append(r)
        for shape, rows in by_shape.items():
            out.write(f"\nshape {shape}, P = {rows[0]['n_params']} parameters, {rows[0]['threads']} threads:\n\n")
            table(*timing_table(rows))
        out.write("\n(! marks an IQR above 10% of the median: a noisy measurement)\n")
    if "scaling" in report:
        from compare.sections import scaling  # the sections' own renderers (imported here: they load numpy)

        title("4. Cost growth: time per gradient against the number of parameters P")
        out.write(scaling.render(report["scaling"], fmt))
    if "lesson" in report:
        from compare.sections import lesson

        title("5. The float32 lesson: numerical-gradient error against the step h")
        out.write(lesson.render(report["lesson"], fmt))
    if report.get("summary", {}).get("lines"):
        from compare.sections import summary

        title("Why backprop? This run's numbers in plain words")
        out.write(summary.render(report["summary"], markdown=md))
    out.write(f"\n{verdict(report)}\n")
    return out.getvalue()


def write_csv(directory: str | os.PathLike[str], report: dict) -> list[Path]:
    """One CSV per table; returns the paths written."""
    folder = Path(directory)
    folder.mkdir(exist_ok=True)
    written = []

    def dump(name: str, head: list[str], rows: list[list[object]]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(head)
        w.writerows(rows)
        write_atomic(folder / name, buf.getvalue())
        written.append(folder / name)

    if "gradients" in report:
        rows = report["gradients"]["rows"]
        keys = [k for k in rows[0] if k != "index"] + ["index"] if rows else []
        dump("gradients.csv", keys, [[r[k] if k != "index" else " ".join(map(str, r[k])) for k in keys] for r in rows])
    if "trajectory" in report:
        pairs = report["trajectory"]["pairs"]
        keys = [k for k in (pairs[0] if pairs else {}) if not k.startswith("losses")]
        dump("trajectory.csv", keys, [[p[k] for k in keys] for p in pairs])
        runs = report["trajectory"]["runs"]
        n = max((len(r["losses"]) for r in runs), default=0)
        dump(
            "losses.csv",
            ["step"] + [r["method"] for r in runs],
            [[i] + [r["losses"][i] if i < len(r["losses"]) else "" for r in runs] for i in range(n)],
        )
        acc_rows = [
            [r["method"], s, a, b]
            for r in runs
            for s, a, b in zip(r["eval_steps"], r["train_acc"], r["test_acc"], strict=True)
        ]
        dump("accuracy.csv", ["method", "step", "train_acc", "test_acc"], acc_rows)
    if "timing" in report:
        rows = report["timing"]["rows"]
        keys = list(rows[0]) if rows else []
        dump("timing.csv", keys, [[r[k] for k in keys] for r in rows])
    if "scaling" in report:
        points = report["scaling"]["points"]
        slopes = {(f["series"], f["method"]): f["slope"] for f in report["scaling"]["fits"]}
        keys = list(points[0]) if points else []
        rows = [[p[k] for k in keys] + [slopes[(p["series"], p["method"])]] for p in points]
        dump("scaling.csv", keys + ["slope"], rows)
    if "lesson" in report:
        rows = report["lesson"]["rows"]
        keys = list(rows[0]) if rows else []
        dump("lesson.csv", keys, [[r[k] for k in keys] for r in rows])
    return written
