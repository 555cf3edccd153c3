"""Incidents: filtered lists, one incident with everything linked to it, similar incidents and link "why"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from casegraph.api import cache
from casegraph.api.reads.common import (
    contains_pattern,
    has_rows,
    has_table,
    listing,
    not_found,
    one,
    parsed,
    rows,
    stage_note,
)
from casegraph.api.reads.items import items_taken
from casegraph.api.workspace import ApiProblem
from casegraph.safeguards import Session
from casegraph.safeguards.policy import shown_columns

LIST_COLUMNS = (
    "i.incident_id, i.agency, i.offence, i.occurred_from, i.occurred_to, i.area, i.premises, "
    "i.mo_entry, i.weapon, i.status, i.x, i.y, i.lat, i.lon"
)
ORDERS = {
    "-occurred_from": "i.occurred_from DESC, i.incident_id",
    "occurred_from": "i.occurred_from, i.incident_id",
    "incident_id": "i.incident_id, i.agency",
}
COUNTED = 2000  # a server store counts the matches of a list up to this many (see _server_page)
LINK_COLUMNS = (
    "link_id, agency_a, incident_a, agency_b, incident_b, probability, log_odds, base, contributions, "
    "features, run_id, model_id, decision"
)


@dataclass
class IncidentQuery:
    """Filters of the incident list, the map and the timeline (all optional, combined with AND)."""

    start: date | None = None
    end: date | None = None
    areas: list[str] = field(default_factory=list)
    offences: list[str] = field(default_factory=list)
    group: str | None = None
    series: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    agency: str | None = None
    text: str | None = None


def where_sql(q: IncidentQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (fixed fragments) and its parameters, in order."""
    parts: list[tuple[str, list[Any]]] = [
        ("i.occurred_from >= ?", [q.start]) if q.start else ("", []),
        ("i.occurred_from < ?", [q.end + timedelta(days=1)]) if q.end else ("", []),
        _one_of("i.area", q.areas),
        _one_of("i.offence", q.offences),
        ("i.agency = ?", [q.agency]) if q.agency else ("", []),
        ("i.x BETWEEN ? AND ? AND i.y BETWEEN ? AND ?", [q.bbox[0], q.bbox[2], q.bbox[1], q.bbox[3]])
        if q.bbox
        else ("", []),
        ("i.narrative ILIKE ?", [contains_pattern(q.text)]) if q.text else ("", []),
        (
            "EXISTS (SELECT 1 FROM group_incidents gi WHERE gi.group_id = ? AND gi.agency = i.agency "
            "AND gi.incident_id = i.incident_id)",
            [q.group],
        )
        if q.group
        else ("", []),
        (
            "EXISTS (SELECT 1 FROM series s WHERE s.series_id = ? AND s.agency = i.agency "
            "AND s.incident_id = i.incident_id)",
            [q.series],
        )
        if q.series
        else ("", []),
    ]
    used = [(sql, params) for sql, params in parts if sql]
    clause = " AND ".join(sql for sql, _ in used) or "true"
    return clause, [p for _, params in used for p in params]


def _one_of(column: str, values: list[str]) -> tuple[str, list[Any]]:
    """column is one of the values: an equality for one value (a server's index on (column, time) then serves
    a newest-first page in order, where a list makes it sort every match), else list_contains."""
    if not values:
        return "", []
    if len(values) == 1:
        return f"{column} = ?", [values[0]]
    return f"list_contains(?, {column})", [values]


def list_sql(where: str, order: str) -> str:
    return f"SELECT {LIST_COLUMNS} FROM incidents i WHERE {where} ORDER BY {ORDERS[order]} LIMIT ? OFFSET ?"


def stats_sql(where: str) -> str:
    """How many incidents match and the newest one's time, in one scan."""
    return f"SELECT count(*), max(i.occurred_from) FROM incidents i WHERE {where}"


def filter_notes(g: Session, q: IncidentQuery) -> dict[str, str] | None:
    if q.group:
        return stage_note(g, "group_incidents")
    if q.series:
        return stage_note(g, "series")
    return None


def newest_cutoff(g: Session, where: str, params: list[Any], need: int, top: Any) -> Any:
    """A time bound that still holds the `need` newest matching incidents (`top` is the newest), so newest-first
    pages read only the row groups after it (DuckDB skips the rest by their min/max) instead of sorting every
    match."""
    span = timedelta(days=7)
    while top is not None and span < timedelta(days=36_500):
        cutoff = top - span
        found = cache.scalar(
            g, f"SELECT count(*) FROM incidents i WHERE {where} AND i.occurred_from >= ?", [*params, cutoff]
        )
        if found >= need:
            return cutoff
        span *= 8
    return None


