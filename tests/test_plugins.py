"""A user's own class through ``dlfs_gradcheck.usercode``: loading, gradients, planted bugs, state, training.

The fixtures under ``tests/plugins/`` are written the way a reader of the book writes them
(ch. 4: sigmoid, gradient by hand, one-hot labels; ch. 5: layers in an OrderedDict, ReLU,
SoftmaxWithLoss with the 1e-7 loss; a torch module). The reference is always the
project's numpy net (``impl_numpy``), built from the same shared weights.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_grads_close

from compare.engine.builtin_runners import NumpyRunner, builtin_info
from compare.engine.plugin_runner import plugin_runners
from compare.engine.protocol import batch_stream
from compare.gradcheck import book_net_problem, torch_module_net_problem
from compare.gradcheck.command import main as gradcheck_main
from dlfs_gradcheck.diagnose import Context, diagnose
from dlfs_gradcheck.metrics import EXACT_F64, LOW_PRECISION, diff, numerical_tolerance
from dlfs_gradcheck.usercode import BookNet, ImplementationFailure, SpecError, build_net, load_impl, load_impls
from dlfs_gradcheck.usercode.checks import book_loss_gradient
from impl_numpy import init_params

PLUGINS = Path(__file__).parent / "plugins"
CH4 = f"{PLUGINS}/ch4/two_layer_net.py:TwoLayerNet"
CH5 = f"{PLUGINS}/ch5/two_layer_net.py:TwoLayerNet"
CH5_ONEFILE = f"{PLUGINS}/ch5_onefile.py:TwoLayerNet"
TORCH = f"{PLUGINS}/torch_net.py:TorchTwoLayerNet"
ACTIVATION = {CH4: "sigmoid", CH5: "relu", CH5_ONEFILE: "relu", TORCH: "sigmoid"}


def bug(name: str) -> str:
    return f"{PLUGINS}/bugs/{name}.py:TwoLayerNet"


def reference(params: dict, x: np.ndarray, t: np.ndarray, activation: str) -> dict:
    return NumpyRunner(builtin_info("backprop"), params, activation).gradient(x, t)


def spec_error(text: str, **kwargs) -> str:
    with pytest.raises(SpecError) as info:
        load_impl(text, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message  # one line, for `error: ...` and exit status 2
    return message


# -- loading ---------------------------------------------------------------------------------------
def test_bad_specs_are_one_line_errors(tmp_path: Path):
    (tmp_path / "syntax.py").write_text("class Net:\n    def gradient(self x):\n        pass\n")
    (tmp_path / "boom.py").write_text("import numpy\n\n\nraise RuntimeError('no data here')\n")
    (tmp_path / "noapi.py").write_text("class Net:\n    def forward(self, x):\n        return x\n")
    assert "no such file" in spec_error(f"{tmp_path}/missing.py:Net")
    assert "syntax.py:2: syntax error" in spec_error(f"{tmp_path}/syntax.py:Net")
    message = spec_error(f"{tmp_path}/boom.py:Net")
    assert "boom.py:4" in message and "RuntimeError: no data here" in message
    assert "no class Nope (classes there: TwoLayerNet)" in spec_error(CH4.replace(":TwoLayerNet", ":Nope"))
    assert "neither gradient, numerical_gradient nor loss" in spec_error(f"{tmp_path}/noapi.py:Net")
    assert "expected path/to/file.py:ClassName" in spec_error("just_a_name")
    assert "built-in method" in spec_error(f"backprop={CH4}")
    assert "no such module" in spec_error("no_such_package.mod:Net")


def test_an_ambiguous_torch_module_is_refused(tmp_path: Path):
    pytest.importorskip("torch")
    (tmp_path / "three.py").write_text(
        "from torch import nn\n\n\nclass Net(nn.Sequential):\n"
        "    def __init__(self, d, h, c):\n"
        "        super().__init__(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, c))\n"
    )
    loaded = load_impl(f"{tmp_path}/three.py:Net")
    with pytest.raises(SpecError) as info:
        build_net(loaded, 6, 5, 3)
    assert "\n" not in str(info.value) and "expected two nn.Linear" in str(info.value) and "found 3" in str(info.value)


def test_two_files_of_one_name_load_side_by_side_and_leave_no_trace():
    cwd, path, modules = os.getcwd(), list(sys.path), set(sys.modules)
    a, b = load_impls([CH4, CH5], taken=["backprop"])
    assert (a.label, b.label) == ("TwoLayerNet", "TwoLayerNet-2")
    assert a.cls is not b.cls and a.cls.__module__ != b.cls.__module__
    assert os.getcwd() == cwd and sys.path == path  # restored after the book-style import
    assert "common" not in set(sys.modules) - modules  # the folder's helpers do not shadow another's
    with pytest.raises(SpecError, match="used twice"):
        load_impls([f"mine={CH4}", f"mine={CH5}"])


# -- correct classes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [CH4, CH5, CH5_ONEFILE])
def test_correct_book_classes_match_backprop(spec, digits_batch, digits_params):
    x, t = digits_batch
    net = build_net(load_impl(spec), 64, 10, 10)
    net.load(digits_params)
    net.probe(x, t)
    assert net.activation == ACTIVATION[spec] and net.loss_kind == "book" and net.not_read == ()
    # float64, the same formulas up to the order of a few dozen roundings: EXACT_F64 (rtol 1e-12).
    assert_grads_close(net.gradient(x, t), reference(digits_params, x, t, ACTIVATION[spec]), EXACT_F64, spec, "numpy")


def test_ch4_gets_one_hot_labels_even_where_index_labels_broadcast_silently(digits, digits_params):
    x, t = digits.x_train[:10], digits.t_train[:10]  # 10 rows, 10 classes: y - t broadcasts with indices
    net = build_net(load_impl(CH4), 64, 10, 10)
    net.load(digits_params)
    net.probe(x, t)
    assert_grads_close(net.gradient(x, t), reference(digits_params, x, t, "sigmoid"), EXACT_F64, "ch4", "numpy")
    assert net.formats["gradient"] == "one-hot"


def test_torch_module_matches_backprop(digits_batch, digits_params):
    pytest.importorskip("torch")
    x, t = digits_batch
    ref = reference(digits_params, x, t, "sigmoid")
    for dtype, tol in (("float64", EXACT_F64), ("float32", LOW_PRECISION)):  # float32: ε 1.2e-7, sums of ~100
        net = build_net(load_impl(TORCH), 64, 10, 10, dtype=dtype)
        net.load(digits_params)
        assert_grads_close(net.gradient(x, t), ref, tol, f"torch module {dtype}", "numpy")


def test_the_book_numerical_gradient_differentiates_the_book_loss(digits_params, digits):
    """The 1e-7 story: their numerical gradient fails against the exact gradient, passes against the book loss's."""
    x, t = digits.x_train[:20], digits.t_train[:20]
    net = build_net(load_impl(CH4), 64, 10, 10)
    net.load(digits_params)
    net.probe(x, t)
    numerical = net.gradient(x, t, "numerical_gradient")
    # Central differences, h = 1e-4, float64: the project's numerical tolerance (truncation + rounding).
    tol = numerical_tolerance(net.loss(x, t), 1e-4)
    assert_grads_close(numerical, book_loss_gradient(digits_params, x, t, "sigmoid"), tol, "theirs", "book loss")
    exact = reference(digits_params, x, t, "sigmoid")
    assert not diff(numerical["W2"], exact["W2"], tol).ok(tol)  # the 1e-7 is visible at this tolerance
    pairs = {k: (numerical[k], exact[k]) for k in exact}
    failed = [k for k in exact if not diff(*pairs[k], tol).ok(tol)]
    assert [d.code for d in diagnose(pairs, failed, context=Context(batch_size=20))] == ["small-smooth"]


