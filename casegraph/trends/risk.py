"""Near-repeat risk: from an agency's own near-repeat table, the space-time window in which the risk after an
incident stays significantly above chance; the bounded alert each new incident raises for it; and the
prospective test of those alerts (hit rate, area-time share, prediction-accuracy index) beside a plain
"last 28 days" hot-spot map given the same area each day.

The window: distance bands are taken from the inside out; in each, the time bands from the first one on that
are significant (p <= alpha) and elevated (observed / expected >= min_ratio, expected being the exact mean under
permuted dates) set how many days after the incident the band stays alerted; the first band with none ends the
window (a same-place band, upper edge under 1 m, never ends it). A point at distance d is alerted on day t after
the incident when some band reaching d (by the table's closed side) is alerted through day t: the area on day t is
a disc. Day 0 is the incident's own day: the alert starts the day after (dates carry no time of day).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import Delaunay, cKDTree

from casegraph.trends.knox import banded, distances

SAME_PLACE_M = 1.0


@dataclass(frozen=True)
class Ring:
    """One distance band of the window: alerted through `last_day` days after the incident (0 = not)."""

    lo: float
    hi: float
    last_day: int
    ratio: float | None  # observed / expected in its first time band
    p: float | None
    evidence: tuple[str, ...]  # the table's cells (band ids) that make it alerted

    def as_dict(self) -> dict[str, Any]:
        return {
            "from_m": self.lo,
            "to_m": self.hi,
            "days": self.last_day,
            "ratio": self.ratio,
            "p": self.p,
            "cells": list(self.evidence),
        }


@dataclass(frozen=True)
class RiskWindow:
    rings: tuple[Ring, ...]  # every distance band from 0 out to the last alerted one
    closed: str
    metric: str = "euclidean"

    @property
    def days(self) -> int:
        return max(r.last_day for r in self.rings)

    @property
    def radius(self) -> float:
        return max(r.hi for r in self.rings if r.last_day > 0)

    def last_day_at(self, distance: np.ndarray) -> np.ndarray:
        """Last alerted day for each distance (0 = never): the longest of the bands that reach it."""
        reach = np.maximum.accumulate(np.array([r.last_day for r in self.rings])[::-1])[::-1]
        band = banded(np.asarray(distance, dtype=float), np.array([r.hi for r in self.rings]), self.closed)
        out = np.zeros(len(band), dtype=np.int64)
        inside = band < len(self.rings)
        out[inside] = reach[band[inside]]
        return out

    def covers(self, distance: np.ndarray, days_after: np.ndarray) -> np.ndarray:
        return (days_after >= 1) & (days_after <= self.last_day_at(distance))

    def radius_on(self, days_after: int) -> float:
        """The alerted disc's radius on a day after the incident (0 when none)."""
        return max((r.hi for r in self.rings if r.last_day >= days_after >= 1), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "radius_m": self.radius,
            "days": self.days,
            "closed": self.closed,
            "distance": self.metric,
            "rings": [r.as_dict() for r in self.rings],
        }

    def describe(self) -> list[str]:
        """One line per alerted band, as an analyst reads it."""
        lines = []
        for r in self.rings:
            if r.last_day:
                ratio = "" if r.ratio is None else f", {r.ratio:.2f}x chance (p {r.p:.2g})"
                where = "same place" if r.hi < SAME_PLACE_M else f"{r.lo:g}-{r.hi:g} m"
                lines.append(f"{where}: {r.last_day} days{ratio}")
        return lines


def last_day(time_hi: float, closed: str) -> int:
    """The last whole day after the incident inside a time band's upper edge."""
    return math.floor(time_hi) if closed == "right" else math.ceil(time_hi) - 1


def risk_window(cells: Iterable[dict[str, Any]], *, alpha: float, min_ratio: float) -> RiskWindow | None:
    """The window from a near-repeat table's cells (KnoxTable.cells() or rows of the near_repeat table), or
    None when no band is alerted."""
    frame = pd.DataFrame(list(cells))
    if frame.empty:
        return None
    frame = frame[frame["space_hi"].notna() & frame["time_hi"].notna()]  # not the open 'more than' bands
    closed = str(frame["closed"].iloc[0])
    rings: list[Ring] = []
    for (lo, hi), band in frame.sort_values(["space_hi", "time_hi"]).groupby(
        ["space_lo", "space_hi"], sort=True
    ):
        ring = _ring(float(lo), float(hi), band, alpha, min_ratio, closed)
        if ring.last_day == 0 and hi >= SAME_PLACE_M:
            break
        rings.append(ring)
    if not any(r.last_day for r in rings):
        return None
    while not rings[-1].last_day:
        rings.pop()
    metric = str(frame["distance"].iloc[0]) if "distance" in frame else "euclidean"
    return RiskWindow(tuple(rings), closed, metric)


