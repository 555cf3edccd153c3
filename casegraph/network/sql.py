"""SQL builders of the network stage (pure functions; values go in as parameters, never pasted).

The evidence is two-mode: events (an incident, a series, one incident's arrests, a contact, an address) and
the people in them. `participations_sql` lists them; `pair_events_sql` projects them onto pairs of people.
People are numbered once (`persons_sql`: pidx) and events keyed by (src, ev_agency, ev_id), so the heavy
joins and aggregations run on integers and plain columns, not on concatenated text: at ten million ties
that is the difference between seconds and an out-of-memory error.
"""

from __future__ import annotations

from casegraph.store import quote

SCRATCH_PERSONS = "_tmp_network_persons"  # agency, record_id, person_id, pidx
SCRATCH_PARTS = "_tmp_network_parts"  # one row per event, part and person
SCRATCH_EVENTS = "_tmp_network_pair_events"  # one row per pair of people and event
SCRATCH_LABELS = "_tmp_network_labels"  # pidx, person_id, group_id, n_groups, claims
SCRATCH_SIDES = "_tmp_network_sides"  # pidx, group_id, associate: the people counted on each group's side
SCRATCH_IDS = "_tmp_network_ids"  # pidx, person_id, group_id: one row per person
SCRATCH_RECEIVED = "_tmp_network_received"  # receiver (seller, holder, dealer), group of the theft
SCRATCHES = (
    SCRATCH_PERSONS,
    SCRATCH_PARTS,
    SCRATCH_EVENTS,
    SCRATCH_LABELS,
    SCRATCH_SIDES,
    SCRATCH_IDS,
    SCRATCH_RECEIVED,
)
DEALER = "dealer:"  # node ids of dealers and places that received stolen items: dealer:<licence, else name>


def persons_sql(use_identities: bool) -> str:
    """Every person record with its person (one person per record when no resolution ran) and the person's
    number pidx (0..n-1, in person id order)."""
    person = (
        "coalesce(pi.person_id, r.agency || ':' || r.record_id)"
        if use_identities
        else ("r.agency || ':' || r.record_id")
    )
    join = (
        " LEFT JOIN person_identities pi ON pi.agency = r.agency AND pi.record_id = r.record_id"
        if use_identities
        else ""
    )
    return (
        "SELECT agency, record_id, person_id, CAST(dense_rank() OVER (ORDER BY person_id) - 1 AS INTEGER) AS pidx "
        f"FROM (SELECT r.agency, r.record_id, {person} AS person_id FROM person_records r{join})"
    )


def _dealer_key(alias: str) -> str:
    """A dealer's node id: its licence or register number, else its name (lower case, spaces collapsed)."""
    name = f"lower(regexp_replace(trim({alias}.dealer), '\\s+', ' ', 'g'))"
    return f"'{DEALER}' || coalesce(nullif(trim({alias}.dealer_id), ''), nullif({name}, ''))"


def dealers_sql() -> str:
    """Rows for the persons scratch: every dealer or place named by a property event, as a node of its own
    (agency '', record_id = person_id = dealer:<key>), numbered after the people."""
    return (
        f"SELECT '' AS agency, dealer AS record_id, dealer AS person_id, CAST((SELECT coalesce(max(pidx), -1) "
        f"FROM {SCRATCH_PERSONS}) + dense_rank() OVER (ORDER BY dealer) AS INTEGER) AS pidx FROM "
        f"(SELECT DISTINCT {_dealer_key('e')} AS dealer FROM property_events e) WHERE dealer IS NOT NULL"
    )


def _pidx(alias: str) -> str:
    """The person number of a row's (agency, record_id): the agency's own record, else a record of that id
    held by another agency (ids are unique per agency; agencies cite each other's records)."""
    return f"coalesce(own_{alias}.pidx, any_{alias}.pidx)"


