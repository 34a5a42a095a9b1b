"""Replays the bad-input and fault sweep: each promise that once broke, by item number.

1 writer targets, 2 conflicting outputs, 4 thread counts, 5 permissions, 6 memory, 7 odd paths,
8 early Ctrl-C, 9 divergence, 10 long names, 11 a full disk, 12 SIGTERM, 13 messages,
14 API gaps of impl_numpy, 15 downloads. (Item 3 and the checker's part of 14 are tested with
the gradient checker.) Cases about permissions run as the user ``nobody`` when the tests run
as root (root reads and writes everything), in a fresh interpreter that drops its privileges.
A few cases need a real process (signals, resource limits); they start Python without numpy.
Every child is bounded by ``children.CEILING_S`` and waited for by what it prints, never by time.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import logging
import os
import pwd
import signal
import stat
import subprocess
import sys
import threading
import warnings
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from children import CEILING_S, TERMINAL_SIGINT, read_line
from idx_files import md5_table, tiny_gz_files, write_files

import compare.data.download as download
import compare.data.idx as idx
import compare.data.mnist as mnist
import compare.data.mnist_files as mnist_files
from compare import exits, files, pathsafety, preflight, resources, supervise, tempfiles
from compare.data import DataError
from compare.engine.divergence import Diverged, first_nonfinite
from compare.gradcheck.command import main as gradcheck_main
from compare.manifest import MANIFEST
from compare.run import main as run_main_cli
from impl_numpy import LabelError, NetInputError, TwoLayerNet, init_params, numerical_gradient

ROOT = Path(__file__).resolve().parent.parent
HUGE = "1000000000"  # 1e9: a size no machine has the memory for


def one_error_line(err: str) -> str:
    """The single stderr line of a refused command (and that there is only one, with no traceback)."""
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def python(code: str, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args`` from the project root (numpy-free code starts in ~0.1 s)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CEILING_S,
        **kw,  # type: ignore[arg-type]
    )


# Started by root, so that it can run at all: ``nobody`` may not execute this Python, nor read its
# library (here it lies under /root). It becomes ``nobody`` and calls the function; imports alone
# switch back to root (the saved user id) while they read the library, as every user can read an
# ordinary installation's. A fresh interpreter rather than a fork of pytest's, which runs JAX's and
# torch's threads: a fork of a multithreaded process may deadlock in the child.
AS_NOBODY = """
import builtins, importlib, io, json, os, pwd, sys
(module, name), args, kwargs, env = json.loads(sys.argv[1])
call = getattr(importlib.import_module(module), name)
if os.geteuid() == 0:
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setresgid(nobody.pw_gid, nobody.pw_gid, 0)
    os.setresuid(nobody.pw_uid, nobody.pw_uid, 0)
    plain_import = builtins.__import__
    def import_as_root(*args, **kwargs):
        before = os.geteuid()
        os.seteuid(0)
        try:
            return plain_import(*args, **kwargs)
        finally:
            os.seteuid(before)
    builtins.__import__ = import_as_root
os.environ.update(env)
sys.stdout, sys.stderr = printed, err = io.StringIO(), io.StringIO()
try:
    out = {"value": call(*args, **kwargs)}
except BaseException as e:
    out = {"raised": type(e).__name__, "message": str(e)}
