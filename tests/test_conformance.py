"""Every registered framework against numpy's backprop: one suite, parametrized over ``compare.registry``.

Run: ``python -m pytest tests/test_conformance.py``. A framework is held to what a run checks, the
way tinygrad's ``helper_test_op`` runs every op through one helper: from the same shared weights and
the same batches, its gradient on one batch and a short trajectory (losses, accuracies, final
weights) agree with float64 backprop within the run's own per-dtype tolerances; a training run of
no real step (learning rate 0) gives back the weights it was loaded with; its rows are timed (unless
they are whole jobs) and appear in the framework table under its group; its row labels are refused
to a plugged-in class. Where it offers them, its benchmark step rows run and are found by the
benchmark's ratios, and the gradient checker's problem for its own net passes. A framework that
is not installed is skipped, by name. A new framework inherits all of it by being registered
(``docs/contributing.md``).

The user's class is registered too: its rows are a correct book-style class plugged in
(``tests/plugins/ch5/two_layer_net.py``), as ``--impl`` does.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import NET_TOLERANCES, assert_grads_close

from compare import bench, registry
from compare.config import RunConfig
from compare.data import Dataset
from compare.engine.agreement import trajectory_row
from compare.engine.builtin_runners import BACKPROP, builtin_info, builtin_runner
from compare.engine.gradient_timing import Shape, time_runners
from compare.engine.plugins import plugin_entries
from compare.engine.protocol import MethodEntry, NotProvided, batch_stream
from compare.sections import frameworks, gradients
from dlfs_gradcheck.metrics import numerical_tolerance
from dlfs_gradcheck.usercode import SpecError, loader
from impl_numpy import init_params

pytestmark = pytest.mark.usefixtures("one_thread")

PLUGIN = str(Path(__file__).parent / "plugins" / "ch5" / "two_layer_net.py") + ":TwoLayerNet"
HIDDEN, STEPS, LR = 10, 6, 0.1
DTYPES = ("float64", "float32")
# Every framework's switch on: the suite holds each one to the reference, asked for or not.
SWITCHES = {fw.name: True for fw in registry.FRAMEWORKS if fw.switch is not None}
CFG = RunConfig(hidden_size=HIDDEN, iters=STEPS, switches=SWITCHES, ddp=2, activation="relu")


def _ids(fw: registry.Framework) -> str:
    return fw.name


@pytest.fixture(scope="module")
def setting(digits: Dataset) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The shared weights (64-10-10) and the batch stream of every framework here."""
    params = init_params(digits.input_size, HIDDEN, digits.n_classes, seed=0)
    return params, batch_stream(digits.train_size, 20, STEPS, seed=0)  # (STEPS, 20)


def rows_of(fw: registry.Framework, digits: Dataset, setting, dtypes=DTYPES) -> list[MethodEntry]:
    """The framework's exact rows in ``dtypes`` (skips when it is not installed or offers none here)."""
    if not fw.installed():
        pytest.skip(f"{fw.name} is not installed ({fw.not_installed()})")
    params, batches = setting
    if fw is registry.USER:
        x, t = digits.x_train[batches[0]], digits.t_train[batches[0]]
        found, _ = plugin_entries(
            [PLUGIN], [], params, x, t, weight_init_std=0.01, seed=0, numerical_iters=0, activation=CFG.activation
        )
        return [e for e in found if e.info.kind == "exact"]
    found = [e for e in fw.entries(CFG, ["cpu"], dtypes) if e.info.kind == "exact"]
    if not found:
        pytest.skip(f"{fw.name} offers no exact row on the CPU here")
    return found


def runner_of(entry: MethodEntry, params: dict[str, np.ndarray]):
    try:
        return entry.make(params)
    except NotProvided as e:
        pytest.skip(f"{entry.info.label}: {e}")


def reference(params: dict[str, np.ndarray]):
    return builtin_runner(builtin_info(BACKPROP), params, CFG.activation)


@pytest.mark.parametrize("fw", registry.FRAMEWORKS, ids=_ids)
def test_gradient_agrees_with_backprop(fw, digits, setting) -> None:
    params, batches = setting
    x, t = digits.x_train[batches[0]], digits.t_train[batches[0]]  # (20, 64), (20,)
    want = reference(params).gradient(x, t)
    for entry in rows_of(fw, digits, setting):
        got = runner_of(entry, params).gradient(x, t)
        tol = NET_TOLERANCES[entry.info.dtype]
        if entry.info.kind == "numerical":
            tol = numerical_tolerance(reference(params).net.loss(x, t), CFG.h)
        assert_grads_close(got, want, tol, entry.info.label, "backprop")


