"""Gi* (against the published formula), weights, ESRI classes on hand-built cases, FDR, kernel density."""

from __future__ import annotations

import numpy as np
import pytest

from casegraph.trends.hotspots import (
    CLASSES,
    classify,
    emerging_hotspots,
    gi_star,
    grid_weights,
    hotspot_steps,
    kernel_density,
    significant,
    space_time_cube,
)


def gi_star_by_formula(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Getis-Ord Gi* as ESRI publishes it, on a dense bin x bin weight matrix (self included)."""
    n = len(y)
    mean, s = y.mean(), np.sqrt((y**2).mean() - y.mean() ** 2)
    sw, sw2 = w.sum(axis=1), (w**2).sum(axis=1)
    return (w @ y - mean * sw) / (s * np.sqrt((n * sw2 - sw**2) / (n - 1)))


def test_gi_star_equals_the_formula_on_a_space_time_cube():
    rng = np.random.default_rng(2)
    cube = space_time_cube(
        rng.normal(0, 700, 800), rng.normal(0, 500, 800), rng.integers(0, 6, 800), cell=250
    )
    w = grid_weights(cube.col, cube.row, 250, 375).toarray()
    n_l, n_t = cube.counts.shape
    dense = np.zeros((n_l * n_t, n_l * n_t))  # bin index = t * L + location
    for t in range(n_t):
        for lag in (0, 1):
            if t - lag >= 0:
                dense[t * n_l : (t + 1) * n_l, (t - lag) * n_l : (t - lag + 1) * n_l] = w
    expected = gi_star_by_formula(cube.counts.T.ravel(), dense).reshape(n_t, n_l).T
    assert np.allclose(
        gi_star(cube.counts, grid_weights(cube.col, cube.row, 250, 375), time_lag=1),
        expected,
        atol=1e-10,
        rtol=0,
    )


def test_grid_weights_queen_and_rook():
    col, row = np.repeat(np.arange(3), 3), np.tile(np.arange(3), 3)
    centre = int(np.flatnonzero((col == 1) & (row == 1))[0])
    assert grid_weights(col, row, 100, 150)[centre].sum() == 9
    assert grid_weights(col, row, 100, 100)[centre].sum() == 5
    corner = int(np.flatnonzero((col == 0) & (row == 0))[0])
    assert grid_weights(col, row, 100, 150)[corner].sum() == 4


def case(hot_steps: str, z_values: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One location: 'H' significant hot, 'C' significant cold, '.' not significant."""
    z = np.array(
        z_values if z_values else [3.0 if c == "H" else -3.0 if c == "C" else 0.5 for c in hot_steps]
    )
    return z[None, :], np.array([c in "HC" for c in hot_steps])[None, :]


@pytest.mark.parametrize(
    ("steps", "z", "expected"),
    [
        ("..........H", None, "new hot spot"),
        (".......HHHH", None, "consecutive hot spot"),
        ("HHHHHHHHHH", [3, 3.2, 3.4, 3.6, 3.8, 4, 4.2, 4.4, 4.6, 4.8], "intensifying hot spot"),
        ("HHHHHHHHHH", [3, 4, 3, 4, 3, 4, 3, 4, 3, 4], "persistent hot spot"),
        ("HHHHHHHHHH", [4.8, 4.6, 4.4, 4.2, 4, 3.8, 3.6, 3.4, 3.2, 3], "diminishing hot spot"),
        ("..H..H...HH", None, "sporadic hot spot"),
        ("C...H....HH".replace("HH", ".H"), None, "oscillating hot spot"),
        ("HHHHHHHHHH.", None, "historical hot spot"),
        ("..........C", None, "new cold spot"),
        ("...........", None, "no pattern"),
        ("H.........C", None, "oscillating cold spot"),
    ],
)
def test_esri_classes(steps, z, expected):
    classes, _mk = classify(*case(steps, z))
    assert CLASSES[classes[0]] == expected


def test_benjamini_hochberg():
    z = np.array([4.0, 3.0, 2.2, 1.0])  # p = 6e-5, 0.0027, 0.0278, 0.317
    assert significant(z, alpha=0.05, fdr=False).tolist() == [True, True, True, False]
    # BH at 0.05 with 4 tests: limits 0.0125, 0.025, 0.0375, 0.05 -> the third (0.0278 <= 0.0375) still passes
    assert significant(z, alpha=0.05, fdr=True).tolist() == [True, True, True, False]
    assert significant(np.array([2.2, 1.0, 1.0, 1.0]), alpha=0.05, fdr=True).tolist() == [False] * 4


def test_a_cluster_that_appears_late_is_an_emerging_hot_spot():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 5000, 6000), rng.uniform(0, 5000, 6000)
    steps = rng.integers(0, 24, 6000)
    burst_x, burst_y = rng.uniform(2000, 2240, 300), rng.uniform(2000, 2240, 300)
    burst_t = rng.integers(21, 24, 300)  # the last three months only
    ehs = emerging_hotspots(
        np.concatenate([x, burst_x]), np.concatenate([y, burst_y]), np.concatenate([steps, burst_t]), cell=250
    )
    cell = np.flatnonzero((ehs.cube.col == 8) & (ehs.cube.row == 8))[0]
    assert CLASSES[ehs.classes[cell]] in {"new hot spot", "consecutive hot spot"}
    assert ehs.class_counts()["persistent hot spot"] == 0


def test_steps_from_dates():
    dates = ["2024-01-01", "2024-01-07", "2024-01-08", "2024-02-29", "2025-01-01"]
    assert hotspot_steps(dates, "week").tolist() == [0, 0, 1, 8, 52]
    assert hotspot_steps(dates, "month").tolist() == [0, 0, 0, 1, 12]
    assert hotspot_steps(dates, "10").tolist() == [0, 0, 0, 5, 36]


def test_kernel_density_keeps_the_mass_and_peaks_at_the_point():
    grid, extent = kernel_density([1000.0, 1000.0, 3000.0], [1000.0, 1000.0, 3000.0], cell=50, bandwidth=300)
    assert grid.sum() * 50 * 50 / 1e6 == pytest.approx(3.0)
    row, col = np.unravel_index(np.argmax(grid), grid.shape)
    assert abs(extent[0] + (col + 0.5) * 50 - 1000) <= 50 and abs(extent[1] + (row + 0.5) * 50 - 1000) <= 50
