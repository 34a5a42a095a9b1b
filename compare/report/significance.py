"""Do two sets of timings differ? A two-sided Mann–Whitney U rank test, and the ratio's interval that goes with it.

Usage::

    test = rank_test(a_seconds, b_seconds)          # RankTest(u, p, exact)
    low, high = ratio_interval(a_seconds, b_seconds, alpha=0.01)

The test (Mann and Whitney, 1947; also called the Wilcoxon rank-sum test) asks whether one
sample tends to lie above the other, from the ranks of the pooled values alone: it assumes
nothing about the shape of the distribution (timings are skewed, with a long tail of
disturbed runs), and one wild run moves it by one rank, not by its size.

``U`` counts the pairs (a_i, b_j) with a_i > b_j, ties counting one half. Under the null
hypothesis (both samples from one distribution) every ordering of the pooled values is equally
likely; the p-value is the chance of a ``U`` at least as far from its mean ``n·m / 2``:

- exact, without ties and with both samples at most :data:`EXACT_MAX` long: the number of
  orderings with each ``U`` is the coefficient of the Gaussian binomial ``[n + m choose n]_q``,
  built up as a product of ``(1 - q^(m+i)) / (1 - q^i)`` in integers;
- otherwise by the normal approximation with the tie correction of the variance and a
  continuity correction of one half.

Both are the p-values of ``scipy.stats.mannwhitneyu(a, b, method="exact" | "asymptotic")`` (a test
checks them against it); scipy itself is not needed.

The interval (Moses; the Hodges–Lehmann companion of the test): all ``n·m`` ratios
``b_j / a_i``, sorted; the ``k``-th smallest and ``k``-th largest bound the ratio at level
``1 - alpha``, where ``k`` is the largest count whose lower tail of ``U`` holds at most ``alpha / 2``.
It assumes B's times are A's scaled by one factor (a shift of log-times). It excludes 1 exactly
when the exact test's p-value is at most ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist

EXACT_MAX = 50  # the exact distribution's coefficients for 50 against 50 take milliseconds; beyond, the normal is close


@dataclass(frozen=True)
class RankTest:
    u: float  # U of the first sample: pairs (a_i, b_j) with a_i > b_j, ties counting one half
    p: float  # two-sided p-value
    exact: bool  # the exact null distribution (no ties, both samples small); else the normal approximation


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..N of ``values`` in their order, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1  # positions start..end hold ranks start+1..end+1
        start = end + 1
    return ranks


def tie_sizes(values: Sequence[float]) -> list[int]:
    """The size of every group of equal values (1 for a value that is not tied)."""
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return list(counts.values())


@cache
def null_counts(n: int, m: int) -> tuple[int, ...]:
    """How many of the ``C(n + m, n)`` orderings of two untied samples give each ``U`` = 0 .. n·m.

    The coefficients of the Gaussian binomial ``prod_{i=1..n} (1 - q^(m+i)) / (1 - q^i)``: after
    step ``i`` the polynomial is ``[m + i choose i]_q``, so each division is exact.
    """
    poly = [1]
    for i in range(1, n + 1):
        grown = poly + [0] * (m + i)  # times (1 - q^(m+i))
        for k in range(len(poly)):
            grown[k + m + i] -= poly[k]
        for k in range(i, len(grown)):  # divided by (1 - q^i): c_k += c_(k-i), low terms first
            grown[k] += grown[k - i]
        poly = grown[: i * m + 1]  # degree i·m; what lies above is zero
    return tuple(poly)


def _exact_p(u: float, n: int, m: int) -> float:
    counts = null_counts(n, m)
    far = max(u, n * m - u)  # the tail away from the mean n·m / 2 (the distribution is symmetric)
    tail = sum(counts[math.ceil(far) :])
    return min(1.0, 2 * tail / math.comb(n + m, n))


def _sigma(n: int, m: int, ties: list[int]) -> float:
    """Standard deviation of U under the null, with the tie correction."""
    total = n + m
    tie_term = sum(t**3 - t for t in ties) / (total * (total - 1))
    return math.sqrt(n * m / 12 * ((total + 1) - tie_term))


def rank_test(a: Sequence[float], b: Sequence[float]) -> RankTest:
    """Two-sided Mann–Whitney U test of ``a`` against ``b`` (each at least one finite value).

    With every value tied (no ordering at all) the p-value is 1: nothing tells the samples apart.
    """
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError("the rank test needs at least one value in each sample")
    pooled = [*a, *b]
    if not all(math.isfinite(v) for v in pooled):
        raise ValueError("the rank test takes finite values")
    ranks = midranks(pooled)
    u = sum(ranks[:n]) - n * (n + 1) / 2
    ties = tie_sizes(pooled)
    if len(ties) == n + m and max(n, m) <= EXACT_MAX:
        return RankTest(u, _exact_p(u, n, m), True)
    sigma = _sigma(n, m, ties)
    if sigma == 0:
        return RankTest(u, 1.0, False)
    z = (max(u, n * m - u) - n * m / 2 - 0.5) / sigma  # continuity: half a count toward the mean
    return RankTest(u, min(1.0, 2 * NormalDist().cdf(-z)), False)


def smallest_p(n: int, m: int) -> float:
    """The smallest two-sided p-value ``n`` against ``m`` untied values can reach (every a below every b)."""
    return min(1.0, 2 / math.comb(n + m, n))


def _tail_count(n: int, m: int, alpha: float, sigma: float | None) -> int:
    """The largest k whose lower tail P(U <= k - 1) holds at most alpha / 2 (0: no such k)."""
    if sigma is None:
        counts, total = null_counts(n, m), math.comb(n + m, n)
        k, below = 0, 0
        while k < len(counts) and 2 * (below + counts[k]) <= alpha * total:
            below += counts[k]
            k += 1
        return k
    # P(U <= c) ~ Phi((c + 1/2 - n·m/2) / sigma): the largest k with (k - 1/2 - n·m/2) / sigma <= z_(alpha/2)
    k = math.floor(n * m / 2 + 0.5 + sigma * NormalDist().inv_cdf(alpha / 2))
    return max(0, min(k, n * m // 2))


def ratio_interval(a: Sequence[float], b: Sequence[float], alpha: float) -> tuple[float, float]:
    """The ``1 - alpha`` interval of the factor ``b / a`` from all pairs (module docstring).

    Every value must be positive and finite. ``(0, inf)`` when the samples are too small to
    bound the ratio at that level.
    """
    if not all(v > 0 and math.isfinite(v) for v in [*a, *b]):
        raise ValueError("the ratio interval takes positive finite values")
    n, m = len(a), len(b)
    pooled = [*a, *b]
    ties = tie_sizes(pooled)
    exact = len(ties) == n + m and max(n, m) <= EXACT_MAX
    k = _tail_count(n, m, alpha, None if exact else _sigma(n, m, ties))
    if k == 0:
        return 0.0, math.inf
    ratios = sorted(y / x for x in a for y in b)  # (n·m,)
    return ratios[k - 1], ratios[len(ratios) - k]
