"""`casegraph why PERSON`: every claim, link and tie involving a person, with evidence, criteria and review dates.

Reads the derived tables other stages write (person_identities, resolve_pairs, incident_links, person_ties,
group_ties ...) by their id columns, whatever they are; a table that is absent or empty is reported as such.
"""

from __future__ import annotations

from typing import Any

from casegraph.safeguards.claims import claim_problems_sql, evidence_dates_sql, review_dates_sql
from casegraph.safeguards.dissemination import person_keys
from casegraph.safeguards.ids import ID_COLUMN
from casegraph.safeguards.policy import shown_columns
from casegraph.safeguards.session import Session
from casegraph.schema import model
from casegraph.store import quote

SHOWN = 200


def plain(value: Any) -> Any:
    """Rows as plain Python (numpy arrays from list columns become lists) for JSON and tables."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [plain(v) for v in items] if isinstance(items, list) else items
    return value


PERSON_COLUMN = ("person_id", "person_a", "person_b")


def _records(g: Session, records: list[str]) -> list[dict[str, Any]]:
    return g.df(
        f"SELECT {shown_columns('person_records')} FROM person_records WHERE list_contains(?, record_id) "
        "ORDER BY agency, record_id",
        [records],
    ).to_dict("records")


def _claims(g: Session, records: list[str]) -> list[dict[str, Any]]:
    """Every visible claim about the records, passing or not, with its problems, review date and evidence."""
    rel = quote("membership_claims")
    mine = f"(SELECT * FROM {rel} WHERE list_contains(?, record_id))"
    problems = claim_problems_sql(mine, g.rules, keys=("agency", "claim_id"))
    sql = (
        f"WITH c AS {mine}, d AS ({review_dates_sql(mine, g.rules)}), "
        f"p AS (SELECT agency, claim_id, list(field || ': ' || reason) AS problems FROM ({problems}) GROUP BY ALL), "
        f"e AS (SELECT c.agency, c.claim_id, list(struct_pack(item := x.item, found := s.item IS NOT NULL, "
        f"dated := s.ev_at)) AS evidence_found FROM (SELECT agency, claim_id, unnest(evidence) AS item FROM c) x "
        f"JOIN c USING (agency, claim_id) LEFT JOIN ({evidence_dates_sql()}) s ON s.item = x.item GROUP BY ALL) "
        "SELECT c.claim_id, c.agency, c.record_id, c.group_id, c.criteria, c.evidence, e.evidence_found, "
        "c.entered_by, c.entered_at, c.approved_by, d.latest_evidence, d.review_date, "
        "coalesce(p.problems, []) AS problems, p.problems IS NULL AS counts_in_results FROM c "
        "LEFT JOIN d USING (agency, claim_id) LEFT JOIN p USING (agency, claim_id) "
        "LEFT JOIN e USING (agency, claim_id) ORDER BY c.entered_at"
    )
    rows = g.inner.df(sql, [records] * sql.count("?")).to_dict("records")
    g.log("read", "membership_claims", f"claims about {', '.join(records)[:200]}", rows=len(rows))
    return rows


def _of_person(g: Session, table: str, column: str, records: list[str]) -> list[dict[str, Any]]:
    return g.df(
        f"SELECT * FROM {quote(table)} WHERE list_contains(?, {quote(column)}) LIMIT {SHOWN}", [records]
    ).to_dict("records")


def _incidents_and_groups(
    g: Session, records: list[str], claims: list[dict[str, Any]]
) -> dict[str, list[str]]:
    rows = g.rows(
        "SELECT incident_id FROM involvements WHERE list_contains(?, record_id) UNION "
        "SELECT incident_id FROM arrests WHERE list_contains(?, record_id) AND incident_id IS NOT NULL",
        [records, records],
    )
    groups = sorted({c["group_id"] for c in claims if c["counts_in_results"]})
    return {"incident": sorted(r for (r,) in rows), "group": groups}


def _derived(g: Session, keys: dict[str, list[str]]) -> dict[str, Any]:
    """Rows of each derived table naming one of the person's records, persons, incidents or claimed groups."""
    present = set(g.table_names())
    out: dict[str, Any] = {}
    for table in model.tables.values():
        if table.kind != "derived":
            continue
        if table.name not in present:
            out[table.name] = "not built (the stage that writes it has not run)"
            continue
        conds, params = [], []
        for f in table.fields:
            match = ID_COLUMN.match(f.name)
            stem = "person" if f.name in PERSON_COLUMN else match["stem"] if match else None
            values = {"record": keys["records"], "person": keys["persons"]}.get(
                stem or "", keys.get(stem or "", [])
            )
            if values and f.type in {"id", "string", "code"}:
                conds.append(f"list_contains(?, {quote(f.name)})")
                params.append(values)
        if conds:
            rows = g.df(f"SELECT * FROM {quote(table.name)} WHERE {' OR '.join(conds)} LIMIT {SHOWN}", params)
            out[table.name] = rows.to_dict("records") if len(rows) else "no rows involve this person"
    return out


def why(g: Session, person: str) -> dict[str, Any]:
    """What the store holds about a person and why: an auditor's or a court's view, in one document."""
    g.require("read", person)
    g.log("why", person)
    keys = person_keys(g, person)
    records = keys["records"]
    claims = _claims(g, records)
    linked = _incidents_and_groups(g, records, claims)
    return plain(
        {
            "person": person,
            "person_ids": [p for p in keys["persons"] if p != person] or None,
            "records": _records(g, records),
            "claims": claims,
            "involvements": _of_person(g, "involvements", "record_id", records),
            "arrests": _of_person(g, "arrests", "record_id", records),
            "contacts": g.df(
                "SELECT c.*, p.record_id FROM contacts c JOIN contact_participants p "
                "ON p.contact_id = c.contact_id AND p.agency = c.agency WHERE list_contains(?, p.record_id) "
                f"ORDER BY c.occurred_at LIMIT {SHOWN}",
                [records],
            ).to_dict("records"),
            "derived": _derived(g, {"records": records, "persons": keys["persons"], **linked}),
            "note": "Derived rows are rebuilt by each stage run and removed when their evidence is purged; claims "
            "and contacts carry their own review dates.",
        }
    )