out["out"], out["err"] = printed.getvalue(), err.getvalue()
sys.__stdout__.write(json.dumps(out, default=str))
"""


def as_nobody(function: str, *args: object, env: dict[str, str] | None = None, **kwargs: object) -> dict[str, object]:
    """Call ``function`` (``"module:name"``) with JSON-able arguments as the user ``nobody`` (when root).

    The result is ``{"value": ..., "out": stdout, "err": stderr}`` or ``{"raised": name, "message": ..., ...}``.
    """
    request = [function.split(":"), args, kwargs, env or {}]
    done = python(AS_NOBODY, json.dumps(request, default=str))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def nobody_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A world-readable scratch directory that ``nobody`` can reach (pytest's own is private to root)."""
    if os.geteuid() != 0:
        yield tmp_path_factory.mktemp("perm")  # already an ordinary user: permissions apply as they are
        return
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no user 'nobody' to drop privileges to")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="dlfs-reliability-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        import shutil

        for p in [base, *base.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(base)


def private(path: Path) -> Path:
    """``path`` made a root-only directory (mode 0700)."""
    path.mkdir()
    path.chmod(0o700)
    return path


# -- 1. the writer's targets ------------------------------------------------------------------


def test_1_a_device_fifo_or_directory_is_never_replaced(tmp_path: Path) -> None:
    with pytest.raises(pathsafety.OutputError, match="is a device"):
        preflight.check_writable("/dev/null")  # a check only: nothing is written, whatever the result
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target, kind in ((fifo, "FIFO"), (tmp_path, "directory")):
        with pytest.raises(pathsafety.OutputError, match=kind):
            files.write_atomic(target, "report")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # and no temporary file


def test_1_json_to_a_fifo_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A FIFO of our own, not /dev/null: a writer that replaces special files must not be able to
    # damage the machine when this test catches it.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert run_main_cli(["--only", "gradients", "--quiet", "--json", str(fifo)]) == 2
    assert f"{fifo}: it exists and is a FIFO" in one_error_line(capsys.readouterr().err)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_1_a_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    files.write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_1_the_target_keeps_its_mode_and_a_new_file_gets_the_umask(tmp_path: Path) -> None:
    kept = tmp_path / "kept.json"
    kept.write_text("old")
    kept.chmod(0o600)
    files.write_atomic(kept, "new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and kept.read_text() == "new"
    old_mask = os.umask(0o027)
    try:
        files.write_atomic(tmp_path / "fresh.json", "x")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "fresh.json").stat().st_mode) == 0o640


# -- 2. conflicting outputs -------------------------------------------------------------------


def test_2_two_outputs_on_one_file_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = str(tmp_path / "x")
    assert run_main_cli(["--only", "gradients", "--json", same, "--markdown", same]) == 2
    assert "--json and --markdown would both write" in one_error_line(capsys.readouterr().err)
    (tmp_path / "d").mkdir()
    csv_in_dir = str(tmp_path / "d" / "gradients.csv")
    assert run_main_cli(["--only", "gradients", "--json", csv_in_dir, "--csv", str(tmp_path / "d")]) == 2
    assert "--json and --csv would both write" in one_error_line(capsys.readouterr().err)
    # A JSON report beside the CSV files does not clash with them.
    d = tmp_path / "d"
    preflight.check_outputs([preflight.Output("--json", d / "r.json"), preflight.Output("--csv", d, suffix=".csv")])


def test_2_a_symlink_to_the_other_output_is_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    with pytest.raises(pathsafety.OutputError, match="both write"):
        preflight.check_outputs(
            [preflight.Output("--json", tmp_path / "a.json"), preflight.Output("--md", tmp_path / "b.json")]
        )


# -- 4. thread counts -------------------------------------------------------------------------


def test_4_thread_counts_above_the_cores_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    too_many = str((os.cpu_count() or 1) + 1)
    assert run_main_cli(["--threads", too_many]) == 2
    assert "expected at most" in one_error_line(capsys.readouterr().err)
    assert gradcheck_main(["--threads", "50000"]) == 2
    assert "expected at most" in one_error_line(capsys.readouterr().err)
    from compare import bench, teach

    for parse in (bench.parse_args, teach.parse_args):
        with pytest.raises(exits.UsageError, match="expected at most"):
            parse(["--threads", too_many])


# -- 5. permissions ---------------------------------------------------------------------------


