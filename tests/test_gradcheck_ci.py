"""The gradient checker as a CI library: no false passes, input gradients, the pytest plugin, separability.

Run: ``python -m pytest -q tests/test_gradcheck_ci.py``. The planted errors are sized
from the checker's stated guarantees (module docstring of ``dlfs_gradcheck.core``):
with default tolerances a check that is not refused fails every entry off by more than
0.2 % of the largest derivative of its parameter (full mode), and fast mode misses an
error with ``‖e ∘ max(1, |x|)‖ >= catch_norm`` with probability at most 1e-6.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from children import CEILING_S, TERMINAL_SIGINT
from hypothesis import assume, given
from hypothesis import strategies as st

from compare.data import make_synthetic
from compare.gradcheck import (
    ConfigError,
    LossScaleError,
    check_gradients,
    numpy_net_problem,
    torch_function_problem,
)
from compare.gradcheck.command import main
from impl_numpy import init_params

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--sizes", "4,3,2", "--batch", "5"]


def small_problem(sizes=(6, 4, 3), n=5, std=0.5, seed=1):
    data = make_synthetic(n_train=n, n_test=1, input_size=sizes[0], n_classes=sizes[2], seed=seed)
    return numpy_net_problem(init_params(*sizes, weight_init_std=std, seed=seed), data.x_train, data.t_train)


def zeros(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.zeros_like(v) for k, v in p.items()}


# -- no false passes -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("reference", ["central", "richardson"])
def test_a_huge_loss_offset_is_refused_naming_the_loss(mode: str, reference: str) -> None:
    # 1e12 + f: each loss value carries ~1e-4 of rounding, far more than the loss differences
    # (~1e-7) a step makes; before, a gradient of all zeros passed here.
    problem = small_problem()
    with pytest.raises(LossScaleError, match=r"loss value 1e\+12 is too large"):
        check_gradients(lambda q: 1e12 + problem.loss_fn(q), zeros, problem.params, mode=mode, reference=reference)


def test_the_complex_step_is_immune_to_an_offset_and_catches_the_zero_gradient() -> None:
    problem = small_problem()
    report = check_gradients(lambda q: 1e12 + problem.loss_fn(q), zeros, problem.params, reference="complex")
    assert report.failed == ["W1", "b1", "W2", "b2"]


def test_a_scaled_loss_is_not_refused() -> None:
    # 1e12 * f: the differences scale with the loss, so the reference resolves them as well as at 1 * f.
    problem = small_problem()

    def grad(q):
        return {k: 1e12 * v for k, v in problem.grad_fn(q).items()}

    assert check_gradients(lambda q: 1e12 * problem.loss_fn(q), grad, problem.params).ok


def test_a_flat_loss_is_refused() -> None:
    with pytest.raises(LossScaleError, match="does not change measurably"):
        check_gradients(lambda q: 0.5, zeros, {"w": np.ones(3)})


def test_cli_refuses_a_loss_too_large_to_check(capsys) -> None:
    assert main([*SMALL, "--weight-std", "1e200", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the loss value ") and "e+199 is too large" in err and err.count("\n") == 1


@pytest.mark.parametrize("args", [["--eps", "1", "--reference", "complex"], ["--json", ""]])
def test_cli_refuses_a_complex_step_of_one_and_an_empty_json_path(args: list[str], capsys) -> None:
    assert main([*SMALL, *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_api_refuses_a_complex_step_of_one_and_boolean_tolerances() -> None:
    problem = small_problem()
    with pytest.raises(ConfigError, match="eps=1 is unusable with the complex reference"):
        problem.check(reference="complex", eps=1.0)
    for option in ({"rtol": True}, {"atol": True}, {"eps": True}):
        with pytest.raises(ConfigError, match="positive finite number"):
            problem.check(**option)


@given(
    sizes=st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(2, 4)),
    std=st.floats(0.1, 2.0),
    offset_exp=st.integers(-2, 14),
    seed=st.integers(0, 2**16),
    which=st.integers(0, 3),
    pick=st.floats(0, 1),
    mode=st.sampled_from(["full", "fast"]),
)
def test_one_entry_off_by_more_than_the_guarantee_never_passes(sizes, std, offset_exp, seed, which, pick, mode):
    """Random nets, loss offsets 1e-2 .. 1e14: the planted error fails the check, or the check is refused."""
    problem = small_problem(sizes, 4, std, seed)
    offset = 10.0**offset_exp
    name = ["W1", "b1", "W2", "b2"][which]
    g = problem.grad_fn(problem.params)[name].reshape(-1)  # float64 backprop: exact to ~1e-16
    assume(np.max(np.abs(g)) > 0)
    k = min(int(pick * g.size), g.size - 1)

    def loss(q):
        return offset + problem.loss_fn(q)

    if mode == "full":
        delta = 2.5e-3 * np.max(np.abs(g)) + 2.5e-3 * abs(g[k])  # above 0.2 % of the block's largest derivative
    else:
        try:
            clean = check_gradients(loss, problem.grad_fn, problem.params, mode="fast", seed=seed)
        except LossScaleError:
            clean = None
        assume(clean is not None)  # a refused check makes no claim to test here
        x_k = float(problem.params[name].reshape(-1)[k])
        delta = 2 * clean[name].directions.catch_norm / max(1.0, abs(x_k))  # twice the 1e-6 miss threshold

    def planted(q):
        grads = {n: np.array(v) for n, v in problem.grad_fn(q).items()}
        grads[name].flat[k] += delta
        return grads

    try:
        report = check_gradients(loss, planted, problem.params, mode=mode, seed=seed)
    except LossScaleError:
        return_value = "refused"
    else:
        return_value = "failed" if name in report.failed else "passed"
    assert return_value in ("refused", "failed"), (offset, name, k, delta)


# -- input gradients -------------------------------------------------------------------------------


class Affine(torch.autograd.Function):
    """y = sigmoid(x @ w); a custom backward whose input gradient can be planted wrong."""

    wrong_dx = False

    @staticmethod
    def forward(ctx, x, w):
        y = torch.sigmoid(x @ w)  # (N, H)
        ctx.save_for_backward(x, w, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, y = ctx.saved_tensors
        d = g * y * (1 - y)  # (N, H)
        dx = d @ w.T  # (N, D)
        if Affine.wrong_dx:
            dx = dx.clone()
            dx[1, 2] *= 1.01  # a 1 % error in one entry of the input gradient
        return dx, x.T @ d


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_input_gradients_of_a_custom_function(mode: str, monkeypatch) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, dtype=torch.float64, generator=gen)
    w = torch.randn(4, 3, dtype=torch.float64, generator=gen)
    assert torch_function_problem(Affine.apply, x, w).check(mode=mode).ok
    monkeypatch.setattr(Affine, "wrong_dx", True)
    report = torch_function_problem(Affine.apply, x, w).check(mode=mode)
    assert report.failed == ["input0"]
    assert report["input0"].worst[0].index == (1, 2)


def test_input_gradients_of_a_float32_module_and_labels_passed_through() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()).float()
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    problem = torch_function_problem(model, x)  # the reference runs a float64 copy of the module
    assert list(problem.params) == ["input0"] and problem.params["input0"].dtype == np.float32
    assert problem.check(mode="fast").ok
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    problem = torch_function_problem(lambda z, t: torch.nn.functional.cross_entropy(torch.tanh(z), t), x[:, :3], labels)
    assert list(problem.params) == ["input0"] and problem.check(mode="full").ok


# -- pytest plugin ---------------------------------------------------------------------------------

PROJECT_TEST = """
import torch
from compare.gradcheck import torch_function_problem

