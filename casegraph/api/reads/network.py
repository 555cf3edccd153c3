"""Group ties (strength, observed vs expected, p-value, onset, evidence) and the link chart's graph.

Nodes are typed ids: group:<id>, person:<person id>, incident:<agency>/<id>. Edges carry a type, a weight and
the key of their "why" (claim_id, tie row, link_id), so a click on a tie opens its score and evidence.
"""

from __future__ import annotations

from typing import Any

from casegraph.api.reads.common import (
    CLAIMS,
    INCIDENT_KEY,
    RECORD_KEY,
    fetched,
    has_table,
    listing,
    one,
    parsed,
    person_names,
    person_of,
    rows,
    stage_note,
)
from casegraph.api.workspace import ApiProblem
from casegraph.network import queries
from casegraph.safeguards import Session

MAX_NODES = 5000


def ties(g: Session, group: str | None, *, limit: int, offset: int) -> dict[str, Any]:
    """A page of group ties (the network stage's read surface, network.queries)."""
    note = stage_note(g, "group_ties")
    if note:
        return listing([], total=0, limit=limit, offset=offset, note=note)
    total = int(g.scalar(queries.ties_count_sql(), [group] * 3))
    items = rows(g, queries.ties_page_sql(), [group, group, group, limit, offset])
    return listing([_tie(r) for r in items], total=total, limit=limit, offset=offset)


def _tie(row: dict[str, Any]) -> dict[str, Any]:
    row = parsed(row, "detail", "null_model", "evidence_detail")
    row["pair"] = [row.get("group_a"), row.get("group_b")]
    return row


def tie(g: Session, group_a: str, group_b: str) -> dict[str, Any]:
    """One tie between two groups with the evidence records and events behind it."""
    from casegraph.api.reads.activity import evidence_records

    if stage_note(g, "group_ties"):
        raise ApiProblem(404, "no group ties: the network stage has not run")
    pair = queries.ordered(group_a, group_b)
    found = one(g, queries.TIE_ROW_SQL, list(pair))
    if found is None:
        raise ApiProblem(404, f"no tie between {group_a} and {group_b}")
    found = _tie(found)
    evidence = found.get("evidence")
    found["evidence_records"] = evidence_records(g, list(evidence)) if isinstance(evidence, list) else []
    found["events"] = tie_events(g, pair)
    found["receivers"] = (
        rows(g, queries.TIE_RECEIVERS_SQL, list(pair)) if has_table(g, "group_receiver_ties") else []
    )
    return found


def tie_events(g: Session, pair: tuple[str, str]) -> list[dict[str, Any]]:
    """The events behind a tie, oldest first: which two people (with their names), what kind, when, the record
    ids."""
    if not has_table(g, "group_tie_evidence"):
        return []
    events = rows(g, queries.TIE_EVENTS_SQL, list(pair))
    names = person_names(g, [e[side] for e in events for side in ("person_a", "person_b")])
    for e in events:
        e["name_a"], e["name_b"] = names.get(e["person_a"]), names.get(e["person_b"])
    return events


