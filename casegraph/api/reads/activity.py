"""Alerts (with their evidence records), a group's activity over time, hot spots, map layers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from casegraph.api import cache
from casegraph.api.reads.common import (
    CLAIMS,
    INCIDENT_KEY,
    fetched,
    has_table,
    listing,
    one,
    parsed,
    rows,
    stage_note,
)
from casegraph.api.reads.incidents import IncidentQuery, filter_notes, where_sql
from casegraph.api.workspace import ApiProblem
from casegraph.linkage.property import identifier_sql
from casegraph.safeguards import Session
from casegraph.trends.sql import ALERT_STATUS as STATUS

ALERT_COLUMNS = (
    f"alert_id, stage, kind, subject, title, severity, {STATUS} AS status, onset, created_at, acknowledged_by, "
    "acknowledged_at, note, evidence, detail, run_id, expires"
)
# Evidence items are written kind:id; each kind is shown from its own table, as id, agency, what, at (when),
# area and about (what it concerns, for arrests and claims).
EVIDENCE_SQL = {
    "incident": "SELECT incident_id AS id, agency, offence AS what, occurred_from AS at, area, NULL AS about "
    "FROM incidents WHERE list_contains(?, incident_id) ORDER BY occurred_from",
    "contact": "SELECT contact_id AS id, agency, kind AS what, occurred_at AS at, area, NULL AS about FROM contacts "
    "WHERE list_contains(?, contact_id) ORDER BY occurred_at",
    "arrest": "WITH a AS MATERIALIZED (SELECT arrest_id, agency, charge, arrested_at, incident_id FROM arrests "
    "WHERE list_contains(?, arrest_id)) SELECT a.arrest_id AS id, a.agency, a.charge AS what, a.arrested_at AS at, "
    f"i.area, 'incident ' || a.incident_id AS about, a.incident_id FROM a {fetched('incidents', 'i', 'area', 'a', INCIDENT_KEY)} "
    "ORDER BY a.arrested_at",
    "claim": "SELECT claim_id AS id, agency, group_id || ': ' || array_to_string(criteria, ', ') AS what, "
    f"entered_at AS at, NULL AS area, 'record ' || record_id AS about FROM {CLAIMS} "
    "WHERE list_contains(?, claim_id)",
    "series": "SELECT series_id AS id, any_value(agency) AS agency, 'series of ' || any_value(size) AS what, "
    "min(first_from) AS at, NULL AS area, NULL AS about FROM series WHERE list_contains(?, series_id) "
    "GROUP BY series_id",
    "property_event": "SELECT event_id AS id, agency, kind || coalesce(' at ' || dealer, '') AS what, "
    f"occurred_at AS at, area, city AS about, {identifier_sql('e')} AS identifier FROM property_events e "
    "WHERE list_contains(?, event_id)",
    "near_repeat": "SELECT band_id AS id, NULL AS agency, nst || ' pairs, ' || round(expected, 1) || ' expected, p ' "
    "|| p AS what, NULL AS at, NULL AS area, 'near-repeat table: ' || offence || ', ' || space_band || ' m x ' "
    "|| time_band || ' days' AS about FROM near_repeat WHERE list_contains(?, band_id)",
}


def alerts_where(status: str | None, kind: str | None, group: str | None) -> tuple[str, list[Any]]:
    parts = [(f"{STATUS} = ?", status), ("kind = ?", kind), ("contains(subject, ?)", group)]
    used = [(sql, v) for sql, v in parts if v]
    return " AND ".join(s for s, _ in used) or "true", [v for _, v in used]


def alerts(
    g: Session,
    *,
    status: str | None,
    kind: str | None,
    group: str | None,
    limit: int,
    offset: int,
    since: datetime | None = None,
) -> dict[str, Any]:
    """The inbox page; `since`: only the alerts first raised after it (what a open inbox has not shown yet).
    `latest` is when the newest alert was raised: the next `since`."""
    note = stage_note(g, "alerts")
    if note:
        return listing([], total=0, limit=limit, offset=offset, note=note)
    where, params = alerts_where(status, kind, group)
    if since is not None:
        where, params = f"{where} AND created_at > ?", [*params, _utc(since)]
    total = int(g.scalar(f"SELECT count(*) FROM alerts WHERE {where}", params))
    sql = (
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {where} ORDER BY status = 'open' DESC, "
        "CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, onset DESC LIMIT ? OFFSET ?"
    )
    items = [parsed(r, "detail") for r in rows(g, sql, [*params, limit, offset])]
    latest = g.scalar("SELECT max(created_at) FROM alerts")
    return {**listing(items, total=total, limit=limit, offset=offset), "latest": latest}


def _utc(moment: datetime) -> datetime:
    """Alerts are stamped in UTC without a zone."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# The people an evidence record is about: an incident's offenders, suspects and arrestees, a contact's
