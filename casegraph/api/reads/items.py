"""A stolen item's path: the incident it was taken in and every later sighting of its identifier (pawned, sold,
found on a person, recovered, reported by a carrier), oldest first, each with its records."""

from __future__ import annotations

from typing import Any

from casegraph.api.reads.common import has_table, rows
from casegraph.api.workspace import ApiProblem
from casegraph.linkage.property import sightings_sql

SIGHTING_COLUMNS = "agency, sighting, sighting_kind, incident_id, record_id, occurred_at, place, identifier"


def recorded(g: Any) -> bool:
    return has_table(g, "property_items") and has_table(g, "property_events")


def item_path(g: Any, identifier: str) -> dict[str, Any]:
    """Every sighting the caller may see of one identifier (IMEI:<digits> or SN:<serial>), oldest first."""
    if not recorded(g):
        raise ApiProblem(404, "no stolen property is recorded in this store")
    found = rows(
        g,
        f"SELECT {SIGHTING_COLUMNS} FROM ({sightings_sql()}) s WHERE identifier = ? "
        "ORDER BY occurred_at NULLS FIRST, sighting",
        [identifier],
    )
    if not found:
        raise ApiProblem(404, f"no item {identifier} (or none of its sightings is visible to you)")
    return {"identifier": identifier, "sightings": found}


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
