"""Persons (a resolved identity with its source records) and groups (members with the criteria and evidence
behind each claim, linked incidents, growth)."""

from __future__ import annotations

from typing import Any

from casegraph.api import cache
from casegraph.api.reads.common import (
    CLAIMS,
    INCIDENT_KEY,
    RECORD_KEY,
    contains_pattern,
    fetched,
    has_table,
    listing,
    not_found,
    one,
    person_of,
    rows,
    stage_note,
)
from casegraph.api.reads.names import matches, name_index, persons_of
from casegraph.api.workspace import ApiProblem
from casegraph.safeguards import Session

HITS = 2000  # matching records grouped into persons per name search
RECORD_COLUMNS = (
    "p.record_id, p.agency, p.given_name, p.middle_name, p.family_name, p.alias, p.dob, p.sex, "
    "p.address, p.postcode"
)


def persons_sql(resolved: bool, where: str = "true") -> str:
    """Persons whose records pass `where` (a fixed fragment), each with its records' count: the name search
    when the caller sees too many records for the name index (names.py), and the list without a search.

    The first 2000 matching records are read once (MATERIALIZED: DuckDB would otherwise inline the CTE and scan
    person_records twice), and their persons are looked up with a semi-join, which hashes those few records
    instead of all of person_identities. list_distinct(list(..)) costs a sixth of list(DISTINCT ..) here (sorted,
    so a person reads the same every time)."""
    persons = fetched("person_identities", "pi", "person_id", "hits", RECORD_KEY) if resolved else ""
    named = f"SELECT {person_of('h', resolved)} AS person_id, h.* FROM hits h {persons}"
    return (
        "WITH hits AS MATERIALIZED (SELECT p.agency, p.record_id, p.given_name, p.family_name, p.dob "
        f"FROM person_records p WHERE {where} LIMIT {HITS}), named AS ({named}) "
        "SELECT person_id, count(*) AS records, list_sort(list_distinct(list(given_name || ' ' || family_name))) AS names, "
        "list_sort(list_distinct(list(agency))) AS agencies, min(dob) AS dob FROM named GROUP BY person_id "
        "ORDER BY records DESC, person_id LIMIT ? OFFSET ?"
    )


def persons(g: Session, text: str | None, *, limit: int, offset: int) -> dict[str, Any]:
    note = stage_note(g, "person_identities")
    pattern = contains_pattern(text)
    index = name_index(g, note is None) if pattern is not None else None
    if index is not None and pattern is not None:
        hits = matches(index, pattern, HITS)
        found = f"{hits.num_rows} matching records" if hits.num_rows else "no visible name matches"
        g.log("read", "person_records", f"name search {pattern!r} (name index): {found}", rows=hits.num_rows)
        items = persons_of(hits, limit=limit, offset=offset)
        return listing(items, limit=limit, offset=offset, total=None, note=note)
    where = "(p.family_name ILIKE ? OR p.given_name ILIKE ? OR p.alias ILIKE ?)" if pattern else "true"
    params = [pattern] * 3 if pattern else []
    items = rows(g, persons_sql(note is None, where), [*params, limit, offset])
    return listing(items, limit=limit, offset=offset, total=None, note=note)


def _records_of(g: Session, person_id: str) -> tuple[list[dict[str, Any]], bool]:
    """The person's records and whether they come from resolved identities (else the one record named)."""
    resolved = rows(
        g,
        f"SELECT {RECORD_COLUMNS}, pi.person_id, pi.match_weight, pi.match_probability, "
        "pi.cluster_size, pi.cluster_confidence, pi.decided FROM person_identities pi JOIN "
        "person_records p ON p.agency = pi.agency AND p.record_id = pi.record_id "
        "WHERE pi.person_id = ? ORDER BY p.agency, p.record_id",
        [person_id],
    )
    if resolved:
        return resolved, True
    agency, _, record_id = person_id.partition("/")
    single = rows(
        g,
        f"SELECT {RECORD_COLUMNS} FROM person_records p WHERE p.agency = ? AND p.record_id = ?",
        [agency, record_id],
    )
    if not single and record_id:
        raise not_found("person_records", record_id, agency)
    return single, False


