"""The book's own published classes, and bug variants of them, through ``compare.run`` and ``compare.gradcheck``.

The book's ch04, ch05 and common folders, exactly as published, are read from ``$DLFS_BOOK_DIR``
(CI points it at ``../shared/book``); these tests skip when it is not set. Each test copies the
tree into a temporary folder before changing anything. A variant is the book with one line
changed, the way a learner's copy differs from the book.

One class must get one verdict everywhere: the harness (``compare.run --impl``) and the checker
(``compare.gradcheck --impl``) agree on the book's classes (both pass) and on every variant (both
fail, on the same parameters, with the same diagnosis).
"""

from __future__ import annotations

import faulthandler
import json
import os
import shutil
from pathlib import Path

import pytest
from children import CEILING_S

from compare.gradcheck.command import main as check_main
from compare.run import main as run_main

BOOK = os.environ.get("DLFS_BOOK_DIR", "")
pytestmark = pytest.mark.skipif(
    not (BOOK and (Path(BOOK) / "ch04" / "two_layer_net.py").is_file()),
    reason="the book's code: set DLFS_BOOK_DIR to a folder with its ch04, ch05 and common",
)
ALL = {"W1", "b1", "W2", "b2"}
# A small run: the gradient section, and a short trajectory (the book's numerical_gradient trains 2 steps).
RUN = ["--hidden-size", "10", "--threads", "1", "--no-progress", "--no-jax", "--iters", "60"]
RUN += ["--numerical-iters", "2", "--fast-numerical-iters", "10", "--only", "gradients,trajectory"]
CHECK = ["--sizes", "64,10,10", "--threads", "1", "--quiet"]
CH4 = "ch04/two_layer_net.py:TwoLayerNet"
CH5 = "ch05/two_layer_net.py:TwoLayerNet"


def book_copy(tmp_path: Path, name: str = "book") -> Path:
    """A writable copy of the book's tree (ch04, ch05, common) under ``tmp_path / name``."""
    root = tmp_path / name
    shutil.copytree(BOOK, root)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def variant(tmp_path: Path, name: str, file: str, old: str, new: str, count: int = 1) -> Path:
    """The book with one line changed: ``old`` (found exactly ``count`` times in ``file``) becomes ``new``."""
    root = book_copy(tmp_path, name)
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == count, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return root