def _joins(alias: str) -> str:
    return (
        f" LEFT JOIN {SCRATCH_PERSONS} own_{alias} ON own_{alias}.agency = {alias}.agency "
        f"AND own_{alias}.record_id = {alias}.record_id"
        f" LEFT JOIN (SELECT record_id, min(pidx) AS pidx FROM {SCRATCH_PERSONS} GROUP BY record_id) any_{alias}"
        f" ON any_{alias}.record_id = {alias}.record_id"
    )


COLUMNS = "src, ev_agency, ev_id, part, kind, ts, pidx, evidence"


def _incident_parts() -> str:
    """Co-offending (param: offender roles) and co-arrest for one incident."""
    return (
        "SELECT 'incident' AS src, v.agency AS ev_agency, v.incident_id AS ev_id, CAST(NULL AS VARCHAR) AS part, "
        f"'co_offending' AS kind, i.occurred_from AS ts, {_pidx('v')} AS pidx, 'incident:' || v.incident_id "
        f"AS evidence FROM involvements v{_joins('v')} "
        "LEFT JOIN incidents i ON i.agency = v.agency AND i.incident_id = v.incident_id "
        "WHERE list_contains(CAST(? AS VARCHAR[]), v.role) "
        "UNION ALL "
        "SELECT 'arrests', a.agency, a.incident_id, NULL, 'co_arrest', a.arrested_at, "
        f"{_pidx('a')}, 'arrest:' || a.arrest_id FROM arrests a{_joins('a')} WHERE a.incident_id IS NOT NULL"
    )


def _contact_parts() -> str:
    return (
        f"SELECT 'contact', p.agency, p.contact_id, NULL, c.kind, c.occurred_at, {_pidx('p')}, "
        f"'contact:' || p.contact_id FROM contact_participants p{_joins('p')} "
        "JOIN contacts c ON c.agency = p.agency AND c.contact_id = p.contact_id"
    )


def _series_parts() -> str:
    """People in different incidents of one linkage series (params: offender roles, series max size)."""
    return (
        "SELECT 'series', '', s.series_id, s.agency || '/' || s.incident_id, 'co_series', "
        f"i.occurred_from, {_pidx('v')}, 'incident:' || s.incident_id "
        f"FROM series s JOIN involvements v ON v.agency = s.agency AND v.incident_id = s.incident_id{_joins('v')} "
        "LEFT JOIN incidents i ON i.agency = s.agency AND i.incident_id = s.incident_id "
        "WHERE list_contains(CAST(? AS VARCHAR[]), v.role) AND s.series_id IN "
        "(SELECT series_id FROM series GROUP BY series_id HAVING count(*) <= ?)"
    )


def _address_parts() -> str:
    """Different people at one address (records with the same normalised address and postcode)."""
    key = "lower(regexp_replace(trim(r.address), '\\s+', ' ', 'g')) || '|' || coalesce(r.postcode, '')"
    return (
        f"SELECT 'address', '', md5({key}), NULL, 'shared_address', CAST(NULL AS TIMESTAMP), "
        f"rc.pidx, 'person_record:' || r.record_id FROM person_records r "
        f"JOIN {SCRATCH_PERSONS} rc ON rc.agency = r.agency AND rc.record_id = r.record_id "
        "WHERE coalesce(trim(r.address), '') <> ''"
    )


def _item_links() -> str:
    """Hard item links (property_links, kind item) as (taken side t, sighting side h): an item taken in an
    incident and later seen again (sold or held by a person record, taken in by a dealer)."""
    sides = []
    for t, h in (("a", "b"), ("b", "a")):
        sides.append(
            f"SELECT agency_{t} AS t_agency, incident_{t} AS t_incident, agency_{h} AS agency, "
            f"record_{h} AS record_id, sighting_{h} AS sighting, sighting_kind_{h} AS seen, occurred_{h} AS at "
            f"FROM property_links WHERE kind = 'item' AND sighting_kind_{t} = 'taken' AND sighting_kind_{h} <> 'taken'"
        )
    return " UNION ALL ".join(sides)


