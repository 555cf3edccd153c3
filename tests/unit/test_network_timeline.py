"""When a group tie becomes significant, when it began, and whether it grows: hand-made time lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from casegraph.network.graphs import build_graph
from casegraph.network.ties import TieParams, stub_weights
from casegraph.network.tietable import day_to_date, tie_table
from casegraph.network.timeline import growth, monthly, onset_day


def cohesive_groups_with_a_late_tie(tie_days: list[float]):
    """Groups A and B (8 people each, tied inside from day 0), 6 loners tied to members, 100 pairs of people
    with no group, and cross ties a_i - b_i on the given days."""
    names = [f"a{i}" for i in range(8)] + [f"b{i}" for i in range(8)] + [f"n{i:03d}" for i in range(206)]
    index = {n: i for i, n in enumerate(names)}
    rows = [
        (index[f"{g}{i}"], index[f"{g}{j}"], 0.0) for g in "ab" for i in range(8) for j in range(i + 1, 8)
    ]
    rows += [(index[f"n{i:03d}"], index[f"{'ab'[i % 2]}{i}"], 0.0) for i in range(6)]
    rows += [(index[f"n{i:03d}"], index[f"n{i + 1:03d}"], 0.0) for i in range(6, 206, 2)]
    rows += [(index[f"a{i}"], index[f"b{i}"], d) for i, d in enumerate(tie_days)]
    edges = pd.DataFrame(rows, columns=["a", "b", "first_day"]).assign(weight=1.0, n_events=1)
    groups = np.array(["A"] * 8 + ["B"] * 8 + [None] * 206, dtype=object)
    return build_graph(np.array(names, dtype=object), groups, edges)


def test_detection_and_onset_of_a_tie_that_starts_late():
    days = [19000.0, 19010.0, 19030.0, 19050.0]
    pg = cohesive_groups_with_a_late_tie(days)
    evidence = pd.DataFrame(
        {
            "group_a": ["A"],
            "group_b": ["B"],
            "joint_events": [4],
            "kinds": [["call"]],
            "first_at": [day_to_date(days[0])],
            "last_at": [day_to_date(days[-1])],
            "evidence": [["contact:C1"]],
        }
    )
    ties, test = tie_table(
        pg, TieParams(n_permutations=0), evidence, lambda _: {("A", "B"): np.array(days)}, 90
    )
    row = ties.iloc[0]
    assert bool(row["significant"]) and test["tests"] == 1
    # Outside stubs: A 3 + 4, B 3 + 4, all 2 x (6 + 100 + 4) = 220. A's stubs cannot meet A's: the
    # expectation w_A w_B lies between 49 / 219 (stubs matched freely) and 49 / 206 (only among the others).
    w = stub_weights(np.array([7, 7, 206]), 2)
    expected = w[0] * w[1]
    assert 49 / 219 < expected < 49 / 206 and w[0] * (w.sum() - w[0]) == pytest.approx(7)
    assert row["expected"] == pytest.approx(expected)
    assert row["p_value"] == pytest.approx(stats.poisson.sf(3, expected))
    # One tie alone (one person per side) is never enough; on day 19010 two ties (2 people per side) give
    # p = P(Poisson(0.238) >= 2) = 0.024 < 0.05 (one test): detected then.
    assert row["detected_at"] == day_to_date(19010.0)
    assert row["onset"] == day_to_date(19000.0)
    assert "significant since" in row["explanation"]


def test_onset_is_the_start_of_the_run_that_made_the_tie_significant():
    days = np.array([100.0, 400.0, 420.0, 430.0, 900.0])
    assert onset_day(days, 430.0, gap_days=90) == 400.0  # 100 is a lone old contact, 300 days before
    assert onset_day(days, 430.0, gap_days=365) == 100.0
    assert onset_day(days, 50.0, gap_days=90) is None


def test_monthly_counts_are_zero_filled():
    days = np.array(
        [(pd.Timestamp(d) - pd.Timestamp(0)).days for d in ("2024-01-05", "2024-01-20", "2024-03-02")]
    )
    counts = monthly(days.astype(float))
    assert counts.tolist() == [2, 0, 1]
    assert str(counts.index[0]) == "2024-01"


def test_growth_is_a_one_sided_binomial_on_rates():
    before = np.arange(0.0, 300.0, 30.0)  # 10 events in 300 days
    recent = np.linspace(305.0, 390.0, 12)  # 12 in the last 90 days
    grew = growth(np.concatenate([before, recent]), 0.0, 390.0, 90)
    assert grew.recent == 12 and grew.before == 10
    assert grew.ratio == pytest.approx((12 / 90) / (10 / 300))
    assert grew.p == pytest.approx(stats.binom.sf(11, 22, 90 / 390))
    assert grew.p < 0.01
    flat = growth(np.arange(0.0, 390.0, 13.0), 0.0, 390.0, 90)
    assert flat.p > 0.1
