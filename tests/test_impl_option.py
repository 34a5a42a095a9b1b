"""``--impl`` end to end: a student's class through ``python -m compare.run``, as a learner runs it.

Each planted bug (tests/plugins/bugs/, one line changed from a correct class) must fail on
exactly the parameters it touches, with the diagnosis that explains it; a correct class
must pass; a spec that cannot be used is one line and exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compare.run import main

PLUGINS = Path(__file__).parent / "plugins"
BUGS = PLUGINS / "bugs"
# H = C = 10, so that a transposed dW2 has the right shape and can be diagnosed as a transpose.
SMALL = ["--only", "gradients", "--hidden-size", "10", "--threads", "1", "--no-progress", "--no-jax"]
ALL = {"W1", "b1", "W2", "b2"}


def run(tmp_path: Path, spec: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "r.json"
    status = main([*SMALL, "--impl", spec, "--json", str(out), *extra])
    return status, json.loads(out.read_text()) if out.exists() else {}


def failing_params(doc: dict, label: str = "TwoLayerNet") -> set[str]:
    """The parameters on which ``label`` fails against backprop."""
    rows = doc["gradients"]["rows"]
    return {r["param"] for r in rows if not r["ok"] and {r["method_a"], r["method_b"]} == {label, "backprop"}}


def diagnosis_codes(doc: dict, label: str = "TwoLayerNet") -> set[str]:
    return {d["code"] for d in doc["gradients"]["diagnoses"] if d["method"] == label}


def fail_notes(doc: dict) -> list[dict]:
    return [n for n in doc["gradients"]["notes"] if n["status"] == "FAIL"]


@pytest.mark.parametrize(
    ("bug", "params", "code", "activation"),
    [
        ("ch4_no_batch_division", ALL, "scaled", "sigmoid"),
        ("ch4_sign_flip", ALL, "sign", "sigmoid"),
        ("ch4_transposed_dW2", {"W2"}, "transpose", "sigmoid"),
        ("ch4_sigmoid_backward_y", {"W1", "b1"}, "hidden-only", "sigmoid"),
        ("ch4_b1_mean", {"b1"}, "scaled", "sigmoid"),
        ("ch5_relu_mask_inverted", {"W1", "b1"}, "hidden-only", "relu"),
    ],
)
def test_a_planted_bug_fails_on_its_parameters_with_its_diagnosis(
    tmp_path: Path, bug: str, params: set[str], code: str, activation: str
) -> None:
    status, doc = run(tmp_path, f"{BUGS / bug}.py:TwoLayerNet", "--activation", activation)
    assert status == 1
    assert failing_params(doc) == params
    assert code in diagnosis_codes(doc), doc["gradients"]["diagnoses"]
    assert not doc["ok"]


@pytest.mark.parametrize(
    ("bug", "words"),
    [
        ("ch4_raises", ["ch4_raises.py:"]),  # their file and line, not the project's traceback
        pytest.param(
            "ch4_nan",
            ["W1", "b2"],
            # The planted bug takes the log of negative pre-activations: numpy warns, from the learner's file.
            marks=pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning"),
        ),
        ("ch4_b2_keepdims", ["b2", "shape"]),
        ("ch4_b1_wrong_axis", ["b1", "shape"]),
    ],
)
def test_a_crashing_or_malformed_gradient_is_a_fail_row(tmp_path: Path, bug: str, words: list[str]) -> None:
    status, doc = run(tmp_path, f"{BUGS / bug}.py:TwoLayerNet")
    assert status == 1
    (note,) = [n for n in fail_notes(doc) if n["method"] == "TwoLayerNet"]
    text = f"{note['message']} {note['where']}"
    for word in words:
        assert word in text, text
    assert doc["gradients"]["rows"], "the rest of the report still runs"


def test_layers_that_hold_copies_are_named(tmp_path: Path) -> None:
    status, doc = run(tmp_path, f"{BUGS / 'ch5_layer_copies_W1'}.py:TwoLayerNet", "--activation", "relu")
    assert status == 1
    (fail,) = [n for n in fail_notes(doc) if "Affine1.W is a copy of W1" in n["message"]]
    # Named at the line of __init__ that made the copy, not at predict, which only reads it.
    source = (BUGS / "ch5_layer_copies_W1.py").read_text(encoding="utf-8").splitlines()
    line = [i for i, text in enumerate(source, 1) if 'self.params["W1"].copy()' in text][-1]  # after its docstring
    assert fail["where"].endswith(f"ch5_layer_copies_W1.py:{line}"), fail


@pytest.mark.parametrize(
    ("spec", "activation"), [("ch4/two_layer_net.py", "sigmoid"), ("ch5/two_layer_net.py", "relu")]
)
def test_a_correct_class_passes_gradients_and_trajectory(tmp_path: Path, spec: str, activation: str) -> None:
    out = tmp_path / "r.json"
    args = [*SMALL, "--only", "gradients,trajectory", "--iters", "300", "--numerical-iters", "2"]
    args += ["--fast-numerical-iters", "2", "--activation", activation, "--impl", f"{PLUGINS / spec}:TwoLayerNet"]
    assert main([*args, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    pairs = {(p["method_a"], p["method_b"]): p for p in doc["trajectory"]["pairs"]}
    mine = pairs[("backprop", "TwoLayerNet")]
    assert mine["checked"] and mine["ok"] and mine["steps"] == 300
    assert mine["max_rel"] <= 1e-10  # float64, same formulas: rounding only (the book-length requirement)


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ("nosuchfile.py:TwoLayerNet", "nosuchfile.py"),
        ("bugs/ch4_sign_flip.py:NoSuchClass", "NoSuchClass"),
        ("common/functions.py:softmax", "softmax"),
    ],
)
def test_a_spec_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, expect: str
) -> None:
    status = main([*SMALL, "--impl", str(PLUGINS / spec)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and expect in err


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("class TwoLayerNet:\n    def gradient(self, x, t)\n        return {}\n")
    assert main([*SMALL, "--impl", f"{bad}:TwoLayerNet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken.py" in err and ":2" in err


def test_an_activation_mismatch_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SMALL, "--impl", f"{PLUGINS / 'ch5/two_layer_net.py'}:TwoLayerNet"]) == 2
    assert "--activation relu" in capsys.readouterr().err


def test_the_readme_example_passes(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "docs" / "example" / "two_layer_net.py"
    status, doc = run(tmp_path, f"{example}:TwoLayerNet", "--hidden-size", "50")
    assert status == 0 and doc["ok"]
    notes = {(n["status"], n["message"]) for n in doc["gradients"]["notes"]}
    assert ("not provided", "numerical_gradient") in notes