def _ring(lo: float, hi: float, band: pd.DataFrame, alpha: float, min_ratio: float, closed: str) -> Ring:
    days, evidence = 0, []
    for _, cell in band.iterrows():
        ratio = cell["nst"] / cell["expected"] if cell["expected"] > 0 else math.inf
        if cell["p"] is None or not (cell["p"] <= alpha and ratio >= min_ratio and cell["nst"] > 0):
            break
        days = last_day(float(cell["time_hi"]), closed)
        evidence.append(str(cell.get("band_id") or f"{cell['space_band']} x {cell['time_band']}"))
    first = band.iloc[0]
    ratio = float(first["nst"] / first["expected"]) if first["expected"] > 0 else None
    p = None if first["p"] is None or pd.isna(first["p"]) else float(first["p"])
    return Ring(lo, hi, max(days, 0), ratio, p, tuple(evidence))


# -- alerts ---------------------------------------------------------------------------------------------------
def live_alerts(window: RiskWindow, incidents: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The incidents (columns occurred_on, x, y, ...) whose alert runs on `as_of` (days 1 .. window.days after
    the incident) or starts the day after it (the as-of day's own); occurred_on as dates."""
    day = pd.to_datetime(incidents["occurred_on"])
    since = (as_of.normalize() - day).dt.days
    live = incidents[(since >= 0) & (since <= window.days)].copy()
    live["occurred_on"] = day[live.index].dt.date
    return live


# -- prospective evaluation -----------------------------------------------------------------------------------
@dataclass
class Region:
    """The study area as a raster: square cells of `cell` metres whose centres lie in the convex hull of the
    training incidents (Chicago's own boundary is not in the data)."""

    origin: tuple[float, float]
    cell: float
    shape: tuple[int, int]  # rows, columns
    inside: np.ndarray  # bool, rows x columns

    @property
    def area_km2(self) -> float:
        return float(self.inside.sum() * self.cell**2 / 1e6)

    def index(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col = np.floor((xy[:, 0] - self.origin[0]) / self.cell).astype(np.int64)
        row = np.floor((xy[:, 1] - self.origin[1]) / self.cell).astype(np.int64)
        return row, col

    def contains(self, xy: np.ndarray) -> np.ndarray:
        row, col = self.index(xy)
        ok = (row >= 0) & (row < self.shape[0]) & (col >= 0) & (col < self.shape[1])
        out = np.zeros(len(xy), dtype=bool)
        out[ok] = self.inside[row[ok], col[ok]]
        return out


def study_region(xy: np.ndarray, cell: float, margin: float = 0.0) -> Region:
    lo, hi = xy.min(axis=0) - margin, xy.max(axis=0) + margin
    shape = (math.ceil((hi[1] - lo[1]) / cell) + 1, math.ceil((hi[0] - lo[0]) / cell) + 1)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    centres = np.column_stack([lo[0] + (cols.ravel() + 0.5) * cell, lo[1] + (rows.ravel() + 0.5) * cell])
    hull = Delaunay(xy[np.unique(np.round(xy, 1), axis=0, return_index=True)[1]])
    inside = (hull.find_simplex(centres) >= 0).reshape(shape)
    return Region((float(lo[0]), float(lo[1])), float(cell), shape, inside)


def alert_hits(window: RiskWindow, xy: np.ndarray, day: np.ndarray) -> np.ndarray:
    """For each incident, whether an earlier incident's alert covered its place on its day."""
    hit = np.zeros(len(day), dtype=bool)
    pairs = cKDTree(xy).query_pairs(
        window.radius * (1 + 1e-9) + 1e-9, p=1 if window.metric == "manhattan" else 2, output_type="ndarray"
    )
    if not len(pairs):
        return hit
    a, b = pairs[:, 0], pairs[:, 1]
    later, earlier = np.where(day[a] >= day[b], a, b), np.where(day[a] >= day[b], b, a)
    d = distances(xy[later], xy[earlier], window.metric)
    covered = window.covers(d, day[later] - day[earlier])
    hit[later[covered]] = True
    return hit


def _disc(cell: float, radius: float) -> np.ndarray:
    """Cell offsets (rows, columns) that may hold a centre within `radius` of a point in the (0, 0) cell."""
    reach = math.ceil(radius / cell) + 1
    r, c = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    keep = np.hypot(np.maximum(np.abs(r) - 1, 0), np.maximum(np.abs(c) - 1, 0)) * cell <= radius
    return np.column_stack([r[keep], c[keep]])


def alerted_area(window: RiskWindow, region: Region, xy: np.ndarray, days_after: np.ndarray) -> int:
    """How many of the region's cells have their centre in the alerted disc of some incident (its radius on its
    `days_after`)."""
    marked = np.zeros(region.inside.size, dtype=bool)
    by_day = np.array([window.radius_on(k) for k in range(window.days + 2)])  # radius_on(days + 1) = 0
    radii = by_day[np.clip(days_after, 0, window.days + 1).astype(np.int64)]
    for radius in np.unique(radii[radii > 0]):
        pts = xy[radii == radius]
        offsets = _disc(region.cell, radius)
        row, col = region.index(pts)
        rows = row[:, None] + offsets[None, :, 0]
        cols = col[:, None] + offsets[None, :, 1]
        centre_x = region.origin[0] + (cols + 0.5) * region.cell
        centre_y = region.origin[1] + (rows + 0.5) * region.cell
        gap = np.stack([centre_x - pts[:, :1], centre_y - pts[:, 1:]], axis=-1).reshape(-1, 2)
        near = (distances(gap, np.zeros_like(gap), window.metric) <= radius).reshape(rows.shape)
        ok = near & (rows >= 0) & (rows < region.shape[0]) & (cols >= 0) & (cols < region.shape[1])
        marked[rows[ok] * region.shape[1] + cols[ok]] = True
    return int(np.count_nonzero(marked & region.inside.ravel()))


def _coarse(region: Region, size: float) -> tuple[np.ndarray, int]:
    """For each fine cell of the region, its coarse (hot-spot) cell; and how many coarse columns there are."""
    per = max(round(size / region.cell), 1)
    rows, cols = np.mgrid[0 : region.shape[0], 0 : region.shape[1]]
    width = region.shape[1] // per + 1
    return ((rows // per) * width + cols // per).ravel(), width


def evaluate(
    window: RiskWindow,
    xy: np.ndarray,
    day: np.ndarray,
    *,
    test_days: range,
    region: Region,
    hotspot_cell: float = 250.0,
    lookback: int = 28,
) -> dict[str, Any]:
    """Near-repeat alerts and the 28-day hot-spot map, day by day over `test_days` (days numbered as `day`):
    incidents of each test day inside the region that fell in the alerted area / the chosen hot-spot cells; the
    area each covered. The hot-spot map takes, each day, the cells with most incidents in the previous
    `lookback` days (ties: the most recent first) until it has the alerts' area of that day."""
    in_region = region.contains(xy)
    alerted = alert_hits(window, xy, day)
    fine_to_coarse, _ = _coarse(region, hotspot_cell)
    coarse_area = np.bincount(fine_to_coarse[region.inside.ravel()], minlength=fine_to_coarse.max() + 1)
    row, col = region.index(xy)
    inc_coarse = np.full(len(xy), -1)
    ok = (row >= 0) & (row < region.shape[0]) & (col >= 0) & (col < region.shape[1])
    inc_coarse[ok] = fine_to_coarse[row[ok] * region.shape[1] + col[ok]]
    totals = {"alerts": [0, 0, 0.0], "hotspots": [0, 0, 0.0]}  # incidents, hits, area (cells x days)
    for d in test_days:
        today = (day == d) & in_region
        recent = (day < d) & (day >= d - window.days)
        area = alerted_area(window, region, xy[recent], d - day[recent])
        chosen = _hotspot_cells(inc_coarse, day, d, lookback, coarse_area, area)
        area_hot = int(coarse_area[chosen].sum()) if len(chosen) else 0
        for name, hits, covered in (
            ("alerts", int((alerted & today).sum()), area),
            ("hotspots", int(np.isin(inc_coarse[today], chosen).sum()), area_hot),
        ):
            totals[name][0] += int(today.sum())
            totals[name][1] += hits
            totals[name][2] += covered
    cells_days = int(region.inside.sum()) * len(test_days)
    return {
        "test_days": len(test_days),
        "region_km2": round(region.area_km2, 1),
        "grid_m": region.cell,
        "hotspot_cell_m": hotspot_cell,
        "lookback_days": lookback,
        "methods": [
            _scores(name, int(t[0]), int(t[1]), t[2], cells_days, region, len(test_days))
            for name, t in totals.items()
        ],
    }


def _hotspot_cells(
    inc_coarse: np.ndarray, day: np.ndarray, d: int, lookback: int, coarse_area: np.ndarray, target: int
) -> np.ndarray:
    """The coarse cells with most incidents in [d - lookback, d - 1] (ties: latest incident first, then lowest
    index), as many as fit in `target` fine cells of area."""
    window = (day >= d - lookback) & (day < d) & (inc_coarse >= 0)
    if not window.any() or target <= 0:
        return np.empty(0, dtype=np.int64)
    frame = pd.DataFrame({"cell": inc_coarse[window], "day": day[window]})
    ranked = frame.groupby("cell")["day"].agg(["size", "max"]).reset_index()
    ranked = ranked.sort_values(["size", "max", "cell"], ascending=[False, False, True])
    area = np.cumsum(coarse_area[ranked["cell"].to_numpy()])
    return ranked["cell"].to_numpy()[area <= target]


def _scores(
    name: str, incidents: int, hits: int, area: float, cells_days: int, region: Region, days: int
) -> dict[str, Any]:
    hit_rate = hits / incidents if incidents else 0.0
    share = area / cells_days if cells_days else 0.0
    return {
        "method": name,
        "test_incidents": incidents,
        "hits": hits,
        "hit_rate": hit_rate,
        "area_time_share": share,
        "pai": hit_rate / share if share else None,
        "mean_area_km2": area * region.cell**2 / 1e6 / days if days else 0.0,
    }


def prospective(
    xy: np.ndarray,
    dates: pd.Series,
    *,
    train: tuple[pd.Timestamp, pd.Timestamp],
    test: tuple[pd.Timestamp, pd.Timestamp],
    table_options: dict[str, Any],
    alpha: float,
    min_ratios: list[float],
    grid: float = 25.0,
    hotspot_cell: float = 250.0,
    lookback: int = 28,
) -> dict[str, Any]:
    """Train the near-repeat table on the training dates, derive the window for each minimum ratio, and test
    its alerts day by day over the test dates (raised by every incident, training ones included, as they become
    known) beside the 28-day hot-spot map of the same area. `table_options` go to knox.near_repeat."""
    from casegraph.trends.knox import near_repeat

    dates = pd.to_datetime(dates).dt.normalize().reset_index(drop=True)
    day = (dates - dates.min()).dt.days.to_numpy()
    in_train = ((dates >= train[0]) & (dates <= train[1])).to_numpy()
    used = (dates <= test[1]).to_numpy()
    if in_train.sum() < 2 or not ((dates >= test[0]) & (dates <= test[1])).any():
        raise ValueError("need incidents in both the training and the test period")
    table = near_repeat(xy[in_train], day[in_train], **table_options)
    region = study_region(xy[in_train], grid)
    first = int((test[0] - dates.min()).days)
    test_days = range(first, int((test[1] - dates.min()).days) + 1)
    runs: list[dict[str, Any]] = []
    for min_ratio in min_ratios:
        window = risk_window(table.cells(), alpha=alpha, min_ratio=min_ratio)
        if window is None:
            runs.append({"min_ratio": min_ratio, "window": None, "methods": []})
            continue
        scores = evaluate(
            window,
            xy[used],
            day[used],
            test_days=test_days,
            region=region,
            hotspot_cell=hotspot_cell,
            lookback=lookback,
        )
        runs.append(
            {"min_ratio": min_ratio, "window": window.as_dict(), "describe": window.describe(), **scores}
        )
    return {
        "train": [d.date().isoformat() for d in train],
        "test": [d.date().isoformat() for d in test],
        "train_incidents": int(in_train.sum()),
        "alpha": alpha,
        "table": table.as_dict(),
        "region_km2": round(region.area_km2, 1),
        "runs": runs,
    }
