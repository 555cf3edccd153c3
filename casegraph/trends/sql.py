"""SQL builders of the trends stage (pure functions; values are passed as parameters, never pasted)."""

from __future__ import annotations

from typing import Any

from casegraph.store.ddl import quote


def member_records_cte(use_identities: bool, claims: str) -> str:
    """Qualifying claims (param 1: minimum criteria) of `claims` (the claims that pass the safeguards' rules)
    and every person record of each claimed person."""
    identities = (
        """
        UNION
        SELECT c.group_id, c.claim_id, p2.agency, p2.record_id
        FROM claims c
        JOIN person_identities p1 ON p1.agency = c.agency AND p1.record_id = c.record_id
        JOIN person_identities p2 ON p2.person_id = p1.person_id"""
        if use_identities
        else ""
    )
    return f"""
    claims AS (
        SELECT agency, record_id, group_id, claim_id FROM {claims}
        WHERE len(criteria) >= ? AND len(evidence) >= 1
    ),
    member_records AS (
        SELECT c.group_id, c.claim_id, c.agency, c.record_id FROM claims c{identities}
    )"""


def _series_hits(series_agency: bool) -> str:
    """Incidents in the same (not oversized, param: max size) linkage series as a member's incident."""
    on_agency = " AND s1.agency = h.agency" if series_agency else ""
    agency = "s2.agency" if series_agency else "CAST(NULL AS VARCHAR)"
    return f""",
    series_hits AS (
        SELECT DISTINCT h.group_id, {agency} AS agency, s2.incident_id, CAST(NULL AS VARCHAR) AS member,
               ['series:' || s1.series_id] AS why
        FROM member_hits h
        JOIN series s1 ON s1.incident_id = h.incident_id{on_agency}
        JOIN series s2 ON s2.series_id = s1.series_id
        WHERE s1.series_id IN (SELECT series_id FROM series GROUP BY series_id HAVING count(*) <= ?)
    )"""


def own(alias: str) -> str:
    """A row names its own agency's record when that agency has one with the id, else the record of that id
    held by another agency (a shared record: ids are unique per agency, often across agencies too)."""
    return (
        f"({alias}.agency = m.agency OR NOT EXISTS (SELECT 1 FROM person_records r "
        f"WHERE r.agency = {alias}.agency AND r.record_id = {alias}.record_id))"
    )


def group_incidents_sql(
    *, use_identities: bool, use_series: bool, claims: str, series_agency: bool = False
) -> str:
    """One row per (group, incident) with why it is linked. Params: min_criteria, roles[, series_max_size]."""
    series = _series_hits(series_agency) if use_series else ""
    union = "UNION ALL SELECT * FROM series_hits" if use_series else ""
    return f"""
    WITH {member_records_cte(use_identities, claims)},
    member_hits AS (
        SELECT m.group_id, v.agency, v.incident_id, m.agency || '/' || m.record_id AS member,
               ['claim:' || m.claim_id, 'involvement:' || v.involvement_id] AS why
        FROM member_records m JOIN involvements v ON v.record_id = m.record_id AND {own("v")}
        WHERE list_contains(CAST(? AS VARCHAR[]), v.role)
        UNION ALL
        SELECT m.group_id, a.agency, a.incident_id, m.agency || '/' || m.record_id,
               ['claim:' || m.claim_id, 'arrest:' || a.arrest_id]
        FROM member_records m JOIN arrests a ON a.record_id = m.record_id AND {own("a")}
        WHERE a.incident_id IS NOT NULL
    ){series},
    hits AS (SELECT * FROM member_hits {union})
    SELECT h.group_id, i.agency, i.incident_id,
           CASE WHEN count(h.member) > 0 THEN 'member' ELSE 'series' END AS via,
           list_sort(list_distinct(list(h.member))) AS members,
           list_sort(list_distinct(flatten(list(h.why)))) AS evidence,
           CAST(min(i.occurred_from) AS DATE) AS occurred_on,
           any_value(i.area) AS area, any_value(i.x) AS x, any_value(i.y) AS y
    FROM hits h
    JOIN incidents i ON i.incident_id = h.incident_id AND (h.agency IS NULL OR i.agency = h.agency)
    GROUP BY h.group_id, i.agency, i.incident_id
    ORDER BY h.group_id, occurred_on, i.incident_id"""


def member_contacts_sql(*, use_identities: bool, claims: str) -> str:
    """Members' contacts that name an area (presence for the baseline). Param: min_criteria."""
    return f"""
    WITH {member_records_cte(use_identities, claims)}
    SELECT DISTINCT m.group_id, c.area, CAST(c.occurred_at AS DATE) AS seen_on, 'contact:' || c.contact_id AS why
    FROM member_records m
    JOIN contact_participants p ON p.record_id = m.record_id AND {own("p")}
    JOIN contacts c ON c.agency = p.agency AND c.contact_id = p.contact_id
    WHERE c.area IS NOT NULL
    ORDER BY 1, 3"""


