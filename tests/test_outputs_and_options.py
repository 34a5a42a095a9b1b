"""Nothing the user owns is lost, and every bad option is one line before any work.

Run: ``python -m pytest tests/test_outputs_and_options.py``.

1. An output that is one of the run's inputs (the ``--impl`` file and the local modules it
   imports, the saved report shown or rendered, the MNIST files read), directly or through a
   link, is refused before any work.
2. Output folders lose only files a run wrote there and nobody changed since (the manifest), and
   a file there that is not such a file is refused before any work; a file output naming a folder
   is refused; a saved report whose verdict contradicts its rows is refused.
3. Every file a ``--csv``/``--plot`` folder will hold is checked before any work.
4. Rank counts beyond what the usable CPUs carry, and ``--fsdp``/``--ddp-weighting`` without
   ``--ddp``, are refused before any process starts.
5. ``--threads`` is compared with the CPUs this process may use (its affinity), not the machine's.
6. An interrupt is one line and exit 130, also when it surfaces as an ImportError; a temporary
   file of a writer killed with SIGKILL is removed by the next run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from children import CEILING_S, TERMINAL_SIGINT
from idx_files import tiny_gz_files, write_files

from compare import bench, exits, files, harness, resources, supervise, teach, tempfiles
from compare.gradcheck import command as gradcheck_cli
from compare.manifest import MANIFEST, read_manifest
from compare.report import plots
from compare.report.__main__ import main as report_main
from compare.run import main as run_main
from compare.run import parse_args

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--hidden-size", "5", "--threads", "1", "--no-jax", "--quiet", "--no-progress"]
GRADIENTS = ["--only", "gradients", "--numerical-iters", "0", "--fast-numerical-iters", "0", *FAST]
MINE = """
class Net:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {}

    def loss(self, x, t):
        return 0.0
"""


def one_error_line(err: str) -> str:
    """The single stderr line of a refused command (and that there is only one, with no traceback)."""
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any run of the harness or any process started fails the test: the refusal must come first."""
    monkeypatch.setattr(harness, "run", lambda *a, **k: pytest.fail("the run started"))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a process was started"))


@pytest.fixture
def mine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mine.py"
    path.write_text(MINE)
    return path


@pytest.fixture(scope="module")
def saved_once(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A saved report of the gradient and lesson sections (the lesson draws a chart)."""
    path = tmp_path_factory.mktemp("saved") / "run.json"
    args = ["--only", "gradients,lesson", "--numerical-iters", "0", "--fast-numerical-iters", "0", *FAST]
    assert run_main([*args, "--json", str(path)]) == 0
    return path.read_bytes()


@pytest.fixture
def saved_run(saved_once: bytes, tmp_path: Path) -> Path:
    """A fresh copy of the saved report for each test (a test that overwrites it spoils no other)."""
    path = tmp_path / "run.json"
    path.write_bytes(saved_once)
    return path


# -- 1. no output over an input ------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_run_refuses_to_write_over_its_impl_file(option, mine, no_work, capsys) -> None:
    assert run_main(["--impl", "mine.py:Net", option, "mine.py", *GRADIENTS]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert f"{option} mine.py would overwrite the --impl file mine.py" in err
    assert mine.read_text() == MINE


@pytest.mark.parametrize("link", ["symlink_to", "hardlink_to"])
def test_a_link_to_the_impl_file_is_the_impl_file(link, mine, no_work, capsys) -> None:
    getattr(Path("alias.json"), link)(mine)
    assert run_main(["--impl", f"{mine}:Net", "--json", "alias.json", *GRADIENTS]) == 2
    assert "--json alias.json would overwrite the --impl file" in one_error_line(capsys.readouterr().err)
    assert mine.read_text() == MINE


def test_a_module_spec_protects_the_module_file(mine, no_work, capsys, monkeypatch) -> None:
    package = Path("userpkg")
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('imported before the check')\n")
    (package / "net.py").write_text(MINE)
    monkeypatch.syspath_prepend(str(mine.parent))
    assert run_main(["--impl", "userpkg.net:Net", "--json", "userpkg/net.py", *GRADIENTS]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert f"the --impl file {package.resolve() / 'net.py'}" in err
    assert (package / "net.py").read_text() == MINE


def test_a_csv_file_linked_to_the_impl_file_is_refused(mine, no_work, capsys) -> None:
    Path("c").mkdir()
    Path("c/gradients.csv").symlink_to(mine)
    assert run_main(["--impl", "mine.py:Net", "--csv", "c", *GRADIENTS]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "c/gradients.csv (in --csv c) would overwrite the --impl file mine.py" in err
    assert mine.read_text() == MINE


def test_gradcheck_refuses_to_write_over_its_impl_file(mine, capsys, monkeypatch) -> None:
    monkeypatch.setattr(gradcheck_cli, "run", lambda *a, **k: pytest.fail("the check started"))
    small = ["--sizes", "4,3,2", "--batch", "4", "--mode", "fast"]
    assert gradcheck_cli.main(["--impl", "mine.py:Net", "--json", "mine.py", *small]) == 2
    assert "--json mine.py would overwrite the --impl file mine.py" in one_error_line(capsys.readouterr().err)
    assert mine.read_text() == MINE


HELPER_USER = """
import os
import sys

sys.path.append(os.pardir)
from common.layers import *  # noqa: F403
"""


@pytest.mark.parametrize("command", ["run", "gradcheck"])
def test_a_module_the_impl_file_imports_is_an_input(command, tmp_path, no_work, capsys, monkeypatch) -> None:
    """The book's layout: ch05/net.py reaches common/layers.py through '..'; neither command writes over it."""
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "layers.py").write_text("from common.functions import softmax\n")
    (tmp_path / "common" / "functions.py").write_text("def softmax(x):\n    return x\n")
    (tmp_path / "ch05").mkdir()
    (tmp_path / "ch05" / "net.py").write_text(HELPER_USER + MINE)
    monkeypatch.chdir(tmp_path / "ch05")
    monkeypatch.setattr(gradcheck_cli, "run", lambda *a, **k: pytest.fail("the check started"))
    for helper in ("../common/layers.py", "../common/functions.py"):
        if command == "run":
            status = run_main(["--impl", "net.py:Net", "--json", helper, *GRADIENTS])
        else:
            status = gradcheck_cli.main(["--impl", "net.py:Net", "--json", helper, "--sizes", "4,3,2", "--batch", "4"])
        assert status == 2
        err = one_error_line(capsys.readouterr().err)
        assert f"--json {helper} would overwrite a module the --impl file imports" in err
    assert (tmp_path / "common" / "layers.py").read_text() == "from common.functions import softmax\n"