def incidents(g: Session, q: IncidentQuery, *, limit: int, offset: int, order: str) -> dict[str, Any]:
    note = filter_notes(g, q)
    if note:
        return listing([], total=0, limit=limit, offset=offset, note=note)
    where, params = where_sql(q)
    if g.engine == "postgres":
        return _server_page(g, where, params, limit=limit, offset=offset, order=order)
    sql = stats_sql(where)
    total, top = cache.remembered(g, "stats", sql, params, lambda: tuple(g.rows(sql, params)[0]))
    cutoff = (
        newest_cutoff(g, where, params, offset + limit, top)
        if order == "-occurred_from" and total > 5000
        else None
    )
    if cutoff is not None:
        where, params = f"{where} AND i.occurred_from >= ?", [*params, cutoff]
    items = rows(g, list_sql(where, order), [*params, limit, offset])
    return listing(
        items, total=total, limit=limit, offset=offset, note=None if total else stage_note(g, "incidents")
    )


def _server_page(
    g: Session, where: str, params: list[Any], *, limit: int, offset: int, order: str
) -> dict[str, Any]:
    """A page on a server store: its indexes serve the order directly, and the matches are counted up to
    COUNTED (or just past the page): other processes write at any time and row-level security decides per
    reader what counts, so no count can be kept, and counting every visible incident on each request was a
    scan of them all (140 ms at 100,000 incidents). `total_exact` says whether the total is all of them."""
    counted = max(COUNTED, offset + limit + 1)
    total = int(
        g.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM incidents i WHERE {where} LIMIT ?)", [*params, counted]
        )
    )
    items = rows(g, list_sql(where, order), [*params, limit, offset])
    out = listing(
        items, total=total, limit=limit, offset=offset, note=None if total else stage_note(g, "incidents")
    )
    out["total_exact"] = total < counted
    return out


def record(g: Session, table: str, id_column: str, value: str, agency: str | None) -> dict[str, Any]:
    """The shown columns of one record by its id (and agency, when given), or 404: a record the caller may not
    read and one that does not exist get the same answer."""
    sql = (
        f"SELECT {shown_columns(table)} FROM {table} WHERE {id_column} = ?"
        + (" AND agency = ?" if agency else "")
        + " LIMIT 1"
    )
    found = one(g, sql, [value, agency] if agency else [value])
    if found is None:
        raise not_found(table, value, agency)
    return found


def incident(g: Session, incident_id: str, agency: str | None = None) -> dict[str, Any]:
    """One incident with its series, the groups it is linked to (and why), the people involved, arrests."""
    found = record(g, "incidents", "incident_id", incident_id, agency)
    key = [found["agency"], incident_id]
    derived = {  # sections from stage tables are read only when the stage has written rows
        "series": ("series", "SELECT * FROM series WHERE agency = ? AND incident_id = ?"),
        "groups": (
            "group_incidents",
            "SELECT gi.*, g.name FROM group_incidents gi LEFT JOIN groups g USING "
            "(group_id) WHERE gi.agency = ? AND gi.incident_id = ? ORDER BY gi.group_id",
        ),
    }
    out: dict[str, Any] = {"incident": found, "notes": {}}
    for section, (table, sql) in derived.items():
        note = stage_note(g, table)
        out[section] = [] if note else rows(g, sql, key)
        if note:
            out["notes"][table] = note["note"]
    out["people"] = rows(g, people_sql(has_rows(g, "person_identities")), key)
    out["items"] = items_taken(g, *key)
    out["arrests"] = rows(
        g, f"SELECT {shown_columns('arrests')} FROM arrests WHERE agency = ? AND incident_id = ?", key
    )
    return out


def people_sql(resolved: bool, of: str = "involvements", event: str = "incident_id") -> str:
    """The people recorded in an incident (or, with of="contact_participants", in a contact event), with their
    resolved person when resolve has run. Params: the event's agency and id.

    A record is cited by id: the event's own agency's record, or, when agencies cite each other's records (6.6 %
    of the demo city's involvements), a record of that id held by another agency: the own agency's is taken
    first, as the network stage does, else the first other agency's the reader may see. The entries are read once
    (MATERIALIZED) and the records and persons they name are fetched with semi-joins on them, so DuckDB pushes
    their keys into the scans of person_records and person_identities; a correlated subquery for the person made
    DuckDB hash all of person_identities (110-235 ms per incident at 1,000,000 incidents, 12-25 now)."""
    entry, role = (
        ("involvement_id", "v.role") if of == "involvements" else ("participant_id", "'participant'")
    )
    persons = (
        "LEFT JOIN (SELECT agency AS record_agency, record_id, person_id FROM person_identities "
        "SEMI JOIN inv USING (record_id)) pi USING (record_agency, record_id) "
        if resolved
        else ""
    )
    return (
        f"WITH inv AS MATERIALIZED (SELECT v.agency, v.{entry} AS entry_id, {role} AS role, v.record_id "
        f"FROM {of} v WHERE v.agency = ? AND v.{event} = ?), "
        "cited AS (SELECT i.entry_id, r.agency AS record_agency, r.record_id, r.given_name, r.family_name, "
        "r.alias, row_number() OVER (PARTITION BY i.entry_id ORDER BY r.agency <> i.agency, r.agency) AS pick "
        "FROM inv i JOIN (SELECT agency, record_id, given_name, family_name, alias FROM person_records "
        "SEMI JOIN inv USING (record_id)) r USING (record_id)) "
        f"SELECT i.entry_id AS {entry}, i.role, i.record_id, coalesce(c.record_agency, i.agency) AS record_agency, "
        f"c.given_name, c.family_name, c.alias, {'pi.person_id' if resolved else 'NULL'} AS person_id FROM inv i "
        "LEFT JOIN (SELECT * FROM cited WHERE pick = 1) c USING (entry_id, record_id) "
        f"{persons}ORDER BY i.role, i.entry_id"
    )


