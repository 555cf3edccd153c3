"""Alerts of the trends stage: a group reaching an area outside its baseline (group_spread) and a group's
weekly rate rising significantly at a change point (group_growth). Each carries its evidence ids.

A re-run replaces the stage's alerts but keeps an analyst's acknowledgement of an alert with the same id
(ids are derived from what the alert is about, not from the run).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

from casegraph.store.alerts import replace_stage_alerts
from casegraph.store.base import Store
from casegraph.trends import sql
from casegraph.trends.activity import Spread
from casegraph.trends.growth import Growth

STAGE = "trends"
STATUSES = ("open", "acknowledged", "dismissed")


def alert_id(kind: str, subject: str, key: str) -> str:
    return "AL-" + hashlib.sha256(f"{STAGE}|{kind}|{subject}|{key}".encode()).hexdigest()[:16]


def _label(group_id: str, names: dict[str, str]) -> str:
    name = names.get(group_id)
    return f"{group_id} ({name})" if name else group_id


def spread_alert(s: Spread, names: dict[str, str], run_id: str, now: datetime) -> dict[str, Any]:
    home = ", ".join(s.baseline.areas) or "none recorded"
    title = (
        f"{_label(s.group_id, names)} reached {s.area}, outside its baseline areas ({home}): "
        f"{len(s.incidents)} incidents from {s.first_date.isoformat()}"
    )
    detail = {
        "area": s.area,
        "first_date": s.first_date.isoformat(),
        "raised_on": s.raised_on.isoformat(),
        "first_seen": s.first_seen.isoformat(),
        "incidents_in_window": len(s.incidents),
        "incidents_in_area": s.total_in_area,
        "baseline_start": s.baseline.start.isoformat(),
        "baseline_end": s.baseline.end.isoformat(),
        "baseline_areas": s.baseline.areas,
        "baseline_evidence": s.baseline.evidence,
        "rule": "incidents of the group in an area with none of its incidents or members' contacts in its "
        "baseline period: one in which a claimed member took part, or enough series-linked ones within the "
        "window from two linkage series",
    }
    return _row(
        "group_spread",
        s.group_id,
        s.area,
        title=title,
        detail=detail,
        evidence=[f"incident:{i}" for i in s.incidents],
        onset=s.first_date,
        severity="high" if len(s.incidents) >= 2 else "medium",
        run_id=run_id,
        now=now,
    )


def growth_alert(g: Growth, names: dict[str, str], run_id: str, now: datetime) -> dict[str, Any]:
    ratio = "from none" if not np.isfinite(g.ratio) else f"{g.ratio:.1f}x"
    title = (
        f"{_label(g.group_id, names)}: {g.recent} linked incidents in the {g.recent_months} months from "
        f"{g.onset.isoformat()}, {ratio} its rate of the {g.reference_months} months before (p = {g.p:.2g})"
    )
    severity = "high" if g.ratio >= 3 and g.p < 0.001 else "medium"
    return _row(
        "group_growth",
        g.group_id,
        g.onset.isoformat(),
        title=title,
        detail=g.detail(),
        evidence=[f"incident:{i}" for i in g.incidents],
        onset=g.onset,
        severity=severity,
        run_id=run_id,
        now=now,
    )


def _row(
    kind: str,
    subject: str,
    key: str,
    *,
    title: str,
    detail: dict[str, Any],
    evidence: list[str],
    onset: Any,
    severity: str,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id(kind, subject, key),
        "run_id": run_id,
        "stage": STAGE,
        "kind": kind,
        "subject": subject,
        "title": title,
        "detail": json.dumps(detail, default=str),
        "evidence": evidence,
        "onset": onset,
        "created_at": now,
        "severity": severity,
        "status": "open",
        "acknowledged_by": None,
        "acknowledged_at": None,
        "note": None,
    }


def write_alerts(store: Store, rows: list[dict[str, Any]]) -> int:
    return replace_stage_alerts(store, STAGE, rows)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def acknowledge(
    store: Store, alert: str, user: str, *, status: str = "acknowledged", note: str | None = None
) -> bool:
    """Mark an alert acknowledged (or dismissed, or open again) by a user; False when no such alert."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    if not store.rows("SELECT 1 FROM alerts WHERE alert_id = ?", [alert]):
        return False
    store.execute(sql.acknowledge_sql(), [status, user, now_utc(), note, alert])
    return True