def _property_parts() -> str:
    """A person who sold or held an item (possessor or seller), the dealer or place that took it in, and the
    known offenders of the incident it was taken in, as one event per sighting; parts keep the offenders from
    pairing among themselves here (their incident already ties them). Param: offender roles."""
    return (
        f"SELECT 'property', h.agency, h.sighting, 'holder', 'item', h.at, {_pidx('h')}, "
        f"'property_event:' || h.sighting FROM ({_item_links()}) h{_joins('h')} "
        "UNION ALL "
        "SELECT 'property', h.agency, h.sighting, 'dealer', 'item', h.at, d.pidx, "
        f"'property_event:' || h.sighting FROM ({_item_links()}) h "
        "JOIN property_events e ON e.agency = h.agency AND e.event_id = h.sighting "
        f"JOIN {SCRATCH_PERSONS} d ON d.agency = '' AND d.record_id = {_dealer_key('e')} "
        "UNION ALL "
        f"SELECT 'property', h.agency, h.sighting, 'incident', 'item', h.at, {_pidx('v')}, "
        f"'incident:' || h.t_incident FROM ({_item_links()}) h "
        f"JOIN involvements v ON v.agency = h.t_agency AND v.incident_id = h.t_incident{_joins('v')} "
        "WHERE list_contains(CAST(? AS VARCHAR[]), v.role)"
    )


def participations_sql(*, use_series: bool, use_addresses: bool, use_property: bool = False) -> str:
    """One row per person's part in an event (a person twice in one event is merged by the pair step), with
    the time and one evidence id. Params: offender roles [, offender roles, series max size]
    [, offender roles (property)]."""
    parts = [_incident_parts(), _contact_parts()]
    if use_series:
        parts.append(_series_parts())
    if use_addresses:
        parts.append(_address_parts())
    if use_property:
        parts.append(_property_parts())
    union = " UNION ALL ".join(f"({p})" for p in parts)
    return f"SELECT {COLUMNS} FROM ({union}) WHERE pidx IS NOT NULL"


def received_sql() -> str:
    """Who received items taken in which group's incidents: per sighting, its seller or holder and its dealer
    (not when they are themselves an offender of the theft: a thief pawning their own loot receives nothing),
    with the recorded group of each known offender of the theft."""
    return f"""
    WITH p AS (SELECT * FROM {SCRATCH_PARTS} WHERE src = 'property'),
    thieves AS (SELECT DISTINCT ev_agency, ev_id, pidx, evidence FROM p WHERE part = 'incident')
    SELECT DISTINCT r.pidx, t.ev_agency, t.ev_id, l.group_id, CAST(r.ts AS DATE) AS occurred_on,
           r.evidence AS sighting, t.evidence AS theft
    FROM p r JOIN thieves t ON t.ev_agency = r.ev_agency AND t.ev_id = r.ev_id
    JOIN {SCRATCH_LABELS} l ON l.pidx = t.pidx
    WHERE r.part IN ('holder', 'dealer') AND NOT EXISTS (SELECT 1 FROM thieves x
        WHERE x.ev_agency = r.ev_agency AND x.ev_id = r.ev_id AND x.pidx = r.pidx)"""


def receiver_ties_sql(max_evidence: int) -> str:
    """group_receiver_ties rows (without run_id): two groups whose stolen items went to one receiver."""
    return f"""
    WITH g AS (
        SELECT pidx, group_id, count(DISTINCT ev_agency || '/' || ev_id) AS sightings,
               min(occurred_on) AS first_on, max(occurred_on) AS last_on,
               list(DISTINCT sighting) || list(DISTINCT theft) AS ids
        FROM {SCRATCH_RECEIVED} GROUP BY pidx, group_id
    ),
    pairs AS (
        SELECT a.pidx, a.group_id AS group_a, b.group_id AS group_b, a.sightings AS sightings_a,
               b.sightings AS sightings_b, greatest(a.first_on, b.first_on) AS first_at,
               greatest(a.last_on, b.last_on) AS last_at, list_sort(list_distinct(a.ids || b.ids)) AS ids
        FROM g a JOIN g b ON a.pidx = b.pidx AND a.group_id < b.group_id
    )
    SELECT p.group_a || '|' || p.group_b || '|' || r.person_id AS row_id, p.group_a || '|' || p.group_b AS pair,
           p.group_a, p.group_b, r.person_id AS receiver,
           CASE WHEN starts_with(r.person_id, '{DEALER}') THEN 'dealer' ELSE 'person' END AS receiver_kind,
           r.group_id AS receiver_group, p.sightings_a, p.sightings_b, p.first_at, p.last_at,
           p.ids[1:{int(max_evidence)}] AS evidence, array_length(p.ids) AS evidence_total
    FROM pairs p JOIN {SCRATCH_IDS} r ON r.pidx = p.pidx"""


