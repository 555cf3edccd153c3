"""Emerging hot spots: a space-time cube of counts, Getis-Ord Gi* per bin, Mann-Kendall per location and
the ESRI classes; plus a kernel density surface. Pure numpy/scipy on arrays (no store).

Gi* here is esda's G_Local(y, w, transform="B", star=True) on the space-time weights: bin (i, t) neighbours
the bins of cells within `distance` of cell i (itself included) at times t-k .. t (ESRI's neighbourhood time
step). Mean and variance are taken over the whole cube (ESRI's default global window).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.signal import fftconvolve
from scipy.stats import norm

from casegraph.trends.mannkendall import mann_kendall

HOT_CLASSES = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
CLASSES = ("no pattern", *(f"{c} hot spot" for c in HOT_CLASSES), *(f"{c} cold spot" for c in HOT_CLASSES))


@dataclass
class Cube:
    """Counts per occupied grid cell (row) and time step (column)."""

    counts: np.ndarray  # L x T
    col: np.ndarray  # L, grid column of each cell
    row: np.ndarray  # L, grid row of each cell
    origin: tuple[float, float]
    cell: float

    @property
    def centres(self) -> np.ndarray:
        x0, y0 = self.origin
        return np.column_stack([x0 + (self.col + 0.5) * self.cell, y0 + (self.row + 0.5) * self.cell])


def space_time_cube(x: Any, y: Any, step: Any, *, cell: float, n_steps: int | None = None) -> Cube:
    """Bin points into square cells of `cell` metres and integer time steps 0..T-1 (cells with >= 1 point)."""
    x, y, step = np.asarray(x, float), np.asarray(y, float), np.asarray(step, np.int64)
    if cell <= 0:
        raise ValueError("cell size must be positive")
    if len(x) == 0:
        raise ValueError("no points to bin")
    if step.min() < 0:
        raise ValueError("time steps must be >= 0")
    origin = (float(np.floor(x.min())), float(np.floor(y.min())))
    col = ((x - origin[0]) // cell).astype(np.int64)
    row = ((y - origin[1]) // cell).astype(np.int64)
    key = row * (int(col.max()) + 1) + col
    cells, loc = np.unique(key, return_inverse=True)
    n_t = int(step.max()) + 1 if n_steps is None else n_steps
    counts = np.zeros((len(cells), n_t))
    np.add.at(counts, (loc, step), 1.0)
    width = int(col.max()) + 1
    return Cube(counts, cells % width, cells // width, origin, float(cell))


def grid_weights(col: np.ndarray, row: np.ndarray, cell: float, distance: float) -> sparse.csr_matrix:
    """Binary weights between cells whose centres lie within `distance` (self included): L x L."""
    reach = int(np.floor(distance / cell + 1e-9))
    offsets = [
        (dc, dr)
        for dc in range(-reach, reach + 1)
        for dr in range(-reach, reach + 1)
        if np.hypot(dc, dr) * cell <= distance + 1e-9
    ]
    width = int(col.max()) + 2 * reach + 1
    key = (row + reach) * width + (col + reach)
    order = np.argsort(key)
    sorted_key = key[order]
    rows, cols = [], []
    for dc, dr in offsets:
        target = key + dr * width + dc
        pos = np.clip(np.searchsorted(sorted_key, target), 0, len(key) - 1)
        hit = sorted_key[pos] == target
        rows.append(np.flatnonzero(hit))
        cols.append(order[pos[hit]])
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(key), len(key)))


def gi_star(counts: np.ndarray, weights: sparse.csr_matrix, *, time_lag: int = 1) -> np.ndarray:
    """Gi* z-score of every bin (L x T), neighbours = weights' cells at times t - time_lag .. t."""
    y = np.asarray(counts, float)
    n_l, n_t = y.shape
    big_n = n_l * n_t
    spatial = np.asarray(weights @ y)
    csum = np.cumsum(spatial, axis=1)
    lag = csum.copy()
    if time_lag + 1 < n_t:
        lag[:, time_lag + 1 :] -= csum[:, : n_t - time_lag - 1]
    degree = np.asarray(weights.sum(axis=1)).ravel()
    card = degree[:, None] * np.minimum(np.arange(n_t) + 1, time_lag + 1)[None, :]
    total = y.sum()
    mean = total / big_n
    variance = (y**2).sum() / big_n - mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        stat, expected = lag / total, card / big_n
        var_g = card * (big_n - card) / (big_n - 1) / big_n**2 * variance / mean**2
        z = (stat - expected) / np.sqrt(var_g)
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def significant(z: np.ndarray, *, alpha: float = 0.05, fdr: bool = True) -> np.ndarray:
    """Bins significant at `alpha` (two-sided), with the Benjamini-Hochberg FDR correction if `fdr`."""
    p = 2 * norm.sf(np.abs(z))
    if not fdr:
        return p <= alpha
    flat = np.sort(p.ravel())
    limits = alpha * np.arange(1, flat.size + 1) / flat.size
    below = np.flatnonzero(flat <= limits)
    cutoff = flat[below[-1]] if len(below) else -1.0
    return p <= cutoff


