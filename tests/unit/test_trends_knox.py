"""Knox / near-repeat counts against brute force and hand-computed cases; real data against the references."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from casegraph.trends.knox import band_labels, knox, near_repeat, overall
from tests.conftest import shared_data


def band_of(value, edges, closed):
    """The band holding a value, by the definition: [0, 0] when the first edge is 0, then [0, e0] or [0, e0)
    and (a, b] or [a, b); None past the last edge."""
    for k, hi in enumerate(edges):
        lo = edges[k - 1] if k else None
        if hi == 0:
            inside = value == 0
        elif closed == "right":
            inside = value <= hi and (lo is None or value > lo)
        else:
            inside = value < hi and (lo is None or value > lo if lo == 0 else lo is None or value >= lo)
        if inside:
            return k
    return None


def brute_force(xy, t, s_edges, t_edges, closed, metric="euclidean"):
    """Every pair, banded with the stated closed side (the definition, written the slow way)."""
    table = np.zeros((len(s_edges), len(t_edges)), dtype=int)
    for i, j in itertools.combinations(range(len(t)), 2):
        dx, dy = abs(xy[i] - xy[j])
        sb = band_of(dx + dy if metric == "manhattan" else np.hypot(dx, dy), s_edges, closed)
        tb = band_of(abs(t[i] - t[j]), t_edges, closed)
        if sb is not None and tb is not None:
            table[sb, tb] += 1
    return table


@pytest.mark.parametrize("closed", ["right", "left"])
def test_counts_equal_brute_force_including_points_on_band_edges(closed):
    rng = np.random.default_rng(4)
    # Points on a 50 m lattice and whole days, so many pairs sit exactly on a band edge.
    xy = rng.integers(0, 12, size=(160, 2)) * 50.0
    t = rng.integers(0, 60, size=160).astype(float)
    s_edges, t_edges = [0.1, 100, 200, 300], [7, 14, 21]
    table = near_repeat(xy, t, space=s_edges, time_bands=t_edges, permutations=0, closed=closed)
    assert np.array_equal(table.observed, brute_force(xy, t, s_edges, t_edges, closed))


@pytest.mark.parametrize("closed", ["right", "left"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_same_place_band_and_manhattan_distance_equal_brute_force(closed, metric):
    rng = np.random.default_rng(11)
    xy = rng.integers(0, 8, size=(150, 2)) * 50.0  # many pairs at one place, many on band edges
    t = rng.integers(0, 40, size=150).astype(float)
    s_edges, t_edges = [0, 50, 100, 150], [0, 7, 14]
    table = near_repeat(
        xy, t, space=s_edges, time_bands=t_edges, permutations=0, closed=closed, metric=metric
    )
    assert np.array_equal(table.observed, brute_force(xy, t, s_edges, t_edges, closed, metric))
    assert table.ns.tolist() == brute_force(xy, np.zeros(150), s_edges, [0], closed, metric)[:, 0].tolist()


def test_open_bands_follow_from_the_totals_in_every_permutation():
    rng = np.random.default_rng(12)
    xy, t = rng.uniform(0, 800, size=(200, 2)), rng.integers(0, 60, size=200)
    inner = near_repeat(xy, t, space=[100, 200], time_bands=[7, 14], permutations=5, seed=2)
    full = inner.with_beyond()
    everything = near_repeat(xy, t, space=[100, 200, 2000], time_bands=[7, 14, 100], permutations=5, seed=2)
    assert np.array_equal(full.observed, everything.observed)
    assert np.array_equal(full.perms, everything.perms)
    assert full.perms.sum(axis=(1, 2)).tolist() == [inner.pairs] * 5
    assert band_labels(full.s_edges, "right")[-1] == "(200, inf)"
    assert overall(full)["nst"] == overall(inner)["nst"]


def test_fractional_times_use_the_same_closed_sides():
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 500, size=(120, 2))
    t = rng.uniform(0, 30, size=120).round(1)
    table = near_repeat(xy, t, space=[100, 250], time_bands=[2.5, 5.0], permutations=0)
    assert np.array_equal(table.observed, brute_force(xy, t, [100, 250], [2.5, 5.0], "right"))


def test_hand_computed_three_points():
    # a-b: 100 m, 7 days; a-c: 150 m, 8 days; b-c: 180.3 m, 1 day; d is 1 km away, 7 days after c.
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 150.0], [1000.0, 1000.0]])
    t = np.array([0.0, 7.0, 8.0, 15.0])
    r = knox(xy, t, space=200, time_=7, permutations=0)
    # close in time (<= 7 days): a-b, b-c, c-d; close in both: a-b, b-c
    assert (r["n"], r["ns"], r["nt"], r["nst"]) == (4, 3, 3, 2)
    assert r["expected"] == pytest.approx(3 * 3 / 6)
    left = knox(xy, t, space=200, time_=7, permutations=0, closed="left")
    assert (left["ns"], left["nt"], left["nst"]) == (3, 1, 1)  # 7 days apart is not < 7: only b-c


def test_expected_is_the_exact_mean_over_all_permutations():
    xy = np.array([[0.0, 0.0], [50.0, 0.0], [400.0, 0.0], [430.0, 0.0], [900.0, 0.0]])
    t = np.array([0.0, 2.0, 3.0, 10.0, 11.0])
    table = near_repeat(xy, t, space=[100], time_bands=[3], permutations=0)
    counts = [
        near_repeat(xy, t[list(p)], space=[100], time_bands=[3], permutations=0).observed[0, 0]
        for p in itertools.permutations(range(5))
    ]
    assert np.mean(counts) == pytest.approx(table.expected[0, 0])


def test_permutations_repeat_with_a_seed_and_do_not_depend_on_threads():
    rng = np.random.default_rng(6)
    xy, t = rng.uniform(0, 2000, size=(400, 2)), rng.integers(0, 100, size=400)
    a = near_repeat(xy, t, space=[100, 200], time_bands=[7], permutations=19, seed=3, workers=1)
    b = near_repeat(xy, t, space=[100, 200], time_bands=[7], permutations=19, seed=3, workers=2)
    assert np.array_equal(a.perms, b.perms)
    p = a.p_values
    assert np.all(p >= 1 / 20) and np.all(p <= 1)


def test_clustered_events_are_significant_and_random_ones_are_not():
    rng = np.random.default_rng(8)
    base_xy, base_t = rng.uniform(0, 5000, size=(300, 2)), rng.integers(0, 365, size=300)
    # Each seed event gets a near repeat 30 m away two days later.
    xy = np.vstack([base_xy, base_xy + 30.0])
    t = np.concatenate([base_t, base_t + 2])
    clustered = knox(xy, t, space=100, time_=7, permutations=99, seed=1)
    assert clustered["p"] == pytest.approx(0.01) and clustered["ratio_median"] > 3
    random = knox(base_xy, base_t, space=300, time_=14, permutations=99, seed=1)
    assert random["p"] > 0.05


def test_band_labels_state_the_closed_side():
    assert band_labels(np.array([0.1, 200.0]), "right") == ["[0, 0.1]", "(0.1, 200]"]
    assert band_labels(np.array([7.0, 14.0]), "left") == ["[0, 7)", "[7, 14)"]


def test_overall_sums_the_table():
    rng = np.random.default_rng(9)
    xy, t = rng.uniform(0, 1000, size=(200, 2)), rng.integers(0, 50, size=200)
    table = near_repeat(xy, t, space=[50, 100], time_bands=[3, 7], permutations=9, seed=1)
    one = knox(xy, t, space=100, time_=7, permutations=9, seed=1)
    both = overall(table)
    assert (both["ns"], both["nt"], both["nst"]) == (one["ns"], one["nt"], one["nst"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="increasing"):
        near_repeat(np.zeros((3, 2)), np.zeros(3), space=[200, 100], time_bands=[7])
    with pytest.raises(ValueError, match="same n"):
        near_repeat(np.zeros((3, 2)), np.zeros(4), space=[100], time_bands=[7])


def _chicago(year: int) -> tuple[np.ndarray, np.ndarray]:
    path = shared_data(
        "incidents", "chicago_residential_burglary_2014_2017", "chicago_residential_burglary_2014_2017.csv"
    )
    frame = pd.read_csv(path, parse_dates=["date"])
    frame = frame[frame["date"].dt.year == year]
    return frame[["x", "y"]].to_numpy(), (frame["date"] - pd.Timestamp(f"{year}-01-01")).dt.days.to_numpy()


@pytest.mark.realdata
def test_chicago_2014_counts_equal_pointpats_and_davies():
    xy, t = _chicago(2014)
    r = knox(xy, t, space=200, time_=7, permutations=9, seed=1)
    assert (r["n"], r["ns"], r["nst"]) == (12334, 37159, 2170)


@pytest.mark.realdata
def test_chicago_2016_table_equals_davies_published_table():
    xy, t = _chicago(2016)
    bands = {"space": [0.1, 200, 400, 600], "time_bands": [7, 14, 21]}
    right = near_repeat(xy, t, **bands, permutations=99, seed=12345)
    # tobydavies/NearRepeat, notebooks/Usage of Knox test.ipynb (interval_side 'left' and 'right').
    assert right.observed.tolist() == [
        [342, 97, 62],
        [1892, 1514, 1362],
        [4145, 3643, 3592],
        [5805, 5143, 4919],
    ]
    assert 6.0 < right.cell(0, 0)["ratio_median"] < 7.0  # Davies: 6.45 (a permutation median)
    left = near_repeat(xy, t, **bands, permutations=0, closed="left")
    assert left.observed.tolist() == [
        [319, 106, 62],
        [1647, 1539, 1400],
        [3598, 3660, 3638],
        [5028, 5167, 4935],
    ]