# -- the link chart -----------------------------------------------------------------------------------
def _node(kind: str, key: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{kind}:{key}", "kind": kind, "label": label, **extra}


def _edge(kind: str, a: str, b: str, weight: float, **extra: Any) -> dict[str, Any]:
    return {"id": f"{kind}:{a}~{b}", "kind": kind, "source": a, "target": b, "weight": weight, **extra}


# The claims of the chosen groups first (MATERIALIZED), then their records' persons and names (common.fetched).
MEMBERS_SQL = (
    "WITH c AS MATERIALIZED (SELECT claim_id, group_id, agency, record_id, len(criteria) AS criteria, entered_at "
    f"FROM {CLAIMS} WHERE ? IS NULL OR list_contains(?, group_id)) "
    f"SELECT c.claim_id, c.group_id, {person_of('c')} AS pid, p.given_name || ' ' || p.family_name AS name, "
    f"c.criteria, c.entered_at FROM c {fetched('person_identities', 'pi', 'person_id', 'c', RECORD_KEY)} "
    f"{fetched('person_records', 'p', 'given_name, family_name', 'c', RECORD_KEY)}"
)


def group_layer(g: Session, gids: list[str] | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Groups, their members (as resolved persons) with membership ties, and ties between groups."""
    groups = rows(
        g,
        "SELECT group_id, name, kind FROM groups WHERE ? IS NULL OR list_contains(?, group_id)",
        [gids, gids],
    )
    nodes = [_node("group", r["group_id"], r["name"] or r["group_id"], group_kind=r["kind"]) for r in groups]
    members = rows(g, MEMBERS_SQL, [gids, gids])
    seen = {n["id"] for n in nodes}
    edges: dict[str, dict[str, Any]] = {}
    for m in members:  # one edge per person and group, naming every claim behind it (records of two agencies)
        pid = f"person:{m['pid']}"
        if pid not in seen:
            seen.add(pid)
            nodes.append(_node("person", m["pid"], m["name"] or m["pid"]))
        edge = _edge(
            "member",
            pid,
            f"group:{m['group_id']}",
            float(m["criteria"] or 1),
            claim_id=m["claim_id"],
            claim_ids=[],
            date=m["entered_at"],
        )
        edges.setdefault(edge["id"], edge)["claim_ids"].append(m["claim_id"])
    return nodes, list(edges.values()) + group_tie_edges(g, gids)


def group_tie_edges(g: Session, gids: list[str] | None) -> list[dict[str, Any]]:
    if stage_note(g, "group_ties"):
        return []
    found = rows(g, queries.TIES_OF_GROUPS_SQL, [gids, gids, gids])
    return [
        _edge(
            "group_tie",
            f"group:{r['group_a']}",
            f"group:{r['group_b']}",
            float(r.get("strength") or 1),
            pair=[r["group_a"], r["group_b"]],
            date=r.get("onset"),
            p_value=r.get("p_value"),
            significant=bool(r.get("significant", True)),
        )
        for r in found
    ]


def incident_layer(
    g: Session, gids: list[str] | None, start: Any, end: Any, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Incidents linked to the groups (in the date range), who took part in them, and links between them."""
    if stage_note(g, "group_incidents"):
        return [], []
    found = rows(
        g,
        "WITH gi AS MATERIALIZED (SELECT group_id, agency, incident_id, occurred_on, via FROM "
        "group_incidents WHERE (? IS NULL OR list_contains(?, group_id)) AND (? IS NULL OR occurred_on >= ?) "
        "AND (? IS NULL OR occurred_on <= ?) ORDER BY occurred_on DESC, agency, incident_id LIMIT ?) "
        f"SELECT gi.*, i.offence FROM gi {fetched('incidents', 'i', 'offence', 'gi', INCIDENT_KEY, join='INNER')} "
        "ORDER BY gi.occurred_on DESC, gi.agency, gi.incident_id",
        [gids, gids, start, start, end, end, limit],
    )
    nodes, edges, keys = {}, [], []
    for r in found:
        nid = f"incident:{r['agency']}/{r['incident_id']}"
        nodes[nid] = _node(
            "incident",
            f"{r['agency']}/{r['incident_id']}",
            r["incident_id"],
            offence=r["offence"],
            date=r["occurred_on"],
        )
        edges.append(
            _edge("attributed", f"group:{r['group_id']}", nid, 1.0, via=r["via"], date=r["occurred_on"])
        )
        keys.append(f"{r['agency']}/{r['incident_id']}")
    shown = [[r["agency"] for r in found], [r["incident_id"] for r in found]]
    edges += involvement_edges(g, shown) + link_edges(g, keys)
    return list(nodes.values()), edges


# The chart's node lists (up to 5,000 keys) are matched with a join on the unnested list, not list_contains:
# list_contains compares every row with every key (866 ms for the 5,000-node chart of a 100,000-incident city).
SHOWN = "WITH shown AS (SELECT DISTINCT unnest(?) AS key) "


def involvement_edges(g: Session, shown: list[list[str]]) -> list[dict[str, Any]]:
    """Who took part in the incidents shown ([agencies, incident ids]): matched by key pair, never by a string
    built for every involvement (150 ms at 1,000,000 incidents), and their persons fetched (common.fetched)."""
    found = rows(
        g,
        "WITH shown AS MATERIALIZED (SELECT DISTINCT unnest(?::VARCHAR[]) AS agency, "
        "unnest(?::VARCHAR[]) AS incident_id), v AS MATERIALIZED (SELECT v.agency, v.incident_id, v.role, "
        "v.record_id FROM involvements v SEMI JOIN shown USING (agency, incident_id) WHERE v.role IN "
        f"('suspect', 'offender', 'arrestee')) SELECT v.agency, v.incident_id, v.role, {person_of('v')} "
        f"AS pid FROM v {fetched('person_identities', 'pi', 'person_id', 'v', RECORD_KEY)}",
        shown,
    )
    return [
        _edge(
            "involved",
            f"person:{r['pid']}",
            f"incident:{r['agency']}/{r['incident_id']}",
            1.0,
            role=r["role"],
        )
        for r in found
    ]


def link_edges(g: Session, keys: list[str], min_p: float = 0.5) -> list[dict[str, Any]]:
    if not keys or stage_note(g, "incident_links"):
        return []
    found = rows(
        g,
        SHOWN + "SELECT link_id, agency_a, incident_a, agency_b, incident_b, probability FROM "
        "incident_links WHERE probability >= ? AND agency_a || '/' || incident_a IN (SELECT key FROM shown) "
        "AND agency_b || '/' || incident_b IN (SELECT key FROM shown)",
        [keys, min_p],
    )
    return [
        _edge(
            "linked",
            f"incident:{r['agency_a']}/{r['incident_a']}",
            f"incident:{r['agency_b']}/{r['incident_b']}",
            float(r["probability"]),
            link_id=r["link_id"],
        )
        for r in found
    ]


def person_tie_edges(g: Session, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ties between the persons shown (co-offending, meetings, calls ...), with their weight and kind."""
    persons = [n["id"][7:] for n in nodes if n["kind"] == "person"]
    if not persons or stage_note(g, "person_ties"):
        return []
    found = rows(
        g,
        SHOWN + "SELECT tie_id, person_a, person_b, kind, weight, n_events, first_at FROM person_ties "
        "WHERE person_a IN (SELECT key FROM shown) AND person_b IN (SELECT key FROM shown)",
        [persons],
    )
    return [
        _edge(
            "person_tie",
            f"person:{r['person_a']}",
            f"person:{r['person_b']}",
            float(r["weight"] or 1),
            tie_id=r["tie_id"],
            tie_kind=r["kind"],
            events=r["n_events"],
            date=r["first_at"],
        )
        for r in found
    ]


def graph(
    g: Session, gids: list[str] | None, *, incidents: bool, start: Any, end: Any, limit: int
) -> dict[str, Any]:
    """The link chart: groups, members, ties; with incidents, the incidents, their people and links."""
    nodes, edges = group_layer(g, gids)
    if incidents:
        more_nodes, more_edges = incident_layer(g, gids, start, end, min(limit, MAX_NODES))
        nodes += more_nodes
        edges += more_edges
    return _complete(nodes, edges + person_tie_edges(g, nodes), limit, stage_notes(g))


def _complete(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], limit: int, notes: dict[str, str]
) -> dict[str, Any]:
    """Keep edges whose ends are both shown; add person nodes named only by edges; cap the node count."""
    by_id = {n["id"]: n for n in nodes}
    for e in edges:
        for end in (e["source"], e["target"]):
            if end not in by_id and end.startswith("person:"):
                by_id[end] = _node("person", end[7:], end[7:])
    kept = dict(list(by_id.items())[:limit])
    shown = [e for e in {e["id"]: e for e in edges}.values() if e["source"] in kept and e["target"] in kept]
    return {"nodes": list(kept.values()), "edges": shown, "truncated": len(by_id) > limit, "notes": notes}


def stage_notes(g: Session) -> dict[str, str]:
    tables = ("group_ties", "group_incidents", "incident_links", "person_identities")
    return {t: n["note"] for t in tables if (n := stage_note(g, t))}


def expand(g: Session, node: str, limit: int) -> dict[str, Any]:
    """The neighbours of one node (a group, a person or an incident)."""
    kind, _, key = node.partition(":")
    if kind == "group":
        nodes, edges = group_layer(g, [key])
        more_nodes, more_edges = incident_layer(g, [key], None, None, limit)
        return _complete(nodes + more_nodes, edges + more_edges, limit, stage_notes(g))
    if kind == "person":
        return _complete(*_person_neighbours(g, key, limit), limit, stage_notes(g))
    if kind == "incident":
        return _complete(*_incident_neighbours(g, key), limit, stage_notes(g))
    raise ApiProblem(422, f"node must be group:<id>, person:<id> or incident:<agency>/<id>, not {node!r}")


def _person_neighbours(g: Session, pid: str, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    found = rows(
        g,
        "SELECT v.agency, v.incident_id, v.role, i.offence, i.occurred_from::DATE AS day FROM involvements v "
        "JOIN incidents i ON i.agency = v.agency AND i.incident_id = v.incident_id LEFT JOIN "
        "person_identities pi ON pi.agency = v.agency AND pi.record_id = v.record_id WHERE "
        f"{person_of('v')} = ? LIMIT ?",
        [pid, limit],
    )
    nodes = [
        _node(
            "incident",
            f"{r['agency']}/{r['incident_id']}",
            r["incident_id"],
            offence=r["offence"],
            date=r["day"],
        )
        for r in found
    ]
    edges = [
        _edge("involved", f"person:{pid}", n["id"], 1.0, role=r["role"])
        for n, r in zip(nodes, found, strict=True)
    ]
    claims = rows(
        g,
        f"SELECT c.claim_id, c.group_id, len(c.criteria) AS criteria FROM {CLAIMS} c LEFT JOIN "
        "person_identities pi ON pi.agency = c.agency AND pi.record_id = c.record_id WHERE "
        f"{person_of('c')} = ?",
        [pid],
    )
    for c in claims:
        nodes.append(_node("group", c["group_id"], c["group_id"]))
        edges.append(
            _edge(
                "member",
                f"person:{pid}",
                f"group:{c['group_id']}",
                float(c["criteria"] or 1),
                claim_id=c["claim_id"],
            )
        )
    return nodes, edges


def _incident_neighbours(g: Session, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    agency, _, iid = key.partition("/")
    found = rows(
        g,
        "SELECT link_id, agency_a, incident_a, agency_b, incident_b, probability FROM incident_links "
        "WHERE (agency_a = ? AND incident_a = ?) OR (agency_b = ? AND incident_b = ?) "
        "ORDER BY probability DESC LIMIT 25",
        [agency, iid, agency, iid],
    )
    nodes, edges = [], []
    for r in found:
        a, b = f"{r['agency_a']}/{r['incident_a']}", f"{r['agency_b']}/{r['incident_b']}"
        other = b if a == key else a
        nodes.append(_node("incident", other, other.partition("/")[2]))
        edges.append(
            _edge("linked", f"incident:{a}", f"incident:{b}", float(r["probability"]), link_id=r["link_id"])
        )
    nodes.append(_node("incident", key, iid))
    return nodes, edges + involvement_edges(g, [[agency], [iid]])