@pytest.mark.parametrize("path", ["out/", ".", "user.txt/.", "user.txt/..", "user.txt//"])
def test_a_file_output_naming_a_folder_is_refused(path, tmp_path, no_work, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "user.txt").write_text("mine")
    assert run_main(["--json", path, *GRADIENTS]) == 2
    assert "it names a folder" in one_error_line(capsys.readouterr().err)
    assert gradcheck_cli.main(["--json", path, "--sizes", "4,3,2", "--batch", "4"]) == 2
    assert "it names a folder" in one_error_line(capsys.readouterr().err)
    assert teach.main(["--doc", path, "--from", "saved.json"]) == 2
    assert (tmp_path / "user.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["user.txt"]


def test_two_outputs_on_one_file_through_a_hard_link_are_refused(tmp_path, no_work, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.json").write_text("mine")
    os.link(tmp_path / "a.json", tmp_path / "b.md")
    assert run_main(["--json", "a.json", "--markdown", "b.md", *GRADIENTS]) == 2
    assert "would both write" in one_error_line(capsys.readouterr().err)


def test_an_empty_from_path_is_bad_usage_not_a_fresh_run(no_work, capsys) -> None:
    assert teach.main(["--from", ""]) == 2
    assert "must not be empty" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("reference", ["central", "richardson"])
def test_a_step_whose_error_bound_overflows_is_bad_usage(reference, capsys) -> None:
    assert gradcheck_cli.main(["--eps", "1e300", "--reference", reference, "--sizes", "4,3,2", "--batch", "4"]) == 2
    assert "is unusable" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("how", ["not written by a run", "changed since a run wrote it"])
def test_a_folder_output_never_replaces_a_users_file(how, mine, capsys, monkeypatch) -> None:
    """gradients.csv in the --csv folder: the user's own, or a run's edited since, is refused before any work."""
    if how == "not written by a run":
        Path("c").mkdir()
        Path("c/gradients.csv").write_text("my notes\n")
    else:
        assert run_main(["--csv", "c", *GRADIENTS]) == 0
        Path("c/gradients.csv").write_text(Path("c/gradients.csv").read_text() + "my notes\n")
    before = Path("c/gradients.csv").read_text()
    monkeypatch.setattr(harness, "run", lambda *a, **k: pytest.fail("the run started"))
    assert run_main(["--csv", "c", *GRADIENTS]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "would replace c/gradients.csv, which" in err and how in err
    assert Path("c/gradients.csv").read_text() == before


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda d: d["gradients"]["rows"][0].update(ok=False),
            "gradients.ok: true, but 1 of its rows is not ok",
        ),
        (
            lambda d: (d["gradients"]["rows"][0].update(ok=False), d["gradients"].update(ok=False)),
            "ok: true, but the report holds 1 row",
        ),
        (lambda d: d.update(ok=False), "ok: false, but the report holds no failure"),
    ],
    ids=["row", "row and section", "verdict"],
)
def test_a_report_whose_verdict_contradicts_its_rows_is_refused(saved_run, edit, words, capsys) -> None:
    doc = json.loads(saved_run.read_text())
    assert doc["ok"] is True
    edit(doc)
    saved_run.write_text(json.dumps(doc))
    assert report_main(["show", str(saved_run)]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert words in err and "the file was changed after the run" in err
    assert teach.main(["--from", str(saved_run), "--doc", str(saved_run.with_suffix(".md"))]) == 2
    assert words in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("through_link", [False, True])
def test_report_show_refuses_to_write_over_the_report(saved_run, tmp_path, through_link, capsys) -> None:
    before = saved_run.read_bytes()
    target = saved_run
    if through_link:
        target = tmp_path / "link.md"
        target.symlink_to(saved_run)
    assert report_main(["show", str(saved_run), "--markdown", str(target)]) == 2
    out, err = capsys.readouterr()
    assert f"would overwrite the saved report {saved_run}" in one_error_line(err) and out == ""
    assert saved_run.read_bytes() == before


def test_teach_refuses_to_write_the_page_over_its_source(saved_run, capsys) -> None:
    before = saved_run.read_bytes()
    assert teach.main(["--from", str(saved_run), "--doc", str(saved_run), "--no-progress"]) == 2
    assert f"would overwrite the --from report {saved_run}" in one_error_line(capsys.readouterr().err)
    assert saved_run.read_bytes() == before


@pytest.mark.parametrize("through_env", [False, True])
def test_a_json_over_an_mnist_file_is_refused(tmp_path, monkeypatch, no_work, capsys, through_env) -> None:
    data = tmp_path / "D"
    write_files(data, tiny_gz_files())
    target = data / "train-images-idx3-ubyte.gz"
    before = target.read_bytes()
    where = ["--data-dir", str(data)]
    if through_env:
        monkeypatch.setenv("DLFS_MNIST_DIR", str(data))
        where = []
    assert run_main(["--dataset", "mnist", *where, "--json", str(target), *GRADIENTS]) == 2
    assert f"would overwrite the MNIST file {target}" in one_error_line(capsys.readouterr().err)
    assert target.read_bytes() == before


# -- 2. output folders lose only what a run wrote ----------------------------------------------


def test_a_users_own_csv_file_is_kept(mine, capsys) -> None:
    Path("c").mkdir()
    Path("c/timing.csv").write_text("my own timings\n")
    assert run_main(["--csv", "c", *GRADIENTS]) == 0
    assert Path("c/timing.csv").read_text() == "my own timings\n"
    manifest = json.loads(Path("c", MANIFEST).read_text())  # plain JSON
    assert list(manifest["files"]) == ["gradients.csv"]


def test_only_unchanged_files_of_an_earlier_run_are_removed(tmp_path) -> None:
    folder, owned = tmp_path / "c", ("gradients.csv", "timing.csv", "lesson.csv")
    files.write_files(folder, {"gradients.csv": "g1", "timing.csv": "t1", "lesson.csv": "l1"}, owned)
    (folder / "lesson.csv").write_text("l1, annotated by hand")
    files.write_files(folder, {"gradients.csv": "g2"}, owned)
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "gradients.csv", "lesson.csv"]
    assert (folder / "lesson.csv").read_text() == "l1, annotated by hand"  # changed since: the user's now
    assert list(read_manifest(folder)) == ["gradients.csv"]