FACTOR = {factor}


class Sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = 1 / (1 + torch.exp(-x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y) * FACTOR


def test_sigmoid_input_gradient(gradcheck):
    x = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    gradcheck.problem(torch_function_problem(Sigmoid.apply, x))
"""


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "100"}
    cmd = [sys.executable, "-m", "pytest", "-p", "dlfs_gradcheck.pytest_plugin", "-q", "-p", "no:cacheprovider"]
    return subprocess.run([*cmd, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_the_fixture_fails_a_wrong_input_gradient_with_the_table(tmp_path: Path) -> None:
    (tmp_path / "test_fn.py").write_text(PROJECT_TEST.format(factor="1.5"))
    done = run_pytest(tmp_path, "--gradcheck-mode", "fast")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "gradcheck fast mode: FAIL (input0)" in out and "diagnosis: input0: analytic = reference × 1.5" in out
    assert "compare/gradcheck/" not in out  # no frame of the checker
    failure = out[out.index("___ test_sigmoid") : out.index("short test summary")]
    assert max(len(line) for line in failure.splitlines()) <= 100, failure
    (tmp_path / "test_fn.py").write_text(PROJECT_TEST.format(factor="1.0"))
    done = run_pytest(tmp_path, "--gradcheck-mode", "full", "--gradcheck-reference", "richardson", "-rA")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


# A repository of the user's own, with a module named ``compare``: as a file or as a package.
SHOUT = "def shout(s):\n    return s.upper()\n"
OWN_COMPARE = {
    "compare.py": {"compare.py": SHOUT},
    "compare/": {"compare/__init__.py": "from compare.text import shout\n", "compare/text.py": SHOUT},
}

# The repository's own ``compare`` beside a test of the checker, which then imports it by its own name.
FOREIGN_TESTS = """
from compare import shout  # the repository's own module, never the suite's


def test_own_module():
    import sys

    assert shout("a") == "A"
    assert sorted(m for m in sys.modules if m.split(".")[0] == "compare") in (["compare"], ["compare", "compare.text"])
""" + PROJECT_TEST.replace("from compare.gradcheck import", "from dlfs_gradcheck import")


def test_the_plugin_is_registered_by_the_installed_package() -> None:
    from importlib.metadata import entry_points

    names = {(e.name, e.value) for e in entry_points(group="pytest11")}
    assert ("dlfs_gradcheck.pytest_plugin", "dlfs_gradcheck.pytest_plugin") in names, names


@pytest.mark.parametrize("explicit", [False, True], ids=["autoloaded", "autoloaded and -p"])
@pytest.mark.parametrize("layout", sorted(OWN_COMPARE))
def test_the_plugin_leaves_a_repositorys_own_compare_alone(tmp_path: Path, layout: str, explicit: bool) -> None:
    """The entry point loads the plugin in every pytest run of this environment: the repository's
    ``compare`` stays its own, the fixture works, and ``-p`` as well is no second registration."""
    for name, text in OWN_COMPARE[layout].items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly"]
    cmd += ["-p", "dlfs_gradcheck.pytest_plugin"] if explicit else []
    here = dict(cwd=tmp_path, env=env, capture_output=True, text=True, timeout=CEILING_S)
    (tmp_path / "test_own.py").write_text(FOREIGN_TESTS.format(factor="1.0"))
    done = subprocess.run([*cmd, "--gradcheck-mode", "fast"], **here)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
    (tmp_path / "test_own.py").write_text(FOREIGN_TESTS.format(factor="1.5"))
    done = subprocess.run([*cmd, "--gradcheck-mode", "fast"], **here)
    assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout, done.stdout + done.stderr
    assert "diagnosis: input0: analytic = reference × 1.5" in done.stdout, done.stdout


def test_a_complex_reference_from_the_command_line_falls_back_for_a_torch_loss(tmp_path: Path) -> None:
    """``--gradcheck-reference complex`` on a torch problem: the correct test passes on richardson and
    says so; the wrong one fails with the table, never with the checker's frames."""
    (tmp_path / "test_fn.py").write_text(PROJECT_TEST.format(factor="1.0"))
    done = run_pytest(tmp_path, "--gradcheck-mode", "full", "--gradcheck-reference", "complex", "-rA", "-s")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
    (tmp_path / "test_fn.py").write_text(PROJECT_TEST.format(factor="1.5"))
    done = run_pytest(tmp_path, "--gradcheck-mode", "full", "--gradcheck-reference", "complex")
    out = done.stdout
    assert done.returncode == 1 and "richardson" in out and "diagnosis: input0" in out, out + done.stderr
    failure = out[out.index("___ test_sigmoid") : out.index("short test summary")]
    assert "dlfs_gradcheck/" not in failure and "compare/gradcheck/" not in failure, failure
    assert len(failure.splitlines()) < 40, failure


RANDOM_LOSS_TEST = """
import numpy as np

rng = np.random.default_rng(0)


def test_dropout_left_on(gradcheck):
    w = np.linspace(-1.0, 1.0, 6)
    mask = lambda: rng.random(6) < 0.5  # a fresh mask on every call
    gradcheck(lambda p: float(np.sum((p["w"] * mask()) ** 2)), lambda p: {"w": 2 * p["w"]}, {"w": w})
"""


def test_a_check_that_cannot_be_made_fails_the_test_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "test_random.py").write_text(RANDOM_LOSS_TEST)
    done = run_pytest(tmp_path)
    out = done.stdout
    assert done.returncode == 1 and "1 failed" in out, out + done.stderr
    failure = out[out.index("___ test_dropout") : out.index("short test summary")]
    lines = [line for line in failure.splitlines()[1:] if line.strip() and not line.startswith("=")]
    assert len(lines) == 1 and lines[0].startswith("gradcheck: ") and "different" in lines[0], failure