# participants, the person arrested. Records are cited across agencies: the record's own agency's row first, as the network does.
PEOPLE_OF_SQL = {
    "incident": "SELECT v.agency, v.incident_id AS id, v.record_id, r.agency AS record_agency, r.given_name, "
    "r.family_name FROM involvements v JOIN person_records r ON r.record_id = v.record_id WHERE "
    "list_contains(?, v.agency || '/' || v.incident_id) AND v.role IN ('offender', 'suspect', 'arrestee')",
    "contact": "SELECT v.agency, v.contact_id AS id, v.record_id, r.agency AS record_agency, r.given_name, "
    "r.family_name FROM contact_participants v JOIN person_records r ON r.record_id = v.record_id WHERE "
    "list_contains(?, v.agency || '/' || v.contact_id)",
    "arrest": "SELECT v.agency, v.arrest_id AS id, v.record_id, r.agency AS record_agency, r.given_name, "
    "r.family_name FROM arrests v JOIN person_records r ON r.record_id = v.record_id WHERE "
    "list_contains(?, v.agency || '/' || v.arrest_id)",
}
# The arrests made at evidence incidents: records behind the incident that place people in groups.
ARRESTS_AT_SQL = "SELECT arrest_id FROM arrests WHERE list_contains(?, agency || '/' || incident_id)"


def evidence_records(g: Session, items: list[str]) -> list[dict[str, Any]]:
    """Each evidence item (kind:id) with the record it names, or found = false; the arrests made at its
    incidents follow them, and incidents and contacts say whom they are about."""
    incidents = [key for kind, _, key in (i.partition(":") for i in items) if kind == "incident"]
    if incidents and has_table(g, "arrests"):
        keys = [f"{r['agency']}/{r['id']}" for r in rows(g, EVIDENCE_SQL["incident"], [incidents])]
        listed = set(items)
        items = items + [
            f"arrest:{r['arrest_id']}"
            for r in rows(g, ARRESTS_AT_SQL, [keys])
            if f"arrest:{r['arrest_id']}" not in listed
        ]
    wanted: dict[str, list[str]] = {}
    for item in items:
        kind, _, key = item.partition(":")
        wanted.setdefault(kind, []).append(key)
    found: dict[str, dict[str, Any]] = {}
    for kind, keys in wanted.items():
        if kind in EVIDENCE_SQL:
            records = rows(g, EVIDENCE_SQL[kind], [keys])
            if kind in PEOPLE_OF_SQL:
                named = people_named(g, kind, [f"{r['agency']}/{r['id']}" for r in records])
                for r in records:
                    r["about"] = " · ".join(a for a in (named.get((r["agency"], r["id"])), r["about"]) if a)
            for r in records:
                found[f"{kind}:{r['id']}"] = {**r, "kind": kind}
    return [
        found.get(i) or {"item": i, "kind": i.partition(":")[0], "id": i.partition(":")[2], "found": False}
        for i in items
    ]


def people_named(g: Session, kind: str, keys: list[str]) -> dict[tuple[str, str], str]:
    """(agency, id) of each incident or contact -> the names of the people it is about, in record order."""
    if not keys:
        return {}
    chosen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows(g, PEOPLE_OF_SQL[kind], [keys]):
        key = (r["agency"], r["id"], r["record_id"])
        held = chosen.get(key)
        own = r["record_agency"] == r["agency"]
        if held is None or (own and held["record_agency"] != r["agency"]):
            chosen[key] = r
    names: dict[tuple[str, str], list[str]] = {}
    for (agency, id_, record_id), r in sorted(chosen.items()):
        name = " ".join(p for p in (r["given_name"], r["family_name"]) if p) or f"record {record_id}"
        names.setdefault((agency, id_), []).append(name)
    return {key: ", ".join(dict.fromkeys(found)) for key, found in names.items()}


