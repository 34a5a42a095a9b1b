"""Saved reports that are corrupt, odd or hostile, given to ``compare.report show|diff`` and ``compare.teach --from``.

Run: ``python -m pytest tests/test_hostile_reports.py``. Every such file ends in one of two ways:
the commands render it (odd values as ``-``), or they refuse it with exit status 2 and one line
naming the file and the problem; never a traceback, never exit status 3. A real report, made
once per module by ``compare.run`` at small sizes, is the starting point of every case. At the
end, ``DLFS_TRACEBACK``: an internal error shows its traceback only when asked, and stays exit 3.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import random
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import pinned_threads

from compare.engine.gradient_timing import Shape
from compare.report import codec, csvfiles, diff_tables, teach_doc, text
from compare.report.__main__ import main as report_main
from compare.report.codec import SchemaError
from compare.report.diff import diff
from compare.report.model import Report, ScalingPlan
from compare.run import main as run_cli
from compare.sections import scaling
from compare.sections import timing as timing_section
from compare.supervise import run_main
from compare.teach import main as teach_main

REPO = Path(__file__).resolve().parents[1]
SMALL = [
    "--iters", "30", "--numerical-iters", "2", "--fast-numerical-iters", "5", "--hidden-size", "10",
    "--threads", "1", "--no-progress", "--no-jax",
]  # fmt: skip
SMALL_SCALING = ScalingPlan(hidden_sizes=(4, 8), input_sizes=(20, 30), input_size=30, sample=20, runs=1)
Data = dict


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real report of every section (small shapes), saved as JSON."""
    path = tmp_path_factory.mktemp("saved") / "run.json"
    with pytest.MonkeyPatch.context() as mp, pinned_threads(mp), contextlib.redirect_stdout(io.StringIO()):
        mp.setattr(timing_section, "BOOK_SHAPE", Shape(30, 8, 10, 20))
        mp.setattr(scaling, "REDUCED_PLAN", SMALL_SCALING)
        assert run_cli([*SMALL, "--json", str(path)]) == 0
    return path


