"""The alerts table is shared by the stages that raise alerts (network, trends); each replaces its own."""

from __future__ import annotations

from typing import Any

import pandas as pd

from casegraph.store.base import Store


def previous_decisions_sql() -> str:
    """Analysts' decisions on a stage's alerts (param: stage), kept over a re-run."""
    return (
        "SELECT alert_id, status, acknowledged_by, acknowledged_at, note FROM alerts "
        "WHERE stage = ? AND status <> 'open'"
    )


def replace_stage_alerts(store: Store, stage: str, rows: list[dict[str, Any]]) -> int:
    """Replace `stage`'s alerts with `rows`, keeping analysts' acknowledgements of alerts that persist
    (alert ids are derived from what an alert is about, so a re-run gives a persisting alert the same id) and
    when each was first raised (created_at: the inbox shows what is new since it last looked)."""
    kept = {r[0]: r[1:] for r in store.rows(previous_decisions_sql(), [stage])}
    raised = dict(store.rows("SELECT alert_id, created_at FROM alerts WHERE stage = ?", [stage]))
    for row in rows:
        if row["alert_id"] in kept:
            row["status"], row["acknowledged_by"], row["acknowledged_at"], row["note"] = kept[row["alert_id"]]
        row["created_at"] = raised.get(row["alert_id"], row["created_at"])
    with store.transaction():
        store.execute("DELETE FROM alerts WHERE stage = ?", [stage])
        if rows:
            store.write("alerts", pd.DataFrame(rows))
    return len(rows)
