"""What every read shares: rows as dicts, paging envelopes, and the plain "stage not run" note.

Every statement is a fixed SQL text with `?` placeholders: request values only ever travel as parameters.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from casegraph.api import cache
from casegraph.api.workspace import ApiProblem
from casegraph.pipeline import producer_of
from casegraph.safeguards import Session
from casegraph.schema import model
from casegraph.store import quote

RECORD_KEY, INCIDENT_KEY = "agency, record_id", "agency, incident_id"
# Where a read names the membership claims: `rows` puts the session's passing claims there (Session.valid_claims),
# so a claim that fails its rules (no criteria, past review, unapproved) places nobody in a group anywhere.
CLAIMS = "__valid_claims__"


def fetched(table: str, alias: str, columns: str, of: str, key: str, join: str = "LEFT") -> str:
    """A `join` JOIN, as `alias`, of the rows of `table` whose key is among those of `of` (a MATERIALIZED CTE
    cut first: a page, an incident's involvements ...). The semi-join inside makes DuckDB hash the few keys of
    `of` and push them into the table's scan; a plain join with a 1,000,000-row table hashed all of it
    (50-250 ms per read)."""
    return f"{join} JOIN (SELECT {key}, {columns} FROM {table} SEMI JOIN {of} USING ({key})) {alias} USING ({key})"


def person_of(records: str, resolved: bool = True) -> str:
    """The person of each row of `records`: its resolved person_id (a person_identities row joined as pi), or
    agency/record_id when resolve has not run (or left the record out)."""
    own = f"{records}.agency || '/' || {records}.record_id"
    return f"coalesce(pi.person_id, {own})" if resolved else own


def person_names(g: Session, person_ids: list[str]) -> dict[str, str]:
    """Each resolved person's most frequent name across its records, so that people are shown by name."""
    if not person_ids or not has_rows(g, "person_identities"):
        return {}
    found = rows(
        g,
        "SELECT pi.person_id, mode(trim(coalesce(p.given_name, '') || ' ' || coalesce(p.family_name, ''))) "
        "AS name FROM person_identities pi JOIN person_records p ON p.agency = pi.agency AND p.record_id = "
        "pi.record_id WHERE list_contains(?, pi.person_id) GROUP BY pi.person_id",
        [sorted(set(person_ids))],
    )
    return {r["person_id"]: r["name"] for r in found if r["name"]}


def rows(g: Session, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return g.records(sql.replace(CLAIMS, g.valid_claims()) if CLAIMS in sql else sql, params)


def one(g: Session, sql: str, params: list[Any]) -> dict[str, Any] | None:
    found = rows(g, sql, params)
    return found[0] if found else None


def contains_pattern(text: str | None) -> str | None:
    """The ILIKE pattern "holds text" as one parameter: DuckDB matches a bound pattern about twice as fast as
    `'%' || ? || '%'`, which it rebuilds for every row. Same meaning: % and _ in the text stay wildcards."""
    return None if text is None else f"%{text}%"


def parsed(row: dict[str, Any], *columns: str) -> dict[str, Any]:
    """JSON text columns (contributions, detail ...) as objects."""
    for col in columns:
        value = row.get(col)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                row[col] = json.loads(value)
    return row


def has_table(g: Session, table: str) -> bool:
    """Asked several times per request; the catalog query (information_schema) costs ~9 ms."""
    names = cache.remembered(g, "tables", "", None, lambda: frozenset(g.table_names()))
    return table in model.tables and table in names


def columns_of(g: Session, table: str) -> set[str]:
    if not has_table(g, table):
        return set()
    return set(cache.remembered(g, "columns", table, None, lambda: tuple(g.columns(table))))


def has_rows(g: Session, table: str) -> bool:
    if not has_table(g, table):
        return False
    sql = f"SELECT count(*) > 0 FROM (SELECT 1 FROM {quote(table)} LIMIT 1)"
    return bool(cache.scalar(g, sql))


def stage_note(g: Session, table: str) -> dict[str, str] | None:
    """None when the table holds rows; else a plain note saying which stage has not run (never made-up data)."""
    if has_rows(g, table):
        return None
    stage = producer_of(table)
    if stage == "ingest":
        return {"status": "no records", "note": f"no {table} records are stored (or visible to you)"}
    last = last_ok_run(g, stage)
    if last:  # the stage ran and found nothing (or nothing this user may see): say so, not "run it"
        return {
            "status": "no rows",
            "note": f"{table} is empty: the {stage} stage ran ({last}) and wrote none visible to you",
        }
    return {"status": "stage not run", "note": f"{table} is empty: run `casegraph {stage}` to fill it"}


def last_ok_run(g: Session, stage: str) -> str | None:
    """The id of the stage's latest finished run, if any (remembered until the next change)."""
    sql = "SELECT max(run_id) FILTER (status = 'ok') FROM runs WHERE stage = ?"
    found = cache.scalar(g, sql, [stage])
    return str(found) if found else None


def listing(
    items: list[dict[str, Any]],
    *,
    total: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    note: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The envelope of every list: items, paging, and status 'ok' or the stage note."""
    out: dict[str, Any] = {"items": items, "status": "ok"}
    if total is not None:
        out.update(total=total, limit=limit, offset=offset)
        if limit is not None and offset + limit < total:
            out["next_offset"] = offset + limit
    if note:
        out.update(note)
    return out


def not_found(table: str, value: str, agency: str | None) -> ApiProblem:
    """A record the caller cannot read and one that does not exist get the same answer: 404."""
    return ApiProblem(404, f"no {table} row {value}" + (f" of agency {agency}" if agency else ""))


def require_role(g: Session, action: str, what: str) -> None:
    """The role check of the safeguards (refusals are audited before they are raised)."""
    g.require(action, what)