@pytest.mark.parametrize("fw", registry.FRAMEWORKS, ids=_ids)
def test_short_trajectory_agrees_with_backprop(fw, digits, setting) -> None:
    params, batches = setting
    evals, snaps = [0, 3, STEPS - 1], [STEPS]
    want = reference(params).train(digits, batches, LR, evals, snaps)
    ref = builtin_info(BACKPROP)
    for entry in rows_of(fw, digits, setting):
        got = runner_of(entry, params).train(digits, batches, LR, evals, snaps)
        assert len(got.losses) == STEPS and got.eval_steps == evals, (entry.info.label, got.eval_steps)
        row = trajectory_row(
            entry.info, ref, got, want, n_train=digits.train_size, n_test=len(digits.t_test), learning_rate=LR
        )
        assert row.ok and row.weights_checked, (
            f"{entry.info.label} vs backprop: losses {got.losses} / {want.losses}, accuracy "
            f"{got.train_acc} / {want.train_acc}, final weights rel err {row.weights_max_rel:.3e} "
            f"(rtol {row.weights_rtol:.1e}), first bad step {row.first_bad_step}"
        )


@pytest.mark.parametrize("fw", registry.FRAMEWORKS, ids=_ids)
def test_weights_round_trip(fw, digits, setting) -> None:
    """Loaded, then a step at learning rate 0, then exported: the weights it was given."""
    params, batches = setting
    for entry in rows_of(fw, digits, setting):
        record = runner_of(entry, params).train(digits, batches[:1], 0.0, [], [])
        exported = record.snapshots[len(record.losses)]
        assert sorted(exported) == sorted(params), (entry.info.label, sorted(exported))
        for name, loaded in params.items():  # W - 0 * grad is W: equal to the last bit, in the row's dtype
            want = loaded.astype(entry.info.dtype).astype(np.float64)
            np.testing.assert_array_equal(exported[name], want, err_msg=f"{entry.info.label}: {name}")


@pytest.mark.parametrize("fw", registry.FRAMEWORKS, ids=_ids)
def test_timed_and_in_the_framework_table(fw, digits, setting) -> None:
    params, batches = setting
    x, t = digits.x_train[batches[0]], digits.t_train[batches[0]]
    entries = rows_of(fw, digits, setting, dtypes=("float64",))
    ref = [e for e in registry.NUMPY.entries(CFG, ["cpu"], ("float64",)) if e.info.family == BACKPROP]
    section = gradients.run(ref + entries, params, x, t, activation=CFG.activation, h=CFG.h)
    timed = [e for e in entries if e.timed]
    listed = {e.info.label for e in registry.timed_entries(CFG, ["cpu"], ("float64",))}
    assert fw is registry.USER or {e.info.label for e in timed} <= listed, "its timed rows are not in the run's"
    shape = Shape(digits.input_size, HIDDEN, digits.n_classes, len(t))
    runners = [runner_of(e, params) for e in ref + timed]
    timing = SimpleNamespace(rows=time_runners(runners, x, t, shape, threads=1, runs=1))
    table = frameworks.build(section, timing, str(shape), "float64")
    by_label = {r.method: r for r in table.rows}
    for entry in entries:
        row = by_label.get(entry.info.label)
        assert row is not None, f"{entry.info.label} is not in the framework table: {sorted(by_label)}"
        compared = row.grad_ok or (row.method == BACKPROP and row.grad_max_rel == 0.0)  # or the reference itself
        assert row.framework == fw.group and compared, (row.framework, fw.group, row.grad_ok, row.grad_max_rel)
        if entry.timed:
            assert row.gradient_s is not None and row.gradient_s > 0, f"{entry.info.label} has no time"
    if fw is not registry.USER:  # a framework's model is counted, in its own package or its group's
        assert registry.model_files().get(fw.group), f"{fw.name}: no model files for the group {fw.group!r}"
        assert by_label[entries[0].info.label].code_lines, f"{fw.name}: its model's lines were not counted"


@pytest.mark.parametrize("fw", [fw for fw in registry.FRAMEWORKS if fw.reserved], ids=_ids)
def test_its_labels_are_refused_to_a_plugged_in_class(fw, digits, setting, monkeypatch) -> None:
    """By the run itself, from the registry: the checker's own list (which names the first six) is emptied here."""
    monkeypatch.setattr(loader, "RESERVED", ())
    params, batches = setting
    x, t = digits.x_train[batches[0]], digits.t_train[batches[0]]
    for stem in fw.reserved:
        with pytest.raises(SpecError, match="built-in method's name"):
            plugin_entries(
                [f"{stem}={PLUGIN}"], [], params, x, t, weight_init_std=0.01, seed=0, numerical_iters=0,
                reserved=registry.reserved_labels(),
            )  # fmt: skip


@pytest.mark.parametrize("fw", [fw for fw in registry.FRAMEWORKS if fw.switch], ids=_ids)
def test_its_switch_is_the_runs_option_and_decides_its_rows(fw) -> None:
    """``compare.run`` takes the switch the framework declares; the run records its state, given or not."""
    from compare.run import build_parser, parse_args

    assert fw.switch.flag in build_parser().format_help()
    plain, flipped = parse_args([]), parse_args([fw.switch.flag])
    assert plain.switches[fw.name] is fw.switch.default and flipped.switches[fw.name] is not fw.switch.default
    on, off = (plain, flipped) if fw.switch.default else (flipped, plain)
    mine = {e.info.label for e in fw.entries(on, ["cpu"], (on.dtype,))}
    assert mine and mine <= {e.info.label for e in registry.entries(on, ["cpu"])}
    assert not mine & {e.info.label for e in registry.entries(off, ["cpu"])}


