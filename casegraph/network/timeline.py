"""When a group tie began and became significant, and whether it is growing.

Detection: the date the evidence reached today's significance. Counting the pair's person ties whose first
evidence is on or before t (undated ties always count) against the final analysis's expected count,
`detected` is the first t at which the Poisson tail is at or below the final Benjamini-Hochberg threshold
R q / m with enough people on each side. The count only grows, so the tie stays significant after it.
(Repeating the whole test on the graph as it stood at t makes the p-value jump with other groups' activity,
and a tie significant today could then have no date.)
Onset: the first evidence of the run that made it significant, walking back from `detected` through the
pair's joint evidence dates until a gap longer than `gap_days`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from casegraph.network.graphs import PersonGraph
from casegraph.network.ties import Stubs, poisson_upper


@dataclass
class Scan:
    """The cross-group ties sorted by pair, then by first evidence day (undated = -inf)."""

    k: int
    codes: np.ndarray  # pair code of each cross tie
    days: np.ndarray  # first day of each cross tie, in that order
    side_a: np.ndarray  # the person of the lower group
    side_b: np.ndarray

    def pair(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        code = a * self.k + b
        lo, hi = np.searchsorted(self.codes, code), np.searchsorted(self.codes, code, side="right")
        return self.days[lo:hi], self.side_a[lo:hi], self.side_b[lo:hi]


def prepare_scan(pg: PersonGraph, stubs: Stubs) -> Scan:
    u, v = pg.endpoints()
    day = np.where(np.isnan(pg.first_day), -np.inf, pg.first_day) if len(pg.first_day) else np.zeros(0)
    cross = stubs.cross
    lower_is_u = stubs.lu[cross] < stubs.lv[cross]
    side_a = np.where(lower_is_u, u[cross], v[cross])
    side_b = np.where(lower_is_u, v[cross], u[cross])
    codes, cross_days = stubs.codes(), day[cross]
    order = np.lexsort((cross_days, codes))
    return Scan(stubs.k, codes[order], cross_days[order], side_a[order], side_b[order])


def detection_day(
    scan: Scan, a: int, b: int, expected: float, p_cut: float, min_persons: int
) -> float | None:
    """First day the pair's cumulative ties are significant against `expected` (see module doc)."""
    days, side_a, side_b = scan.pair(a, b)
    when = np.unique(days)
    observed = np.searchsorted(days, when, side="right")
    p = poisson_upper(observed, np.full(len(when), expected))
    enough = (_cumulative_distinct(side_a, days, when) >= min_persons) & (
        _cumulative_distinct(side_b, days, when) >= min_persons
    )
    hit = np.flatnonzero((p <= p_cut) & enough)
    if not len(hit):
        return None
    finite = when[hit[0] :][np.isfinite(when[hit[0] :])]
    return float(finite[0]) if len(finite) else None


def _cumulative_distinct(people: np.ndarray, days: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Distinct people seen on or before each of `when` (days sorted ascending)."""
    _, first = np.unique(people, return_index=True)
    first_days = np.sort(days[first])
    return np.searchsorted(first_days, when, side="right")


def onset_day(event_days: np.ndarray, detected: float, gap_days: int) -> float | None:
    """First evidence day of the run of evidence (no gap over gap_days) that ends at `detected`."""
    days = np.sort(event_days[np.isfinite(event_days) & (event_days <= detected)])
    if not len(days):
        return None
    breaks = np.flatnonzero(np.diff(days) > gap_days)
    return float(days[breaks[-1] + 1] if len(breaks) else days[0])


def monthly(event_days: np.ndarray, start: float | None = None, end: float | None = None) -> pd.Series:
    """Evidence events per calendar month, zero-filled from `start` to `end` (days since 1970)."""
    days = event_days[np.isfinite(event_days)]
    if not len(days):
        return pd.Series(dtype=int)
    dates = pd.to_datetime(days, unit="D")
    lo = pd.to_datetime(start if start is not None else days.min(), unit="D")
    hi = pd.to_datetime(end if end is not None else days.max(), unit="D")
    months = pd.period_range(lo.to_period("M"), hi.to_period("M"), freq="M")
    counts = pd.Series(1, index=dates.to_period("M")).groupby(level=0).sum()
    return counts.reindex(months, fill_value=0).astype(int)


@dataclass
class Growth:
    recent: int
    before: int
    ratio: float
    p: float


def growth(event_days: np.ndarray, first: float, as_of: float, window: int) -> Growth | None:
    """Evidence in the last `window` days against the rate since the first evidence (one-sided binomial)."""
    days = event_days[np.isfinite(event_days)]
    cut = as_of - window
    if first >= cut or not len(days):
        return None
    recent, before = int((days > cut).sum()), int((days <= cut).sum())
    share = window / (as_of - first)
    p = stats.binomtest(recent, recent + before, share, alternative="greater").pvalue if recent else 1.0
    rate_before = before / (cut - first)
    ratio = (recent / window) / rate_before if rate_before else float("inf")
    return Growth(recent, before, ratio, float(p))
