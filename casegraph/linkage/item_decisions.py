"""Analysts' decisions on near matches of item identifiers: same-item or different, with who, when and why.

A near match (one character off, two neighbours swapped) is never a link by itself. Deciding `same-item` makes
it an item link (score 1) from the next `link` run; `different` sets the candidate aside. A decision is never
deleted: a new one on the same pair, or an undo, stamps the one in force with who undid it and when.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from casegraph.errors import CasegraphError
from casegraph.store import Store

TABLE = "property_decisions"
DECISIONS = ("same-item", "different")
SightingKey = tuple[str, str]
PAIR = "agency_a = ? AND sighting_a = ? AND agency_b = ? AND sighting_b = ?"
SIGHTINGS = (("property_items", "item_id"), ("property_events", "event_id"))


def sighting_key(store: Store, ref: str) -> SightingKey:
    """'agency:id' or a bare item or event id (when one agency holds it) -> (agency, id)."""
    found = sorted(
        {
            (a, i)
            for table, key in SIGHTINGS
            for a, i in store.rows(
                f"SELECT agency, {key} FROM {table} WHERE {key} = ? OR agency || ':' || {key} = ?", [ref, ref]
            )
        }
    )
    if len(found) == 1:
        return found[0]
    if found:
        raise CasegraphError(
            f"{ref!r} names several sightings ({', '.join(map(':'.join, found))}): write AGENCY:ID"
        )
    raise CasegraphError(f"no property item or event {ref!r} (write ID or AGENCY:ID)")


def decide(
    store: Store, a: SightingKey, b: SightingKey, decision: str, *, user: str, note: str | None = None
) -> dict[str, Any]:
    """Record same-item / different on a pair of sightings (it replaces the decision in force on it)."""
    if decision not in DECISIONS:
        raise CasegraphError(f"decision must be one of {', '.join(DECISIONS)} or undo, not {decision!r}")
    if a == b:
        raise CasegraphError(f"a sighting cannot be decided against itself: {':'.join(a)}")
    a, b = min(a, b), max(a, b)
    now = datetime.now(UTC).replace(tzinfo=None)
    row = {
        "decision_id": f"PD{uuid.uuid4().hex[:16]}",
        "agency_a": a[0],
        "sighting_a": a[1],
        "agency_b": b[0],
        "sighting_b": b[1],
        "decision": decision,
        "note": note,
        "decided_by": user,
        "decided_at": now,
        "undone_by": None,
        "undone_at": None,
    }
    with store.transaction():
        undo(store, a, b, user=user)
        store.write(TABLE, pd.DataFrame([row]))
    return {**row, "decided_at": now.isoformat()}


def undo(store: Store, a: SightingKey, b: SightingKey, *, user: str) -> int:
    """Undo the decision in force on a pair. Returns how many were undone."""
    a, b = min(a, b), max(a, b)
    active = int(store.scalar(f"SELECT count(*) FROM {TABLE} WHERE {PAIR} AND undone_at IS NULL", [*a, *b]))
    store.execute(
        f"UPDATE {TABLE} SET undone_by = ?, undone_at = ? WHERE {PAIR} AND undone_at IS NULL",
        [user, datetime.now(UTC).replace(tzinfo=None), *a, *b],
    )
    return active


def active(store: Store) -> dict[tuple[SightingKey, SightingKey], str]:
    """Decisions in force by (lesser sighting, greater sighting)."""
    if TABLE not in store.table_names():
        return {}
    rows = store.rows(
        f"SELECT agency_a, sighting_a, agency_b, sighting_b, decision FROM {TABLE} WHERE undone_at IS NULL"
    )
    return {((aa, sa), (ab, sb)): d for aa, sa, ab, sb, d in rows}


def candidates(store: Store, undecided_only: bool = True) -> list[dict[str, Any]]:
    """Near matches of the last `link` run (undecided ones, or all), for an analyst to decide."""
    if "property_links" not in store.table_names():
        return []
    where = " AND decision IS NULL" if undecided_only else ""
    return store.df(
        f"SELECT * FROM property_links WHERE (kind = 'near_match' OR match <> 'exact'){where} "
        "ORDER BY occurred_b DESC NULLS LAST, link_id"
    ).to_dict("records")