def data_window_sql() -> str:
    """First and last incident date in the store: the monitoring window."""
    return "SELECT CAST(min(occurred_from) AS DATE), CAST(max(occurred_from) AS DATE) FROM incidents"


def groups_sql() -> str:
    return "SELECT agency, group_id, name FROM groups ORDER BY group_id"


def points_sql() -> str:
    """Incidents with projected coordinates, for hot spots and near repeats."""
    return """
    SELECT agency, incident_id, offence, x, y, CAST(occurred_from AS DATE) AS occurred_on
    FROM incidents WHERE x IS NOT NULL AND y IS NOT NULL AND occurred_from IS NOT NULL"""


def delete_run_rows_sql(table: str) -> str:
    return f"DELETE FROM {quote(table)}"


# An alert with a last day (near-repeat) has expired once the store holds incidents of a later day: it expires
# by itself, without a re-run, as the records move on (the data's clock, by which the stage raised it).
ALERT_STATUS = (
    "CASE WHEN expires IS NOT NULL AND expires < (SELECT CAST(max(occurred_from) AS DATE) FROM incidents) "
    "THEN 'expired' ELSE status END"
)


def alerts_sql(kind: str | None = None) -> str:
    where = " AND kind = ?" if kind else ""
    return f"""
    SELECT alert_id, kind, subject, title, onset, expires, severity, {ALERT_STATUS} AS status, detail, evidence,
           created_at
    FROM alerts WHERE stage = ?{where} ORDER BY onset, alert_id"""


def acknowledge_sql() -> str:
    return """
    UPDATE alerts SET status = ?, acknowledged_by = ?, acknowledged_at = ?, note = ?
    WHERE alert_id = ?"""


def _band_case(value: str, edges: list[float], closed: str) -> tuple[str, list[float]]:
    """The band index of `value` (0-based; len(edges) = beyond the last edge) and its parameters: closed on the
    right, [0, e0], (e0, e1], ...; on the left, [0, e0), [e0, e1), ... with a first edge of 0 holding 0 only."""
    op = "<=" if closed == "right" else "<"
    arms = [f"WHEN {value} {'<=' if edge == 0 else op} ? THEN {k}" for k, edge in enumerate(edges)]
    return f"CASE {' '.join(arms)} ELSE {len(edges)} END", list(edges)


def knox_counts_sql(
    space_edges: list[float], time_edges: list[float], *, closed: str = "right", metric: str = "euclidean"
) -> tuple[str, list[Any]]:
    """Observed near-repeat pairs per (offence, distance band, time band): every pair of an offence's incidents
    within the last distance edge and the last time edge, found by joining each incident's grid cell (a cell
    is the last distance edge wide) to its 3 x 3 neighbours, so the work grows with the close pairs, not n²,
    and runs as a distributed equi-join on Spark. The same counts as trends.knox's `observed` table."""
    reach = float(space_edges[-1])
    gap = (
        "abs(a.x - b.x) + abs(a.y - b.y)"
        if metric == "manhattan"
        else "sqrt(pow(a.x - b.x, 2) + pow(a.y - b.y, 2))"
    )
    space_band, space_params = _band_case("d", space_edges, closed)
    time_band, time_params = _band_case("dt", time_edges, closed)
    sql = f"""
    WITH points AS (
        SELECT agency, incident_id, offence, x, y, occurred_on,
               CAST(floor(x / ?) AS BIGINT) AS cx, CAST(floor(y / ?) AS BIGINT) AS cy
        FROM ({points_sql()}) p
    ),
    near AS (VALUES (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1)),
    pairs AS (
        SELECT a.offence, {gap} AS d, abs(date_diff('day', a.occurred_on, b.occurred_on)) AS dt
        FROM points a
        CROSS JOIN near n(dx, dy)
        JOIN points b ON b.offence = a.offence AND b.cx = a.cx + n.dx AND b.cy = a.cy + n.dy
            AND (a.agency < b.agency OR (a.agency = b.agency AND a.incident_id < b.incident_id))
    ),
    banded AS (SELECT offence, {space_band} AS space_band, {time_band} AS time_band FROM pairs)
    SELECT offence, space_band, time_band, count(*) AS pairs
    FROM banded
    WHERE space_band < ? AND time_band < ?
    GROUP BY offence, space_band, time_band
    ORDER BY offence, space_band, time_band"""
    return sql, [reach, reach, *space_params, *time_params, len(space_edges), len(time_edges)]