ENDING_TESTS = """
import sys

import numpy as np


def ending(p):
    {ending}


def test_a_grad_fn_that_ends_things(gradcheck):
    gradcheck(lambda p: float(np.sum(p["w"] ** 2)), ending, {{"w": np.linspace(-1.0, 1.0, 6)}})


def test_after_it():
    assert True
"""


@pytest.mark.parametrize("ending", ["raise KeyboardInterrupt", "sys.exit(0)", "raise GeneratorExit"])
def test_a_grad_fn_that_raises_an_interrupt_or_exit_fails_its_test_only(tmp_path: Path, ending: str) -> None:
    """The code under test raising KeyboardInterrupt or SystemExit fails its own test, naming its line;
    the session goes on to the next test and ends with pytest's own status."""
    (tmp_path / "test_ending.py").write_text(ENDING_TESTS.format(ending=ending))
    done = run_pytest(tmp_path, "-p", "no:xdist")
    out = done.stdout
    assert done.returncode == 1 and "1 failed, 1 passed" in out, out + done.stderr
    failure = out[out.index("___ test_a_grad_fn") : out.index("short test summary")]
    assert "test_ending.py:8" in failure and failure.count("gradcheck: your code: ") == 1, failure


def test_a_real_ctrl_c_during_the_check_still_ends_the_session(tmp_path: Path) -> None:
    """SIGINT arriving while the fixture checks (here sent by grad_fn to its own process) is Ctrl-C, not a failure."""
    ending = "import os, signal, time; os.kill(os.getpid(), signal.SIGINT); time.sleep(60)"
    (tmp_path / "test_ending.py").write_text(ENDING_TESTS.format(ending=ending))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    args = ["-p", "dlfs_gradcheck.pytest_plugin", "-p", "no:xdist", "-q", "-p", "no:cacheprovider"]
    code = TERMINAL_SIGINT + f"import sys, pytest; sys.exit(pytest.main({args!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=CEILING_S
    )
    assert done.returncode == 2 and "KeyboardInterrupt" in done.stdout, done.stdout + done.stderr
    assert "passed" not in done.stdout and "your code" not in done.stdout, done.stdout


