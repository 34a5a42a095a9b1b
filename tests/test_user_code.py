"""The user's code is under test, not trusted: whatever it does, the verdict and the process stay the suite's.

Classes written here for each case (numpy only, one file each) are run through ``compare.run --impl``
and ``compare.gradcheck --impl``: code that ends or interrupts the run, that leaves a thread running,
that moves the working directory or changes numpy's state, whose gradient reuses the last forward
pass, whose loss is random, whose params cannot be used. Most run in this process (their exit
status is ``main``'s return value); those about the process itself run in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from compare.gradcheck.command import main as check_main
from compare.run import main as run_main
from dlfs_gradcheck.usercode import ImplementationFailure, SpecError, build_net, load_impl, parse_spec

ROOT = Path(__file__).resolve().parents[1]
RUN = ["--only", "gradients", "--hidden-size", "10", "--threads", "1", "--no-progress", "--no-jax"]
CHECK = ["--sizes", "64,10,10", "--threads", "1", "--quiet", "--mode", "fast"]

# A correct ch. 4 style class (sigmoid, logits, one-hot labels), with hooks where a case puts its statement.
NET = """
import os, sys, threading
import numpy as np


class Net:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {{
            "W1": weight_init_std * np.random.randn(input_size, hidden_size), "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size), "b2": np.zeros(output_size),
        }}
        {init}

    def predict(self, x):
        a1 = x @ self.params["W1"] + self.params["b1"]
        return (1 / (1 + np.exp(-a1))) @ self.params["W2"] + self.params["b2"]

    def loss(self, x, t):
        z = self.predict(x)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - (z * t).sum(axis=1)))

    def gradient(self, x, t):
        {grad}
        a1 = x @ self.params["W1"] + self.params["b1"]
        z1 = 1 / (1 + np.exp(-a1))
        s = z1 @ self.params["W2"] + self.params["b2"]
        y = np.exp(s - s.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        dy = (y - t) / len(x)
        da = (dy @ self.params["W2"].T) * z1 * (1 - z1)
        return {{"W1": x.T @ da, "b1": da.sum(axis=0), "W2": z1.T @ dy, "b2": dy.sum(axis=0)}}
"""


def write_net(folder: Path, init: str = "pass", grad: str = "pass", name: str = "net.py") -> tuple[Path, int]:
    """The class file with ``init`` / ``grad`` in place; returns it and the line of the hook that is not ``pass``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(NET.format(init=init, grad=grad), encoding="utf-8")
    lines = path.read_text().splitlines()
    hook = init if init != "pass" else grad
    return path, next(i for i, line in enumerate(lines, 1) if line.strip() == hook.strip())


def run(tmp_path: Path, spec: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "run.json"
    status = run_main([*RUN, "--impl", spec, "--json", str(out), *extra])
    return status, json.loads(out.read_text())


def fail_notes(doc: dict) -> list[dict]:
    return [n for section in ("gradients", "trajectory") if doc.get(section) for n in doc[section]["notes"]
            if n["status"] == "FAIL"]  # fmt: skip


# -- code that ends or interrupts the run -------------------------------------------------------------------------

ENDINGS = [
    "sys.exit(0)",
    "sys.exit(4)",
    "exit()",
    "quit()",
    "raise KeyboardInterrupt",
    "raise GeneratorExit",
    "raise BaseException('mine')",
]


@pytest.mark.parametrize("statement", ENDINGS)
@pytest.mark.parametrize("where", ["gradient", "__init__"])
def test_code_that_ends_the_run_is_a_fail_row_naming_its_line(tmp_path: Path, statement: str, where: str) -> None:
    """Not exit 0 with nothing printed, not its own exit status: a FAIL row naming their file and line, exit 1."""
    hooks = {"grad": statement} if where == "gradient" else {"init": statement}
    path, line = write_net(tmp_path / "mine", **hooks)
    status, doc = run(tmp_path, f"{path}:Net")
    assert status == 1
    (note,) = fail_notes(doc)
    assert note["method"] == "Net" and note["where"].endswith(f"net.py:{line}"), note
    assert "may not end or interrupt the run" in note["message"] or "BaseException" in note["message"]
    out = tmp_path / "check.json"
    assert check_main([*CHECK, "--impl", f"{path}:Net", "--json", str(out)]) == 1
    (failure,) = json.loads(out.read_text())["failures"]
    assert failure["where"].endswith(f"net.py:{line}")


def test_a_torch_forward_that_ends_the_run_is_a_fail_row(tmp_path: Path) -> None:
    path = tmp_path / "module.py"
    path.write_text(
        textwrap.dedent(
            """
            import sys
            import torch


            class Mod(torch.nn.Module):
                def __init__(self, d, h, c):
                    super().__init__()
                    self.fc1, self.fc2 = torch.nn.Linear(d, h), torch.nn.Linear(h, c)

                def forward(self, x):
                    sys.exit(0)
            """
        )
    )
    status, doc = run(tmp_path, f"{path}:Mod")
    assert status == 1
    line = path.read_text().splitlines().index("        sys.exit(0)") + 1
    (note,) = fail_notes(doc)
    assert note["where"].endswith(f"module.py:{line}") and "forward" in note["message"]


def cli(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """A command in a fresh interpreter (its exit status and what it printed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("init", "grad"),
    [
        ("pass", "print('x' * 100)"),
        ("sys.stdout = open(os.devnull, 'w')", "pass"),
        ("pass", "sys.stdout.close()"),
        ("pass", "os.write(1, b'written to descriptor 1')"),
        ("pass", "os.close(1)"),
    ],
    ids=["prints", "replaces stdout", "closes stdout", "writes to fd 1", "closes fd 1"],
)
def test_what_their_code_prints_or_does_to_stdout_never_reaches_the_report(
    tmp_path: Path, init: str, grad: str
) -> None:
    path, _ = write_net(tmp_path / "mine", init=init, grad=grad)
    done = cli(["compare.run", *RUN, "--quiet", "--impl", f"{path}:Net", "--json", "-"], tmp_path)
    assert done.returncode in (0, 1), done.stderr
    doc = json.loads(done.stdout)  # the JSON alone: their prints went to stderr
    assert doc["ok"] == (done.returncode == 0)
    done = cli(["compare.gradcheck", *CHECK[:-3], "--impl", f"{path}:Net"], tmp_path)
    assert done.returncode in (0, 1) and done.stdout.rstrip().splitlines()[-1].startswith("gradcheck: "), done


@pytest.mark.parametrize(
    "statement", ["print('hello from the import')", "sys.stdout.close()", "import os; os.write(1, b'fd 1')"]
)
def test_what_their_module_prints_or_does_to_stdout_as_it_is_imported_never_reaches_the_report(
    tmp_path: Path, statement: str
) -> None:
    path, _ = write_net(tmp_path / "mine")
    path.write_text(path.read_text() + f"\nimport sys\n{statement}\n")
    done = cli(["compare.run", *RUN, "--quiet", "--impl", f"{path}:Net", "--json", "-"], tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["ok"] == (done.returncode == 0)  # the JSON alone, whole


@pytest.mark.parametrize(
    ("statement", "words"),
    [("sys.exit(0)", "tried to end the program"), ("os._exit(0)", "tried to end the process at once (os._exit)")],
)
def test_the_exit_status_of_a_real_process_is_the_suites(tmp_path: Path, statement: str, words: str) -> None:
    path, _ = write_net(tmp_path / "mine", grad=statement)
    done = cli(["compare.run", *RUN, "--impl", f"{path}:Net"], tmp_path)
    assert done.returncode == 1 and f"FAIL Net: gradient: {words}" in done.stdout, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("FAILED")
    done = cli(["compare.gradcheck", *CHECK[:-3], "--impl", f"{path}:Net"], tmp_path)
    assert done.returncode == 1 and "gradcheck: FAIL" in done.stdout


def test_os_exit_at_import_is_bad_usage_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text("import os\n\nos._exit(0)\n")
    done = cli(["compare.gradcheck", *CHECK[:-3], "--impl", "mine.py:Net"], tmp_path)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr == "error: mine.py:3: importing mine.py tried to end the process at once (os._exit)\n"


def test_a_thread_left_running_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    """A non-daemon thread started by their __init__ waits forever: the command still ends with its status."""
    path, _ = write_net(tmp_path / "mine", init="threading.Thread(target=threading.Event().wait).start()")
    done = cli(["compare.run", *RUN, "--impl", f"{path}:Net"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("OK")


BLOCK_AT_EXIT = (
    "__import__('atexit').register(lambda: (print('exit handler blocks', file=sys.stderr, flush=True), "
    "threading.Event().wait()))"
)


def test_signals_stay_effective_until_the_process_exits(tmp_path: Path) -> None:
    """An exit handler of theirs that blocks after the command: SIGTERM still ends the process, never ignored."""
    path, _ = write_net(tmp_path / "mine", init=BLOCK_AT_EXIT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "compare.run", *RUN, "--impl", f"{path}:Net"]
    p = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None and p.stdout is not None
        for line in p.stderr:  # the command is over: the interpreter is running exit handlers
            if line.startswith("exit handler blocks"):
                break
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=120) == 130  # a ceiling: it ends at once
        assert p.stdout.read().rstrip().splitlines()[-1].startswith("OK")
    finally:
        p.kill()  # a process that ignored the signal must not outlive the test
        p.communicate()


def test_the_working_directory_and_numpy_state_come_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Their __init__ and gradient move the cwd, extend sys.path, change numpy's error and random state."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    meddle = f"os.chdir({str(elsewhere)!r}); sys.path.append('zzz'); np.seterr(all='raise'); np.random.seed(7)"
    path, _ = write_net(tmp_path / "mine", init=meddle, grad=meddle)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    before = (os.getcwd(), list(sys.path), np.geterr(), np.random.get_state()[1].copy())
    status = run_main([*RUN, "--impl", f"{path}:Net", "--json", "r.json"])  # a relative output
    assert status == 0
    after = (os.getcwd(), list(sys.path), np.geterr(), np.random.get_state()[1])
    assert after[:3] == before[:3] and np.array_equal(after[3], before[3])
    assert (here / "r.json").is_file() and not (elsewhere / "r.json").exists()


# -- gradients that depend on what ran before, losses that are random -------------------------------------------


def test_an_init_without_weight_init_std_is_built_with_the_sizes_alone(tmp_path: Path) -> None:
    """``__init__(self, input_size, hidden_size, output_size)``: a common variant of the API, checked as usual."""
    example = (ROOT / "docs" / "example" / "two_layer_net.py").read_text()
    old = "def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):"
    assert old in example
    mine = tmp_path / "mine.py"
    mine.write_text(
        example.replace(old, old.replace(", weight_init_std=0.01", "") + "\n        weight_init_std = 0.01")
    )
    status, doc = run(tmp_path, f"{mine}:TwoLayerNet")
    assert status == 0, fail_notes(doc)
    assert any("__init__ takes no weight_init_std" in n["message"] for n in doc["gradients"]["notes"])
    args = ["--sizes", "64,10,10", "--threads", "1", "--quiet", "--mode", "fast"]
    assert check_main([*args, "--impl", f"{mine}:TwoLayerNet"]) == 0


def test_a_file_that_empties_sys_path_at_import_is_loaded_and_checked(tmp_path: Path) -> None:
    """``sys.path[:] = sys.path[:1]`` in their module: put back after the import, never blamed on it.

    In a fresh interpreter (this one has long read what the command reads through sys.path)."""
    example = (ROOT / "docs" / "example" / "two_layer_net.py").read_text()
    mine = tmp_path / "mine.py"
    mine.write_text("import sys\n\nsys.path[:] = sys.path[:1]\n" + example)
    command = [sys.executable, "-m", "compare.gradcheck", "--sizes", "64,10,10", "--mode", "fast"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*command, "--impl", f"{mine}:TwoLayerNet"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_an_exception_in_their_del_is_one_line(tmp_path: Path) -> None:
    """Python ignores what a ``__del__`` raises and prints its traceback; the commands print one line naming it."""
    example = (ROOT / "docs" / "example" / "two_layer_net.py").read_text()
    old = "    def __init__(self"
    mine = tmp_path / "mine.py"
    mine.write_text(example.replace(old, "    def __del__(self):\n        raise RuntimeError('boom')\n\n" + old, 1))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in (
        ["compare.gradcheck", "--sizes", "64,10,10", "--mode", "fast"],
        ["compare.run", *RUN, "--iters", "5"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", *command, "--impl", f"{mine}:TwoLayerNet"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
        (line,) = [x for x in done.stderr.splitlines() if "boom" in x]
        assert line.startswith("note: your code raised RuntimeError: boom") and line.endswith("mine.py:23)"), (
            line
        )  # the raise: 22 + 1


def test_a_gradient_that_reuses_the_last_forward_pass_fails_everywhere(tmp_path: Path) -> None:
    spec = f"{ROOT}/tests/plugins/bugs/ch5_stale_forward.py:TwoLayerNet"
    status, doc = run(tmp_path, spec, "--activation", "relu")
    assert status == 1
    fails = [n for n in doc["gradients"]["notes"] if n["method"] == "TwoLayerNet" and n["status"] == "FAIL"]
    assert [n["message"].split(":")[0] for n in fails] == ["gradient"]
    assert "back-propagates the last forward pass" in fails[0]["message"]
    assert fails[0]["where"].endswith("ch5_stale_forward.py:87")
    for mode in (["--mode", "fast"], ["--mode", "full", "--max-entries", "20"]):
        out = tmp_path / "check.json"
        args = ["--sizes", "64,10,10", "--threads", "1", "--quiet", "--activation", "relu", *mode]
        assert check_main([*args, "--impl", spec, "--json", str(out)]) == 1
        (failure,) = json.loads(out.read_text())["failures"]
        assert failure["error"] == "stale-forward" and failure["where"] == fails[0]["where"]


DROPOUT = """
import numpy as np


class Net:
    def __init__(self, d, h, c, weight_init_std=0.01):
        self.params = {"W1": weight_init_std * np.random.randn(d, h), "b1": np.zeros(h),
                       "W2": weight_init_std * np.random.randn(h, c), "b2": np.zeros(c)}
        self.rng = np.random.default_rng()

    def predict(self, x):
        a1 = (x * (self.rng.random(x.shape) > 0.2)) @ self.params["W1"] + self.params["b1"]
        return (1 / (1 + np.exp(-a1))) @ self.params["W2"] + self.params["b2"]

    def loss(self, x, t):
        z = self.predict(x)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(x)), t]))

    def gradient(self, x, t):
        return {k: np.zeros_like(v) for k, v in self.params.items()}
