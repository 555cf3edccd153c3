"""Growth of a group's activity: counts per week and month, Mann-Kendall trend, Poisson PELT change points,
and the growth alerts (a change to a significantly higher rate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from casegraph.trends.activity import Baseline, Spread, period_start
from casegraph.trends.changepoint import default_penalty, pelt_poisson, segments
from casegraph.trends.mannkendall import mann_kendall

QUARTER_WEEKS = 13


def period_range(start: date, end: date, kind: str) -> pd.DatetimeIndex:
    """Every period start from the one holding `start` to the one holding `end`."""
    first, last = period_start(pd.Series([start, end]), kind)
    return pd.date_range(first, last, freq="7D" if kind == "week" else "MS")


def count_matrix(links: pd.DataFrame, groups: list[str], periods: pd.DatetimeIndex, kind: str) -> np.ndarray:
    """Linked incidents per group (row) and period (column), zeros included."""
    out = np.zeros((len(groups), len(periods)))
    if links.empty:
        return out
    row = pd.Index(groups).get_indexer(links["group_id"])
    col = periods.get_indexer(period_start(links["occurred_on"], kind))
    ok = (row >= 0) & (col >= 0)
    np.add.at(out, (row[ok], col[ok]), 1.0)
    return out


def dispersion(y: np.ndarray) -> float:
    """Overdispersion of counts against Poisson, from first differences (robust to level shifts): for Poisson
    counts Var(y_t - y_t-1) = 2 * mean. Crime counts come in bursts (series), so this is often well above 1."""
    y = np.asarray(y, float)
    if len(y) < 3 or y.mean() <= 0:
        return 1.0
    return float(max(1.0, np.var(np.diff(y)) / (2 * y.mean())))


@dataclass
class Growth:
    """A quarter in which a group's monthly rate rose significantly above its previous year's."""

    group_id: str
    onset: date  # first day of the recent window
    raised_on: date  # last day of the month in which the rule was first met
    recent: int
    reference: int
    recent_months: int
    reference_months: int
    dispersion: float
    p: float
    level: float  # alpha / months tested
    incidents: list[str]

    @property
    def ratio(self) -> float:
        base = self.reference / self.reference_months
        return (self.recent / self.recent_months) / base if base else float("inf")

    def detail(self) -> dict[str, Any]:
        return {
            "onset": self.onset.isoformat(),
            "raised_on": self.raised_on.isoformat(),
            "recent_incidents": self.recent,
            "recent_months": self.recent_months,
            "reference_incidents": self.reference,
            "reference_months": self.reference_months,
            "ratio": None if not np.isfinite(self.ratio) else round(self.ratio, 3),
            "p": self.p,
            "p_level": self.level,
            "dispersion": round(self.dispersion, 3),
            "test": "one-sided binomial test of equal monthly rates, counts scaled by the reference "
            "months' overdispersion (quasi-Poisson)",
        }


def rate_increase_p(recent: float, reference: float, share: float, phi: float) -> float:
    """P(recent share of the total this high | one rate), quasi-Poisson: counts divided by the dispersion."""
    n = round((recent + reference) / phi)
    k = int(np.ceil(recent / phi))
    return float(binom.sf(k - 1, n, share)) if n else 1.0


def growth_events(
    monthly: np.ndarray, months: pd.DatetimeIndex, group_id: str, options: dict[str, Any]
) -> list[Growth]:
    """Months where the last `recent` months' rate is >= min_ratio times the `reference` months' before them,
    significantly (quasi-Poisson); one event per episode (the rule must lapse before it fires again).

    The rule is tested at every month end, so p is compared with alpha / (months tested) (Bonferroni): a group
    with a steady rate raises a false growth alert with probability <= alpha over the whole period."""
    rec, ref = options["recent_months"], options["reference_months"]
    ends = range(rec + ref, len(monthly) + 1)
    level = options["alpha"] / max(1, len(ends))
    found, active = [], False
    for end in ends:
        recent, base = monthly[end - rec : end].sum(), monthly[end - rec - ref : end - rec]
        ratio_ok = recent / rec >= options["min_ratio"] * base.sum() / ref
        phi = float(max(1.0, base.var() / base.mean())) if base.mean() > 0 else 1.0
        p = rate_increase_p(recent, base.sum(), rec / (rec + ref), phi)
        hit = ratio_ok and recent >= options["min_incidents"] and p < level
        if hit and not active:
            raised = (months[end - 1] + pd.offsets.MonthEnd(0)).date()
            found.append(
                Growth(
                    group_id,
                    months[end - rec].date(),
                    raised,
                    int(recent),
                    int(base.sum()),
                    rec,
                    ref,
                    phi,
                    p,
                    level,
                    [],
                )
            )
        active = hit
    return found


def _with_evidence(events: list[Growth], links: pd.DataFrame) -> list[Growth]:
    on = pd.to_datetime(links["occurred_on"])
    for g in events:
        end = pd.Timestamp(g.raised_on) + pd.Timedelta(days=1)
        rows = links[(links["group_id"] == g.group_id) & (on >= pd.Timestamp(g.onset)) & (on < end)]
        g.incidents = [str(i) for i in rows.sort_values("occurred_on")["incident_id"]]
    return events


def _trend_row(
    group_id: str, mk: Any, k: int, weekly: np.ndarray, weeks: pd.DatetimeIndex, *, penalty: float | None
) -> dict[str, Any]:
    base = default_penalty(len(weekly)) if penalty is None else penalty
    cps = pelt_poisson(weekly, penalty=base * dispersion(weekly), min_size=4)
    segs = segments(weekly, cps)
    m = mk.row(k)
    return {
        "group_id": group_id,
        "incidents": int(weekly.sum()),
        "mk_s": m["s"],
        "mk_z": m["z"],
        "mk_p": m["p"],
        "mk_tau": m["tau"],
        "sen_slope": m.get("slope"),
        "trend": m["trend"],
        "change_points": [weeks[c].date().isoformat() for c in cps],
        "rate_before": segs[-2].rate if len(segs) > 1 else None,
        "rate_after": segs[-1].rate,
        "last_quarter": int(weekly[-QUARTER_WEEKS:].sum()),
        "previous_quarter": int(weekly[-2 * QUARTER_WEEKS : -QUARTER_WEEKS].sum()),
    }


def trend_rows(
    links: pd.DataFrame,
    groups: list[str],
    window: tuple[date, date],
    *,
    bases: dict[str, Baseline],
    spread_list: list[Spread],
    options: dict[str, Any],
) -> tuple[pd.DataFrame, list[Growth]]:
    """group_trends rows (one per group) and the growth events; options: penalty, min_ratio, min_incidents,
    recent_months, reference_months, alpha (the TrendsSettings values)."""
    weeks, months = period_range(*window, "week"), period_range(*window, "month")
    weekly = count_matrix(links, groups, weeks, "week")
    monthly = count_matrix(links, groups, months, "month")
    mk = mann_kendall(monthly, alpha=options["alpha"], slope=True)
    rows, events = [], []
    for k, group_id in enumerate(groups):
        row = _trend_row(group_id, mk, k, weekly[k], weeks, penalty=options["penalty"])
        own = links[links["group_id"] == group_id]["occurred_on"]
        base = bases.get(group_id)
        row.update(
            months=len(months),
            first_date=own.min() if len(own) else None,
            last_date=own.max() if len(own) else None,
            baseline_end=base.end if base else None,
            baseline_areas=base.areas if base else [],
            new_areas=[s.area for s in spread_list if s.group_id == group_id],
        )
        rows.append(row)
        events += growth_events(monthly[k], months, group_id, options)
    return pd.DataFrame(rows), _with_evidence(events, links)