def run(tmp_path: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / f"run{len(list(tmp_path.glob('run*.json')))}.json"
    status = run_main([*RUN, *args, "--json", str(out)])
    return status, json.loads(out.read_text())


def check(tmp_path: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / f"check{len(list(tmp_path.glob('check*.json')))}.json"
    status = check_main([*CHECK, *args, "--json", str(out)])
    return status, json.loads(out.read_text())


def failing(doc: dict, label: str) -> set[str]:
    """Parameters on which ``label`` fails against backprop in a run's gradient section."""
    rows = doc["gradients"]["rows"]
    return {r["param"] for r in rows if not r["ok"] and {r["method_a"], r["method_b"]} == {label, "backprop"}}


def inside(where: str, root: Path) -> bool:
    """Whether a message's ``file:line`` (shown absolute or relative to the working directory) lies under ``root``."""
    return Path(os.path.realpath(where.rsplit(":", 1)[0])).is_relative_to(root.resolve())


def notes(doc: dict, label: str) -> list[str]:
    return [n["message"] for n in doc["gradients"]["notes"] if n["method"] == label]


def diagnoses(doc: dict, label: str) -> dict[str, str]:
    return {d["code"]: d["message"] for d in doc["gradients"]["diagnoses"] if d["method"] == label}


# -- the book's classes, unmodified ---------------------------------------------------------------------------


def test_the_books_ch4_class_passes_in_the_harness_and_the_checker(tmp_path: Path) -> None:
    """ch. 4's predict returns softmax probabilities: found, said in one line, and judged as such everywhere."""
    root = book_copy(tmp_path)
    status, doc = run(tmp_path, "--impl", f"book={root / CH4}")
    assert status == 0, doc["gradients"]["rows"]
    found = [n for n in notes(doc, "book") if n.startswith("found:")]
    assert found == [
        "found: predict returns softmax probabilities of a sigmoid hidden layer; loss is the book's "
        "cross_entropy_error (1e-7 inside the log); loss takes one-hot labels, gradient takes one-hot labels, "
        "accuracy takes one-hot labels"
    ]
    assert not any("neither" in n or "own design" in n for n in notes(doc, "book"))
    assert {r["method"] for r in doc["trajectory"]["runs"]} >= {"book", "book[numerical]"}
    for mode in (["--mode", "fast"], ["--mode", "full", "--max-entries", "40"]):
        status, report = check(tmp_path, "--impl", f"book={root / CH4}", *mode)
        assert status == 0, report
        assert found[0] in report["reports"][0]["notes"]  # the checker says the same in the same words


def test_the_books_ch5_class_passes_in_the_harness_and_the_checker(tmp_path: Path) -> None:
    root = book_copy(tmp_path)
    status, doc = run(tmp_path, "--impl", f"book={root / CH5}", "--activation", "relu")
    assert status == 0, doc["gradients"]["rows"]
    assert any(n.startswith("found: predict returns logits of a relu hidden layer") for n in notes(doc, "book"))
    status, report = check(tmp_path, "--impl", f"book={root / CH5}", "--activation", "relu", "--mode", "fast")
    assert status == 0, report


# -- two copies of the book in one run ---------------------------------------------------------------------------

BAD_AFFINE = ("common/layers.py", "dx = np.dot(dout, self.W.T)", "dx = np.dot(dout, self.W.T) * 1.01")


@pytest.mark.parametrize("bad_first", [False, True], ids=["good-then-bad", "bad-then-good"])
def test_two_copies_of_the_book_never_share_a_module(tmp_path: Path, bad_first: bool) -> None:
    """A bug in one copy's common/layers.py fails that copy only, in either order (Python caches '..')."""
    good, bad = book_copy(tmp_path, "book"), variant(tmp_path, "mine", *BAD_AFFINE)
    specs = [f"good={good / CH5}", f"bad={bad / CH5}"]
    specs = specs[::-1] if bad_first else specs
    impls = [a for spec in specs for a in ("--impl", spec)]
    status, doc = run(tmp_path, *impls, "--activation", "relu")
    assert status == 1
    assert failing(doc, "good") == set() and failing(doc, "bad") == {"W1", "b1"}
    assert diagnoses(doc, "bad")["scaled"] == "W1, b1: analytic = reference × 1.01"
    status, report = check(tmp_path, *impls, "--activation", "relu", "--mode", "fast")
    assert status == 1
    verdicts = {r["label"].split(".")[0]: r["ok"] for r in report["reports"]}
    assert verdicts == {"good": True, "bad": False}


# -- bug variants: one line of the book changed ---------------------------------------------------------------

# (name, file, line as published, the changed line, class, activation, failing parameters, diagnosis code,
#  words the diagnosis holds in both the harness and the checker)
VARIANTS = [
    ("no-batch-division", "ch04/two_layer_net.py", "dy = (y - t) / batch_num", "dy = (y - t)", CH4, "sigmoid",
     ALL, "scaled", "= the batch size: a missing `/ batch_size`?"),
    ("relu-mask", "common/layers.py", "dout[self.mask] = 0", "dout[~self.mask] = 0", CH5, "relu",
     {"W1", "b1"}, "hidden-only", "hidden activation's backward"),
    ("softmax-backward", "common/layers.py", "dx = (self.y - self.t) / batch_size", "dx = (self.y - self.t)", CH5,
     "relu", ALL, "scaled", "= the batch size: a missing `/ batch_size`?"),
    ("index-branch-unscaled", "common/layers.py", "            dx = dx / batch_size", "            dx = dx", CH5,
     "relu", ALL, "label-branch", "its class-index branch is wrong"),
    ("index-branch-negated", "common/layers.py", "            dx = dx / batch_size",
     "            dx = -dx / batch_size", CH5, "relu", ALL, "label-branch", "its class-index branch is wrong"),
    ("sigmoid-grad", "common/functions.py", "return (1.0 - sigmoid(x)) * sigmoid(x)", "return (1.0 - sigmoid(x))",
     CH4, "sigmoid", {"W1", "b1"}, "hidden-only", "hidden activation's backward"),
    ("W1-skips-the-sigmoid-backward", "ch04/two_layer_net.py", "grads['W1'] = np.dot(x.T, da1)",
     "grads['W1'] = np.dot(x.T, dz1)", CH4, "sigmoid", {"W1"}, "own-line", "in W1's own line of the backward pass"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "old", "new", "spec", "activation", "params", "code", "words"),
    [v[1:] for v in VARIANTS],
    ids=[v[0] for v in VARIANTS],
)
def test_a_bug_variant_of_the_book_gets_one_verdict_everywhere(
    tmp_path: Path, file: str, old: str, new: str, spec: str, activation: str, params: set, code: str, words: str
) -> None:
    root = variant(tmp_path, "mine", file, old, new)
    status, doc = run(tmp_path, "--impl", f"mine={root / spec}", "--activation", activation)
    assert status == 1
    assert failing(doc, "mine") == params
    found = diagnoses(doc, "mine")
    assert code in found and words in found[code], found
    # The checker at the run's batch size, in both modes: the same parameters, diagnosis and words.
    for mode in ("full", "fast"):
        spec_args = ("--impl", f"mine={root / spec}", "--activation", activation, "--batch", "100", "--mode", mode)
        status, report = check(tmp_path, *spec_args)
        assert status == 1
        (checked,) = report["reports"]
        assert {p["name"] for p in checked["params"] if not p["ok"]} == params, mode
        words_there = {d["code"]: d["message"] for d in checked["diagnoses"]}
        assert code in words_there and words in words_there[code], (mode, words_there)


def test_a_transposed_square_gradient_is_named_in_fast_mode_too(tmp_path: Path) -> None:
    """W2 (10, 10) returned transposed has the right shape: fast mode's directions still show the transpose."""
    old = "self.dW = np.dot(self.x.T, dout)"
    new = "self.dW = np.dot(self.x.T, dout).T if self.W.shape[0] == self.W.shape[1] else np.dot(self.x.T, dout)"
    root = variant(tmp_path, "mine", "common/layers.py", old, new)
    status, doc = run(tmp_path, "--impl", f"mine={root / CH5}", "--activation", "relu")
    assert status == 1 and failing(doc, "mine") == {"W2"} and "transpose" in diagnoses(doc, "mine")
    for mode in ("fast", "full"):
        status, report = check(tmp_path, "--impl", f"mine={root / CH5}", "--activation", "relu", "--mode", mode)
        (checked,) = report["reports"]
        assert status == 1 and [d["code"] for d in checked["diagnoses"]] == ["transpose"], (mode, checked["diagnoses"])


# -- bug variants whose verdict is one FAIL line naming their file and line ----------------------------------

# (name, file, line as published, the changed line, class, activation, the failing method, error code, words)
FAULTS = [
    ("stale-forward", "ch05/two_layer_net.py", "        self.loss(x, t)\n", "        pass\n", CH5, "relu",
     "gradient", "stale-forward", "back-propagates the last forward pass instead of running its own"),
    ("wrong-every-other-call", "ch05/two_layer_net.py",
     "        grads['W2'], grads['b2'] = self.layers['Affine2'].dW, self.layers['Affine2'].db",
     "        self.n = getattr(self, 'n', 0) + 1; "
     "grads['W2'], grads['b2'] = self.layers['Affine2'].dW * (1 + self.n % 2), self.layers['Affine2'].db",
     CH5, "relu", "gradient", "", "W2 differ"),
    ("accumulated-dW", "common/layers.py", "self.dW = np.dot(self.x.T, dout)",
     "self.dW = np.dot(self.x.T, dout) + (self.dW if self.dW is not None else 0)", CH5, "relu",
     "gradient", "", "state kept between calls"),
    ("changes-x", "ch05/two_layer_net.py", "        y = self.predict(x)\n        return self.lastLayer",
     "        x /= 2; y = self.predict(x)\n        return self.lastLayer", CH5, "relu",
     "loss", "side-effect", "changed its argument x in place"),
    ("softmax-backward-changes-t", "common/layers.py", "dx = (self.y - self.t) / batch_size",
     "self.t -= self.y; dx = -self.t / batch_size", CH5, "relu", "gradient", "side-effect",
     "changed its argument t in place"),
    ("changes-t", "ch04/two_layer_net.py", "        grads = {}\n        \n        batch_num",
     "        grads = {}; t[0] = t[-1]\n        \n        batch_num", CH4, "sigmoid",
     "gradient", "side-effect", "changed its argument t in place"),
    ("float32-gradient", "ch05/two_layer_net.py", "grads['W2'], grads['b2'] = self.layers['Affine2'].dW, ",
     "grads['W2'], grads['b2'] = self.layers['Affine2'].dW.astype(np.float32), ", CH5, "relu",
     "gradient", "dtype", "W2 is float32 while the params are float64"),
    ("integer-gradient", "ch05/two_layer_net.py", "self.layers['Affine2'].dW, self.layers['Affine2'].db",
     "self.layers['Affine2'].dW, (self.layers['Affine2'].db * 1000).astype(int)", CH5, "relu",
     "gradient", "type", "a gradient cut to whole numbers"),
    ("accuracy-off-by-one", "ch05/two_layer_net.py", "np.sum(y == t) / float(x.shape[0])",
     "np.sum(y == t) / float(x.shape[0] + 1)", CH5, "relu", "accuracy", "wrong-accuracy", "predict's argmax"),
    ("softmax-loss-label-axis", "common/functions.py", "t = t.argmax(axis=1)", "t = t.argmax(axis=0)", CH4,
     "sigmoid", "loss", "label-format", "no one label format runs every method training calls"),
    ("accuracy-skips-a-row", "ch05/two_layer_net.py", "np.sum(y == t) / float(x.shape[0])",
     "np.sum(y[1:] == t[1:]) / float(x.shape[0])", CH5, "relu", "accuracy", "wrong-accuracy", "predict's argmax"),
    ("loss-not-averaged", "common/functions.py", "+ 1e-7)) / batch_size", "+ 1e-7))", CH5, "relu",
     "loss", "wrong-loss", "a missing / batch_size?"),
    ("loss-alternating", "ch04/two_layer_net.py", "        return cross_entropy_error(y, t)",
     "        self.n = getattr(self, 'n', 0) + 1\n        return cross_entropy_error(y, t) * (1 + self.n % 2)",
     CH4, "sigmoid", "loss", "path-dependent", "returns different values at the same point"),
    ("gradient-wrong-after-40-calls", "ch04/two_layer_net.py", "        grads['b1'] = np.sum(da1, axis=0)\n",
     "        grads['b1'] = np.sum(da1, axis=0)\n        self.c = getattr(self, 'c', 0) + 1\n"
     "        if self.c > 40: grads['W1'] = grads['W1'] * 1.5\n", CH4, "sigmoid",
     "gradient", "path-dependent", "differ on call"),
    ("bias-left-out-of-gradient", "ch04/two_layer_net.py", "        # forward\n        a1 = np.dot(x, W1) + b1",
     "        # forward\n        a1 = np.dot(x, W1)", CH4, "sigmoid", "gradient", "bias", "a bias left out"),
    ("inverted-relu-mask", "common/layers.py", "self.mask = (x <= 0)", "self.mask = (x > 0)", CH5, "relu",
     "predict", "wrong-forward", "Relu1.forward does not compute max(0, x)"),
    ("sigmoid-forward-wrong", "common/functions.py", "return 1 / (1 + np.exp(-x))",
     "return 1 / (1 + np.exp(x))", CH4, "sigmoid", "predict", "wrong-forward", "calls sigmoid but"),
    ("affine-forward-without-bias", "common/layers.py", "out = np.dot(self.x, self.W) + self.b",
     "out = np.dot(self.x, self.W)", CH5, "relu", "predict", "not-read",
     "the layers hold b1 as Affine1.b, b2 as Affine2.b but their forward pass does not use them"),
    ("predict-without-b2", "ch04/two_layer_net.py",
     "a2 = np.dot(z1, W2) + b2\n        y = softmax(a2)\n        \n        return",
     "a2 = np.dot(z1, W2)\n        y = softmax(a2)\n        \n        return", CH4, "sigmoid", "predict", "not-read",
     "predict does not read params['b2']"),
    ("accuracy-one-hot-branch-crashes", "ch05/two_layer_net.py", "if t.ndim != 1 : t = np.argmax(t, axis=1)",
     "if t.ndim != 1 : t = np.argmax(t, axis=0)", CH5, "relu", "accuracy", "label-format",
     "crashes with one-hot labels, which the other methods take"),
    ("accuracy-index-branch-wrong", "ch05/two_layer_net.py", "if t.ndim != 1 : t = np.argmax(t, axis=1)",
     "if t.ndim != 1 : t = np.argmax(t, axis=1)\n        else: t = t[::-1]", CH5, "relu", "accuracy",
     "wrong-accuracy", "with class-index labels, which the other methods take"),
    ("layer-holds-a-copy", "ch05/two_layer_net.py", "Affine(self.params['W1'], self.params['b1'])",
     "Affine(self.params['W1'].copy(), self.params['b1'])", CH5, "relu", "predict", "not-read",
     "Affine1.W is a copy of W1"),
    ("cross-entropy-arguments-swapped", "common/layers.py", "self.loss = cross_entropy_error(self.y, self.t)",
     "self.loss = cross_entropy_error(self.t, self.y)", CH5, "relu", "loss", "wrong-loss",
     "not the cross-entropy of predict"),
    ("float32-sigmoid-grad", "common/functions.py", "return (1.0 - sigmoid(x)) * sigmoid(x)",
     "return ((1.0 - sigmoid(x)) * sigmoid(x)).astype(np.float32)", CH4, "sigmoid", "gradient", "float32-gradient",
     "agrees with backprop only to about float32 rounding (W1, b1:"),
    ("softmax-kept-from-the-first-call", "ch04/two_layer_net.py",
     "        y = softmax(a2)\n        \n        # backward",
     "        self.y = getattr(self, 'y', None)\n        if self.y is None: self.y = softmax(a2)\n        y = self.y\n"
     "        \n        # backward", CH4, "sigmoid", "gradient", "kept-state", "not at other weights"),
    ("float32-affine-input", "common/layers.py", "x = x.reshape(x.shape[0], -1)\n        self.x = x\n",
     "x = x.reshape(x.shape[0], -1)\n        self.x = x.astype(np.float32)\n", CH5, "relu", "predict",
     "wrong-forward", "x @ W + b only to float32 rounding"),
    ("params-cast-after-the-layers-were-built", "ch05/two_layer_net.py", "        self.lastLayer = SoftmaxWithLoss()",
     "        self.lastLayer = SoftmaxWithLoss()\n"
     "        self.params = {k: v.astype(np.float32) for k, v in self.params.items()}", CH5, "relu", "predict",
     "not-read", "predict does not read params['W1'], params['b1'], params['W2'], params['b2']"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "old", "new", "spec", "activation", "method", "error", "words"),
    [v[1:] for v in FAULTS],
    ids=[v[0] for v in FAULTS],
)
def test_a_faulty_variant_of_the_book_fails_with_its_file_and_line_everywhere(
    tmp_path: Path, file: str, old: str, new: str, spec: str, activation: str, method: str, error: str, words: str
) -> None:
    """What no entry-by-entry comparison shows (state between calls, changed inputs, the loss) is a FAIL line."""
    root = variant(tmp_path, "mine", file, old, new)
    status, doc = run(tmp_path, "--impl", f"mine={root / spec}", "--activation", activation)
    assert status == 1
    fails = [n for n in doc["gradients"]["notes"] if n["method"] == "mine" and n["status"] == "FAIL"]
    assert any(n["message"].startswith(f"{method}: ") and words in n["message"] for n in fails), fails
    assert all(inside(n["where"], root) for n in fails), fails
    status, report = check(tmp_path, "--impl", f"mine={root / spec}", "--activation", activation, "--batch", "100")
    assert status == 1
    hit = [f for f in report["failures"] if f["method"] == method and words in f["message"]]
    assert hit and inside(hit[0]["where"], root), report["failures"]
    assert not error or hit[0]["error"] == error


def test_a_numerical_gradient_of_a_loss_that_is_not_the_cross_entropy_is_not_compared_in_either_command(
    tmp_path: Path,
) -> None:
    """Its loss fails; its numerical gradient has no exact gradient to be held to: a note, no rows, as gradcheck."""
    old = "self.loss = cross_entropy_error(self.y, self.t)"
    root = variant(tmp_path, "mine", "common/layers.py", old, "self.loss = cross_entropy_error(self.t, self.y)")
    status, doc = run(tmp_path, "--impl", f"mine={root / CH5}", "--activation", "relu")
    assert status == 1
    why = "numerical_gradient: not checked (its loss is not a cross-entropy of predict)"
    assert why in notes(doc, "mine[numerical]")
    assert not [r for r in doc["gradients"]["rows"] if "mine[numerical]" in (r["method_a"], r["method_b"])]
    assert not [d for d in doc["gradients"]["diagnoses"] if d["method"] == "mine[numerical]"]


def test_a_hidden_layer_other_than_the_one_asked_for_is_bad_usage_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ch. 5 with a Sigmoid layer, run with --activation relu: exit 2 with the same line from both commands."""
    root = variant(tmp_path, "mine", "ch05/two_layer_net.py", "= Relu()", "= Sigmoid()")
    capsys.readouterr()
    assert run_main([*RUN, "--impl", str(root / CH5), "--activation", "relu"]) == 2
    from_run = capsys.readouterr().err.strip()
    assert check_main([*CHECK, "--impl", str(root / CH5), "--activation", "relu"]) == 2
    from_check = capsys.readouterr().err.strip()
    assert from_run == from_check
    assert from_run.endswith("its hidden layer is sigmoid, this run's is relu: add --activation sigmoid")
    assert check_main([*CHECK, "--impl", str(root / CH5)]) == 0  # not given: checked with its own hidden layer


FLOAT32_PREDICT = [
    ("ch5-logits", "ch05/two_layer_net.py", "            x = layer.forward(x)\n        \n        return x\n",
     "            x = layer.forward(x)\n        \n        return x.astype(np.float32)\n", CH5, "relu"),
    ("ch4-softmax", "common/functions.py", "    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)",
     "    x = x.astype(np.float32)\n    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)", CH4, "sigmoid"),
]  # fmt: skip


@pytest.mark.parametrize(("file", "old", "new", "spec", "activation"), [v[1:] for v in FLOAT32_PREDICT],
                         ids=[v[0] for v in FLOAT32_PREDICT])  # fmt: skip
def test_a_predict_computing_in_float32_is_judged_at_float32_everywhere(
    tmp_path: Path, file: str, old: str, new: str, spec: str, activation: str
) -> None:
    """float64 params, a float32 forward pass: not "a net of its own design", not a wrong loss; both commands
    pass it, and its numerical_gradient, noise through a float32 loss, is reported as not checked in both."""
    root = variant(tmp_path, "mine", file, old, new)
    status, doc = run(tmp_path, "--impl", f"mine={root / spec}", "--activation", activation)
    words = notes(doc, "mine")
    assert any("predict computes in float32: compared at float32 tolerances" in n for n in words), words
    assert not any("own design" in n for n in words) and failing(doc, "mine") == set()
    assert not [n for n in doc["gradients"]["notes"] if n["status"] == "FAIL"]
    assert status == 0, [r for r in doc["gradients"]["rows"] if not r["ok"]]
    unchecked = "numerical_gradient: not checked (float32 central differences are rounding noise)"
    assert unchecked in notes(doc, "mine[numerical]")
    assert not [r for r in doc["gradients"]["rows"] if "mine[numerical]" in (r["method_a"], r["method_b"])]
    for mode in ("fast", "full"):
        status, report = check(tmp_path, "--impl", f"mine={root / spec}", "--activation", activation, "--mode", mode)
        assert status == 0, report


def test_the_books_ch4_class_on_float32_params_gets_float32_tolerances_everywhere(tmp_path: Path) -> None:
    """A learner who casts the params to float32: no internal error, float32 tolerances, a note saying so."""
    old = "        self.params['b2'] = np.zeros(output_size)\n"
    new = old + "        self.params = {k: v.astype(np.float32) for k, v in self.params.items()}\n"
    root = variant(tmp_path, "mine", "ch04/two_layer_net.py", old, new)
    status, doc = run(tmp_path, "--impl", f"mine={root / CH4}")
    assert status == 0, [r for r in doc["gradients"]["rows"] if not r["ok"]]
    assert any("params are float32: compared at float32 tolerances" in n for n in notes(doc, "mine"))
    # The book's 1e-7 moves its loss by ~1e-6, below float32's rounding: not called "exact".
    assert any("float32 cannot tell the exact one from the book's" in n for n in notes(doc, "mine"))
    rows = [r for r in doc["gradients"]["rows"] if {r["method_a"], r["method_b"]} == {"backprop", "mine"}]
    assert rows and all(r["rtol"] == 1e-4 for r in rows)  # LOW_PRECISION: float32's ε with margin
    assert "mine" in {r["method"] for r in doc["trajectory"]["runs"]}
    # Their numerical_gradient in float32 is rounding noise (the lesson's point): reported, never checked.
    noisy = [p for p in doc["trajectory"]["pairs"] if "mine[numerical]" in (p["method_a"], p["method_b"])]
    assert noisy and all(not p["checked"] and "rounding noise" in p["note"] for p in noisy)
    status, report = check(tmp_path, "--impl", f"mine={root / CH4}", "--mode", "fast")
    assert status == 0 and report["reports"][0]["dtype"] == "float32"


# -- the class's own numerical_gradient -----------------------------------------------------------------------

NUMERICAL = [
    ("divided-by-h", "common/gradient.py", "(fxh1 - fxh2) / (2*h)", "(fxh1 - fxh2) / h", "2 × the exact gradient"),
    ("another-param-stepped", "ch04/two_layer_net.py", "numerical_gradient(loss_W, self.params['b2'])",
     "numerical_gradient(loss_W, self.params['b1'])[:len(self.params['b2'])]", "b2"),
    ("step-too-large", "common/gradient.py", "def numerical_gradient(f, x):\n    h = 1e-4",
     "def numerical_gradient(f, x):\n    h = 1e-1", "central differences with h = 1e-4 allow"),
]  # fmt: skip


@pytest.mark.parametrize(("file", "old", "new", "words"), [v[1:] for v in NUMERICAL], ids=[v[0] for v in NUMERICAL])
def test_a_wrong_numerical_gradient_fails_in_the_checker_as_in_the_harness(
    tmp_path: Path, file: str, old: str, new: str, words: str
) -> None:
    """The checker checks the class's numerical_gradient too: the harness's [numerical] rows fail, so does it."""
    root = variant(tmp_path, "mine", file, old, new, count=2 if old.startswith("(fxh1") else 1)  # in both loops
    status, doc = run(tmp_path, "--impl", f"mine={root / CH4}")
    assert status == 1
    rows = [r for r in doc["gradients"]["rows"] if "mine[numerical]" in (r["method_a"], r["method_b"])]
    assert rows and not all(r["ok"] for r in rows)
    fails = [n for n in doc["gradients"]["notes"] if n["method"] == "mine[numerical]" and n["status"] == "FAIL"]
    assert fails and fails[0]["message"].startswith("numerical_gradient: differs from the exact gradient"), fails
    assert words in fails[0]["message"] and inside(fails[0]["where"], root)
    status, report = check(tmp_path, "--impl", f"mine={root / CH4}")
    assert status == 1
    hit = [f for f in report["failures"] if f["method"] == "numerical_gradient"]
    assert hit and words in hit[0]["message"] and hit[0]["error"] == "wrong-numerical", report["failures"]
    assert inside(hit[0]["where"], root)


def test_a_numerical_gradient_that_never_returns_is_a_fail_at_its_line_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The forgotten ``it.iternext()``: the loop never advances. Past its limit (made 1 s here) it is a FAIL."""
    from dlfs_gradcheck.usercode import timelimit

    monkeypatch.setattr(timelimit, "MIN_S", 1.0)
    monkeypatch.setattr(timelimit, "MARGIN", 1)
    root = variant(tmp_path, "mine", "common/gradient.py", "        it.iternext()   \n", "        pass\n")
    words = "did not return within"
    # Should the limit ever fail to fire, the loop would never end: end this process instead (a crashed worker
    # fails the test), long after the 1 s limit even on a busy machine.
    faulthandler.dump_traceback_later(4 * CEILING_S, exit=True)
    request.addfinalizer(faulthandler.cancel_dump_traceback_later)
    status, doc = run(tmp_path, "--impl", f"mine={root / CH4}", "--activation", "sigmoid", "--only", "gradients")
    fails = [n for n in doc["gradients"]["notes"] if n["method"].startswith("mine") and n["status"] == "FAIL"]
    assert status == 1 and any(words in n["message"] for n in fails), fails
    # The loop's own line in common/gradient.py, not the loss evaluation the limit happened to stop.
    loop = root / "common" / "gradient.py"
    assert all(inside(n["where"], loop) for n in fails if words in n["message"]), fails
    status, report = check(tmp_path, "--impl", f"mine={root / CH4}", "--activation", "sigmoid")
    hit = [f for f in report["failures"] if words in f["message"]]
    assert status == 1 and hit and inside(hit[0]["where"], loop), report["failures"]