def pair_events_sql(*, address_max_persons: int) -> str:
    """One row per (pair of people, event): a < b, kind, event key, date, w = 1/(k-1), both evidence ids.
    Params: max people per event (an address has its own limit).

    Most events (a call, a two-person incident) have two rows of two people: one aggregation gives their
    pair. Only the other events go through the self-join, which at ten million events costs minutes."""
    return f"""
    WITH ev AS (
        SELECT src, ev_agency, ev_id, count(*) AS n, bool_and(part IS NULL) AS plain, min(pidx) AS a,
               max(pidx) AS b, any_value(kind) AS kind, arg_min_null(ts, pidx) AS ts_a,
               arg_max_null(ts, pidx) AS ts_b, arg_min_null(evidence, pidx) AS ev_a,
               arg_max_null(evidence, pidx) AS ev_b
        FROM {SCRATCH_PARTS} GROUP BY src, ev_agency, ev_id
    ),
    others AS (
        SELECT p.* FROM {SCRATCH_PARTS} p SEMI JOIN (SELECT src, ev_agency, ev_id FROM ev
            WHERE n > 2 OR (n = 2 AND NOT plain)) o USING (src, ev_agency, ev_id)
    ),
    sizes AS (
        SELECT src, ev_agency, ev_id, count(DISTINCT pidx) AS k FROM others GROUP BY ALL
        HAVING count(DISTINCT pidx) BETWEEN 2 AND (CASE WHEN src = 'address' THEN {int(address_max_persons)}
            ELSE ? END)
    )
    SELECT a, b, kind, src, ev_agency, ev_id, CAST(greatest(ts_a, ts_b) AS DATE) AS occurred_on, 1.0 AS w,
           ev_a, ev_b
    FROM ev WHERE n = 2 AND plain AND a < b
    UNION ALL
    SELECT p1.pidx AS a, p2.pidx AS b, any_value(p1.kind) AS kind, p1.src, p1.ev_agency, p1.ev_id,
           CAST(min(greatest(p1.ts, p2.ts)) AS DATE) AS occurred_on, any_value(1.0 / (s.k - 1)) AS w,
           min(p1.evidence) AS ev_a, min(p2.evidence) AS ev_b
    FROM others p1 JOIN others p2 ON p1.src = p2.src AND p1.ev_agency = p2.ev_agency AND p1.ev_id = p2.ev_id
        AND p1.pidx < p2.pidx
    JOIN sizes s ON s.src = p1.src AND s.ev_agency = p1.ev_agency AND s.ev_id = p1.ev_id
    WHERE p1.part IS NULL OR p1.part <> p2.part
    GROUP BY p1.pidx, p2.pidx, p1.src, p1.ev_agency, p1.ev_id"""


def event_key(alias: str) -> str:
    """The event as text (incident:agency/id, contact:agency/id, series:id, address:hash)."""
    return f"{alias}.src || ':' || coalesce(nullif({alias}.ev_agency, '') || '/', '') || {alias}.ev_id"


def ids_sql() -> str:
    """One row per person number: the person id and recorded group."""
    return (
        f"SELECT p.pidx, p.person_id, l.group_id FROM (SELECT DISTINCT pidx, person_id FROM {SCRATCH_PERSONS}) p "
        f"LEFT JOIN {SCRATCH_LABELS} l USING (pidx)"
    )


