"""Analysts' decisions on incident pairs: linked or not-linked, with who, when and why.

A decision is never deleted: a new one on the same pair, or an undo, stamps the one in force with who undid
it and when. Active decisions override the model's score on every later `link` run (the pair is stored with
probability 1 or 0 and the decision) and enter the next training as labels.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from casegraph.errors import CasegraphError
from casegraph.store import Store

TABLE = "linkage_decisions"
DECISIONS = ("linked", "not-linked")
IncidentKey = tuple[str, str]
PAIR = "agency_a = ? AND incident_a = ? AND agency_b = ? AND incident_b = ?"


def incident_key(store: Store, ref: str) -> IncidentKey:
    """'agency:incident_id' or a bare incident_id (when one agency holds it) -> (agency, incident_id)."""
    agencies = [
        a for (a,) in store.rows("SELECT DISTINCT agency FROM incidents WHERE incident_id = ?", [ref])
    ]
    if len(agencies) == 1:
        return agencies[0], ref
    if len(agencies) > 1:
        raise CasegraphError(
            f"incident {ref!r} exists in several agencies ({', '.join(agencies)}): write AGENCY:{ref}"
        )
    agency, sep, incident = ref.partition(":")
    if sep and store.rows("SELECT 1 FROM incidents WHERE agency = ? AND incident_id = ?", [agency, incident]):
        return agency, incident
    raise CasegraphError(f"no incident {ref!r} (write INCIDENT_ID or AGENCY:INCIDENT_ID)")


def ordered(a: IncidentKey, b: IncidentKey) -> tuple[IncidentKey, IncidentKey]:
    if a == b:
        raise CasegraphError(f"an incident cannot be decided against itself: {a[0]}:{a[1]}")
    return (a, b) if a < b else (b, a)


def _stored_probability(store: Store, a: IncidentKey, b: IncidentKey) -> float | None:
    if "incident_links" not in store.table_names():
        return None
    found = store.rows(
        "SELECT probability FROM incident_links WHERE (agency_a, incident_a, agency_b, incident_b) IN "
        "((?, ?, ?, ?), (?, ?, ?, ?)) LIMIT 1",
        [*a, *b, *b, *a],
    )
    return float(found[0][0]) if found else None


def decide(
    store: Store, a: IncidentKey, b: IncidentKey, decision: str, *, user: str, note: str | None = None
) -> dict[str, Any]:
    """Record linked / not-linked on a pair (it replaces the decision in force on it)."""
    if decision not in DECISIONS:
        raise CasegraphError(f"decision must be one of {', '.join(DECISIONS)} or undo, not {decision!r}")
    a, b = ordered(a, b)
    now = datetime.now(UTC).replace(tzinfo=None)
    row = {
        "decision_id": f"LD{uuid.uuid4().hex[:16]}",
        "agency_a": a[0],
        "incident_a": a[1],
        "agency_b": b[0],
        "incident_b": b[1],
        "decision": decision,
        "note": note,
        "decided_by": user,
        "decided_at": now,
        "model_probability": _stored_probability(store, a, b),
        "undone_by": None,
        "undone_at": None,
    }
    with store.transaction():
        _undo(store, a, b, user, now)
        store.write(TABLE, pd.DataFrame([row]))
    return {**row, "decided_at": now.isoformat()}


def _undo(store: Store, a: IncidentKey, b: IncidentKey, user: str, now: datetime) -> None:
    store.execute(
        f"UPDATE {TABLE} SET undone_by = ?, undone_at = ? WHERE {PAIR} AND undone_at IS NULL",
        [user, now, *a, *b],
    )


def undo(store: Store, a: IncidentKey, b: IncidentKey, *, user: str) -> int:
    """Undo the decision in force on a pair (the model scores it again). Returns how many were undone."""
    a, b = ordered(a, b)
    active = int(store.scalar(f"SELECT count(*) FROM {TABLE} WHERE {PAIR} AND undone_at IS NULL", [*a, *b]))
    _undo(store, a, b, user, datetime.now(UTC).replace(tzinfo=None))
    return active


def active(store: Store) -> pd.DataFrame:
    """Decisions in force: agency_a, incident_a, agency_b, incident_b, decision."""
    if TABLE not in store.table_names():
        return pd.DataFrame(columns=["agency_a", "incident_a", "agency_b", "incident_b", "decision"])
    return store.df(
        f"SELECT agency_a, incident_a, agency_b, incident_b, decision FROM {TABLE} WHERE undone_at IS NULL"
    )


def on_incident(store: Store, key: IncidentKey) -> dict[IncidentKey, str]:
    """Decisions in force on the pairs of one incident: the other incident -> linked / not-linked."""
    if TABLE not in store.table_names():
        return {}
    rows = store.rows(
        f"SELECT agency_a, incident_a, agency_b, incident_b, decision FROM {TABLE} WHERE undone_at IS NULL "
        "AND ((agency_a = ? AND incident_a = ?) OR (agency_b = ? AND incident_b = ?))",
        [*key, *key],
    )
    return {((c, d) if (a, b) == key else (a, b)): decision for a, b, c, d, decision in rows}


def listing(store: Store, include_undone: bool = False) -> list[dict[str, Any]]:
    where = "" if include_undone else " WHERE undone_at IS NULL"
    return store.df(f"SELECT * FROM {TABLE}{where} ORDER BY decided_at DESC").to_dict("records")