"""


def test_a_random_loss_is_said_to_be_random(tmp_path: Path) -> None:
    """Dropout left on: "returns different values at the same point", not a scale diagnosis."""
    path = tmp_path / "dropout.py"
    path.write_text(DROPOUT)
    status, doc = run(tmp_path, f"{path}:Net")
    assert status == 1
    texts = [n["message"] for n in doc["gradients"]["notes"] if n["method"] == "Net"]
    assert any("loss returns different values at the same point" in m for m in texts), texts
    codes = [d["code"] for d in doc["gradients"]["diagnoses"] if d["method"] == "Net"]
    assert codes[0] == "nondeterministic" and "scaled" not in codes
    out = tmp_path / "check.json"
    assert check_main([*CHECK, "--impl", f"{path}:Net", "--json", str(out)]) == 1
    (failure,) = json.loads(out.read_text())["failures"]
    assert "different values at the same point" in failure["message"]


# -- classes docs/own-implementation.md allows, and params that cannot be used ---------------------------------------

ONLY_GRADIENT = (
    NET.format(init="pass", grad="pass")
    .replace("    def predict", "    def _predict")
    .replace("    def loss", "    def _loss")
)


def test_a_class_with_only_params_and_gradient_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "only.py"
    path.write_text(ONLY_GRADIENT)
    out = tmp_path / "r.json"
    status = run_main([*RUN, "--only", "gradients,trajectory", "--iters", "30", "--impl", f"{path}:Net"] + [
        "--json", str(out)
    ])  # fmt: skip
    doc = json.loads(out.read_text())
    assert status == 0
    assert {"predict", "loss"} <= {n["message"] for n in doc["gradients"]["notes"] if n["status"] == "not provided"}
    assert "Net" in {r["method"] for r in doc["trajectory"]["runs"]}
    out = tmp_path / "check.json"
    assert check_main([*CHECK, "--impl", f"{path}:Net", "--json", str(out)]) == 0
    assert (
        "no predict: the reference is the book's sigmoid net" in json.loads(out.read_text())["reports"][0]["notes"][0]
    )


@pytest.mark.parametrize(
    ("init", "words"),
    [
        ("self.params['W1'].flags.writeable = False", "params['W1'] is read-only"),
        ("self.params['b1'] = self.params['b1'].astype(np.int64)", "params['b1'] is a int64 array"),
        ("type(self).params = property(lambda s: 1 / 0)", "reading params raised ZeroDivisionError"),
    ],
)
def test_params_that_cannot_be_used_are_one_line(tmp_path: Path, init: str, words: str, capsys) -> None:
    path, _ = write_net(tmp_path / "mine", init=init)
    assert run_main([*RUN, "--impl", f"{path}:Net"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err


def test_a_gradient_mapping_that_raises_is_a_fail_row(tmp_path: Path) -> None:
    grad = "return type('G', (dict,), {'__getitem__': lambda s, k: 1 / 0})(W1=1, b1=1, W2=1, b2=1)"
    path, line = write_net(tmp_path / "mine", grad=grad)
    status, doc = run(tmp_path, f"{path}:Net")
    assert status == 1
    (note,) = fail_notes(doc)
    assert "ZeroDivisionError" in note["message"] and note["where"].endswith(f"net.py:{line}")


def test_a_path_with_an_equals_sign_is_a_path(tmp_path: Path) -> None:
    path, _ = write_net(tmp_path / "runs" / "a=b")
    spec = parse_spec(f"{path}:Net")
    assert spec.label is None and spec.target == str(path)
    assert parse_spec(f"mine={path}:Net").label == "mine"
    assert load_impl(f"{path}:Net").label == "Net"


def test_book_style_output_is_probed_not_assumed(tmp_path: Path, digits_batch) -> None:
    """predict returning probabilities (the book's ch. 4), logits (ch. 5), or a design of its own."""
    x, t = digits_batch
    softmaxed = NET.format(init="pass", grad="pass").replace(
        '        return (1 / (1 + np.exp(-a1))) @ self.params["W2"] + self.params["b2"]',
        '        s = (1 / (1 + np.exp(-a1))) @ self.params["W2"] + self.params["b2"]\n'
        "        e = np.exp(s - s.max(axis=1, keepdims=True))\n"
        "        return e / e.sum(axis=1, keepdims=True)",
    )
    tanh = NET.format(init="pass", grad="pass").replace("(1 / (1 + np.exp(-a1))) @", "np.tanh(a1) @")
    expected = {
        "logits": (NET.format(init="pass", grad="pass"), "sigmoid"),
        "probabilities": (softmaxed, "sigmoid"),
        "own": (tanh, None),
    }
    for name, (source, activation) in expected.items():
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        net = build_net(load_impl(f"{path}:Net"), 64, 10, 10)
        net.probe(x, t)
        assert (net.output, net.activation) == ("probabilities" if name == "probabilities" else "logits", activation)
        assert ("own design" in net.found()) == (name == "own")


def test_a_spec_failure_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError):
        load_impl(f"{tmp_path}/missing.py:Net")
    path, line = write_net(tmp_path / "mine", grad="raise ValueError('no')")
    net = build_net(load_impl(f"{path}:Net"), 64, 10, 10)
    with pytest.raises(ImplementationFailure) as info:
        net.gradient(np.zeros((2, 64)), np.array([0, 1]))
    assert info.value.where.endswith(f"net.py:{line}")