def hotspot_steps(dates: Any, step: str) -> np.ndarray:
    """Time step (0..T-1) of each date: calendar weeks (Monday), calendar months, or a whole number of days."""
    d = pd.to_datetime(pd.Series(dates)).dt.normalize()
    if step == "week":
        monday = d - pd.to_timedelta(d.dt.weekday, unit="D")
        return ((monday - monday.min()).dt.days // 7).to_numpy()
    if step == "month":
        return ((d.dt.year - d.min().year) * 12 + d.dt.month - d.min().month).to_numpy()
    if not step.isdigit() or int(step) < 1:
        raise ValueError(f"step must be week, month or a number of days, not {step!r}")
    return ((d - d.min()).dt.days // int(step)).to_numpy()


def _trailing(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True at the end of each row."""
    return np.cumprod(flags[:, ::-1], axis=1).sum(axis=1)


def _classes_one_side(
    hot: np.ndarray, cold: np.ndarray, rising: np.ndarray, falling: np.ndarray
) -> np.ndarray:
    """ESRI's eight hot-spot classes (0 = none, 1..8 in HOT_CLASSES order) for one side (hot, or cold mirrored)."""
    n_hot, final = hot.sum(axis=1), hot[:, -1]
    mostly = n_hot / hot.shape[1] >= 0.9
    trailing = _trailing(hot)
    n_sig = n_hot + cold.sum(
        axis=1
    )  # as sfdep: new / consecutive need no significant bin of either kind before
    new = ~mostly & final & (n_sig == 1)
    consecutive = ~mostly & final & (trailing >= 2) & (trailing == n_sig)
    other = ~mostly & final & ~new & ~consecutive
    ever_cold = cold.any(axis=1)
    rules = [
        new,
        consecutive,
        mostly & final & rising,
        mostly & final & ~rising & ~falling,
        mostly & final & falling,
        other & ~ever_cold,
        other & ever_cold,
        mostly & ~final,
    ]
    out = np.zeros(hot.shape[0], dtype=np.int8)
    for k, rule in enumerate(rules, start=1):
        out[(out == 0) & rule] = k
    return out


def classify(z: np.ndarray, sig: np.ndarray, *, alpha: float = 0.05) -> tuple[np.ndarray, Any]:
    """Class index into CLASSES per location (row), and the Mann-Kendall test of each row's z-scores.

    Hot: significant with z > 0. >= 90 % of steps hot: intensifying / persistent / diminishing by the trend of
    z (significant up / none / down) when the last step is hot, else historical. < 90 %, last step hot: new
    (its only significant step), consecutive (its significant steps are one run of >= 2 hot ending now),
    oscillating (ever a cold spot), else sporadic.
    Cold spots mirror this. A location both hot-now and cold-now cannot occur.
    """
    mk = mann_kendall(z, alpha=alpha)
    up, down = mk.trend > 0, mk.trend < 0
    hot, cold = sig & (z > 0), sig & (z < 0)
    hot_class = _classes_one_side(hot, cold, up, down)
    cold_class = _classes_one_side(cold, hot, down, up)
    out = np.where(hot_class > 0, hot_class, np.where(cold_class > 0, cold_class + len(HOT_CLASSES), 0))
    return out.astype(np.int8), mk


@dataclass
class EmergingHotSpots:
    cube: Cube
    z: np.ndarray  # L x T Gi* z-scores
    significant: np.ndarray  # L x T
    classes: np.ndarray  # L, index into CLASSES
    trend_tau: np.ndarray
    trend_p: np.ndarray
    seconds: float = 0.0

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.classes, minlength=len(CLASSES))
        return {name: int(c) for name, c in zip(CLASSES, counts, strict=True)}

    def class_names(self) -> list[str]:
        return [CLASSES[k] for k in self.classes]


def emerging_hotspots(
    x: Any,
    y: Any,
    step: Any,
    *,
    cell: float,
    distance: float | None = None,
    time_lag: int = 1,
    alpha: float = 0.05,
    fdr: bool = True,
    n_steps: int | None = None,
) -> EmergingHotSpots:
    """The whole analysis on points: cube, Gi* per bin, significance, Mann-Kendall and classes.

    `distance` defaults to 1.5 cells (a cell and its eight neighbours); `step` is each point's time step.
    """
    started = time.perf_counter()
    cube = space_time_cube(x, y, step, cell=cell, n_steps=n_steps)
    weights = grid_weights(cube.col, cube.row, cube.cell, distance or 1.5 * cell)
    z = gi_star(cube.counts, weights, time_lag=time_lag)
    sig = significant(z, alpha=alpha, fdr=fdr)
    classes, mk = classify(z, sig, alpha=alpha)
    return EmergingHotSpots(cube, z, sig, classes, mk.tau, mk.p, time.perf_counter() - started)


def kernel_density(
    x: Any,
    y: Any,
    *,
    cell: float,
    bandwidth: float,
    extent: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Quartic-kernel density (points per km²) on a grid of `cell` metres; returns (grid[row, col], extent).

    The kernel is normalised on the grid, so the surface integrates to the number of points inside it.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if bandwidth <= 0 or cell <= 0:
        raise ValueError("cell and bandwidth must be positive")
    x0, y0, x1, y1 = extent or (
        x.min() - bandwidth,
        y.min() - bandwidth,
        x.max() + bandwidth,
        y.max() + bandwidth,
    )
    nx, ny = max(1, int(np.ceil((x1 - x0) / cell))), max(1, int(np.ceil((y1 - y0) / cell)))
    counts, _, _ = np.histogram2d(y, x, bins=[ny, nx], range=[[y0, y0 + ny * cell], [x0, x0 + nx * cell]])
    reach = int(np.ceil(bandwidth / cell))
    offs = np.arange(-reach, reach + 1) * cell
    d2 = (offs[None, :] ** 2 + offs[:, None] ** 2) / bandwidth**2
    kernel = np.where(d2 < 1, (1 - d2) ** 2, 0.0)
    kernel /= kernel.sum()
    density = np.clip(fftconvolve(counts, kernel, mode="same"), 0, None) / (cell * cell) * 1e6
    return density, (x0, y0, x0 + nx * cell, y0 + ny * cell)
