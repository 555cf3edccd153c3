"""Time differences over uncertain windows, against hand-computed values and simulation."""

from __future__ import annotations

import numpy as np
import pytest

from casegraph.linkage.timewindows import circular_diff, cycle_gap, cycle_moments, expected_abs_diff


def _one(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(expected_abs_diff(*(np.array([v]) for v in (*a, *b)))[0])


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0), (3, 3), 3.0),  # two exact times
        ((0, 1), (0, 1), 1 / 3),  # E|U1 - U2| for two unit uniforms
        ((0, 0), (0, 1), 0.5),  # a point at the start of a unit window
        ((0, 1), (5, 6), 5.0),  # disjoint windows: the distance between the means
        # E|X - y| = (y² + (10 - y)²) / 20 for X ~ U[0, 10]; averaged over y in [4, 5]: (61/3 + 91/3) / 20
        ((0, 10), (4, 5), 152 / 60),
    ],
)
def test_expected_abs_diff_hand_cases(a, b, expected):
    assert _one(a, b) == pytest.approx(expected, abs=1e-9)


def test_expected_abs_diff_matches_simulation():
    rng = np.random.default_rng(3)
    cases = [((0, 2), (1, 5)), ((2, 9), (4, 4)), ((0, 24), (12, 13)), ((1, 1), (1, 1))]
    for a, b in cases:
        x = rng.uniform(*a, 400_000) if a[1] > a[0] else np.full(400_000, a[0])
        y = rng.uniform(*b, 400_000) if b[1] > b[0] else np.full(400_000, b[0])
        assert _one(a, b) == pytest.approx(np.abs(x - y).mean(), abs=0.02)


def test_expected_abs_diff_is_symmetric():
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 100, (4, 500))
    width = rng.exponential(5, (4, 500)) * (rng.random((4, 500)) < 0.6)
    a_lo, b_lo, a_w, b_w = lo[0], lo[1], width[0], width[1]
    np.testing.assert_allclose(
        expected_abs_diff(a_lo, a_lo + a_w, b_lo, b_lo + b_w),
        expected_abs_diff(b_lo, b_lo + b_w, a_lo, a_lo + a_w),
    )


def test_cycle_gap_is_exact_for_exact_times_and_wraps_midnight():
    t_a = np.array([23.0, 1.0, 6.0, 100.5])
    t_b = np.array([1.0, 1.0, 18.0, 3.0])
    gap = cycle_gap(cycle_moments(t_a, t_a, 24.0), cycle_moments(t_b, t_b, 24.0), 24.0)
    np.testing.assert_allclose(gap, [2.0, 0.0, 12.0, 1.5], atol=1e-6)
    np.testing.assert_allclose(gap, circular_diff(t_a, t_b, 24.0), atol=1e-6)


def test_cycle_gap_carries_no_information_for_a_day_long_window():
    """A 24 h window says nothing about the time of day: the gap is a quarter period whatever the other time."""
    other = np.array([0.0, 5.0, 13.0])
    gap = cycle_gap(
        cycle_moments(np.zeros(3), np.full(3, 24.0), 24.0), cycle_moments(other, other, 24.0), 24.0
    )
    np.testing.assert_allclose(gap, 6.0, atol=1e-9)


def test_cycle_gap_day_of_week():
    monday, sunday = 0.0, 6 * 24.0 + 12  # hours since some Monday 00:00
    m = cycle_moments(np.array([monday]), np.array([monday]), 168.0)
    s = cycle_moments(np.array([sunday]), np.array([sunday]), 168.0)
    assert float(cycle_gap(m, s, 168.0)[0]) == pytest.approx(
        12.0, abs=1e-6
    )  # half a day apart across the week end
