"""A stolen item's path: the incident it was taken in and every later sighting of its identifier (pawned, sold,
found on a person, recovered, reported by a carrier), oldest first, each with its records and its place on the
map; and a group's item flows (where its items were stolen -> where they surfaced).

Sightings carry lat/lon while the map draws the store's projected metres: `map_xy` places them in the
incidents' projection (export.maps.projected, the placement the map exports use), in this one place."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from casegraph.api import cache
from casegraph.api.reads.common import has_table, listing, rows, stage_note
from casegraph.api.workspace import ApiProblem
from casegraph.errors import CasegraphError
from casegraph.export.maps import projected
from casegraph.ingest.geo import utm_crs
from casegraph.linkage.property import sightings_sql
from casegraph.safeguards import Session
from casegraph.trends.items import FLOWS_SQL

SIGHTING_COLUMNS = "agency, sighting, sighting_kind, incident_id, record_id, occurred_at, place, identifier"
# Incidents with both lat/lon and x/y, from which the projection of x/y is told (a sample is plenty).
ANCHORS_SQL = (
    "SELECT * FROM (SELECT lat, lon, x, y FROM incidents WHERE lat IS NOT NULL AND lon IS NOT NULL "
    "AND x IS NOT NULL AND y IS NOT NULL) USING SAMPLE 2000 ROWS"
)
# Each sighting's own lat/lon (an event's) and the x/y of the incident it belongs to (the theft, an arrest).
PLACED_SQL = f"""
SELECT s.*, e.lat, e.lon, i.x AS incident_x, i.y AS incident_y
FROM (SELECT {SIGHTING_COLUMNS} FROM ({sightings_sql()}) s0 WHERE identifier = ?) s
LEFT JOIN property_events e ON s.sighting_kind <> 'taken' AND e.agency = s.agency AND e.event_id = s.sighting
LEFT JOIN incidents i ON i.agency = s.agency AND i.incident_id = s.incident_id
ORDER BY s.occurred_at NULLS FIRST, s.sighting"""
# A group's item flows: the theft (its linked incident's x/y) and where the item surfaced (lat/lon, city).
GROUP_FLOWS_SQL = f"""
SELECT f.item_id, f.incident_id, f.theft_agency, f.event_id, f.event_agency, f.kind, f.occurred_at, f.city,
       e.dealer, e.lat, e.lon, g.x AS theft_x, g.y AS theft_y, g.area AS theft_area
FROM ({FLOWS_SQL}) f
JOIN group_incidents g ON g.group_id = ? AND g.agency = f.theft_agency AND g.incident_id = f.incident_id
JOIN property_events e ON e.agency = f.event_agency AND e.event_id = f.event_id
ORDER BY f.occurred_at, f.event_id"""


def recorded(g: Any) -> bool:
    return has_table(g, "property_items") and has_table(g, "property_events")


def item_path(g: Any, identifier: str) -> dict[str, Any]:
    """Every sighting the caller may see of one identifier (IMEI:<digits> or SN:<serial>), oldest first."""
    if not recorded(g):
        raise ApiProblem(404, "no stolen property is recorded in this store")
    found = rows(g, PLACED_SQL, [identifier])
    if not found:
        raise ApiProblem(404, f"no item {identifier} (or none of its sightings is visible to you)")
    frame = pd.DataFrame(found)
    xy, note = map_xy(g, frame)
    # where the sighting itself was, else the incident it belongs to (an item taken, found at an arrest)
    own = np.isfinite(xy[:, 0])
    frame["x"] = np.where(own, xy[:, 0], pd.to_numeric(frame["incident_x"], errors="coerce"))
    frame["y"] = np.where(own, xy[:, 1], pd.to_numeric(frame["incident_y"], errors="coerce"))
    sightings = [
        {**{k: v for k, v in r.items() if k not in ("incident_x", "incident_y")}, **_xy(r["x"], r["y"])}
        for r in frame.to_dict("records")
    ]
    return {"identifier": identifier, "sightings": sightings, "map_note": note}


def group_item_flows(g: Session, gid: str) -> dict[str, Any]:
    """Where a group's stolen items went: one flow per sighting of an item taken in one of its linked incidents
    (theft x/y -> sighting x/y), oldest first, with the city and dealer."""
    if not recorded(g):
        return listing([], note={"status": "no records", "note": "no stolen property is recorded"})
    note = stage_note(g, "group_incidents") or stage_note(g, "property_links")
    if note:
        return listing([], note=note)
    frame = pd.DataFrame(rows(g, GROUP_FLOWS_SQL, [gid]))
    if frame.empty:
        return listing([])
    xy, map_note = map_xy(g, frame)
    frame["x"], frame["y"] = xy[:, 0], xy[:, 1]
    items = [
        {
            **{k: v for k, v in r.items() if k not in ("x", "y", "theft_x", "theft_y")},
            "from": _xy(r["theft_x"], r["theft_y"]),
            "to": _xy(r["x"], r["y"]),
        }
        for r in frame.to_dict("records")
    ]
    out = listing(items)
    out["map_note"] = map_note
    return out


def map_xy(g: Session, frame: pd.DataFrame) -> tuple[np.ndarray, str | None]:
    """Rows' lat/lon as x/y in the incidents' projection (NaN where they have none, or where the projection
    cannot be told: then a note says why)."""
    lat = pd.to_numeric(frame.get("lat"), errors="coerce").to_numpy(float)
    lon = pd.to_numeric(frame.get("lon"), errors="coerce").to_numpy(float)
    anchors = cache.remembered(
        g, "map-anchors", ANCHORS_SQL, None, lambda: pd.DataFrame(rows(g, ANCHORS_SQL))
    )
    try:
        return projected(anchors, lat, lon, utm_crs), None
    except CasegraphError as exc:
        return np.full((len(frame), 2), np.nan), f"sightings not placed on the map: {exc}"


def _xy(x: Any, y: Any) -> dict[str, float | None]:
    ok = x is not None and y is not None and np.isfinite(x) and np.isfinite(y)
    return {"x": round(float(x), 2), "y": round(float(y), 2)} if ok else {"x": None, "y": None}


def items_taken(g: Any, agency: str, incident_id: str) -> list[dict[str, Any]]:
    """The items recorded as taken in one incident, with the identifier their path is found by."""
    if not recorded(g):
        return []
    return rows(
        g,
        f"SELECT {SIGHTING_COLUMNS} FROM ({sightings_sql()}) s WHERE sighting_kind = 'taken' AND agency = ? "
        "AND incident_id = ? ORDER BY sighting",
        [agency, incident_id],
    )