def contact(g: Session, contact_id: str, agency: str | None = None) -> dict[str, Any]:
    """One contact event (a meeting, a call, a co-arrest ...) with the people who took part."""
    found = record(g, "contacts", "contact_id", contact_id, agency)
    people = people_sql(has_rows(g, "person_identities"), "contact_participants", "contact_id")
    return {"contact": found, "people": rows(g, people, [found["agency"], contact_id])}


def similar(g: Session, incident_id: str, agency: str | None, k: int) -> dict[str, Any]:
    """The incidents most likely linked to this one, each with the per-feature contributions behind its score."""
    found = one(
        g,
        "SELECT agency FROM incidents WHERE incident_id = ?" + (" AND agency = ?" if agency else ""),
        [incident_id, agency] if agency else [incident_id],
    )
    if found is None:
        raise not_found("incidents", incident_id, agency)
    note = stage_note(g, "incident_links")
    if note:
        return listing([], note=note)
    sql = (
        f"SELECT {LINK_COLUMNS}, CASE WHEN incident_a = ? AND agency_a = ? THEN incident_b ELSE incident_a END "
        "AS other_id, CASE WHEN incident_a = ? AND agency_a = ? THEN agency_b ELSE agency_a END AS other_agency "
        "FROM incident_links WHERE (incident_a = ? AND agency_a = ?) OR (incident_b = ? AND agency_b = ?) "
        "ORDER BY probability DESC LIMIT ?"
    )
    key = [incident_id, found["agency"]]
    items = [parsed(r, "contributions", "features") for r in rows(g, sql, [*key * 4, k])]
    return listing(items)


def link(g: Session, link_id: str) -> dict[str, Any]:
    """One incident link: probability, the model's base, each feature's contribution and the compared values."""
    if not has_table(g, "incident_links"):
        raise ApiProblem(404, "no incident links: the linkage stage has not run")
    found = one(g, f"SELECT {LINK_COLUMNS} FROM incident_links WHERE link_id = ?", [link_id])
    if found is None:
        raise ApiProblem(404, f"no incident link {link_id} (or its incidents are not visible to you)")
    found = parsed(found, "contributions", "features")
    contributions = found.get("contributions") or {}
    found["why"] = sorted(
        (
            {"feature": k, "contribution": v, "value": (found.get("features") or {}).get(k)}
            for k, v in contributions.items()
        ),
        key=lambda c: -abs(c["contribution"] or 0),
    )
    return found


def series_list(g: Session, *, min_size: int, limit: int, offset: int) -> dict[str, Any]:
    note = stage_note(g, "series")
    if note:
        return listing([], total=0, limit=limit, offset=offset, note=note)
    base = (
        "SELECT series_id, count(*) AS members, any_value(size) AS size, any_value(cohesion) AS cohesion, "
        "min(first_from) AS first_from, max(last_to) AS last_to, list(DISTINCT agency) AS agencies "
        "FROM series GROUP BY series_id HAVING count(*) >= ?"
    )
    total = int(g.scalar(f"SELECT count(*) FROM ({base})", [min_size]))
    items = rows(
        g,
        f"{base} ORDER BY members DESC, cohesion DESC, series_id LIMIT ? OFFSET ?",
        [min_size, limit, offset],
    )
    return listing(items, total=total, limit=limit, offset=offset)


def one_series(g: Session, series_id: str) -> dict[str, Any]:
    """A series' member incidents (how firmly each belongs) and the links among them."""
    members = rows(
        g,
        "SELECT s.incident_id, s.agency, s.confidence, s.strongest, i.offence, i.occurred_from, i.area, "
        "i.x, i.y, i.mo_entry, i.premises FROM series s JOIN incidents i ON i.agency = s.agency AND "
        "i.incident_id = s.incident_id WHERE s.series_id = ? ORDER BY i.occurred_from",
        [series_id],
    )
    if not members:
        from casegraph.api.reads.people import successor

        now = successor(g, "linkage", series_id)
        if now is not None:  # merged into another series since it was written down: follow it
            return {**one_series(g, now), "formerly": series_id}
        raise ApiProblem(404, f"no series {series_id} (or none of its incidents is visible to you)")
    keys = [f"{m['agency']}/{m['incident_id']}" for m in members]
    links = rows(
        g,
        "SELECT link_id, agency_a, incident_a, agency_b, incident_b, probability FROM incident_links "
        "WHERE list_contains(?, agency_a || '/' || incident_a) AND list_contains(?, agency_b || '/' || "
        "incident_b) ORDER BY probability DESC LIMIT 2000",
        [keys, keys],
    )
    return {"series_id": series_id, "members": members, "links": links}