def claims_sql() -> str:
    """Claims about some records (only claims passing the safeguards' rules are visible), with group names."""
    return (
        "SELECT c.claim_id, c.agency, c.record_id, c.group_id, g.name AS group_name, c.criteria, c.evidence, "
        f"c.entered_by, c.entered_at, c.review_date, c.approved_by FROM {CLAIMS} c "
        "LEFT JOIN groups g ON g.group_id = c.group_id AND g.agency = c.agency "
        "WHERE list_contains(?, c.agency || '/' || c.record_id) ORDER BY c.group_id, c.entered_at"
    )


def person(g: Session, person_id: str) -> dict[str, Any]:
    """A resolved identity: its source records (never merged), their match weights, claims, incidents."""
    records, resolved = _records_of(g, person_id)
    if not records:
        now = successor(g, "resolve", person_id)
        if now is not None:  # an id merged into another since it was written down: follow it
            return {**person(g, now), "formerly": person_id}
        raise ApiProblem(
            404, f"no person {person_id} (ids are person ids, or agency/record_id before resolve)"
        )
    keys = [f"{r['agency']}/{r['record_id']}" for r in records]
    pairs = [[r["agency"] for r in records], [r["record_id"] for r in records]]
    incidents = rows(g, person_incidents_sql(), pairs)
    out: dict[str, Any] = {
        "person_id": person_id,
        "records": records,
        "claims": rows(g, claims_sql(), [keys]),
        "incidents": incidents,
        "ties": person_ties(g, person_id),
    }
    if not resolved:
        out.update(stage_note(g, "person_identities") or {"note": "this record is a person of one record"})
    return out


def person_incidents_sql() -> str:
    """The incidents of some records (parameters: their agencies, their record ids), oldest first. Involvements
    and incidents are fetched by semi-join on those records (matching `agency || '/' || record_id` against a
    list built a string for every involvement: 86 ms per person at 1,000,000 incidents)."""
    return (
        "WITH k AS MATERIALIZED (SELECT unnest(?::VARCHAR[]) AS agency, unnest(?::VARCHAR[]) AS record_id), "
        "v AS MATERIALIZED (SELECT v.role, v.agency, v.incident_id FROM involvements v SEMI JOIN k "
        "USING (agency, record_id)) "
        "SELECT v.role, i.incident_id, i.agency, i.offence, i.occurred_from, i.area FROM v "
        f"{fetched('incidents', 'i', 'offence, occurred_from, area', 'v', INCIDENT_KEY, join='INNER')} "
        "ORDER BY i.occurred_from, i.agency, i.incident_id, v.role"
    )


def person_ties(g: Session, person_id: str) -> list[dict[str, Any]]:
    """Up to 200 ties of the person (either end: two filters DuckDB can push into the scan, not one OR)."""
    if not has_table(g, "person_ties"):
        return []
    sql = (
        "SELECT * FROM (SELECT * FROM person_ties WHERE person_a = ? UNION ALL "
        "SELECT * FROM person_ties WHERE person_b = ? AND person_a IS DISTINCT FROM ?) LIMIT 200"
    )
    return rows(g, sql, [person_id, person_id, person_id])


def groups_sql() -> str:
    """Each group with its members (records with a claim that passes) and linked incidents, in one pass each."""
    return (
        f"WITH m AS (SELECT group_id, count(DISTINCT agency || '/' || record_id) AS members FROM {CLAIMS} "
        "GROUP BY group_id), i AS (SELECT group_id, count(*) AS incidents FROM group_incidents GROUP BY group_id) "
        "SELECT g.group_id, g.agency, g.name, g.kind, g.description, coalesce(m.members, 0) AS members, "
        "coalesce(i.incidents, 0) AS incidents, t.trend, t.first_date, t.last_date, t.new_areas FROM groups g "
        "LEFT JOIN m USING (group_id) LEFT JOIN i USING (group_id) LEFT JOIN group_trends t USING (group_id) "
        "ORDER BY g.group_id"
    )


def groups(g: Session) -> dict[str, Any]:
    """Counts per group (aggregates, kept until the next change: reading claims is costly); each read is logged."""
    items = cache.remembered(g, "rows", groups_sql(), None, lambda: rows(g, groups_sql()))
    g.log("read", "groups,membership_claims", "group list with member and incident counts", rows=len(items))
    return listing(items, note=None if items else stage_note(g, "groups"))


