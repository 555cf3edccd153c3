"""Trends against ground truth: spread alerts against a synthetic city's planted spread (spread_truth.csv:
group_id, area, first_date)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from casegraph import trends
from casegraph.evaluation.truth import truth_frame
from casegraph.store import Store

TRUTH = ("spread_truth",)


def score(store: Store, city: Path) -> dict[str, Any]:
    """The trends stage's spread alerts in a store against a city's planted spread."""
    truth = truth_frame(city, "spread_truth", ("group_id", "area", "first_date"))
    return spread_scores(truth, trends.alerts(store))


def rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    delay = s["spread_delay_days"]
    return [
        {
            "measure": "spread areas alerted",
            "found": str(s["spreads_detected"]),
            "truth": str(s["spreads"]),
            "quality": (
                f"alerts at most {delay} days after the first incident there"
                if delay is not None
                else "none alerted"
            )
            + f"; {s['false_spread_alerts']} alerts for areas not planted",
        }
    ]


def spread_scores(truth: pd.DataFrame, alerts: pd.DataFrame, *, within_days: int = 30) -> dict[str, Any]:
    """Planted spreads found by a group_spread alert for the same group and area, the delay from the truth date
    to the day the alert was raised, and spread alerts that match no planted spread."""
    spread = alerts[alerts["kind"] == "group_spread"] if len(alerts) else alerts
    found = {}
    for _, a in spread.iterrows():
        detail = json.loads(a["detail"]) if isinstance(a["detail"], str) else dict(a["detail"])
        found[(a["subject"], detail["area"])] = pd.Timestamp(detail["raised_on"])
    rows, delays = [], []
    for _, t in truth.iterrows():
        raised = found.get((t["group_id"], t["area"]))
        delay = None if raised is None else int((raised - pd.Timestamp(t["first_date"])).days)
        if delay is not None:
            delays.append(delay)
        rows.append(
            {
                "group_id": t["group_id"],
                "area": t["area"],
                "first_date": str(t["first_date"]),
                "raised_on": None if raised is None else raised.date().isoformat(),
                "delay_days": delay,
            }
        )
    planted = {(t["group_id"], t["area"]) for _, t in truth.iterrows()}
    false = sorted(k for k in found if k not in planted)
    spread_groups = {g for g, _ in planted}
    return {
        "spreads": len(truth),
        "spreads_detected": len(delays),
        "spreads_detected_within": sum(1 for d in delays if d <= within_days),
        "within_days": within_days,
        "spread_delay_days": max(delays) if delays else None,
        "first_spread_delay_days": _first_delay(rows),
        "false_spread_alerts": len(false),
        "false_spread_alerts_other_groups": sum(1 for g, _ in false if g not in spread_groups),
        "false_alerts": [f"{g}:{a}" for g, a in false],
        "per_spread": rows,
    }


def _first_delay(rows: list[dict[str, Any]]) -> int | None:
    """Delay of the alert on each spreading group's first new area (the onset of its spread), worst group."""
    firsts: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["first_date"]):
        firsts.setdefault(r["group_id"], r)
    delays = [r["delay_days"] for r in firsts.values()]
    return None if not delays or any(d is None for d in delays) else max(delays)
