"""Mann-Kendall (vectorised) and Poisson PELT against hand-computed values and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from casegraph.trends.changepoint import pelt_poisson, poisson_cost, segments
from casegraph.trends.mannkendall import mann_kendall


def test_monotone_series_by_hand():
    r = mann_kendall([1, 2, 3, 4, 5], slope=True).row(0)
    var = 5 * 4 * 15 / 18
    assert r["s"] == 10 and r["var_s"] == pytest.approx(var) and r["tau"] == 1.0
    assert r["z"] == pytest.approx(9 / math.sqrt(var))
    assert r["p"] == pytest.approx(math.erfc(r["z"] / math.sqrt(2)))
    assert r["trend"] == "increasing" and r["slope"] == 1.0 and r["intercept"] == 1.0


def test_ties_correct_the_variance():
    r = mann_kendall([1, 1, 2]).row(0)
    assert r["s"] == 2
    assert r["var_s"] == pytest.approx((3 * 2 * 11 - 2 * 1 * 9) / 18)
    assert r["z"] == pytest.approx(1 / math.sqrt(r["var_s"]))


def test_constant_and_decreasing_series():
    flat = mann_kendall([3, 3, 3, 3]).row(0)
    assert flat["z"] == 0 and flat["p"] == pytest.approx(1.0) and flat["trend"] == "no trend"
    down = mann_kendall(np.arange(20, 0, -1)).row(0)
    assert down["trend"] == "decreasing" and down["s"] == -190


def test_rows_are_tested_independently():
    rng = np.random.default_rng(1)
    y = rng.poisson(3, size=(30, 24)).astype(float)
    together = mann_kendall(y, slope=True)
    for k in range(0, 30, 7):
        alone = mann_kendall(y[k], slope=True)
        assert together.s[k] == alone.s[0] and together.var_s[k] == pytest.approx(alone.var_s[0])
        assert together.slope[k] == alone.slope[0]


def test_missing_values_are_refused():
    with pytest.raises(ValueError, match="missing"):
        mann_kendall([1.0, np.nan, 2.0])


def optimal_partition(y, penalty, min_size):
    """Exact optimum by dynamic programming over every split (the slow reference for PELT)."""
    n = len(y)
    cs = np.concatenate([[0.0], np.cumsum(y)])
    best, last = [-penalty] + [np.inf] * n, [0] * (n + 1)
    for t in range(min_size, n + 1):
        for s in range(0, t - min_size + 1):
            if s and s < min_size:
                continue
            v = best[s] + poisson_cost(cs, np.array([s]), t)[0] + penalty
            if v < best[t]:
                best[t], last[t] = v, s
    cps, t = [], n
    while t > 0:
        t = last[t]
        if t:
            cps.append(t)
    return sorted(cps), best[n]


def test_poisson_cost_by_hand():
    cs = np.concatenate([[0.0], np.cumsum([2.0, 2.0, 0.0, 0.0])])
    assert poisson_cost(cs, np.array([0]), 2)[0] == pytest.approx(2 * (4 - 4 * math.log(2)))
    assert poisson_cost(cs, np.array([2]), 4)[0] == 0.0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_pelt_finds_the_exact_optimum(seed):
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.poisson(lam, size=25) for lam in rng.uniform(0.5, 8, size=4)])
    penalty = 2 * math.log(len(y))
    cps = pelt_poisson(y, penalty=penalty, min_size=2)
    ref, _cost = optimal_partition(y, penalty, 2)
    assert cps == ref


def test_a_clear_step_is_found_where_it_is():
    y = [2, 1, 3, 2, 2, 1, 2, 3, 2, 2] * 3 + [9, 11, 10, 8, 12, 10, 9, 11, 10, 10] * 3
    cps = pelt_poisson(y)
    assert cps == [30]
    before, after = segments(y, cps)
    assert before.rate == pytest.approx(2.0) and after.rate == pytest.approx(10.0)
    assert pelt_poisson([3] * 40) == []