def test_5_an_unwritable_or_unreachable_output_is_one_line(nobody_dir: Path) -> None:
    locked = nobody_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)  # readable, not writable
    hidden = private(nobody_dir / "hidden")  # not even reachable: the pre-check itself used to raise
    for target in (locked / "r.json", hidden / "sub" / "r.json"):
        done = as_nobody("compare.run:main", ["--only", "gradients", "--json", str(target)])
        assert done["value"] == 2 and done["out"] == "", done
        assert f"cannot write {target}" in one_error_line(str(done["err"]))


def test_5_unreadable_mnist_files_and_directories_are_one_line(nobody_dir: Path) -> None:
    data = nobody_dir / "mnist"
    data.mkdir()
    data.chmod(0o755)
    write_files(data, tiny_gz_files())
    (data / "t10k-labels-idx1-ubyte.gz").chmod(0o600)  # root's file, in a readable directory
    unreachable = private(nobody_dir / "unreachable")
    for where, verify in ((data, True), (data, False), (unreachable, False)):
        done = as_nobody("compare.data.mnist:load_mnist", str(where), verify=verify)
        assert done["raised"] in ("DataError", "IDXError") and "Permission denied" in str(done["message"]), done


def test_5_a_cache_under_an_unreachable_home_is_one_line(nobody_dir: Path) -> None:
    home = private(nobody_dir / "home")
    env = {"HOME": str(home), "DLFS_CACHE_DIR": "", "XDG_CACHE_HOME": "", "DLFS_MNIST_DIR": ""}
    done = as_nobody("compare.data.mnist:find_mnist_dir", env=env)
    assert done["raised"] == "DataError" and "Permission denied" in str(done["message"]), done


def test_5_downloaded_files_follow_the_umask(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_files(src, tiny_gz_files())
    old_mask = os.umask(0o022)
    try:
        dest = mnist_files.download_mnist(tmp_path / "dest", [src.as_uri() + "/"], checksums=md5_table(tiny_gz_files()))
    finally:
        os.umask(old_mask)
    assert {stat.S_IMODE(p.stat().st_mode) for p in dest.iterdir()} == {0o644}


def test_5_an_os_error_in_a_command_is_exit_2_naming_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    def main() -> int:
        raise PermissionError(13, "Permission denied", "/some/where/file.json")

    assert supervise.run_main(main) == 2
    assert one_error_line(capsys.readouterr().err) == "error: cannot access /some/where/file.json: Permission denied\n"


# -- 6. memory --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["--hidden-size", HUGE], ["--batch-size", HUGE], ["--iters", "1000000000000"]],
)
def test_6_runs_larger_than_memory_are_refused_before_work(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main_cli(argv) == 2
    assert "of memory, more than the" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["--sizes", "100000,100000,10"], ["--batch", HUGE]])
