"""Alerts of the network stage: a tie between two groups that became significant recently (group_tie_new)
and a significant tie whose evidence rate rose in the recent window (group_tie_growing).

Ids derive from what the alert is about (pair and onset), so a re-run keeps an analyst's acknowledgement.
The `alerts` table is shared with the trends stage: this stage replaces only rows with stage = 'network'.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from casegraph.network.tietable import day_to_date
from casegraph.network.timeline import growth, monthly
from casegraph.settings import NetworkSettings
from casegraph.store.alerts import replace_stage_alerts
from casegraph.store.base import Store

STAGE = "network"
STATUSES = ("open", "acknowledged", "dismissed")


def alert_id(kind: str, subject: str, key: str) -> str:
    return "AL-" + hashlib.sha256(f"{STAGE}|{kind}|{subject}|{key}".encode()).hexdigest()[:16]


def _day(value: Any) -> float:
    return (pd.Timestamp(value) - pd.Timestamp(0)).days if value is not None and pd.notna(value) else np.nan


def tie_alerts(
    ties: pd.DataFrame,
    days_of: Mapping[tuple[str, str], np.ndarray],
    window: tuple[float, float],
    net: NetworkSettings,
    run_id: str,
) -> list[dict[str, Any]]:
    """Alerts for significant ties: new if detected within the alert window (after the baseline), else
    growing if the recent evidence rate is significantly higher than before."""
    first, as_of = window
    since = max(as_of - net.alert_window_days, first + net.baseline_days)
    rows = []
    for tie in ties[ties["significant"]].to_dict("records"):
        days = days_of.get((tie["group_a"], tie["group_b"]), np.zeros(0))
        detected = _day(tie["detected_at"])
        if np.isfinite(detected) and detected >= since:
            rows.append(_new_tie(tie, days, as_of, run_id))
            continue
        grew = growth(days, _day(tie["first_at"]), as_of, net.growth_window_days)
        if grew and grew.p < net.growth_p and grew.ratio >= net.growth_min_ratio and grew.recent >= 3:
            recent = days[np.isfinite(days) & (days > as_of - net.growth_window_days)]
            rows.append(_growing_tie(tie, days, grew, (float(recent.min()), as_of), run_id))
    return rows


def _trend(days: np.ndarray, start: float, as_of: float) -> dict[str, int]:
    return {str(k): int(v) for k, v in monthly(days, start, as_of).items()}


def _new_tie(tie: dict[str, Any], days: np.ndarray, as_of: float, run_id: str) -> dict[str, Any]:
    onset = tie["onset"] if tie["onset"] is not None else tie["detected_at"]
    title = (
        f"New tie {tie['group_a']}-{tie['group_b']}: significant since {str(tie['detected_at'])[:10]}, "
        f"evidence from {str(onset)[:10]} ({tie['person_ties']} person ties, {tie['ratio']:.1f}x chance, "
        f"q = {tie['q_value']:.2g})"
    )
    severity = "high" if tie["q_value"] < 0.001 else "medium"
    detail = _detail(tie, _trend(days, _day(onset), as_of))
    return _row("group_tie_new", tie, str(onset)[:10], title, detail, onset, severity, run_id)


def _growing_tie(
    tie: dict[str, Any], days: np.ndarray, grew: Any, span: tuple[float, float], run_id: str
) -> dict[str, Any]:
    start, as_of = day_to_date(span[0]), span[1]
    title = (
        f"Growing tie {tie['group_a']}-{tie['group_b']}: {grew.recent} joint events in the last "
        f"window, {grew.ratio:.1f}x the rate before (p = {grew.p:.2g})"
    )
    detail = _detail(tie, _trend(days, _day(tie["first_at"]), as_of))
    detail.update(recent=grew.recent, before=grew.before, rate_ratio=grew.ratio, growth_p=grew.p)
    return _row("group_tie_growing", tie, str(start)[:10], title, detail, start, "medium", run_id)


def _detail(tie: dict[str, Any], trend: dict[str, int]) -> dict[str, Any]:
    keys = (
        "person_ties",
        "persons_a",
        "persons_b",
        "joint_events",
        "expected",
        "ratio",
        "p_value",
        "q_value",
        "first_at",
        "last_at",
        "detected_at",
        "onset",
        "explanation",
    )
    return {**{k: tie[k] for k in keys}, "monthly_joint_events": trend}


def _row(
    kind: str,
    tie: dict[str, Any],
    key: str,
    title: str,
    detail: dict[str, Any],
    onset: Any,
    severity: str,
    run_id: str,
) -> dict[str, Any]:
    subject = f"{tie['group_a']}|{tie['group_b']}"
    return {
        "alert_id": alert_id(kind, subject, key),
        "run_id": run_id,
        "stage": STAGE,
        "kind": kind,
        "subject": subject,
        "title": title,
        "detail": json.dumps(detail, default=str),
        "evidence": list(tie["evidence"]) if tie["evidence"] is not None else [],
        "onset": pd.Timestamp(onset).date() if onset is not None else None,
        "created_at": now_utc(),
        "severity": severity,
        "status": "open",
        "acknowledged_by": None,
        "acknowledged_at": None,
        "note": None,
    }


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def write_alerts(store: Store, rows: list[dict[str, Any]]) -> int:
    return replace_stage_alerts(store, STAGE, rows)