def test_a_newly_registered_framework_gets_its_switch_rows_and_version(monkeypatch) -> None:
    """Registering is all it takes: the run's option, its rows when asked for, its version in the header."""
    import tabulate

    from compare.config import Switch
    from compare.engine.builtin_runners import builtin_info
    from compare.harness import environment
    from compare.run import parse_args

    def toy_entries(cfg, devices, dtypes) -> list[MethodEntry]:
        return [MethodEntry(builtin_info(BACKPROP, dt), lambda params: None) for dt in dtypes]

    toy = registry.Framework(
        name="toy", title="a toy", group="toy", distribution="tabulate", entries=toy_entries,
        switch=Switch("--toy", default=False, help="also the toy rows"),
    )  # fmt: skip
    monkeypatch.setattr(registry, "FRAMEWORKS", (*registry.FRAMEWORKS, toy))
    plain, asked = parse_args([]), parse_args(["--toy"])
    assert asked.switches["toy"] and not plain.switches["toy"]
    assert len(registry.entries(asked, ["cpu"])) == len(registry.entries(plain, ["cpu"])) + 1
    env = environment(seed=0, threads=1, devices=["cpu"], load_start=None)
    assert env.versions["toy"] == tabulate.__version__  # its distribution's version, under its name


# -- the benchmark's step rows and the gradient checker's nets ----------------------------------------------

BENCHED = [fw for fw in registry.FRAMEWORKS if fw.bench_steps is not None]
CHECKED = [fw for fw in registry.FRAMEWORKS if fw.checker_problem is not None]


def test_the_benchmark_keeps_its_frameworks() -> None:
    """The frameworks the benchmark named before the registry held them keep their hooks, in this order.

    A framework registered since may come anywhere after numpy, the baseline: only these four are pinned.
    """
    # a saved benchmark's rows are found by these names when it is judged again (compare.bench_steps.targets)
    before = {"numpy": "numpy backprop", "torch": "torch autograd", "torch.compile": "torch.compile", "jax": "jax.jit"}
    assert BENCHED[0] is registry.NUMPY
    assert {fw.name: fw.bench_row for fw in BENCHED if fw.name in before} == before
    assert [fw.name for fw in BENCHED if fw.name in before] == list(before)


def test_the_checker_keeps_its_frameworks() -> None:
    """The nets the checker named before the registry held them (``--impl numpy,torch``), first, in this order."""
    assert [fw.name for fw in CHECKED][:2] == ["numpy", "torch"]


@pytest.mark.parametrize("fw", BENCHED, ids=_ids)
def test_its_bench_steps_run_and_the_ratios_find_them(fw, digits, setting) -> None:
    """Each step row runs as one call and its sync; its name's stem is the framework's ``bench_row``, so that
    the benchmark's ratios find it against numpy's step with the framework's own target."""
    if not fw.installed():
        pytest.skip(f"{fw.name} is not installed ({fw.not_installed()})")
    params, batches = setting
    x, t = digits.x_train[batches[0]], digits.t_train[batches[0]]
    steps = fw.bench_steps(params, x, t, ("float32",), False)
    if not steps:
        pytest.skip(f"{fw.name} offers no step rows here")
    quick = fw.bench_steps(params, x, t, ("float32",), True)  # the smoke run: the same rows or fewer
    assert {(s.name, s.device) for s in quick} <= {(s.name, s.device) for s in steps}
    for step in steps:
        assert step.dtype == "float32" and step.name.split(" (")[0] == fw.bench_row, step
        step.call()
        if step.sync is not None:
            step.sync()
    base = registry.NUMPY.bench_steps(params, x, t, ("float32",), True)
    rows = [
        {"name": s.name, "framework": group, "device": s.device, "dtype": s.dtype, "median_s": 1.0}
        for group, made in ((registry.NUMPY.group, base), (fw.group, steps))
        for s in made
    ]
    ratios = {r["what"]: r["target"] for r in bench.targets({"rows": rows})}
    if fw is not registry.NUMPY:  # numpy is the baseline every other framework's ratio is taken against
        assert ratios.get(f"{fw.name} float32 step / numpy float32 step", "missing") == fw.step_target, ratios


@pytest.mark.parametrize("reference", ["central", "complex"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fw", CHECKED, ids=_ids)
def test_its_checker_problem_passes_for_its_own_net(fw, dtype, reference, small_problem) -> None:
    """The checker's problem for the framework's own net: it passes, and its report is labelled with the name."""
    if not fw.installed():
        pytest.skip(f"{fw.name} is not installed ({fw.not_installed()})")
    params, x, t = small_problem
    options = SimpleNamespace(activation="sigmoid", dtype=dtype, loss="exact", device="cpu", reference=reference)
    problem, label = fw.checker_problem(params, x, t, options)
    report = problem.check(label=label, mode="fast", reference=reference, seed=0)
    assert report.ok, report.table()
    assert report.label == label and label.split()[0] == fw.name, label
    assert "exact" in fw.checker_losses
