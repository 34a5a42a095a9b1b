"""The conventions of the ecosystem: versions, ``-`` for standard output, console scripts, packaging metadata,
where the report's revision comes from, offline MNIST advice, terminal widths, and no scikit-learn at run time.

Run: ``python -m pytest tests/test_conventions.py``. The commands run as subprocesses where their exit
status and standard streams are the point (``--version``, ``--json -``); everything else in-process.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from helpers import verdict_of

import compare
import dlfs_gradcheck
from compare import files, pathsafety, preflight, streams
from compare.config import RunConfig
from compare.report import text
from compare.report.model import SCHEMA_VERSION, GradientRow, GradientSection, Report

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
# Every command, as `python -m MODULE`, and the function its console script calls.
COMMANDS = {
    "compare.run": "compare.run:main",
    "compare.report": "compare.report.__main__:main",
    "compare.teach": "compare.teach:main",
    "compare.bench": "compare.bench:main",
    "compare.jax_bench": "compare.jax_bench:main",
    "compare.gradcheck": "compare.gradcheck.command:main",
}
TIMEOUT = 300  # seconds for one subprocess on a busy 2-core machine (they take 1-10 s)


def installed_version() -> str:
    try:
        return metadata.version("dlfs-compare")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def run(args: list[str], cwd: Path | None = None, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with this checkout first on the path, one thread; stderr (and stdout) captured."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or REPO, env=environ, stdout=stdout, stderr=subprocess.PIPE, text=True,
        timeout=TIMEOUT,
    )  # fmt: skip


# -- 1. --version --------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", list(COMMANDS))
def test_every_command_prints_its_name_and_version(module: str) -> None:
    done = run(["-m", module, "--version"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"python -m {module} {installed_version()}\n"


def test_an_installed_script_is_named_as_typed(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from compare.cli import program
    from compare.report.__main__ import main

    monkeypatch.setattr(sys, "argv", ["/venv/bin/dlfs-report", "--version"])
    assert program("compare.report") == "dlfs-report"
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"dlfs-report {installed_version()}\n"
    monkeypatch.setattr(sys, "argv", ["/anything/pytest"])
    assert program("compare.report") == "python -m compare.report"


def test_package_versions_come_from_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert compare.__version__ == dlfs_gradcheck.__version__ == installed_version()

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)  # a checkout that was never installed
    assert compare.__version__ == dlfs_gradcheck.__version__ == "0+unknown"


def test_the_checkers_version_loads_neither_numpy_nor_compare() -> None:
    code = (
        "import sys, dlfs_gradcheck; v = dlfs_gradcheck.__version__; "
        "print(v, 'numpy' in sys.modules, 'compare' in sys.modules)"
    )
    done = run(["-c", code])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [installed_version(), "False", "False"]


# -- 2. "-" is standard output ---------------------------------------------------------------------------

GRADCHECK_SMALL = ["-m", "compare.gradcheck", "--sizes", "6,4,3", "--batch", "5", "--mode", "fast"]


def test_gradcheck_json_to_stdout_is_pure_json(tmp_path: Path) -> None:
    done = run([*GRADCHECK_SMALL, "--json", "-"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # nothing else on stdout
    assert doc["ok"] is True and doc["config"]["json_path"] == "-"
    assert "gradcheck: ok" in done.stderr  # the text report, on stderr
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_dev_stdout_appends_to_a_redirected_file_and_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("first\n")
    inode = out.stat().st_ino
    with out.open("a") as appended:  # as the shell's `>> out.txt`
        done = run(["-c", "from compare import files; files.write_atomic('/dev/stdout', 'second\\n')"], stdout=appended)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "first\nsecond\n"  # written through, neither truncated nor replaced
    assert out.stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temporary file


def test_write_atomic_to_dash_and_dev_fd(capfd: pytest.CaptureFixture[str]) -> None:
    files.write_atomic("-", "to stdout\n")
    files.write_atomic("/dev/fd/2", "to stderr\n")
    captured = capfd.readouterr()
    assert captured.out == "to stdout\n" and captured.err == "to stderr\n"
    assert streams.stream_fd("-") == 1 and streams.stream_fd("/dev/stdout") == 1 and streams.stream_fd("/dev/fd/7") == 7
    assert streams.stream_fd("./-") is None and streams.stream_fd("out.json") is None
    assert streams.stream_fd(Path("-")) is None  # from code, a Path: a file named "-"


def test_two_outputs_on_one_stream_or_a_directory_on_a_stream_are_refused() -> None:
    with pytest.raises(pathsafety.OutputError, match="--json and --markdown would both write to standard output"):
        preflight.check_outputs([preflight.Output("--json", "-"), preflight.Output("--markdown", "/dev/stdout")])
    with pytest.raises(pathsafety.OutputError, match="--csv writes several files into a directory"):
        preflight.check_outputs([preflight.Output("--csv", "-", suffix=".csv")])
    with pytest.raises(pathsafety.OutputError, match="file descriptor 97 is not open"):
        preflight.check_outputs([preflight.Output("--json", "/dev/fd/97")])


def test_run_refuses_json_and_markdown_both_on_stdout(capsys) -> None:
    from compare.run import main

    assert main(["--json", "-", "--markdown", "-", "--only", "gradients"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json and --markdown would both write to standard output" in err


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run of ``python -m compare.run --json -``: its stdout, saved (checked to be the JSON alone)."""
    folder = tmp_path_factory.mktemp("run")
    argv = ["-m", "compare.run", "--only", "gradients", "--iters", "1", "--hidden-size", "10"]
    done = run([*argv, "--numerical-iters", "1", "--threads", "1", "--no-progress", "--no-jax", "--json", "-"])
    assert done.returncode == 0, done.stderr
    report = Report.from_json(done.stdout)  # stdout is the report, nothing else
    assert verdict_of(done.stderr) == text.verdict(report)  # the text went to stderr
    assert list(folder.iterdir()) == []
    path = folder / "run.json"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def test_report_show_markdown_to_stdout(saved_run: Path) -> None:
    done = run(["-m", "compare.report", "show", str(saved_run), "--markdown", "-"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"# {text.TITLE}") and "## 1. Gradient agreement" in done.stdout
    assert "== 1. Gradient agreement" in done.stderr and "==" not in done.stdout


# -- 3. compare.report without a subcommand ----------------------------------------------------------------


def test_report_without_a_subcommand_names_them(capsys) -> None:
    from compare.report.__main__ import main

    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    for name in ("show", "diff", "schema"):
        assert f" {name} (" in err


# -- 4. console scripts ----------------------------------------------------------------------------------


def test_every_command_has_a_console_script_and_the_usage_page_names_it() -> None:
    scripts = PROJECT["scripts"]
    assert sorted(scripts.values()) == sorted(COMMANDS.values())
    usage = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert name.startswith("dlfs-") and callable(getattr(importlib.import_module(module), function))
        assert f"`{name}`" in usage, f"docs/usage.md does not mention {name}"


# -- 5. packaging ----------------------------------------------------------------------------------------

# Import names whose distribution is named otherwise.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "PyYAML", "PIL": "pillow"}
OWN = {"compare", "dlfs_gradcheck", *(p.name for p in REPO.glob("impl_*") if (p / "__init__.py").is_file())}


def requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower()


def third_party_imports(roots: list[Path]) -> dict[str, list[str]]:
    """Top-level names of every absolute import (in functions too) under ``roots`` -> where, not stdlib or own."""
    found: dict[str, list[str]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN:
                        found.setdefault(top, []).append(f"{path}:{node.lineno}")
    return found


def test_every_imported_package_is_declared() -> None:
    declared = {requirement_name(r) for r in PROJECT["dependencies"]}
    for extra in PROJECT["optional-dependencies"].values():
        declared |= {requirement_name(r) for r in extra}
    roots = [REPO / name for name in sorted(OWN)]
    imported = third_party_imports(roots)
    assert {"numpy", "torch", "tabulate", "tqdm", "threadpoolctl"} <= set(imported)  # the walk sees them
    missing = {name: where for name, where in imported.items() if DISTRIBUTIONS.get(name, name).lower() not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_import_check_can_fail(tmp_path: Path) -> None:
    planted = tmp_path / "pkg"
    planted.mkdir()
    (planted / "m.py").write_text("import os\n\ndef f():\n    from undeclared_lib.sub import x\n")
    assert set(third_party_imports([planted])) == {"undeclared_lib"}


def test_license_classifiers_and_typing_markers() -> None:
    license_text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License\n") and "Copyright (c) 2026 the dlfs-compare authors" in license_text
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    classifiers = set(PROJECT["classifiers"])
    for minor in range(10, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert PROJECT["requires-python"] == ">=3.10"
    assert {"Operating System :: OS Independent", "Intended Audience :: Science/Research"} <= classifiers
    assert "Topic :: Scientific/Engineering :: Artificial Intelligence" in classifiers
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for package in ("compare", "dlfs_gradcheck"):
        assert (REPO / package / "py.typed").is_file() and "py.typed" in package_data[package]
    assert "digits/digits.npz" in package_data["compare.data"]


# -- 6. the report's revision and version ----------------------------------------------------------------

git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def commit_all(folder: Path) -> str:
    """``git init`` + one commit of everything in ``folder``; its short hash."""
    environ = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    environ |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", *args], cwd=folder, env=environ, check=True, capture_output=True, timeout=TIMEOUT)
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=folder, capture_output=True, text=True)
    return done.stdout.strip()


def revision_seen_from(root: Path) -> str:
    """What ``compare.env.git_revision()`` says when ``compare`` is imported from ``root``."""
    code = "from compare import env; print(env.git_revision())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
        text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def copy_package(dest: Path) -> None:
    shutil.copytree(REPO / "compare", dest / "compare", ignore=shutil.ignore_patterns("__pycache__"))


@git
def test_a_copy_inside_another_repository_records_no_commit(tmp_path: Path) -> None:
    other = tmp_path / "someone-elses-repo"
    copy_package(other / "vendor")  # an installed or vendored copy, no pyproject of ours
    (other / "README").write_text("another project\n")
    commit_all(other)
    assert revision_seen_from(other / "vendor") == "None"


@git
def test_a_project_named_otherwise_records_no_commit(tmp_path: Path) -> None:
    other = tmp_path / "fork"
    copy_package(other)
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    commit_all(other)
    assert revision_seen_from(other) == "None"


@git
def test_the_projects_own_checkout_records_its_commit(tmp_path: Path) -> None:
    own = tmp_path / "checkout"
    copy_package(own)
    shutil.copy(REPO / "pyproject.toml", own / "pyproject.toml")
    assert revision_seen_from(own) == "None"  # not a git repository yet
    short = commit_all(own)
    assert revision_seen_from(own) == short and len(short) >= 7


def test_the_report_records_the_version_and_old_reports_still_show(saved_run: Path) -> None:
    data = json.loads(saved_run.read_text(encoding="utf-8"))
    assert data["env"]["version"] == installed_version()
    report = Report.from_json(saved_run.read_text(encoding="utf-8"))
    assert f"dlfs-compare {installed_version()}" in text.render(report)
    del data["env"]["version"]  # a report written before the field existed
    data["env"]["git"] = "abc1234"
    old = Report.from_json(json.dumps(data))
    assert old.env.version is None and data["schema_version"] == SCHEMA_VERSION
    assert "  git abc1234, " in text.render(old)


# -- 7. MNIST without network ----------------------------------------------------------------------------


def test_a_failed_download_says_what_to_do_offline(tmp_path: Path) -> None:
    import socket

    import compare.data.mnist_files as mnist_files
    from compare.data import DataError

    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        mirror = f"http://127.0.0.1:{closed.getsockname()[1]}/mnist/"
        dest = tmp_path / "cache" / "mnist"
        with pytest.raises(DataError) as info:
            mnist_files.download_mnist(dest, [mirror], timeout=5.0, progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith("could not download train-images-idx3-ubyte.gz")
    assert "copy the four files" in message and f"into {dest}" in message
    assert "--data-dir DIR" in message and f"${mnist_files.ENV_VAR}" in message
    for name in mnist_files.MNIST_MD5:
        assert name in message


# -- 8. widths -------------------------------------------------------------------------------------------

LABELS = ["numerical", "numerical-fast", "backprop", "autograd[cpu,float64]", "jax[cpu,float64]"]


def failing_report() -> Report:
    """Every pair of the default methods failing on every parameter: the widest gradient table and verdict."""
    rows = []
    for i, a in enumerate(LABELS):
        for b in LABELS[i + 1 :]:
            for param, index in (("W1", [783, 49]), ("b1", [49]), ("W2", [49, 9]), ("b2", [9])):
                values = (1.25e-3, 6.5e-2, index, -0.000156495, 4.41785e-05, 1e-6, 1e-9, 12, False)
                rows.append(GradientRow(a, b, param, *values))
    section = GradientSection(2.3, rows, False)
    return Report(SCHEMA_VERSION, False, env_for_tests(), RunConfig(), ["cpu"], "784-50-10", section)


def env_for_tests():
    from compare.report.model import Env

    return Env(
        "a CPU", 2, 2, "openblas 2", 2, "3.11.7", {"numpy": "2.4.6", "torch": "2.13.0"}, "scipy-openblas 0.3.31",
        ["cpu"], [], None, "2026-01-01 00:00:00 UTC", 0, version="0.1.0",
    )  # fmt: skip


def test_the_gradient_table_and_the_verdict_fit_in_100_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.report import layout

    monkeypatch.delenv("COLUMNS", raising=False)
    report = failing_report()
    rendered = text.render(report)
    wide = [line for line in rendered.splitlines() if len(line) > 100]
    assert not wide, wide
    assert verdict_of(rendered) == text.verdict(report) and len(text.verdict(report)) > 300
    monkeypatch.setenv("COLUMNS", "60")  # the terminal's width, when it has one
    assert max(len(line) for line in text.verdict_text(report).splitlines()) <= 60
    assert layout.terminal_width() == 60


def test_the_trajectory_and_accuracy_tables_fit_in_100_columns() -> None:
    argv = ["-m", "compare.run", "--only", "trajectory", "--iters", "30", "--hidden-size", "10"]
    done = run([*argv, "--numerical-iters", "1", "--fast-numerical-iters", "30", "--threads", "1", "--no-progress"])
    assert done.returncode == 0, done.stderr
    assert "== 2. Trajectory agreement" in done.stdout and "A = backprop" in done.stdout
    wide = [line for line in done.stdout.splitlines() if len(line) > 100]
    assert not wide, wide


# -- 9. the digits without scikit-learn --------------------------------------------------------------------


def test_the_digits_load_without_scikit_learn() -> None:
    assert "scikit-learn" not in {requirement_name(r) for r in PROJECT["dependencies"]}
    code = (
        "import sys; sys.modules['sklearn'] = None\n"  # any import of scikit-learn now fails
        "from compare.data import load_digits\n"
        "d = load_digits(); print(d.x_train.shape, d.x_test.shape)"
    )
    done = run(["-c", code])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1500, 64) (297, 64)"


# -- the documents' code ---------------------------------------------------------------------------

OWN_PACKAGES = ("compare", "dlfs_gradcheck", "impl_numpy", "impl_torch", "impl_jax")


def documented_imports() -> list[tuple[str, str, str]]:
    """(document, module, name) for every ``from <ours> import <name>`` in the documents' python blocks."""
    found = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S):
            for node in ast.walk(ast.parse(block)):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OWN_PACKAGES:
                    found += [(doc.name, node.module, alias.name) for alias in node.names]
    return found


def test_every_import_in_the_documents_exists() -> None:
    imports = documented_imports()
    assert len(imports) >= 5, imports  # the README and docs show the API: the scan found it
    missing = []
    for doc, module, name in imports:
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            missing.append(f"{doc}: from {module} import {name}: {e}")
    assert not missing, "\n".join(missing)
