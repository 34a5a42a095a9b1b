"""Every command on a terminal that only takes ASCII: plainer text, the same exit status, every file written.

Run: ``python -m pytest tests/test_ascii_output.py``. Each command runs in a subprocess twice:
with ``PYTHONIOENCODING=ascii``, and with ``LC_ALL=C`` and UTF-8 mode off (``PYTHONUTF8=0``), the
two ways a Python program's stdout ends up ASCII. What it prints must be ASCII (``Δ`` becomes
``delta``, ``×`` ``x``, ``µs`` ``us``); the files it writes stay UTF-8. Also the stand-ins
themselves (:mod:`compare.terminal`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from helpers import pinned_threads

from compare.run import main as run_cli
from compare.terminal import ASCII_STAND_INS, stand_in

REPO = Path(__file__).resolve().parents[1]
SMALL_RUN = [
    "--iters", "30", "--numerical-iters", "2", "--fast-numerical-iters", "5", "--hidden-size", "10",
    "--threads", "1", "--no-progress", "--no-jax",
]  # fmt: skip


def ascii_env(kind: str) -> dict[str, str]:
    dropped = ("PYTHONIOENCODING", "PYTHONUTF8", "LANG")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("LC_")}
    env["PYTHONPATH"] = str(REPO)
    if kind == "PYTHONIOENCODING=ascii":
        env["PYTHONIOENCODING"] = "ascii"
    else:  # the C locale without UTF-8 mode: Python takes the locale's ASCII for its streams
        env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0")
    return env


ENVS = ["PYTHONIOENCODING=ascii", "LC_ALL=C"]


def run_ascii(kind: str, module: str, *args: str, cwd: Path) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m module args``; the output must be ASCII."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=ascii_env(kind),
        capture_output=True,
        timeout=600,  # generous: a small run takes seconds
        check=False,
    )
    out, err = proc.stdout.decode("ascii"), proc.stderr.decode("ascii")  # UnicodeDecodeError: not ASCII
    assert "UnicodeEncodeError" not in err and "Traceback" not in err, err
    return proc.returncode, out, err


def test_the_streams_really_are_ascii(tmp_path: Path) -> None:
    """The premise: without the stand-ins, printing Δ in these environments fails."""
    for kind in ENVS:
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; print(sys.stdout.encoding); print('\\u0394')"],
            env=ascii_env(kind), capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 1 and b"UnicodeEncodeError" in proc.stderr, (kind, proc.stderr)
        assert proc.stdout.split()[0].lower() in (b"ascii", b"ansi_x3.4-1968"), (kind, proc.stdout)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real report (gradients, trajectory, timing, lesson at small sizes), saved as JSON."""
    path = tmp_path_factory.mktemp("saved") / "run.json"
    with pytest.MonkeyPatch.context() as mp, pinned_threads(mp), contextlib.redirect_stdout(io.StringIO()):
        assert run_cli([*SMALL_RUN, "--only", "gradients,trajectory,timing,lesson", "--json", str(path)]) == 0
    return path


@pytest.mark.parametrize("kind", ENVS)
def test_run_prints_ascii_and_writes_its_files(tmp_path: Path, kind: str) -> None:
    status, out, _ = run_ascii(
        kind, "compare.run", *SMALL_RUN, "--only", "gradients,trajectory,timing", "--json", "r.json",
        "--markdown", "r.md", cwd=tmp_path,
    )  # fmt: skip
    assert status == 0
    assert "acc delta" in out and "runsxloops" in out and out.rstrip().splitlines()[-1].startswith("OK: ")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["ok"] is True
    assert "acc Δ max" in (tmp_path / "r.md").read_text(encoding="utf-8")  # the file stays UTF-8


@pytest.mark.parametrize("kind", ENVS)
def test_report_show_and_diff_print_ascii(saved: Path, tmp_path: Path, kind: str) -> None:
    status, out, _ = run_ascii(kind, "compare.report", "show", str(saved), "--markdown", "r.md", cwd=tmp_path)
    assert status == 0 and "acc delta" in out and "eps^(1/3)" in out
    assert "ε^(1/3)" in (tmp_path / "r.md").read_text(encoding="utf-8")
    status, out, _ = run_ascii(kind, "compare.report", "diff", str(saved), str(saved), cwd=tmp_path)
    assert status == 0 and "within noise" in out