def alert(g: Session, alert_id: str) -> dict[str, Any]:
    if not has_table(g, "alerts"):
        raise ApiProblem(404, "no alerts: no stage that raises alerts has run")
    found = one(g, f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = ?", [alert_id])
    if found is None:
        raise ApiProblem(404, f"no alert {alert_id}")
    found = parsed(found, "detail")
    found["evidence_records"] = evidence_records(g, list(found.get("evidence") or []))
    return found


def acknowledge(g: Session, alert_id: str, status: str, note: str | None) -> dict[str, Any]:
    """An analyst acknowledges (or dismisses, or reopens) an alert with a note; the write is audited."""
    from casegraph.trends import acknowledge as ack

    if not ack(g, alert_id, g.user.user_id, status=status, note=note):
        raise ApiProblem(404, f"no alert {alert_id}")
    return alert(g, alert_id)


def activity(g: Session, gid: str, period: str) -> dict[str, Any]:
    """A group's activity per period (all areas), the alerts about it, its growth summary."""
    note = stage_note(g, "group_activity")
    totals = rows(
        g,
        "SELECT period_start, incidents, member_incidents, active_members, areas, new_areas, "
        "cumulative_areas, extent_m FROM group_activity WHERE group_id = ? AND period_kind = ? "
        "AND area = '*' ORDER BY period_start",
        [gid, period],
    )
    by_area = rows(
        g,
        "SELECT period_start, area, incidents, new_areas FROM group_activity WHERE group_id = ? "
        "AND period_kind = ? AND area <> '*' ORDER BY period_start, area",
        [gid, period],
    )
    marks = (
        alerts(g, status=None, kind=None, group=gid, limit=200, offset=0)["items"]
        if has_table(g, "alerts")
        else []
    )
    trend = one(g, "SELECT * FROM group_trends WHERE group_id = ?", [gid])
    return {
        "group_id": gid,
        "period": period,
        "totals": totals,
        "by_area": by_area,
        "alerts": marks,
        "trend": trend,
        **(note or {"status": "ok"}),
    }


def hotspots(g: Session, classes: list[str], include_none: bool) -> dict[str, Any]:
    note = stage_note(g, "hotspots")
    if note:
        return listing([], note=note)
    where = (
        "list_contains(?, class)" if classes else ("class <> 'no pattern'" if not include_none else "true")
    )
    sql = (
        "SELECT cell_id, x, y, cell_m, incidents, class, hot_steps, cold_steps, last_z, trend_tau, trend_p "
        f"FROM hotspots WHERE {where} ORDER BY incidents DESC"
    )
    return listing(rows(g, sql, [classes] if classes else None))


def points(g: Session, q: IncidentQuery, limit: int) -> dict[str, Any]:
    """Incidents as map points (columnar, compact), newest first, with their series."""
    note = filter_notes(g, q)
    if note:
        return {"columns": [], "rows": [], "total": 0, **note}
    where, params = where_sql(q)
    total = int(g.scalar(f"SELECT count(*) FROM incidents i WHERE {where} AND i.x IS NOT NULL", params))
    table = g.arrow(
        "SELECT i.incident_id, i.agency, i.offence, i.occurred_from::DATE AS day, i.x, i.y, i.area, s.series_id "
        f"FROM incidents i LEFT JOIN series s ON s.agency = i.agency AND s.incident_id = i.incident_id "
        f"WHERE {where} AND i.x IS NOT NULL ORDER BY i.occurred_from DESC LIMIT ?",
        [*params, limit],
    )
    data = table.to_pydict()
    return {
        "columns": list(data),
        "rows": [list(r) for r in zip(*data.values(), strict=True)],
        "total": total,
        "shown": table.num_rows,
        "status": "ok",
    }


def hull(xy: np.ndarray) -> list[list[float]]:
    """Convex hull of points as a closed ring; fewer than 3 distinct points (or a line) give their bounding box."""
    pts = np.unique(np.round(xy, 1), axis=0)
    try:
        ring = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError, IndexError):
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        ring = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    return [[float(x), float(y)] for x, y in [*ring, ring[0]]]


def areas(g: Session) -> dict[str, Any]:
    """Boundaries derived from the data: the convex hull of each area's incidents (a sample of at most 200k),
    an aggregate kept until the next change (cache.py): 0.5 s to draw at 1,000,000 incidents."""
    sql = (
        "SELECT * FROM (SELECT area, x, y FROM incidents WHERE x IS NOT NULL AND area IS NOT NULL) "
        "USING SAMPLE 200000 ROWS"
    )
    return cache.remembered(g, "areas", sql, None, lambda: _hulls(g.arrow(sql)))


def _hulls(table: Any) -> dict[str, Any]:
    if table.num_rows == 0:
        return listing([], note={"status": "no records", "note": "no incidents with coordinates are visible"})
    frame = table.to_pandas()
    items = [
        {"area": str(a), "ring": hull(part[["x", "y"]].to_numpy()), "incidents_sampled": len(part)}
        for a, part in frame.groupby("area", sort=True)
    ]
    return listing(items)


def group_areas(g: Session, gid: str, period: str) -> dict[str, Any]:
    """A group's area over time: the hull of its linked incidents per quarter (or year)."""
    note = stage_note(g, "group_incidents")
    if note:
        return listing([], note=note)
    unit = {"quarter": "quarter", "year": "year", "month": "month"}[period]
    frame = g.arrow(
        f"SELECT date_trunc('{unit}', occurred_on)::DATE AS period, x, y, area FROM group_incidents "
        "WHERE group_id = ? AND x IS NOT NULL ORDER BY 1",
        [gid],
    ).to_pandas()
    items = [
        {
            "period": p,
            "ring": hull(part[["x", "y"]].to_numpy()),
            "incidents": len(part),
            "areas": sorted(part["area"].dropna().unique().tolist()),
        }
        for p, part in frame.groupby("period", sort=True)
    ]
    return listing(items)
