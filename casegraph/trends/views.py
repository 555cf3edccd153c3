"""Charts drawn from the stage's tables in the store (the CLI and reports call these)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from casegraph.store.base import Store
from casegraph.trends import sql
from casegraph.trends.charts import activity_chart, hotspot_map
from casegraph.trends.growth import period_range


def _alert_labels(alerts: pd.DataFrame) -> pd.DataFrame:
    if alerts.empty:
        return alerts
    labels = []
    for _, a in alerts.iterrows():
        detail = json.loads(a["detail"]) if isinstance(a["detail"], str) else {}
        labels.append(f"new area {detail['area']}" if a["kind"] == "group_spread" else "growth")
    return alerts.assign(label=labels)


def group_chart(store: Store, group_id: str, path: str | Path, *, period_kind: str = "week") -> Path:
    """A group's linked incidents per week or month, areas reached, and its alerts marked at their onset."""
    rows = store.df(
        "SELECT period_start, incidents, cumulative_areas FROM group_activity "
        "WHERE group_id = ? AND period_kind = ? AND area = '*' ORDER BY period_start",
        [group_id, period_kind],
    )
    first, last = store.rows(sql.data_window_sql())[0]
    if first is None:
        raise ValueError("the store holds no incidents")
    periods = period_range(first, last, period_kind)
    by_period = rows.assign(period_start=pd.to_datetime(rows["period_start"])).set_index("period_start")
    counts = by_period["incidents"].reindex(periods, fill_value=0)
    areas = by_period["cumulative_areas"].reindex(periods).ffill().fillna(0)
    alerts = store.df(sql.alerts_sql(), ["trends"])
    alerts = _alert_labels(alerts[alerts["subject"] == group_id])
    name = store.rows("SELECT name FROM groups WHERE group_id = ? LIMIT 1", [group_id])
    title = f"{group_id} {name[0][0] if name else ''}: linked incidents per {period_kind}"
    return activity_chart(
        periods, counts.to_numpy(), path, title=title, alerts=alerts, areas=areas.to_numpy()
    )


def hotspot_chart(store: Store, path: str | Path) -> Path:
    """Incidents and the emerging hot spot class of each cell, from the last trends run."""
    cells = store.df('SELECT x, y, cell_m, "class" FROM hotspots')
    points = store.df("SELECT x, y FROM incidents WHERE x IS NOT NULL AND y IS NOT NULL").to_numpy(float)
    cell = float(cells["cell_m"].iloc[0]) if len(cells) else 250.0
    return hotspot_map(points if len(points) else np.zeros((0, 2)), cells, path, cell=cell)