def both_ids(alias: str) -> str:
    """list_sort(list_distinct([ev_a, ev_b])) of a row, without list functions (ten million rows)."""
    a, b = f"{alias}.ev_a", f"{alias}.ev_b"
    return (
        f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN list_distinct([{a}, {b}]) WHEN {a} = {b} THEN [{a}] "
        f"WHEN {a} < {b} THEN [{a}, {b}] ELSE [{b}, {a}] END"
    )


def person_ties_sql(max_evidence: int) -> str:
    """person_ties rows (without run_id). Most ties rest on one event: their evidence is that event's one or
    two ids, put in order without list functions; the list aggregation runs only over ties with several."""
    key = "a, b, kind"
    one_event = both_ids("t")
    return f"""
    WITH t AS (
        SELECT {key}, sum(w) AS weight, count(*) AS n_events, min(occurred_on) AS first_at,
               max(occurred_on) AS last_at, min(ev_a) AS ev_a, min(ev_b) AS ev_b
        FROM {SCRATCH_EVENTS} GROUP BY {key}
    ),
    many AS (
        SELECT {key}, list_sort(list_distinct(list(ev_a) || list(ev_b))) AS evidence FROM {SCRATCH_EVENTS}
        WHERE ({key}) IN (SELECT ({key}) FROM t WHERE n_events > 1) GROUP BY {key}
    ),
    listed AS (
        SELECT t.*, CASE WHEN t.n_events > 1 THEN m.evidence ELSE {one_event} END AS all_evidence
        FROM t LEFT JOIN many m USING ({key})
    )
    SELECT pa.person_id || '|' || pb.person_id || '|' || t.kind AS tie_id, pa.person_id AS person_a,
           pb.person_id AS person_b, t.kind, t.weight, t.n_events, t.first_at, t.last_at,
           t.all_evidence[1:{int(max_evidence)}] AS evidence, array_length(t.all_evidence) AS evidence_total,
           pa.group_id AS group_a, pb.group_id AS group_b
    FROM listed t JOIN {SCRATCH_IDS} pa ON pa.pidx = t.a JOIN {SCRATCH_IDS} pb ON pb.pidx = t.b"""


def labels_sql(valid_claims: str) -> str:
    """pidx, person_id, group_id (the group with most passing claims, then most evidence), n_groups, claims."""
    return f"""
    WITH per_group AS (
        SELECT {_pidx("c")} AS pidx, c.group_id, count(*) AS n_claims, sum(len(c.evidence)) AS n_evidence,
               list(c.claim_id) AS claims
        FROM ({valid_claims}) c{_joins("c")} GROUP BY 1, 2
    )
    SELECT l.pidx, p.person_id, l.group_id, l.n_groups, l.claims FROM (
        SELECT *, count(*) OVER (PARTITION BY pidx) AS n_groups, row_number() OVER (
            PARTITION BY pidx ORDER BY n_claims DESC, n_evidence DESC, group_id) AS choice
        FROM per_group WHERE pidx IS NOT NULL) l
    JOIN (SELECT DISTINCT pidx, person_id FROM {SCRATCH_PERSONS}) p USING (pidx) WHERE l.choice = 1"""


def edges_sql() -> str:
    """The graph's edges between person numbers: total weight, events and first date (days since 1970)."""
    return f"""
    SELECT a, b, sum(w) AS weight, count(*) AS n_events, CAST(epoch(min(occurred_on)) / 86400 AS DOUBLE) AS first_day
    FROM {SCRATCH_EVENTS} GROUP BY a, b"""


def people_sql() -> str:
    """Person numbers and ids of everyone in a tie or with a group, with their group."""
    return f"""
    SELECT n.pidx, p.person_id, l.group_id, coalesce(l.n_groups, 0) AS n_groups
    FROM (SELECT a AS pidx FROM {SCRATCH_EVENTS} UNION SELECT b FROM {SCRATCH_EVENTS}
          UNION SELECT pidx FROM {SCRATCH_LABELS}) n
    JOIN {SCRATCH_IDS} p USING (pidx) LEFT JOIN {SCRATCH_LABELS} l USING (pidx) ORDER BY n.pidx"""


