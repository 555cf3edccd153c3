"""Stage `trends`: when a group's activity grows and spreads, and where crime clusters in space and time.

Writes `group_incidents` (group x incident with why), `group_activity` (group x week/month x area),
`group_trends` (Mann-Kendall trend, Poisson PELT change points, quarter on quarter, baseline and new areas),
`hotspots` (emerging hot spot class per grid cell), `near_repeat` (Knox tables per offence) and its `alerts`
(group_spread, group_growth). The statistics (knox, hotspots, mannkendall, changepoint) work on numpy arrays
alone, so files can be analysed without a store.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from casegraph.settings import TrendsSettings
from casegraph.store.base import Store
from casegraph.trends import sql
from casegraph.trends.alerts import acknowledge
from casegraph.trends.hotspots import emerging_hotspots, gi_star, kernel_density
from casegraph.trends.knox import knox, near_repeat
from casegraph.trends.mannkendall import mann_kendall
from casegraph.trends.stage import ENGINES, run
from casegraph.trends.views import group_chart, hotspot_chart

READS = (
    "incidents",
    "involvements",
    "arrests",
    "membership_claims",
    "groups",
    "contacts",
    "contact_participants",
    "person_identities",
    "series",
    "alerts",
    "property_links",
    "property_events",
)
WRITES = ("group_incidents", "group_activity", "group_trends", "hotspots", "near_repeat", "alerts")


def alerts(store: Store, kind: str | None = None) -> pd.DataFrame:
    """This stage's alerts (optionally of one kind), oldest onset first."""
    return store.df(sql.alerts_sql(kind), ["trends", kind] if kind else ["trends"])


def points(store: Store) -> pd.DataFrame:
    """Incidents with projected coordinates and a date (agency, incident_id, offence, x, y, occurred_on): what
    hot spots and near repeats are computed from."""
    return store.df(sql.points_sql())


def knox_counts(store: Store, cfg: TrendsSettings) -> pd.DataFrame:
    """Observed near-repeat pairs per (offence, distance band, time band) of the settings' bands, counted by the
    store's engine (on Spark: on the executors): the `observed` of the near-repeat tables, without their
    permutation test (which needs the close pairs on one machine: trends.knox)."""
    query, params = sql.knox_counts_sql(
        cfg.knox_space_bands, cfg.knox_time_bands, closed=cfg.knox_closed, metric=cfg.knox_distance
    )
    return store.df(query, params)


def group_activity(store: Store, group_id: str, period_kind: str = "month") -> pd.DataFrame:
    """A group's activity rows (all areas and '*' totals) in period order."""
    return store.df(
        "SELECT * FROM group_activity WHERE group_id = ? AND period_kind = ? ORDER BY period_start, area",
        [group_id, period_kind],
    )


def group_summary(store: Store, group_id: str) -> dict[str, Any] | None:
    """The group's trend row (growth, change points, baseline and new areas), or None."""
    frame = store.df("SELECT * FROM group_trends WHERE group_id = ?", [group_id])
    return None if frame.empty else frame.iloc[0].to_dict()


__all__ = [
    "ENGINES",
    "READS",
    "WRITES",
    "acknowledge",
    "alerts",
    "emerging_hotspots",
    "gi_star",
    "group_activity",
    "group_chart",
    "group_summary",
    "hotspot_chart",
    "kernel_density",
    "knox",
    "knox_counts",
    "mann_kendall",
    "near_repeat",
    "points",
    "run",
]
