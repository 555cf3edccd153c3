"""Alerts of the trends stage: a group reaching an area outside its baseline (group_spread), a group's
weekly rate rising significantly at a change point (group_growth), and the near-repeat risk after a recent
incident (near_repeat: bounded in space and days, it expires by itself). Each carries its evidence ids.

A re-run replaces the stage's alerts but keeps an analyst's acknowledgement of an alert with the same id
(ids are derived from what the alert is about, not from the run).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from casegraph.store.alerts import replace_stage_alerts
from casegraph.store.base import Store
from casegraph.trends import sql
from casegraph.trends.activity import Spread
from casegraph.trends.growth import Growth
from casegraph.trends.risk import SAME_PLACE_M, RiskWindow

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
        f"{len(s.incidents)} incident{'' if len(s.incidents) == 1 else 's'} from {s.first_date.isoformat()}"
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


def near_repeat_alert(
    incident: dict[str, Any], window: RiskWindow, as_of: Any, run_id: str, now: datetime
) -> dict[str, Any]:
    """The alert an incident raises for the window of its offence's near-repeat table: zones (a radius and the
    last day it applies), the ratio and p-value of each, the table's cells as evidence; it expires after the
    last day of its widest-lasting zone."""
    day = incident["occurred_on"]
    zones = _zones(window, day)
    nearby = next((r for r in window.rings if r.hi >= SAME_PLACE_M and r.last_day), window.rings[-1])
    ratio = f", {nearby.ratio:.1f}x chance within {nearby.hi:g} m" if nearby.ratio else ""
    label = f"{incident['offence']} {incident['incident_id']}"
    title = (
        f"Near-repeat risk after {label} on {day.isoformat()}: within {window.radius:g} m until "
        f"{zones[0]['until']}{ratio}"
    )
    detail = {
        "incident": f"{incident['agency']}/{incident['incident_id']}",
        "offence": incident["offence"],
        "occurred_on": day.isoformat(),
        "x": float(incident["x"]),
        "y": float(incident["y"]),
        "radius_m": window.radius,
        "days": window.days,
        "until": max(z["until"] for z in zones),
        "as_of": as_of.isoformat(),
        "zones": "; ".join(f"within {z['radius_m']:g} m until {z['until']}" for z in zones),
        "zone_radius_m": [z["radius_m"] for z in zones],
        "zone_until": [z["until"] for z in zones],
        "bands": window.describe(),
        "rule": "zones from this agency's own near-repeat table for the offence: distance bands, from the "
        "inside out, alerted for the consecutive time bands significant (permutation p <= alpha) and elevated "
        "(observed / expected >= the minimum ratio); it starts the day after the incident",
    }
    cells = [c for r in window.rings for c in r.evidence]
    return _row(
        "near_repeat",
        f"{incident['agency']}/{incident['incident_id']}",
        "",
        title=title,
        detail=detail,
        evidence=[f"incident:{incident['incident_id']}", *(f"near_repeat:{c}" for c in cells)],
        onset=day,
        severity="low",  # routine and short-lived: below the group alerts in the inbox
        run_id=run_id,
        now=now,
        expires=date.fromisoformat(detail["until"]),
    )


def _zones(window: RiskWindow, day: date) -> list[dict[str, Any]]:
    """The alerted discs, widest first: each radius with the last day (ISO) it applies; a radius reached only
    for as long as a wider one is dropped."""
    zones: list[dict[str, Any]] = []
    for k in range(window.days, 0, -1):
        radius = window.radius_on(k)
        if radius and (not zones or radius > zones[-1]["radius_m"]):
            zones.append({"radius_m": radius, "until": (day + timedelta(days=k)).isoformat()})
    return sorted(zones, key=lambda z: -z["radius_m"])


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
    expires: date | None = None,
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
        "expires": expires,
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


def item_city_alert(
    found: dict[str, Any], names: dict[str, str], run_id: str, now: datetime
) -> dict[str, Any]:
    """A group's stolen items surfacing in a new city (casegraph.trends.items.new_cities)."""
    n = len(found["items"])
    title = (
        f"{_label(found['group_id'], names)}'s stolen items surfacing in {found['city']}: {n} "
        f"item{'' if n == 1 else 's'} from {found['first'].date().isoformat()} (stolen in "
        f"{', '.join(found['thefts_in'])}; its items' home: {', '.join(found['home']) or 'none'})"
    )
    detail = {
        "city": found["city"],
        "first_date": found["first"].date().isoformat(),
        "raised_on": found["raised_on"].date().isoformat(),
        "items": found["items"],
        "home_cities": found["home"],
        "rule": "items taken in the group's incidents, linked by the same IMEI or serial to later sightings, "
        "surfacing in a city none of its items reached in its baseline period",
    }
    evidence = [f"property_event:{e}" for e in found["events"]] + [
        f"incident:{i}" for i in found["incidents"]
    ]
    return _row(
        "group_item_city",
        found["group_id"],
        found["city"],
        title=title,
        detail=detail,
        evidence=evidence,
        onset=found["first"].date(),
        severity="medium",
        run_id=run_id,
        now=now,
    )
