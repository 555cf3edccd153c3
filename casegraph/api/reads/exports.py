"""Exports: every text cell made inert for spreadsheets, and a dissemination entry before anything leaves."""

from __future__ import annotations

from typing import Any

from casegraph.api.reads.incidents import IncidentQuery, where_sql
from casegraph.export import inert
from casegraph.safeguards import Session, record_dissemination

EXPORT_COLUMNS = (
    "i.incident_id, i.agency, i.offence, i.occurred_from, i.occurred_to, i.area, i.premises, "
    "i.mo_entry, i.mo_target, i.weapon, i.property_taken, i.vehicle, i.status, i.narrative"
)


def cell(value: Any) -> Any:
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    return "" if value is None else inert(value)


def incidents_csv(
    g: Session, q: IncidentQuery, recipient: str, purpose: str, limit: int
) -> tuple[list[list[Any]], list[str]]:
    """The filtered incidents as CSV rows (formulas made inert), logged as a dissemination first."""
    g.require("export", "incidents")
    where, params = where_sql(q)
    table = g.arrow(
        f"SELECT {EXPORT_COLUMNS} FROM incidents i WHERE {where} ORDER BY i.occurred_from LIMIT ?",
        [*params, limit],
    )
    record_dissemination(
        g, recipient=recipient, purpose=purpose, what="incidents export (workspace)", data=table
    )
    data = table.to_pydict()
    return [[cell(v) for v in r] for r in zip(*data.values(), strict=True)], list(data)