def cross_events_sql() -> str:
    """Events behind cross-group ties, oriented so that group_a < group_b (person numbers, not ids)."""
    swap = "la.group_id > lb.group_id"
    return f"""
    SELECT CASE WHEN {swap} THEN lb.group_id ELSE la.group_id END AS group_a,
           CASE WHEN {swap} THEN la.group_id ELSE lb.group_id END AS group_b,
           CASE WHEN {swap} THEN e.b ELSE e.a END AS pidx_a, CASE WHEN {swap} THEN e.a ELSE e.b END AS pidx_b,
           CASE WHEN {swap} THEN lb.associate ELSE la.associate END AS associate_a,
           CASE WHEN {swap} THEN la.associate ELSE lb.associate END AS associate_b,
           e.kind, {event_key("e")} AS event, e.occurred_on, {both_ids("e")} AS evidence
    FROM {SCRATCH_EVENTS} e JOIN {SCRATCH_SIDES} la ON la.pidx = e.a
    JOIN {SCRATCH_SIDES} lb ON lb.pidx = e.b WHERE la.group_id <> lb.group_id"""


def group_tie_evidence_sql() -> str:
    ids = SCRATCH_IDS
    return f"""
    SELECT x.group_a || '|' || x.group_b || '|' || pa.person_id || '|' || pb.person_id || '|' || x.event AS row_id,
           x.group_a || '|' || x.group_b AS pair, x.group_a, x.group_b, pa.person_id AS person_a,
           pb.person_id AS person_b, x.associate_a, x.associate_b, x.kind, x.event, x.occurred_on, x.evidence
    FROM ({cross_events_sql()}) x JOIN {ids} pa ON pa.pidx = x.pidx_a JOIN {ids} pb ON pb.pidx = x.pidx_b"""


def evidence_window_sql() -> str:
    """First and latest dated evidence, in days since 1970."""
    return (
        f"SELECT epoch(min(occurred_on)) / 86400, epoch(max(occurred_on)) / 86400 FROM {SCRATCH_EVENTS} "
        "WHERE occurred_on IS NOT NULL"
    )


def pair_evidence_sql(max_evidence: int) -> str:
    """Per pair of groups: joint events, kinds, first/last dates and evidence ids of its cross ties."""
    return f"""
    SELECT group_a, group_b, count(DISTINCT event) AS joint_events, list_sort(list_distinct(list(kind))) AS kinds,
           min(occurred_on) AS first_at, max(occurred_on) AS last_at,
           list_sort(list_distinct(flatten(list(evidence))))[1:{int(max_evidence)}] AS evidence
    FROM ({cross_events_sql()}) GROUP BY group_a, group_b"""


def event_days_sql(wanted: str) -> str:
    """Day (since 1970) of every distinct joint event of the pairs of groups listed in table `wanted`."""
    return f"""
    SELECT e.group_a, e.group_b, e.event, epoch(min(e.occurred_on)) / 86400 AS day
    FROM ({cross_events_sql()}) e JOIN {quote(wanted)} w USING (group_a, group_b)
    GROUP BY e.group_a, e.group_b, e.event"""


def count_sql(table: str) -> str:
    return f"SELECT count(*) FROM {quote(table)}"


def ok_runs_sql() -> str:
    """How many finished runs a stage has (one parameter: the stage)."""
    return "SELECT count(*) FROM runs WHERE stage = ? AND status = 'ok'"


def drop_sql(table: str) -> str:
    return f"DROP TABLE IF EXISTS {quote(table)}"


def create_as_sql(table: str, query: str) -> str:
    return f"CREATE OR REPLACE TEMP TABLE {quote(table)} AS {query}"


def delete_sql(table: str) -> str:
    return f"DELETE FROM {quote(table)}"


def insert_select_sql(table: str, columns: list[str], query: str) -> str:
    cols = ", ".join(quote(c) for c in columns)
    return f"INSERT INTO {quote(table)} ({cols}) SELECT {cols} FROM ({query})"