def test_a_manifest_entry_of_another_writer_is_kept(tmp_path) -> None:
    """``--csv D --plot D``: the chart writer keeps the CSV writer's entries, so they stay removable."""
    files.write_files(tmp_path, {"gradients.csv": "g"}, ("gradients.csv", "timing.csv"))
    files.write_files(tmp_path, {"lesson.png": b"png"}, ("lesson.png", "scaling.png"))
    assert sorted(read_manifest(tmp_path)) == ["gradients.csv", "lesson.png"]


@pytest.mark.skipif(not plots.available(), reason="matplotlib is not installed (the plot extra)")
def test_a_users_scaling_chart_is_kept_by_plot_and_by_the_teaching_page(saved_run, tmp_path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "scaling.png").write_bytes(b"my chart")
    assert report_main(["show", str(saved_run), "--plot", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "scaling.png").read_bytes() == b"my chart"
    assert (tmp_path / "p" / "lesson.png").exists()
    charts = tmp_path / "page"  # the page's chart folder: page.md -> page/
    charts.mkdir()
    (charts / "scaling.png").write_bytes(b"my chart")
    assert teach.main(["--from", str(saved_run), "--doc", str(tmp_path / "page.md"), "--no-progress"]) == 0
    assert (charts / "scaling.png").read_bytes() == b"my chart" and (charts / "lesson.png").exists()


# -- 3. every file of an output folder checked before the work ---------------------------------


@pytest.mark.parametrize(("option", "name"), [("--csv", "gradients.csv"), ("--plot", "losses.png")])
def test_a_folder_where_an_output_file_goes_is_refused_first(tmp_path, no_work, capsys, option, name) -> None:
    (tmp_path / "c" / name).mkdir(parents=True)
    only = ["--only", "gradients,trajectory", "--iters", "5", *GRADIENTS[2:]]
    assert run_main([*only, "--json", str(tmp_path / "r.json"), option, str(tmp_path / "c")]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert f"cannot write {tmp_path / 'c' / name} (in {option}" in err and "is a directory" in err
    assert not (tmp_path / "r.json").exists()


# -- 4. rank counts and distributed options ----------------------------------------------------


def too_many() -> str:
    """One rank more than the usable CPUs carry."""
    return str(resources.RANKS_PER_CPU * resources.usable_cpus() + 1)


@pytest.mark.parametrize("option", ["--ranks", "--ddp"])
def test_run_refuses_more_ranks_than_the_cpus_carry(option, no_work, capsys) -> None:
    n = too_many()
    assert run_main([option, n, *GRADIENTS]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert f"{option} {n} would start {n} processes" in err and "CPU(s) this process may use" in err


def test_gradcheck_and_bench_refuse_more_ranks_than_the_cpus_carry(no_work, capsys) -> None:
    n = too_many()
    assert gradcheck_cli.main(["--ranks", n, "--sizes", "4,3,2", "--batch", "4", "--impl", "numpy"]) == 2
    assert f"--ranks {n} would start" in one_error_line(capsys.readouterr().err)
    with pytest.raises(exits.UsageError, match=f"--ranks {n} would start"):
        bench.parse_args(["--ranks", n])


def test_as_many_ranks_as_the_cpus_carry_are_accepted() -> None:
    most = str(resources.RANKS_PER_CPU * resources.usable_cpus())
    assert parse_args(["--ranks", most, "--ddp", most]).ddp == int(most)
    assert bench.parse_args(["--ranks", str(max(2, int(most)))]).ranks == max(2, int(most))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fsdp"], "error: --fsdp applies to --ddp N only"),
        (["--ddp-weighting", "batch"], "error: --ddp-weighting applies to --ddp N only"),
        (["--ddp-weighting", "ddp", "--fsdp"], "error: --fsdp and --ddp-weighting apply to --ddp N only"),
    ],
)
def test_ddp_options_without_ddp_are_refused(options, message) -> None:
    with pytest.raises(exits.UsageError) as caught:
        parse_args(options)
    assert f"error: {caught.value}".startswith(message)
    assert parse_args([*options, "--ddp", "2"]).ddp == 2


# -- 5. threads against the CPUs this process may use ------------------------------------------

PARSE_UNDER_ONE_CPU = """
import os, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # as taskset -c N does
from compare import bench, teach
from compare.config import RunConfig
from compare.run import parse_args
from compare.gradcheck.command_options import parse_args as gradcheck_args
for parse in (parse_args, gradcheck_args, bench.parse_args, teach.parse_args):
    try:
        parse(["--threads", "2"])
        print("accepted")
    except Exception as e:
        print(e)
print("default", RunConfig().threads)
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_threads_are_compared_with_the_cpus_this_process_may_use() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PARSE_UNDER_ONE_CPU], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 5, done.stderr
    for line in lines[:4]:
        assert "expected at most 1 (the CPUs this process may use" in line, line
    assert lines[4] == "default 1"


@pytest.mark.skipif(resources.usable_cpus() < 2, reason="one CPU: a BLAS starts with one thread anyway")
def test_the_thread_count_holds_for_a_blas_loaded_before_it_was_set() -> None:
    """The parser reads the framework registry, which loads numpy: its BLAS is still held to --threads 1.

    With no thread variable in the environment a BLAS starts one thread per CPU, so a count that
    were only written to the environment after numpy loaded would show here as 2 or more.
    """
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS") and k != "VECLIB_MAXIMUM_THREADS"}
    args = ["--threads", "1", "--only", "gradients", "--hidden-size", "5", "--no-jax", "--quiet", "--json", "-"]
    done = subprocess.run(
        [sys.executable, "-m", "compare.run", *args], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pools = json.loads(done.stdout)["env"]["numpy_threads"]  # "openblas 1", as threadpoolctl reports it
    assert pools.split()[-1] == "1", pools


# -- 6. interrupts and killed writers ----------------------------------------------------------


# As from a terminal (TERMINAL_SIGINT): a run started in the background of a non-interactive shell
# inherits SIGINT ignored, and the command then rightly leaves it ignored (as it does under nohup).
INTERRUPTED_CHECK = (
    TERMINAL_SIGINT
    + """
import signal, sys
from compare.gradcheck import command as cli

def interrupted(*args, **kwargs):
    signal.raise_signal(signal.SIGINT)
    print("the signal did not interrupt", file=sys.stderr)
    return 0

cli.run = interrupted
sys.exit(cli.main(["--sizes", "4,3,2", "--batch", "4", "--impl", "numpy"]))
"""
)


def test_gradcheck_interrupted_says_so_once() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_CHECK], env=env, capture_output=True, text=True, timeout=CEILING_S
    )
    assert done.returncode == 130 and done.stderr == "error: interrupted\n", (done.returncode, done.stderr)


SLOW_EXTENSION = """
import signal
try:  # a C extension's initialisation: whatever goes wrong becomes an ImportError
    signal.raise_signal(signal.SIGTERM)
except BaseException:
    raise ImportError("initialization failed")
"""


def test_a_signal_while_a_module_loads_is_an_interrupt(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "slow_extension.py").write_text(SLOW_EXTENSION)
    monkeypatch.syspath_prepend(str(tmp_path))

    def load() -> int:
        __import__("slow_extension")
        return 0

    assert supervise.run_main(load) == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_an_import_error_without_a_signal_stays_an_internal_error(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "broken_extension.py").write_text("raise ImportError('initialization failed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert supervise.run_main(lambda: __import__("broken_extension")) == 3
    assert capsys.readouterr().err == "error: internal error: ImportError: initialization failed\n"


STALLED_WRITER = """
import os, sys
from compare import files

def stall(fd):  # the data is in the temporary file, not yet moved into place
    print("written", flush=True)
    sys.stdin.read()  # until killed

files.os.fsync = stall
files.write_atomic(sys.argv[1], "x" * 100_000)
"""


def test_a_temporary_file_of_a_killed_writer_is_removed_by_the_next_run(tmp_path) -> None:
    target = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen(
        [sys.executable, "-c", STALLED_WRITER, str(target)],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "written\n"
    finally:
        writer.kill()  # SIGKILL: no cleanup runs
        writer.wait(timeout=60)
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(tempfiles.temp_prefix(target)) and left.name.endswith(".tmp")
    check = ["--sizes", "4,3,2", "--batch", "4", "--mode", "fast", "--impl", "numpy", "--quiet", "--json", str(target)]
    done = subprocess.run(
        [sys.executable, "-m", "compare.gradcheck", *check], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_temporary_file_being_written_is_kept(tmp_path) -> None:
    """A leftover is recognised by its lock, not by its age: a live writer's file is never removed."""
    target = tmp_path / "r.json"
    fd, live = tempfiles.create_temp(target)
    try:
        assert tempfiles.clean_stale(target) == []  # this process: alive
        os.rename(live, live.with_name(live.name.replace(f".{os.getpid()}.", ".999999999.")))  # a pid gone
        assert tempfiles.clean_stale(target) == []  # but the lock is held
    finally:
        os.close(fd)
    assert [p.name for p in tempfiles.clean_stale(target)] == [live.name.replace(f".{os.getpid()}.", ".999999999.")]


def test_a_packages_init_files_are_inputs_too(tmp_path, no_work, capsys, monkeypatch) -> None:
    """Importing mypkg.sub.net runs mypkg/__init__.py and mypkg/sub/__init__.py: no output may replace them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(tmp_path)  # the package is importable, as an installed one would be
    (tmp_path / "mypkg" / "sub").mkdir(parents=True)
    for init in ("mypkg/__init__.py", "mypkg/sub/__init__.py"):
        (tmp_path / init).write_text("X = 1\n")
    (tmp_path / "mypkg" / "sub" / "net.py").write_text(MINE)
    (tmp_path / "user.py").write_text("from mypkg.sub.net import Net\n")
    for spec in ("mypkg.sub.net:Net", "user.py:Net"):
        for init in ("mypkg/__init__.py", "mypkg/sub/__init__.py"):
            assert run_main(["--impl", spec, "--json", init, *GRADIENTS]) == 2
            assert "would overwrite a module the --impl file imports" in one_error_line(capsys.readouterr().err)
    assert (tmp_path / "mypkg" / "__init__.py").read_text() == "X = 1\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_as_the_impl_file_is_one_line_not_a_hang(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "net.py")  # opening it for reading would wait for a writer forever
    assert run_main(["--impl", "net.py:Net", *GRADIENTS]) == 2
    assert "net.py: not a regular file" in one_error_line(capsys.readouterr().err)
    assert gradcheck_cli.main(["--impl", "net.py:Net", "--sizes", "4,3,2", "--batch", "4"]) == 2
    assert "not a regular file" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("option", ["--csv", "--plot"])
def test_a_folder_output_that_is_a_dangling_link_is_refused_before_work(option, tmp_path, no_work, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink("nowhere", tmp_path / "out")
    assert run_main([option, "out", *GRADIENTS]) == 2
    assert "a symbolic link to nowhere, which does not exist" in one_error_line(capsys.readouterr().err)


def test_weights_so_large_the_loss_overflows_give_one_line_and_no_warnings(capsys) -> None:
    assert gradcheck_cli.main(["--weight-std", "1e200", "--sizes", "5,3,2", "--batch", "4"]) == 2
    one_error_line(capsys.readouterr().err)  # numpy's RuntimeWarnings would be lines before it


def test_an_output_named_like_python_source_is_refused_even_where_none_exists_yet(
    tmp_path, no_work, capsys, monkeypatch
) -> None:
    """The book's common/ has no __init__.py: a report written there would make it a package that fails to import."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "common").mkdir()
    (tmp_path / "net.py").write_text(MINE)
    for out in ("common/__init__.py", "report.py"):
        assert run_main(["--impl", "net.py:Net", "--json", out, *GRADIENTS]) == 2
        assert "names a Python file" in one_error_line(capsys.readouterr().err)
        assert gradcheck_cli.main(["--impl", "net.py:Net", "--sizes", "4,3,2", "--json", out]) == 2
        assert "names a Python file" in one_error_line(capsys.readouterr().err)
        assert not (tmp_path / out).exists()


@pytest.mark.parametrize("kind", ["link", "file of the user's"])
def test_a_manifest_that_is_a_link_or_not_a_manifest_is_refused_and_kept(kind, tmp_path, no_work, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c").mkdir()
    manifest = tmp_path / "c" / MANIFEST
    (tmp_path / "mine.txt").write_text("my data\n")
    if kind == "link":
        os.symlink("../mine.txt", manifest)  # writing the manifest would replace mine.txt through it
    else:
        manifest.write_text("my data\n")
    assert run_main(["--csv", "c", *GRADIENTS]) == 2
    assert "which is " in one_error_line(capsys.readouterr().err)
    assert (tmp_path / "mine.txt").read_text() == "my data\n" and manifest.read_text() == "my data\n"


def test_a_reader_that_leaves_early_ends_the_command_quietly_with_141(tmp_path) -> None:
    """``... | head -1``: the rest cannot be printed; no error line about it, and not bad usage (2)."""
    report = tmp_path / "run.json"
    assert run_main([*GRADIENTS, "--json", str(report)]) in (0, 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has left before the first line: every write meets a closed pipe
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "compare.report", "show", str(report)], stdout=write_end, stderr=subprocess.PIPE,
            env=env,
        )  # fmt: skip
    finally:
        os.close(write_end)
    _, err = child.communicate(timeout=CEILING_S)
    assert child.returncode == exits.BROKEN_PIPE and err == b"", err


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="Linux /proc")
def test_a_report_that_cannot_be_read_is_named_in_the_one_line(capsys) -> None:
    assert report_main(["show", "/proc/self/mem"]) == 2
    assert "/proc/self/mem" in one_error_line(capsys.readouterr().err)