def test_6_checks_larger_than_memory_are_refused_before_work(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert gradcheck_main(argv) == 2
    assert "of memory, more than the" in one_error_line(capsys.readouterr().err)


def test_6_the_book_defaults_fit_and_out_of_memory_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    from compare.config import RunConfig, memory_estimate

    available = resources.available_memory()
    assert available is not None and memory_estimate(RunConfig())[0] < available

    def main() -> int:
        raise MemoryError

    assert supervise.run_main(main) == 3
    assert one_error_line(capsys.readouterr().err).startswith("error: internal error: out of memory")


# -- 7. odd paths -----------------------------------------------------------------------------


def test_7_a_name_over_the_limit_and_an_unknown_user_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_main_cli(["--json", str(tmp_path / ("a" * 300))]) == 2
    assert "file name too long" in one_error_line(capsys.readouterr().err)
    assert run_main_cli(["--dataset", "mnist", "--data-dir", "~nosuchuser/x"]) == 2
    assert "no such user 'nosuchuser'" in one_error_line(capsys.readouterr().err)
    monkeypatch.setenv(mnist_files.ENV_VAR, "~nosuchuser/x")
    with pytest.raises(DataError, match="nosuchuser"):
        mnist_files.find_mnist_dir()


# -- 8. an early Ctrl-C -----------------------------------------------------------------------

# The command's modules load as `python -m compare.run` loads them; SIGINT arrives while it parses
# its options, before run_main has started. The child sends it to itself, so that it arrives at a
# known point, and first prints what it arrives to: the handler in place and whether run_main runs.
EARLY_SIGINT = (
    TERMINAL_SIGINT
    + """
import argparse, os, runpy, signal, sys
parse = argparse.ArgumentParser.parse_args
def interrupted(self, *args, **kwargs):
    handler = signal.getsignal(signal.SIGINT)
    frames, frame = [], sys._getframe()
    while frame is not None:
        frames.append((frame.f_code.co_name, frame.f_globals.get("__name__")))
        frame = frame.f_back
    running = ("run_main", "compare.supervise") in frames
    print(getattr(handler, "__module__", None), "in run_main" if running else "before run_main", flush=True)
    os.kill(os.getpid(), signal.SIGINT)
    return parse(self, *args, **kwargs)
argparse.ArgumentParser.parse_args = interrupted
sys.argv = ["compare.run", "--only", "gradients"]
runpy.run_module("compare.run", run_name="__main__", alter_sys=True)
"""
)


def test_8_ctrl_c_before_the_run_starts_is_one_line() -> None:
    done = python(EARLY_SIGINT)
    # The signal met the command's own handler, before run_main (else this tests another path).
    assert done.stdout == "compare.signals before run_main\n", done.stdout + done.stderr
    assert done.returncode == 130 and done.stderr == "error: interrupted\n", done.stderr


# -- 9. divergence ----------------------------------------------------------------------------


def test_9_the_first_non_finite_loss_is_found() -> None:
    assert first_nonfinite(np.array([2.3, 1.9, 1.5])) is None
    assert first_nonfinite([2.3, np.inf, np.nan]) == 1
    assert first_nonfinite([np.nan]) == 0
    assert first_nonfinite([]) is None


def test_9_divergence_is_exit_3_with_step_loss_and_method(capsys: pytest.CaptureFixture[str]) -> None:
    losses = np.array([2.3, 5.0e200, np.inf, np.nan])  # what --lr 1e300 produces

    def main() -> int:
        step = first_nonfinite(losses)
        assert step is not None
        raise Diverged("backprop", step, float(losses[step]))

    assert supervise.run_main(main) == 3
    assert one_error_line(capsys.readouterr().err) == "error: training diverged at step 2 (loss inf) for backprop\n"
    assert isinstance(Diverged("m", 0, np.nan), RuntimeError)


@pytest.mark.parametrize(
    "args",
    [
        ["--lr", "1e300"],  # the numerical run blows up first (1e299: finite, 100× the first loss)
        ["--lr", "1e300", "--numerical-iters", "0", "--fast-numerical-iters", "0"],  # backprop overflows to inf
        ["--activation", "relu", "--lr", "100"],  # a finite blow-up: 2.3 to ~2,000 in two steps
    ],
    ids=["blow-up", "overflow", "relu-blow-up"],
)
def test_9_a_diverging_run_exits_3_without_claiming_agreement(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    small = ["--only", "gradients,trajectory", "--iters", "100", "--hidden-size", "10", "--threads", "1"]
    with warnings.catch_warnings(record=True) as caught:  # numpy's overflow warnings would print lines
        warnings.simplefilter("always")
        assert run_main_cli([*small, "--no-progress", "--no-jax", *args]) == 3
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    out, err = capsys.readouterr()
    assert one_error_line(err).startswith("error: training diverged at step ")
    assert "compute the same gradient" not in out  # no summary claims what was not measured


def test_9_other_failures_are_exit_3_internal_errors_and_bad_data_stays_2(capsys: pytest.CaptureFixture[str]) -> None:
    def main() -> int:
        raise ZeroDivisionError("division by zero")

    assert supervise.run_main(main) == 3
    assert one_error_line(capsys.readouterr().err) == "error: internal error: ZeroDivisionError: division by zero\n"

    def bad_data() -> int:
        raise DataError("MNIST directory /x does not exist")

    assert supervise.run_main(bad_data) == 2
    assert one_error_line(capsys.readouterr().err) == "error: MNIST directory /x does not exist\n"


# -- 10. a long but valid name ----------------------------------------------------------------


def test_10_a_250_byte_name_is_written(tmp_path: Path) -> None:
    target = tmp_path / ("r" * 245 + ".json")  # 250 bytes: valid, but ".name.<random>.tmp" is not
    preflight.check_writable(target)
    files.write_atomic(target, "{}")
    files.write_atomic(target, "{}\n")  # and replaced
    assert [p.name for p in tmp_path.iterdir()] == [target.name] and target.read_text() == "{}\n"


# -- 11. a full disk --------------------------------------------------------------------------

# Files may grow to 64 KB: the write fails with EFBIG, as a full disk fails with ENOSPC. The child
# sets its own limit (no preexec_fn: that would run Python in a fork of this multithreaded process).
WRITE_BIG = """
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
from compare.files import write_atomic
write_atomic(sys.argv[1], 'x' * 200_000)
"""


def test_11_a_write_that_does_not_fit_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "second.md"
    target.write_text("old report")
    done = python(WRITE_BIG, str(target))
    assert done.returncode != 0 and f"OutputError: cannot write {target}: File too large" in done.stderr
    assert target.read_text() == "old report" and [p.name for p in tmp_path.iterdir()] == ["second.md"]


# -- 12. SIGTERM ------------------------------------------------------------------------------

WRITE_FOREVER = (
    TERMINAL_SIGINT
    + """
import sys
from compare.supervise import run_main
from compare.files import write_atomic
def main():
    print("writing", flush=True)
    while True:
        write_atomic(sys.argv[1], "x" * 300_000)
sys.exit(run_main(main))
"""
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_12_a_signal_while_writing_is_130_with_no_temporary_file(tmp_path: Path, sig: int) -> None:
    target = tmp_path / "out.json"
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITE_FOREVER, str(target)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert read_line(proc) == "writing\n"  # run_main's handler is in place: the loop has started
        proc.send_signal(sig)  # lands inside the write loop
        _, err = proc.communicate(timeout=CEILING_S)
        assert proc.returncode == 130 and err == "error: interrupted\n", err
        assert [p.name for p in tmp_path.iterdir()] in ([], ["out.json"])
        assert not target.exists() or target.read_text() == "x" * 300_000


def dead_pid() -> int:
    """The pid of a process that has exited."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=CEILING_S
    )
    return int(gone.stdout)


def test_12_stale_temporary_files_of_killed_runs_are_removed(tmp_path: Path) -> None:
    dead = dead_pid()
    target = tmp_path / "out.json"
    stale = tmp_path / f"{tempfiles.temp_prefix(target)}{dead}.0badc0de.tmp"
    held = tmp_path / f"{tempfiles.temp_prefix(target)}{dead}.00c0ffee.tmp"  # locked: another host's live write
    live = tmp_path / f"{tempfiles.temp_prefix(target)}{os.getppid()}.0000beef.tmp"  # a process that still runs
    foreign = tmp_path / ".out.json.user-notes.tmp"  # not our pattern
    for p in (stale, held, live, foreign):
        p.write_text("partial")
    with open(held, "rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        files.write_atomic(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (target, held, live, foreign))


class _Stall(BaseHTTPRequestHandler):
    """Sends the first half of a file, then waits until the test releases it (a subclass per test sets the fields)."""

    body = b""
    started: threading.Event  # set once half the file is sent
    release: threading.Event  # set by the test when it is done

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2])
        self.wfile.flush()
        self.started.set()
        self.release.wait(CEILING_S)

    def log_message(self, *args: object) -> None:
        pass


DOWNLOAD = """
import sys
from compare.supervise import run_main
from compare.data.download import fetch_verified
sys.exit(run_main(lambda: fetch_verified("f.gz", "0" * 32, [sys.argv[1]], __import__("pathlib").Path(sys.argv[2]))))
"""


def test_12_sigterm_during_a_download_removes_the_part_file(tmp_path: Path) -> None:
    stall = type("Stall", (_Stall,), {"body": os.urandom(1 << 20), "started": threading.Event()})
    stall.release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), stall)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        proc = subprocess.Popen([sys.executable, "-c", DOWNLOAD, url, str(tmp_path)], cwd=ROOT, stderr=subprocess.PIPE)
        assert stall.started.wait(CEILING_S), "the download never started"
        assert any(p.suffix == ".part" for p in tmp_path.iterdir())  # mid-transfer (made before the request)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=CEILING_S)
    finally:
        stall.release.set()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 130 and err == b"error: interrupted\n", err
    assert list(tmp_path.iterdir()) == []


def test_12_a_stale_part_file_is_removed_by_the_next_download(tmp_path: Path) -> None:
    src = tmp_path / "src"
    tiny = tiny_gz_files()
    write_files(src, tiny)
    dest = tmp_path / "dest"
    dest.mkdir()
    name = next(iter(tiny))
    stale = dest / f"{tempfiles.temp_prefix(dest / name)}{dead_pid()}.0badc0de.part"
    stale.write_bytes(b"2.4 MB of an interrupted download")
    os.utime(stale, (1e9, 1e9))
    download.fetch_verified(name, md5_table(tiny)[name], [src.as_uri() + "/"], dest)
    assert [p.name for p in dest.iterdir()] == [name]


# -- 13. messages -----------------------------------------------------------------------------


def test_13_a_file_as_the_mnist_directory_is_not_a_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(mnist_files.ENV_VAR, "/etc/passwd")
    monkeypatch.setenv("DLFS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError) as caught:
        mnist_files.find_mnist_dir()
    message = str(caught.value)
    assert "/etc/passwd (is not a directory)" in message and "into /etc/passwd" not in message
    with pytest.raises(DataError, match="is not a directory"):
        mnist_files.find_mnist_dir("/etc/passwd", download=True, mirrors=["file:///nonexistent/"])


def test_13_empty_paths_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main_cli(["--dataset", "mnist", "--data-dir", ""]) == 2
    assert "must not be empty" in one_error_line(capsys.readouterr().err)
    assert gradcheck_main(["--json", ""]) == 2
    assert "must not be empty" in one_error_line(capsys.readouterr().err)


def test_13_help_lists_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    from compare.config import build_parser

    text = " ".join(build_parser().format_help().split())  # argparse wraps the lines
    assert "Exit status: 0" in text and "3 the run could not complete" in text and "130 interrupted" in text


# -- 14. impl_numpy API gaps ------------------------------------------------------------------


def test_14_nan_init_std_zero_step_negative_seed_and_label_are_refused() -> None:
    with pytest.raises(NetInputError, match="weight_init_std"):
        TwoLayerNet(4, 3, 2, weight_init_std=float("nan"))
    with pytest.raises(NetInputError, match="seed"):
        init_params(4, 3, 2, seed=-1)
    x = np.array([0.5, -0.25])
    with pytest.raises(NetInputError, match="step h"):
        numerical_gradient(lambda w: float(np.sum(w**2)), x, h=0.0)
    net = TwoLayerNet(4, 3, 2)
    with pytest.raises(NetInputError, match="step h"):
        net.numerical_gradient_fast(np.ones((1, 4)), np.array([0]), h=float("inf"))
    with pytest.raises(LabelError):
        net.train_step(np.ones((2, 4)), np.array([0, -1]), 0.1)


# -- 15. downloads and output directories ------------------------------------------------------


def test_15_a_download_over_its_size_cap_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    junk = os.urandom(40_000)  # train-labels is 28,881 bytes: a mirror sending more is cut off
    (src / "train-labels-idx1-ubyte.gz").write_bytes(junk)
    md5 = {"train-labels-idx1-ubyte.gz": hashlib.md5(junk).hexdigest()}  # even with a matching checksum
    with pytest.raises(DataError, match="allowed"):
        mnist_files.download_mnist(tmp_path / "dest", [src.as_uri() + "/"], checksums=md5)
    assert not (tmp_path / "dest").exists()  # 15: nor an empty directory left behind


def test_15_a_gzip_bomb_is_stopped_while_it_inflates(tmp_path: Path) -> None:
    write_files(tmp_path, tiny_gz_files())
    labels = b"\x00\x00\x08\x01" + (4_000_000).to_bytes(4, "big") + bytes(4_000_000)  # 4 MB of labels
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(idx.IDXError, match="inflates to more than"):
        mnist.read_mnist_dir(tmp_path)


def test_15_the_bounded_gunzip_reads_every_member() -> None:
    data = b"\x00\x00\x08\x01\x00\x00\x00\x03" + bytes([1, 2, 3])
    two_members = gzip.compress(data[:5]) + gzip.compress(data[5:])
    assert idx.parse_idx(two_members, idx.LABEL_MAGIC, max_bytes=len(data)).tolist() == [1, 2, 3]
    with pytest.raises(idx.IDXError, match="inflates"):
        idx.parse_idx(two_members, idx.LABEL_MAGIC, max_bytes=len(data) - 1)
    with pytest.raises(idx.IDXError, match="truncated gzip"):
        idx.parse_idx(two_members[:-12], idx.LABEL_MAGIC, max_bytes=100)
    assert zlib  # (zlib errors are IDXError too; see test_idx.py)


def test_15_a_failed_download_is_one_error_and_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    mirrors = [(tmp_path / "m1").as_uri() + "/", (tmp_path / "m2").as_uri() + "/"]
    with pytest.raises(DataError) as caught:
        mnist_files.find_mnist_dir(tmp_path / "a" / "b", download=True, mirrors=mirrors)
    assert "every mirror failed" in str(caught.value) and caplog.records == []
    assert list(tmp_path.iterdir()) == []  # no empty a/b left behind


def test_15_an_output_directory_is_made_only_for_files_and_keeps_no_stale_ones(tmp_path: Path) -> None:
    from compare.report import plots

    no_charts = SimpleNamespace(scaling=None, lesson=None, trajectory=None)  # a report with no chart's section
    assert plots.write_plots(no_charts, tmp_path / "plots") == []
    assert not (tmp_path / "plots").exists()
    owned = ("gradients.csv", "trajectory.csv")
    files.write_files(tmp_path / "csv", {"gradients.csv": "a", "trajectory.csv": "b"}, owned)
    (tmp_path / "csv" / "mine.csv").write_text("the user's")
    files.write_files(tmp_path / "csv", {"gradients.csv": "c"}, owned)
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [MANIFEST, "gradients.csv", "mine.csv"]


def test_15_control_characters_in_paths_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main_cli(["--json", str(tmp_path / "a\x1b[31mb" / "r.json")]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "\x1b" not in err and "a\\x1b[31mb" in err


SWALLOWED = """
import os, signal, sys
from compare import supervise


class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises inside __del__: Python ignores it


def main():
    Finalized()  # dropped at once: __del__ runs here
    return 0


sys.exit(supervise.run_main(main))
"""


def test_12_an_interrupt_swallowed_by_a_finalizer_still_ends_in_130() -> None:
    """JAX's gc callback once swallowed the KeyboardInterrupt of a SIGTERM: the run went on and exited 0."""
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWED], cwd=root, capture_output=True, text=True, timeout=CEILING_S
    )
    assert done.returncode == 130
    assert done.stderr == "error: interrupted\n"  # one line: no "Exception ignored in ..." traceback
