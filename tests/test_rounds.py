"""Interleaved timing rounds (compare.engine.timer.time_rounds, ratio_spread) on a fake clock.

Run: ``python -m pytest tests/test_rounds.py``. No test reads the real clock: each fake call
advances a fake clock by a cost the test sets, so every expected time is written out here.
"""

from __future__ import annotations

import pytest

from compare.engine import timer


class Machine:
    """A fake clock and calls whose cost can change from round to round; it logs which call ran."""

    def __init__(self) -> None:
        self.now = 0.0
        self.log: list[str] = []
        self.costs: dict[str, float] = {}

    def clock(self) -> float:
        return self.now

    def call(self, name: str):
        def run() -> None:
            self.log.append(name)
            self.now += self.costs[name]

        return run


def test_rounds_interleave_blocks_and_time_each_call() -> None:
    m = Machine()
    m.costs = {"A": 1e-3, "B": 4e-3}
    got = timer.time_rounds(
        {"A": m.call("A"), "B": m.call("B")}, rounds=4, repeats=2, min_block_s=0.01, warmup=1, clock=m.clock
    )
    assert got["A"].per_round == pytest.approx([1e-3] * 4, rel=1e-9)
    assert got["B"].per_round == pytest.approx([4e-3] * 4, rel=1e-9)
    assert got["A"].loops * 1e-3 >= 0.01 and got["B"].loops * 4e-3 >= 0.01  # blocks last min_block_s
    # After warm-up and sizing, the timed part runs A's blocks, then B's, in each round: never call by call.
    timed = m.log[-4 * 2 * (got["A"].loops + got["B"].loops) :]
    block_a, block_b = ["A"] * (2 * got["A"].loops), ["B"] * (2 * got["B"].loops)
    assert timed == (block_a + block_b) * 4
    r = timer.ratio_spread(got["B"], got["A"])
    assert r.median == pytest.approx(4.0) and r.lo == pytest.approx(4.0) and r.hi == pytest.approx(4.0)
    assert not r.drifting


def test_a_slowdown_of_one_call_in_the_second_half_is_drift() -> None:
    m = Machine()
    m.costs = {"A": 1e-3, "B": 2e-3}
    b_calls = []
    # Sizing grows each call's block from 1 call straight to max_loops (10): one sizing call of B,
    # then 10 a round; B slows by half from round 4 of 6 on, A does not.
    threshold = 1 + 3 * 10

    def slowing_b() -> None:
        b_calls.append(1)
        m.now += m.costs["B"] * (1.5 if len(b_calls) > threshold else 1.0)

    calls = {"A": m.call("A"), "B": slowing_b}
    got = timer.time_rounds(calls, rounds=6, repeats=1, min_block_s=0.02, warmup=0, clock=m.clock, max_loops=10)
    assert got["A"].loops == got["B"].loops == 10
    r = timer.ratio_spread(got["B"], got["A"])
    assert r.first_half == pytest.approx(2.0) and r.second_half == pytest.approx(3.0)
    assert r.lo == pytest.approx(2.0) and r.hi == pytest.approx(3.0)
    assert r.drift == pytest.approx(1.0 / r.median) and r.drifting


def test_spread_of_a_series_and_the_drift_floor() -> None:
    s = timer.spread_of([1.0, 1.02, 0.99, 1.01, 1.03, 1.0], within=0.0)
    assert s.lo == 0.99 and s.hi == 1.03
    assert s.first_half == 1.0 and s.second_half == 1.01  # medians of [1, 1.02, .99] and [1.01, 1.03, 1]
    assert not s.drifting  # a 1% change is below the 5% floor
    big = timer.spread_of([1.0, 1.0, 1.0, 1.2, 1.2, 1.2], within=0.25)
    assert big.drift == pytest.approx(0.2 / 1.1) and not big.drifting  # within-round spread 25% covers it
    assert timer.spread_of([1.0, 1.0, 1.0, 1.2, 1.2, 1.2], within=0.01).drifting


def test_ratio_to_a_constant() -> None:
    times = timer.RoundTimes(per_round=[2e-3, 3e-3, 4e-3], spread=[0.0, 0.0, 0.0], loops=5)
    r = timer.ratio_spread(times, scale=1e-3)
    assert (r.lo, r.median, r.hi) == pytest.approx((2.0, 3.0, 4.0))
    assert r.first_half == pytest.approx(2.0) and r.second_half == pytest.approx(4.0)  # middle round left out


def test_a_round_keeps_its_fastest_block_and_its_spread() -> None:
    m = Machine()
    costs = iter([3e-3, 1e-3, 2e-3] * 2)  # each block is one call (max_loops 1): 3, 1, 2 ms in each round

    def varying() -> None:
        m.now += next(costs)

    got = timer.time_rounds({"A": varying}, rounds=2, repeats=3, warmup=0, clock=m.clock, max_loops=1)
    assert got["A"].loops == 1
    assert got["A"].per_round == pytest.approx([1e-3, 1e-3])  # the least disturbed block
    assert got["A"].spread == pytest.approx([1.0, 1.0])  # (3 - 1) / median 2