@pytest.mark.parametrize("kind", ENVS)
def test_teach_writes_its_page_in_utf8(saved: Path, tmp_path: Path, kind: str) -> None:
    args = ["--from", str(saved), "--doc", "page.md", "--no-plots"]
    status, out, _ = run_ascii(kind, "compare.teach", *args, cwd=tmp_path)
    assert status == 0 and out.startswith("wrote page.md")
    assert "ε" in (tmp_path / "page.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ENVS)
def test_bench_prints_ascii_and_writes_its_json(tmp_path: Path, kind: str) -> None:
    args = ["--quick", "--threads", "1", "--rounds", "2", "--book-runs", "1", "--json", "b.json"]
    status, out, _ = run_ascii(kind, "compare.bench", *args, cwd=tmp_path)
    assert status in (0, 1)  # 1: a numerical check of the bench failed; either way it reports and saves
    assert "fast (median +/- IQR)" in out and "x FLOP-limited" in out
    assert "env" in json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ENVS)
def test_gradcheck_prints_ascii_and_writes_its_json(tmp_path: Path, kind: str) -> None:
    args = ["--sizes", "8,5,3", "--batch", "4", "--mode", "fast", "--threads", "1", "--json", "g.json"]
    status, out, _ = run_ascii(kind, "compare.gradcheck", *args, cwd=tmp_path)
    assert status == 0 and "max |delta|/tau" in out and "catches ||e||>=" in out
    assert (tmp_path / "g.json").stat().st_size > 0
    json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))


def test_help_prints_ascii(tmp_path: Path) -> None:
    for module in ("compare.run", "compare.report", "compare.teach", "compare.bench", "compare.gradcheck"):
        status, out, _ = run_ascii("LC_ALL=C", module, "--help", cwd=tmp_path)
        assert status == 0 and out.startswith("usage: "), module


# -- the stand-ins themselves -----------------------------------------------------------------------


def test_every_stand_in_is_ascii_and_nonempty() -> None:
    for ch, ascii_text in ASCII_STAND_INS.items():
        assert len(ch) == 1 and not ch.isascii(), ch
        assert ascii_text and ascii_text.isascii(), ch


@pytest.mark.parametrize(
    "ch, expected",
    [("Δ", "delta"), ("×", "x"), ("±", "+/-"), ("≈", "~"), ("µ", "u"), ("‖", "||"), ("τ", "tau"), ("≥", ">="),
     ("≤", "<="), ("→", "->"), ("²", "^2"), ("³", "^3"), ("—", "--"), ("–", "-"), ("é", "e"), ("ﬁ", "fi"),
     ("数", "\\u6570"), ("\U0001f600", "\\U0001f600"), ("\ud800", "\\ud800")],
)  # fmt: skip
def test_stand_in(ch: str, expected: str) -> None:
    assert stand_in(ch) == expected


def _mathematical(ch: str) -> bool:
    """A symbol, punctuation, a digit-like character (², ⁴) or a Greek letter: the signs of formulas and tables."""
    return unicodedata.category(ch)[0] in "SPN" or "GREEK" in unicodedata.name(ch, "")


def test_every_sign_the_code_prints_has_a_stand_in() -> None:
    """The signs in the project's modules (tables, prose, formulas) have a chosen stand-in, not an escape.

    Words of other scripts (a translation, say) are left to the escape (``数`` -> ``\\u6570``).
    """
    found = set()
    for folder in ("compare", "dlfs_gradcheck", *(p.name for p in REPO.glob("impl_*") if p.is_dir())):
        for path in (REPO / folder).rglob("*.py"):
            found |= {ch for ch in path.read_text(encoding="utf-8") if not ch.isascii() and _mathematical(ch)}
    assert "Δ" in found and "×" in found  # the scan sees the project's own signs
    missing = sorted(ch for ch in found if stand_in(ch).startswith("\\"))
    assert not missing, f"no ASCII stand-in for {missing}: add them to compare.terminal.ASCII_STAND_INS"
