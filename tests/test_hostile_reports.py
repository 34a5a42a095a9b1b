"""Saved reports that are corrupt, odd or hostile, given to ``compare.report show|diff`` and ``compare.teach --from``.

Run: ``python -m pytest tests/test_hostile_reports.py``. Every such file ends in one of two ways:
the commands render it (odd values as ``-``), or they refuse it with exit status 2 and one line
naming the file and the problem; never a traceback, never exit status 3. A real report, made
once per module by ``compare.run`` at small sizes, is the starting point of every case.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import pinned_threads

from compare.engine.timing import Shape
from compare.report import codec
from compare.report.__main__ import main as report_main
from compare.report.model import ScalingPlan
from compare.run import main as run_cli
from compare.sections import scaling
from compare.sections import timing as timing_section
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
    data["summary"]["numbers"]["deep"] = json.loads("[" * 950 + "]" * 950)  # parses; deeper than any report
    return json.dumps(data).encode()


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


def _limited_memory() -> None:
    """In the child: 2 GiB of address space, so that reading without end fails fast instead of filling the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


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
        [sys.executable, "-m", module, *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,  # generous: the command answers at once; without the fix a FIFO waits for ever
        preexec_fn=_limited_memory,
        check=False,
    )
    assert_refused(proc.returncode, proc.stderr, bad.name, {"FIFO": "a FIFO"}.get(kind, ""))
    assert proc.stdout == ""