def test_what_is_missing_is_not_provided(digits_batch, digits_params):
    x, t = digits_batch
    found = plugin_runners(load_impl(CH5_ONEFILE), digits_params, x, t)
    assert "numerical_gradient" in found.not_provided
    assert [r.info.label for r in found.runners] == ["TwoLayerNet"]
    both = plugin_runners(load_impl(CH4), digits_params, x, t)
    assert [(r.info.label, r.info.kind, r.reference_loss) for r in both.runners] == [
        ("TwoLayerNet", "exact", "exact"),
        ("TwoLayerNet[numerical]", "numerical", "book"),
    ]


# -- planted bugs ----------------------------------------------------------------------------------------
# (file, activation, the parameters it must fail, the diagnosis codes expected) on a 64-10-10 net:
# H = C = 10 makes dW2 square, so its transpose has the right shape and is diagnosed.
WRONG_VALUES = [
    ("ch4_no_batch_division", "sigmoid", ["W1", "b1", "W2", "b2"], ["scaled"]),
    ("ch4_sign_flip", "sigmoid", ["W1", "b1", "W2", "b2"], ["sign"]),
    ("ch4_transposed_dW2", "sigmoid", ["W2"], ["transpose"]),
    ("ch4_sigmoid_backward_y", "sigmoid", ["W1", "b1"], ["hidden-only"]),
    ("ch4_b1_mean", "sigmoid", ["b1"], ["scaled", "own-line"]),
    ("ch5_relu_mask_inverted", "relu", ["W1", "b1"], ["hidden-only"]),
]