def group_key(g: Session, name_or_id: str) -> dict[str, Any]:
    """A group by id or by name (case-insensitive); 404 when neither matches."""
    found = one(
        g,
        "SELECT group_id, agency, name, kind, description FROM groups WHERE group_id = ? "
        "OR lower(name) = lower(?) ORDER BY group_id <> ? LIMIT 1",
        [name_or_id] * 3,
    )
    if found is None:
        raise not_found("groups", name_or_id, None)
    return found


def members_sql() -> str:
    """Each claimed member with the criteria met, the evidence cited, who entered it, and the resolved person."""
    return (
        "SELECT c.claim_id, c.agency, c.record_id, p.given_name, p.family_name, p.alias, p.dob, "
        "pi.person_id, c.criteria, c.evidence, c.entered_by, c.entered_at, c.review_date, c.approved_by "
        f"FROM {CLAIMS} c LEFT JOIN person_records p ON p.agency = c.agency AND p.record_id = c.record_id "
        "LEFT JOIN person_identities pi ON pi.agency = c.agency AND pi.record_id = c.record_id "
        "WHERE c.group_id = ? ORDER BY c.entered_at"
    )


def group(g: Session, name_or_id: str) -> dict[str, Any]:
    """A group with its members (and why each is one), its trend and its counts."""
    found = group_key(g, name_or_id)
    gid = found["group_id"]
    trend = one(g, "SELECT * FROM group_trends WHERE group_id = ?", [gid])
    return {
        "group": found,
        "members": rows(g, members_sql(), [gid]),
        "trend": trend,
        "notes": {t: n["note"] for t in ("group_trends", "person_identities") if (n := stage_note(g, t))},
        "rule": "A member is a person record with a membership claim that meets the required criteria, cites "
        "its evidence records and has not passed its review date; other claims are not shown or counted.",
    }


def group_incidents(g: Session, gid: str, *, limit: int, offset: int) -> dict[str, Any]:
    note = stage_note(g, "group_incidents")
    if note:
        return listing([], total=0, limit=limit, offset=offset, note=note)
    total = int(g.scalar("SELECT count(*) FROM group_incidents WHERE group_id = ?", [gid]))
    items = rows(g, group_incidents_sql(), [gid, limit, offset])
    return listing(items, total=total, limit=limit, offset=offset)


def group_incidents_sql() -> str:
    """One page of a group's incidents, oldest first, with each incident's offence and series. The page is cut
    first and its incidents and series fetched by semi-join (a plain LEFT JOIN made DuckDB hash every incident:
    115 ms per page at 1,000,000 incidents)."""
    return (
        "WITH page AS MATERIALIZED (SELECT incident_id, agency, occurred_on, area, via, members, evidence "
        "FROM group_incidents WHERE group_id = ? ORDER BY occurred_on, agency, incident_id LIMIT ? OFFSET ?) "
        "SELECT p.incident_id, p.agency, p.occurred_on, p.area, p.via, p.members, p.evidence, i.offence, "
        "s.series_id FROM page p "
        f"{fetched('incidents', 'i', 'offence', 'page', INCIDENT_KEY)} "
        f"{fetched('series', 's', 'series_id', 'page', INCIDENT_KEY)} "
        "ORDER BY p.occurred_on, p.agency, p.incident_id"
    )


def successor(g: Session, stage: str, retired: str, hops: int = 8) -> str | None:
    """The id whose cluster took in all members of a retired person or series id (see casegraph.lineage),
    followed through later merges; None when the id was never retired, or its members went several ways."""
    if not has_table(g, "id_lineage"):
        return None
    current = retired
    for _ in range(hops):
        went = one(
            g,
            "SELECT from_ids FROM id_lineage WHERE stage = ? AND id = ? AND event = 'retired' "
            "ORDER BY recorded_at DESC LIMIT 1",
            [stage, current],
        )
        if went is None:
            return current if current != retired else None
        targets = list(went["from_ids"] or [])
        if len(targets) != 1:
            return None
        current = targets[0]
    return current