# -- separable, console scripts --------------------------------------------------------------------


def test_import_loads_neither_torch_nor_the_nets_nor_the_harness() -> None:
    code = textwrap.dedent(
        """
        import sys
        import compare.gradcheck
        heavy = ("torch", "impl_numpy", "impl_torch", "compare.harness", "compare.engine", "dlfs_gradcheck.problems",
                 "dlfs_gradcheck.torch_problems")
        print(sorted(m for m in heavy if m in sys.modules))
        compare.gradcheck.numpy_net_problem  # the adapters load on first use
        print("impl_numpy" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=CEILING_S)
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout + done.stderr


def test_console_scripts_work_beside_a_compare_py(tmp_path: Path) -> None:
    """``python -m compare.gradcheck`` imports a user's compare.py; the installed script does not."""
    (tmp_path / "compare.py").write_text("x = 1  # the user's own module\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [*SMALL, "--mode", "fast", "--quiet"]
    here = dict(cwd=tmp_path, env=env, capture_output=True, text=True, timeout=CEILING_S)
    broken = subprocess.run([sys.executable, "-m", "compare.gradcheck", *args], **here)
    assert broken.returncode != 0 and "compare" in broken.stderr
    scripts = (ROOT / "pyproject.toml").read_text()
    assert 'dlfs-gradcheck = "compare.gradcheck.command:main"' in scripts
    assert 'dlfs-compare = "compare.run:main"' in scripts
    # What pip's console-script wrapper does: the script's own folder, not the working directory, is sys.path[0].
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dlfs-gradcheck"
    script.write_text("import sys\nfrom compare.gradcheck.command import main\nsys.exit(main())\n")
    done = subprocess.run([sys.executable, str(script), *args], **here)
    assert done.returncode == 0 and done.stdout.strip() == "gradcheck: ok", done.stdout + done.stderr
    script.write_text("import sys\nfrom compare.run import main\nsys.exit(main())\n")
    done = subprocess.run([sys.executable, str(script), "--help"], **here)
    assert done.returncode == 0 and "usage" in done.stdout, done.stdout + done.stderr


def test_the_side_by_side_script_runs_in_its_quick_form(capsys) -> None:
    from compare.gradcheck.versus import main as versus

    assert versus(["--quick"]) == 0
    table = capsys.readouterr().out
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "torch fast_mode" in rows["planted bug"]
    this = [cells.split(" | ")[1:4] for cells in rows.values() if cells.startswith("| 1 %")][0]
    assert all(cell.startswith("caught") for cell in this), table  # all three modes of this checker
    ours = rows["none (correct gradient)"].split(" | ")[1:4]
    assert all(cell.startswith("passed") for cell in ours), table
    assert versus(["--bogus"]) == 2