@pytest.mark.parametrize(("name", "activation", "failing", "codes"), WRONG_VALUES)
def test_planted_bug_fails_exactly_its_parameters_with_its_diagnosis(
    name, activation, failing, codes, digits_batch, digits_params
):
    x, t = digits_batch
    (runner,) = plugin_runners(load_impl(bug(name)), digits_params, x, t).runners[:1]
    theirs, ref = runner.gradient(x, t), reference(digits_params, x, t, activation)
    failed = [k for k in ref if not diff(theirs[k], ref[k], EXACT_F64).ok(EXACT_F64)]
    assert failed == failing
    found = diagnose({k: (theirs[k], ref[k]) for k in ref}, failed, context=Context(batch_size=len(x)))
    assert [d.code for d in found] == codes
    if name == "ch4_no_batch_division":
        assert "the batch size" in found[0].message
    if name == "ch4_b1_mean":
        assert "divided by the batch size twice" in found[0].message


# (file, method, error, parameters, where it points): crashes and unusable returns.
FAILURES = [
    ("ch4_raises", "NameError", ("W1",), "ch4_raises.py:64"),
    ("ch4_nan", "non-finite", ("W1", "b1", "W2", "b2"), "ch4_nan.py:48"),
    ("ch4_b2_keepdims", "shape", ("b2",), "ch4_b2_keepdims.py:48"),
    ("ch4_b1_wrong_axis", "shape", ("b1",), "ch4_b1_wrong_axis.py:48"),
]


@pytest.mark.parametrize(("name", "error", "params", "where"), FAILURES)
@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_planted_crash_is_a_failure_in_their_file(name, error, params, where, digits_batch, digits_params):
    x, t = digits_batch
    (runner,) = plugin_runners(load_impl(bug(name)), digits_params, x, t).runners[:1]
    with pytest.raises(ImplementationFailure) as info:
        runner.gradient(x, t)
    failure = info.value
    assert failure.method == "gradient" and failure.error == error and failure.where.endswith(where)
    if error != "NameError":  # a NameError names no parameter
        assert failure.params == params
    assert "\n" not in failure.line() and "tests/plugins" not in failure.message
    assert "compare/" not in failure.where  # their file, never the project's


def test_layers_on_a_copy_of_a_weight_are_a_predict_failure_naming_the_copy(digits_batch, digits_params):
    """The gradient may still be compared; what is wrong is that predict computes on a copy of W1."""
    x, t = digits_batch
    (runner,) = plugin_runners(load_impl(bug("ch5_layer_copies_W1")), digits_params, x, t).runners[:1]
    (fault,) = [f for f in runner.net.faults if f.error == "not-read"]
    assert fault.method == "predict" and fault.params == ("W1",)
    source = Path(bug("ch5_layer_copies_W1").split(":")[0]).read_text(encoding="utf-8").splitlines()
    made = [i for i, text in enumerate(source, 1) if 'self.params["W1"].copy()' in text][-1]  # in __init__
    assert "Affine1.W is a copy of W1" in fault.message and fault.where.endswith(f"ch5_layer_copies_W1.py:{made}")