def data_of(path: Path) -> Data:
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, data: Data | str | bytes) -> Path:
    if isinstance(data, dict):
        data = json.dumps(data)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def call(main: Callable[[list[str]], int], args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """A command in-process: (exit status, stdout, stderr)."""
    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


def assert_refused(status: int, err: str, name: str, *words: str) -> None:
    """Exit status 2 and one line on stderr naming the file (and each of ``words``)."""
    assert status == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and name in err, err
    for word in words:
        assert word in err, err


def the_commands(bad: Path, good: Path, tmp: Path) -> dict[str, tuple[Callable, list[str]]]:
    """Every command that reads a report, given ``bad``."""
    doc = ["--doc", str(tmp / "page.md"), "--no-plots"]
    return {
        "show": (report_main, ["show", str(bad)]),
        "diff A": (report_main, ["diff", str(bad), str(good)]),
        "diff B": (report_main, ["diff", str(good), str(bad)]),
        "teach": (teach_main, ["--from", str(bad), *doc]),
    }


# -- 1. files that hold no report ------------------------------------------------------------------


def _nested_figures(text: str) -> bytes:
    data = json.loads(text)
    data["summary"]["numbers"]["deep"] = "DEEP"
    # Spliced in as text (json.dumps of it would itself need 950 frames): it parses; deeper than any report.
    return json.dumps(data).replace('"DEEP"', "[" * 950 + "]" * 950, 1).encode()


def _set(path: tuple, value: object) -> Callable[[str], bytes]:
    def change(text: str) -> bytes:
        data = json.loads(text)
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return json.dumps(data).encode()

    return change


CORRUPT: dict[str, tuple[Callable[[str], bytes], str]] = {  # name: (the file made from a good report's text, word)
    "UTF-16": (lambda text: text.encode("utf-16"), "UTF-8"),
    "latin-1 byte": (lambda text: text.replace('"cpu": "', '"cpu": "\xe9', 1).encode("latin-1"), "UTF-8"),
    "random bytes": (lambda text: random.Random(0).randbytes(4096), "UTF-8"),
    "deep nesting": (lambda text: b"[" * 100_000 + b"]" * 100_000, "deep"),
    "deep free-form figures": (_nested_figures, "deep"),
    "400-digit float": (_set(("gradients", "loss"), 10**399), "digits"),
    "5000-digit integer": (lambda text: text.replace('"seed": 0', '"seed": ' + "9" * 5000, 1).encode(), "digits"),
    "lone surrogate": (_set(("env", "cpu"), "\ud800"), "surrogate"),
}


@pytest.mark.parametrize("command", ["show", "diff A", "diff B", "teach"])
@pytest.mark.parametrize("kind", list(CORRUPT))
def test_a_corrupt_file_is_refused_with_one_line(saved: Path, tmp_path: Path, capsys, kind: str, command: str) -> None:
    make, word = CORRUPT[kind]
    bad = tmp_path / "bad.json"
    bad.write_bytes(make(saved.read_text(encoding="utf-8")))
    main, args = the_commands(bad, saved, tmp_path)[command]
    status, out, err = call(main, args, capsys)
    assert_refused(status, err, "bad.json", word)
    assert out == "" and not (tmp_path / "page.md").exists()


@pytest.mark.parametrize("command", ["show", "diff A", "teach"])
def test_a_file_larger_than_any_report_is_refused_unread(
    saved: Path, tmp_path: Path, capsys, monkeypatch, command: str
) -> None:
    monkeypatch.setattr(codec, "MAX_FILE_BYTES", saved.stat().st_size - 1)  # the cap, brought down to this file
    main, args = the_commands(saved, saved, tmp_path)[command]
    status, _, err = call(main, args, capsys)
    assert_refused(status, err, saved.name, "larger than")


# The child limits itself to 2 GiB of address space, so that reading without end fails fast instead
# of filling the machine (no preexec_fn: that would run Python in a fork of this multithreaded process).
LIMITED_MODULE = """
import resource, runpy, sys
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
module = sys.argv.pop(1)
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("command", ["show", "diff A", "teach"])
@pytest.mark.parametrize("kind", ["/dev/zero", "FIFO", "directory"])
def test_a_device_fifo_or_directory_is_refused_without_waiting(
    saved: Path, tmp_path: Path, kind: str, command: str
) -> None:
    if kind == "/dev/zero":
        bad = Path("/dev/zero")
    elif kind == "FIFO":
        bad = tmp_path / "pipe.json"
        os.mkfifo(bad)  # no writer: opening it to read would wait forever
    else:
        bad = tmp_path / "folder.json"
        bad.mkdir()
    main, args = the_commands(bad, saved, tmp_path)[command]
    module = "compare.report" if main is report_main else "compare.teach"
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED_MODULE, module, *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,  # generous: the command answers at once; without the fix a FIFO waits for ever
        check=False,
    )
    assert_refused(proc.returncode, proc.stderr, bad.name, {"FIFO": "a FIFO"}.get(kind, ""))
    assert proc.stdout == ""


# -- 2. odd values that fit the schema ----------------------------------------------------------


def test_diff_of_a_zero_time_shows_no_ratio(saved: Path, tmp_path: Path, capsys) -> None:
    data = data_of(saved)
    row = data["timing"]["rows"][0]
    row["median_s"] = 0
    zero = write(tmp_path / "zero.json", data)
    for a, b in ((zero, saved), (saved, zero)):
        status, out, err = call(report_main, ["diff", str(a), str(b)], capsys)
        assert status == 0 and err == "", err
        lines = out.splitlines()
        column = next(x for x in lines if x.startswith("method ")).index("B / A")
        line = next(x for x in lines if x.startswith(f"{row['label']} ") and row["shape"] in x)
        assert ("0 ns" in line) and (line[column:].split()[0] == "-") == (a is zero), line  # B / A: none when A is 0


def test_accuracy_records_that_do_not_match_their_steps_are_refused_naming_the_field(
    saved: Path, tmp_path: Path, capsys
) -> None:
    data = data_of(saved)
    runs = data["trajectory"]["runs"]
    i = next(i for i, r in enumerate(runs) if r["eval_steps"])
    runs[i]["train_acc"].append(0.5)
    bad = write(tmp_path / "longer.json", data)
    for main, args in [
        (report_main, ["show", str(bad), "--plot", str(tmp_path / "plots")]),
        (report_main, ["show", str(bad), "--csv", str(tmp_path / "csv")]),
        (teach_main, ["--from", str(bad), "--doc", str(tmp_path / "page.md")]),
    ]:
        status, out, err = call(main, args, capsys)
        assert_refused(status, err, "longer.json", f"trajectory.runs[{i}].train_acc")
        assert out == ""


def _no_float64_lesson(data: Data) -> None:
    lesson = data["lesson"]
    lesson["rows"] = [r for r in lesson["rows"] if r["dtype"] != "float64"]
    del lesson["best"]["float64"], lesson["eps"]["float64"]


def _zero_scaling_times(data: Data) -> None:
    for p in data["scaling"]["points"]:
        p["median_s"] = p["iqr_s"] = p["min_s"] = 0
    for f in data["scaling"]["fits"]:
        f["slope"] = f["intercept"] = f["r2"] = "nan"


def _seven_dtypes(data: Data) -> None:
    row = data["lesson"]["rows"][0]
    data["lesson"]["rows"] = [{**row, "dtype": f"float{i}"} for i in range(7)]  # more than the markers


def _huge_fit(data: Data) -> None:
    for f in data["scaling"]["fits"]:
        f["intercept"], f["slope"] = 1e308, -1e308


def _zero_sizes(data: Data) -> None:
    for p in data["scaling"]["points"]:
        p["n_params"] = 0


def _odd_losses(data: Data) -> None:
    runs = data["trajectory"]["runs"]
    runs[0]["losses"] = ["inf", "nan", "-inf", 1e308]
    runs[1]["losses"] = []
    runs[0]["eval_steps"], runs[0]["train_acc"], runs[0]["test_acc"] = [0], ["nan"], ["inf"]


def _odd_lesson_steps(data: Data) -> None:
    lesson = data["lesson"]
    lesson["book_h"] = -1.0
    lesson["rows"][0]["h"] = 0
    lesson["rows"][1]["rel"] = "inf"
    lesson["eps"]["float32"] = -1.0


def _math_in_labels(data: Data) -> None:
    data["trajectory"]["runs"][0]["method"] = "$\\frac{$"  # matplotlib's math mode, broken
    data["lesson"]["shape"] = "$$"
    data["lesson"]["rows"][0]["dtype"] = "$\\undefined$"


ODD: dict[str, Callable[[Data], None]] = {
    "lesson without float64": _no_float64_lesson,
    "zero scaling times": _zero_scaling_times,
    "seven lesson dtypes": _seven_dtypes,
    "huge fitted line": _huge_fit,
    "zero parameter counts": _zero_sizes,
    "infinite and missing losses": _odd_losses,
    "zero and negative steps h": _odd_lesson_steps,
    "math mode in labels": _math_in_labels,
}


@pytest.mark.parametrize("odd", list(ODD))
def test_odd_values_render_in_every_form(saved: Path, tmp_path: Path, capsys, odd: str) -> None:
    """Text, Markdown, CSV, charts, the teaching page and diff: each renders, odd values shown as they are or "-"."""
    data = data_of(saved)
    ODD[odd](data)
    path = write(tmp_path / "odd.json", data)
    outputs = ["--markdown", str(tmp_path / "r.md"), "--csv", str(tmp_path / "csv"), "--plot", str(tmp_path / "png")]
    with warnings.catch_warnings(record=True) as remarks:  # a warning would be lines on stderr
        warnings.simplefilter("always")
        status, out, err = call(report_main, ["show", str(path), *outputs], capsys)
    assert not remarks, [str(w.message) for w in remarks]
    assert status == 0 and err == "" and out.rstrip().splitlines()[-1].startswith("OK: "), err
    charts = sorted(p.name for p in (tmp_path / "png").iterdir() if p.suffix == ".png")  # (and the folder's manifest)
    assert charts == ["accuracy.png", "lesson.png", "loss-time.png", "losses.png", "scaling.png"]
    status, _, err = call(teach_main, ["--from", str(path), "--doc", str(tmp_path / "page.md")], capsys)
    assert status == 0 and err == "", err
    for a, b in ((path, saved), (saved, path)):
        status, _, err = call(report_main, ["diff", str(a), str(b)], capsys)
        assert status == 0 and err == "", err


# -- 2. every field, changed one at a time -------------------------------------------------------

NUMBERS = [0, -1, "nan", "inf", "-inf", 1e308, 10**50]
STRINGS = ["", "\x1b[2J$\\frac{\r\n"]


def mutations(node: object, path: tuple = ()) -> list[tuple[tuple, object]]:
    """(path, value) for every field of ``node``: numbers, strings, lists (empty, shorter, longer), objects emptied.

    Lists of objects are entered at their first element only (the others are alike).
    """
    out: list[tuple[tuple, object]] = []
    if isinstance(node, dict):
        out += [(path, {})] if path else []
        for key, value in node.items():
            out += mutations(value, (*path, key))
    elif isinstance(node, list):
        out += [(path, [])] + ([(path, node[:-1]), (path, node + node[-1:])] if node else [])
        out += mutations(node[0], (*path, 0)) if node else []
    elif isinstance(node, bool):
        out.append((path, not node))
    elif isinstance(node, (int, float)) or node in ("nan", "inf", "-inf"):
        out += [(path, v) for v in NUMBERS]
    elif isinstance(node, str):
        out += [(path, v) for v in STRINGS]
    else:  # null
        out += [(path, 0), (path, "x")]
    return out


def changed(data: Data, path: tuple, value: object) -> Data:
    """``data`` with the field at ``path`` set to ``value`` (only that section copied)."""
    out = dict(data)
    out[path[0]] = node = copy.deepcopy(data[path[0]])
    for key in path[1:-1]:
        node = node[key]
    if len(path) == 1:
        out[path[0]] = value
    else:
        node[path[-1]] = value
    return out


def render_everywhere(report: Report, other: Report, tmp: Path) -> None:
    """What ``show`` (text, Markdown, CSV), ``diff`` (both ways) and ``teach --from`` (the page) render."""
    text.render(report)
    text.render(report, "github")
    csvfiles.write_csv(tmp / "csv", report)
    teach_doc.render_doc(report, {}, "python -m compare.teach --from changed.json")
    diff_tables.diff_text(diff(report, other, "changed.json", "saved.json"))
    diff_tables.diff_text(diff(other, report, "saved.json", "changed.json"))


SECTIONS = ["env", "config", "gradients", "trajectory", "timing", "frameworks", "scaling", "lesson", "summary"]


@pytest.mark.parametrize("section", SECTIONS)
def test_every_field_changed_renders_or_is_refused_with_one_line(
    saved: Path, tmp_path: Path, monkeypatch, section: str
) -> None:
    """Each value of :func:`mutations`, in turn: loaded as the commands load it, then rendered as they render it.

    A file is either refused (:class:`SchemaError`, one line naming the file: the commands' exit
    status 2, as the tests above show) or rendered by every renderer without an exception (which
    would be the commands' exit status 3). Charts are left to
    :func:`test_odd_values_render_in_every_form` (a chart takes about a second).
    """
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # the CSV files are written thousands of times
    data = data_of(saved)
    other = Report.from_json(saved.read_text(encoding="utf-8"))
    cases = mutations(data[section], (section,))
    failures, refused = [], 0
    for path, value in cases:
        where = f"{'.'.join(map(str, path))} = {value!r:.40}"
        try:
            report = Report.from_json(json.dumps(changed(data, path, value)), source="changed.json")
        except SchemaError as e:
            refused += 1
            if "\n" in str(e) or not str(e).startswith("changed.json"):
                failures.append(f"{where}: refused with {str(e)!r}")
            continue
        try:
            render_everywhere(report, other, tmp_path)
        except Exception as e:  # noqa: BLE001  (every kind of crash is the finding)
            failures.append(f"{where}: {type(e).__name__}: {e}")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures[:30])
    assert 0 < refused < len(cases)  # the table reaches both outcomes: it changes values the schema takes


# -- 3. control characters from a file -------------------------------------------------------------

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\rOK\x08"  # a title, clear screen, a C1 CSI, a carriage return


def _no_controls(text: str) -> None:
    bad = sorted({f"{ord(c):#x}" for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0})
    assert not bad, f"control characters {bad} in the output"


def test_strings_of_a_file_reach_the_terminal_escaped(saved: Path, tmp_path: Path, capsys) -> None:
    data = data_of(saved)
    data["env"]["cpu"] = HOSTILE
    data["shape"] = HOSTILE
    data["gradients"]["rows"][0]["method_a"] = HOSTILE
    data["gradients"]["notes"] = [{"method": HOSTILE, "status": "not provided", "message": HOSTILE, "where": HOSTILE}]
    data["trajectory"]["pairs"][0]["note"] = HOSTILE
    data["timing"]["rows"][0]["label"] = HOSTILE
    data["summary"]["lines"][0] = HOSTILE
    bad = write(tmp_path / f"run{HOSTILE[:5]}.json", data)  # the file's own name too
    md = tmp_path / "r.md"
    status, out, err = call(report_main, ["show", str(bad), "--markdown", str(md)], capsys)
    assert status == 0 and err == "", err  # the saved run's own status
    _no_controls(out)
    assert out.count("\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x0dOK\\x08") >= 6, out
    _no_controls(md.read_text(encoding="utf-8"))
    status, out, err = call(report_main, ["diff", str(bad), str(saved)], capsys)
    assert status == 0 and err == "", err
    _no_controls(out)
    assert f"A: {tmp_path}/run\\x1b]0;o.json" in out
    status, out, err = call(teach_main, ["--from", str(bad), "--doc", str(tmp_path / "page.md"), "--no-plots"], capsys)
    assert status == 0 and err == "", err
    _no_controls(out + (tmp_path / "page.md").read_text(encoding="utf-8"))


def test_a_bidirectional_override_in_a_file_reaches_the_terminal_escaped(saved: Path, tmp_path, capsys) -> None:
    """U+202E reverses what follows on the terminal ("Trojan Source"): shown as \\u202e, never as itself."""
    data = data_of(saved)
    data["gradients"]["notes"] = [{"method": "mine\u202egnp.", "status": "not provided", "message": "m", "where": "w"}]
    status, out, err = call(report_main, ["show", str(write(tmp_path / "bidi.json", data))], capsys)
    assert status == 0 and err == "", err
    assert "\u202e" not in out and "mine\\u202egnp." in out


def test_the_verdict_alone_is_escaped_too(saved: Path) -> None:
    report = Report.load(saved)
    report.gradients.rows[0].ok = False
    report.gradients.rows[0].method_a = HOSTILE
    line = text.verdict(report)
    _no_controls(line)
    assert "\\x1b]0;owned" in line


# -- 5. DLFS_TRACEBACK ---------------------------------------------------------------------------


def _internal_error() -> int:
    raise ZeroDivisionError("planted")


@pytest.mark.parametrize(
    "value, traceback", [("1", True), ("TRUE", True), (" yes ", True), ("On", True), ("0", False), ("", False),
                         ("no", False), ("false", False), (None, False)]
)  # fmt: skip
def test_dlfs_traceback_shows_the_traceback_only_when_true_and_the_status_stays_3(
    monkeypatch, capsys, value: str | None, traceback: bool
) -> None:
    if value is None:
        monkeypatch.delenv("DLFS_TRACEBACK", raising=False)
    else:
        monkeypatch.setenv("DLFS_TRACEBACK", value)
    assert run_main(_internal_error) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("error: internal error: ZeroDivisionError: planted\n"), err
    assert ("Traceback (most recent call last)" in err) == traceback, err
    if not traceback:
        assert err.count("\n") == 1
