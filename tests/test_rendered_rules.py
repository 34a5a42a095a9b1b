"""The pass rules behind the ok/FAIL words, at exactly their tolerances and just beyond.

Run: ``python -m pytest tests/test_rendered_rules.py``. The model documents each rule as
"pass when error <= tolerance": a trajectory's loss at each step, its accuracy records (one
sample: 1.5 / n) and its final weights. Values are chosen so that the error equals the
tolerance exactly in floating point (an integer difference over a power of ten whose
reciprocal rounds to the tolerance's own literal), then moved one step past it.
"""

from __future__ import annotations

import numpy as np
import pytest

from compare.engine.agreement import TRAJECTORY_RTOL, WEIGHT_RTOL_EXACT, trajectory_row
from compare.engine.builtin_runners import AUTOGRAD, BACKPROP, builtin_info
from compare.engine.protocol import TrainRecord
from impl_numpy.validation import PARAM_NAMES

PAIR = (builtin_info(BACKPROP), builtin_info(AUTOGRAD))
N_TRAIN, N_TEST = 2, 4  # one sample: 1.5 / 2 = 0.75 and 1.5 / 4 = 0.375, both exact in binary


def record(losses: list[float], train: list[float], test: list[float], w1: float) -> TrainRecord:
    """A run of len(losses) steps, accuracy at steps 0 and 1, and final weights whose W1[0, 0] is ``w1``."""
    snapshot = {name: np.full((2, 2), 3.0) for name in PARAM_NAMES}
    snapshot["W1"][0, 0] = w1
    eval_steps = [0, 1][: len(train)]
    return TrainRecord(np.asarray(losses), eval_steps, np.asarray(train), np.asarray(test), {len(losses): snapshot})


def row(loss_b: float, acc: tuple[float, float], w1_b: float):
    a = record([1e10, 1e10, 1e10], [1.0, 1.0], [0.5, 0.5], 1e8)
    b = record([1e10, 1e10, loss_b], [1.0, acc[0]], [0.5, acc[1]], w1_b)
    return trajectory_row(*PAIR, a, b, n_train=N_TRAIN, n_test=N_TEST)


def test_the_tolerances_are_the_literals_the_values_reach() -> None:
    assert 1 / 1e10 == TRAJECTORY_RTOL["exact", "exact", "float64"]  # (1e10 - (1e10 - 1)) / 1e10
    assert 1 / 1e8 == WEIGHT_RTOL_EXACT["float64"]


def test_every_check_exactly_at_its_tolerance_passes() -> None:
    r = row(1e10 - 1, (1.0 - 0.75, 0.5 - 0.375), 1e8 - 1)
    assert r.max_rel == r.rtol and r.first_bad_step is None
    assert r.acc_max_diff == 0.75 and r.acc_ok
    assert r.weights_checked and r.weights_max_rel == r.weights_rtol
    assert r.ok


@pytest.mark.parametrize(
    "loss_b, acc, w1_b, what",
    [
        (1e10 - 2, (0.25, 0.125), 1e8 - 1, "loss"),
        (1e10 - 1, (0.25 - 2**-20, 0.125), 1e8 - 1, "train accuracy"),
        (1e10 - 1, (0.25, 0.125 - 2**-20), 1e8 - 1, "test accuracy"),
        (1e10 - 1, (0.25, 0.125), 1e8 - 2, "weights"),
    ],
)
def test_each_check_just_beyond_its_tolerance_fails(loss_b: float, acc: tuple, w1_b: float, what: str) -> None:
    r = row(loss_b, acc, w1_b)
    assert not r.ok, what
    assert (r.first_bad_step == 2) == (what == "loss")
    assert r.acc_ok == (what not in ("train accuracy", "test accuracy"))


@pytest.mark.parametrize("train_b, test_b", [(0.75, 0.125), (0.5, 0.25), (1.0, 0.5)])
def test_the_accuracy_difference_is_the_largest_over_train_and_test(train_b: float, test_b: float) -> None:
    r = row(1e10, (train_b, test_b), 1e8)
    assert r.acc_records == 2
    assert r.acc_max_diff == max(abs(1.0 - train_b), abs(0.5 - test_b))