def test_a_transposed_gradient_of_another_shape_says_so(digits_batch):
    x, t = digits_batch
    params = init_params(64, 20, 10, seed=0)
    (runner,) = plugin_runners(load_impl(bug("ch4_transposed_dW2")), params, x, t).runners[:1]
    with pytest.raises(ImplementationFailure, match=r"W2 has shape \(10, 20\), expected \(20, 10\) \(the transpose"):
        runner.gradient(x, t)


@pytest.mark.parametrize("name", [n for n, *_ in WRONG_VALUES] + [n for n, *_ in FAILURES] + ["ch5_stale_forward"])
def test_each_planted_bug_is_one_changed_line(name):
    text = (PLUGINS / "bugs" / f"{name}.py").read_text()
    doc, body = text.split('"""', 2)[1:]
    base_name = doc.split("``")[1]
    base = (PLUGINS / base_name).read_text().split('"""', 2)[2]
    changed = [(a, b) for a, b in zip(base.splitlines(), body.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    assert changed[0][0].strip() in doc and changed[0][1].strip() in doc  # the docstring names the line


# -- the user's state -----------------------------------------------------------------------------------
def test_state_is_restored_bit_for_bit_after_probes_and_checks(digits_batch):
    x, t = digits_batch
    user = load_impl(CH5).cls(64, 10, 10)
    user.params["b1"][:] = np.linspace(-0.1, 0.1, 10)  # their own point, not the shared weights
    arrays = dict(user.params)
    before = {k: v.copy() for k, v in arrays.items()}
    problem = book_net_problem(user, x, np.eye(10)[t])  # probes, then each evaluation writes in place
    problem.check(mode="fast")
    problem.check(mode="full", max_entries=8)
    for k, v in arrays.items():
        assert user.params[k] is v and np.array_equal(v, before[k]), k
    assert user.layers["Affine1"].W is arrays["W1"]  # the layers still read the same arrays


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_state_is_restored_after_a_crash(digits_batch):
    x, t = digits_batch
    user = load_impl(bug("ch4_nan")).cls(64, 10, 10)
    before = {k: v.copy() for k, v in user.params.items()}
    net = BookNet(user)
    net.probe(x, t)
    with pytest.raises(ImplementationFailure):
        net.gradient(x, t)
    assert all(np.array_equal(user.params[k], before[k]) for k in before)


def test_replacing_params_is_a_failure_and_is_undone(digits_batch, digits_params):
    x, t = digits_batch
    user = load_impl(CH4).cls(64, 10, 10)
    arrays = dict(user.params)
    user.gradient = lambda xb, tb: user.params.update(W1=arrays["W1"] * 1.0) or {}  # a gradient with a side effect
    net = BookNet(user)
    with pytest.raises(ImplementationFailure, match="replaced W1 with new arrays"):
        net.gradient(x, t)
    assert user.params["W1"] is arrays["W1"]


# -- training -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [CH4, CH5, TORCH])
def test_trajectory_matches_numpy_backprop(spec, digits):
    steps = 300
    params = init_params(64, 10, 10, seed=3)
    batches = batch_stream(len(digits.x_train), 100, steps, seed=3)
    eval_at = [0, 99, 199, 299]
    ref = NumpyRunner(builtin_info("backprop"), params, ACTIVATION[spec]).train(digits, batches, 0.1, eval_at, [150])
    if spec == TORCH:
        pytest.importorskip("torch")
    found = plugin_runners(load_impl(spec), params, digits.x_train[:100], digits.t_train[:100], dtype="float64")
    assert "exact cross-entropy of their" in found.runners[0].loss_source  # ch. 4/5: their loss has the 1e-7
    rec = found.runners[0].train(digits, batches, 0.1, eval_at, [150])
    # Same float64 formulas with roundings in another order: ~1e-15 per step, allowed 1e-10.
    rel = np.abs(rec.losses - ref.losses) / np.abs(ref.losses)
    assert rec.losses.shape == (steps,) and rel.max() <= 1e-10, rel.max()
    assert rec.eval_steps == ref.eval_steps
    assert np.array_equal(rec.train_acc, ref.train_acc) and np.array_equal(rec.test_acc, ref.test_acc)
    for n in (150, steps):
        for k in params:
            assert diff(rec.snapshots[n][k], ref.snapshots[n][k], EXACT_F64).max_rel <= 1e-10


def test_timed_gradient_calls_their_method(digits_batch, digits_params):
    x, t = digits_batch
    runner = plugin_runners(load_impl(CH4), digits_params, x, t).runners[0]
    call, sync = runner.timed_gradient(x, t)
    grads = call()  # their raw dict, one-hot labels passed
    assert sync is None and np.array_equal(grads["W2"], runner.gradient(x, t)["W2"])


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_a_crash_in_training_names_the_step(digits):
    params = init_params(64, 10, 10, seed=0)
    found = plugin_runners(load_impl(bug("ch4_nan")), params, digits.x_train[:100], digits.t_train[:100])
    with pytest.raises(ImplementationFailure) as info:
        found.runners[0].train(digits, batch_stream(len(digits.x_train), 100, 5, 0), 0.1, [0])
    assert info.value.step == 0 and "at step 0" in info.value.line()


# -- the gradient checker -----------------------------------------------------------------------------------------
def test_checker_api_passes_correct_and_fails_buggy(digits_batch):
    x, t = digits_batch
    assert book_net_problem(load_impl(CH4).cls(64, 10, 10), x, t).check(mode="fast").ok
    bad = book_net_problem(load_impl(bug("ch4_sigmoid_backward_y")).cls(64, 10, 10), x, t).check(mode="fast")
    assert bad.failed == ["W1", "b1"]
    copies = book_net_problem(load_impl(bug("ch5_layer_copies_W1")).cls(64, 10, 10), x, t).check(mode="fast")
    assert copies.failed == ["W1"]  # the reference through their predict ignores W1: "ignored"


def test_checker_api_for_a_torch_module(digits_batch):
    pytest.importorskip("torch")
    x, t = digits_batch
    module = load_impl(TORCH).cls(64, 10, 10)  # float32: the reference is a float64 copy
    assert torch_module_net_problem(module, x, t).check(mode="fast").ok


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_checker_cli_impl(capsys):
    common = ["--sizes", "64,10,10", "--batch", "20", "--quiet"]
    for mode in ("fast", "full"):
        assert gradcheck_main([*common, "--mode", mode, "--impl", CH4, "--impl", CH5]) == 0
        assert gradcheck_main([*common, "--mode", mode, "--impl", bug("ch4_sign_flip")]) == 1
    assert gradcheck_main([*common, "--impl", bug("ch4_raises")]) == 1
    assert "TwoLayerNet.gradient: failed" in capsys.readouterr().out
    assert gradcheck_main([*common, "--impl", CH4.replace(".py", "_missing.py")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_line_named_is_the_innermost_in_their_code(tmp_path: Path, digits_batch, digits_params):
    (tmp_path / "nested.py").write_text(
        "import numpy as np\n\n\n"
        "def helper(a):\n"
        "    return np.dot(a, a)  # (N, D) @ (N, D): shapes do not align\n\n\n"
        "class Net:\n"
        "    def __init__(self, d, h, c, std=0.01):\n"
        "        self.params = {'W1': np.zeros((d, h)), 'b1': np.zeros(h),\n"
        "                       'W2': np.zeros((h, c)), 'b2': np.zeros(c)}\n\n"
        "    def gradient(self, x, t):\n"
        "        return helper(x)\n"
    )
    net = build_net(load_impl(f"{tmp_path}/nested.py:Net"), 64, 10, 10)
    x, t = digits_batch
    with pytest.raises(ImplementationFailure) as info:
        net.gradient(x, t)
    assert info.value.where.endswith("nested.py:5") and info.value.error == "ValueError"  # not numpy's frame
