"""Review dates, review decisions and purge (28 CFR 23.20(h): review or purge within five years).

Intelligence records are membership claims and contacts (with their participants). A claim's review date is
the earlier of its stated date and latest evidence + review_years; a contact's is its date + review_years, or
later while a claim citing it lives. A supervisor's "keep" starts a new period. `purge` removes what is past
its date from the records and from every derived table that names it, and leaves tombstones (ids only) so
no import and no stage run brings it back.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from casegraph.errors import PolicyDenied
from casegraph.safeguards.claims import check_claim, claim_problems_sql, date_sql, lit, review_dates_sql
from casegraph.safeguards.ids import id_columns
from casegraph.safeguards.session import Session
from casegraph.schema import model
from casegraph.settings import SafeguardSettings
from casegraph.store import quote

INTELLIGENCE = ("membership_claims", "contacts")
REVIEWED = (*INTELLIGENCE, "rejects")  # what has a review date and is purged after it
# How evidence lists in derived tables name a purged record: contact:C1, claim:MC1, participant:P1.
PREFIX = {"membership_claims": "claim", "contacts": "contact", "contact_participants": "participant"}
DUE, REJECTED = "_tmp_safeguards_due", "_tmp_safeguards_rejected"
# What purge reads to decide (a server store copies these into the DuckDB where it computes).
PURGE_READS = ("membership_claims", "contacts", "contact_participants", "reviews", "rejects", "sources")


def contact_review_dates_sql(contacts: str, claims: str, rules: SafeguardSettings) -> str:
    """agency, contact_id, latest_evidence, review_date: date + review_years, kept, or cited by a live claim."""
    years = int(rules.review_years)
    cited = (
        f"SELECT e.agency, substr(e.item, 9) AS contact_id, max(d.review_date) AS cited_until FROM "
        f"(SELECT agency, claim_id, unnest(evidence) AS item FROM {claims}) e "
        f"JOIN ({review_dates_sql(claims, rules)}) d USING (agency, claim_id) "
        "WHERE e.item LIKE 'contact:%' GROUP BY ALL"
    )
    return (
        f"SELECT k.agency, k.contact_id, k.occurred_at AS latest_evidence, "
        f"greatest((k.occurred_at::DATE + INTERVAL {years} YEAR)::DATE, kp.kept, cl.cited_until) AS review_date "
        f"FROM {contacts} k LEFT JOIN (SELECT agency, record_key, max(next_review) AS kept FROM reviews "
        "WHERE table_name = 'contacts' AND decision = 'keep' GROUP BY ALL) kp "
        "ON kp.agency = k.agency AND kp.record_key = k.contact_id "
        f"LEFT JOIN ({cited}) cl ON cl.agency = k.agency AND cl.contact_id = k.contact_id"
    )


def reject_review_date_sql(at: str, rules: SafeguardSettings) -> str:
    """A rejected row's review date: the day it was rejected + review_years (the rule of a contact's date)."""
    return f"({at}::DATE + INTERVAL {int(rules.review_years)} YEAR)::DATE"


def reject_review_dates_sql(rejects: str, rules: SafeguardSettings) -> str:
    """agency, reject_id, latest_evidence, review_date: as stamped at ingest (rows from before review dates
    existed: their file's import date), or later when a supervisor kept the row."""
    received = "(SELECT source_id, min(received_at) AS received_at FROM sources GROUP BY ALL)"
    return (
        "SELECT r.agency, r.reject_id, coalesce(r.rejected_at, s.received_at)::DATE AS latest_evidence, "
        f"greatest(coalesce(r.review_date, {reject_review_date_sql('s.received_at', rules)}, "
        f"{reject_review_date_sql('now()', rules)}), kp.kept) AS review_date "
        f"FROM {rejects} r LEFT JOIN {received} s USING (source_id) "
        "LEFT JOIN (SELECT agency, record_key, max(next_review) AS kept FROM reviews "
        "WHERE table_name = 'rejects' AND decision = 'keep' GROUP BY ALL) kp "
        "ON kp.agency = r.agency AND kp.record_key = r.reject_id"
    )


def review_dates(g: Session) -> str:
    """SQL: table_name, agency, record_key, latest_evidence, review_date for the user's agency's records."""
    claims = g.own("membership_claims")
    contacts = g.own("contacts")
    return (
        f"SELECT 'membership_claims' AS table_name, agency, claim_id AS record_key, latest_evidence, review_date "
        f"FROM ({review_dates_sql(claims, g.rules)}) UNION ALL "
        f"SELECT 'contacts', agency, contact_id, latest_evidence, review_date "
        f"FROM ({contact_review_dates_sql(contacts, claims, g.rules)}) UNION ALL "
        f"SELECT 'rejects', agency, reject_id, latest_evidence, review_date "
        f"FROM ({reject_review_dates_sql(g.own('rejects'), g.rules)})"
    )


def due(g: Session, *, today: date | None = None, within_days: int | None = None) -> list[dict[str, Any]]:
    """What is past or near its review date, and claims that fail their criteria (own agency only)."""
    g.require("review", "review list")
    day = today or datetime.now(UTC).date()
    notice = g.rules.review_notice_days if within_days is None else within_days
    claims = g.own("membership_claims")
    problems = claim_problems_sql(claims, g.rules, keys=("agency", "claim_id"), include_expiry=False)
    sql = (
        f"WITH d AS ({review_dates(g)}), p AS (SELECT agency, claim_id AS record_key, "
        f"string_agg(field || ': ' || reason, '; ') AS problems FROM ({problems}) GROUP BY ALL) "
        f"SELECT d.*, CASE WHEN d.review_date < {date_sql(day)} THEN 'expired' "
        f"WHEN d.review_date <= {date_sql(day + timedelta(days=notice))} THEN 'due soon' ELSE 'fails criteria' "
        "END AS status, p.problems FROM d LEFT JOIN p ON d.table_name = 'membership_claims' "
        "AND p.agency = d.agency AND p.record_key = d.record_key "
        f"WHERE d.review_date <= {date_sql(day + timedelta(days=notice))} OR p.problems IS NOT NULL "
        "ORDER BY d.review_date, d.table_name, d.record_key"
    )
    rows = g.inner.df(sql).to_dict("records")
    g.log(
        "review",
        ",".join(REVIEWED),
        f"listed {len(rows)} records due (today {day})",
        rows=len(rows),
    )
    return rows


def keep(g: Session, table: str, key: str, reason: str, *, today: date | None = None) -> dict[str, Any]:
    """A supervisor validates a record again: its review date moves to today + review_years."""
    g.require("approve", f"{table}:{key}")
    if table not in REVIEWED:
        raise PolicyDenied(f"only {', '.join(REVIEWED)} have review dates, not {table}")
    if not reason.strip():
        raise PolicyDenied("say what was checked: a keep decision needs a reason")
    rel = g.own(table)
    rows = g.inner.df(f"SELECT * FROM {rel} WHERE {quote(model.table(table).key)} = ?", [key]).to_dict(
        "records"
    )
    if not rows:
        whose = f" of {g.user.agency}" if g.user.agency else ""
        raise PolicyDenied(f"no {table} record {key}{whose}")
    agency = rows[0]["agency"]
    if table == "membership_claims":
        problems = [p for p in check_claim(g.inner, g.rules, rows[0]) if p[0] != "review_date"]
        if problems:
            raise PolicyDenied(f"claim {key} cannot be kept: " + "; ".join(f"{f}: {r}" for f, r in problems))
    day = today or datetime.now(UTC).date()
    next_review = (
        day.replace(year=day.year + g.rules.review_years)
        if (day.month, day.day) != (2, 29)
        else day.replace(year=day.year + g.rules.review_years, day=28)
    )
    g.inner.execute(
        "INSERT INTO reviews VALUES (?,?,?,?,?,?,?,?,?)",
        [
            f"{table}:{agency}:{key}:{day}",
            table,
            agency,
            key,
            "keep",
            reason,
            g.user.user_id,
            datetime.now(UTC).replace(tzinfo=None),
            next_review,
        ],
    )
    g.log("review-keep", f"{table}:{key}", f"next review {next_review}: {reason}")
    return {"table": table, "key": key, "next_review": next_review}


def purge(g: Session, *, today: date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Remove the user's agency's records past their review date, everywhere; tombstone their ids."""
    g.require("purge", "purge")
    day = today or datetime.now(UTC).date()
    # What goes is worked out where stages compute (this store, or a DuckDB copy of what a server user may
    # read); the deletes then run on the store itself, as the user.
    with g.computing(PURGE_READS, ()) as c:
        expired = [d for d in due(c, today=day, within_days=0) if d["status"] == "expired"]
        gone = _what_goes(c, expired) if expired and not dry_run else None
    summary: dict[str, Any] = {"today": str(day), "dry_run": dry_run, "expired": len(expired), "removed": {}}
    if gone is not None:
        with g.transaction(), g.inner.registered(DUE, gone[0]), g.inner.registered(REJECTED, gone[1]):
            summary["removed"] = _remove(g)
        # Deleted rows' bytes stay in freed blocks of the file (DuckDB) or dead tuples (PostgreSQL) until the
        # engine rewrites them: a purge is not done while the bytes can still be read off the disk.
        summary["reclaimed"] = g.inner.reclaim_space()
    g.log(
        "purge",
        ",".join(sorted({d["table_name"] for d in expired})),
        json.dumps(summary, default=str),
        rows=sum(summary["removed"].values()),
    )
    return summary


def _what_goes(c: Session, expired: list[dict[str, Any]]) -> tuple[pa.Table, pa.Table]:
    """(table_name, agency, record_key, review_date) of every purged row, a contact's participants included;
    and the reject_id of every reject that goes: past its date, or a rejected copy of a purged record."""
    frame = pa.Table.from_pylist(
        [{k: d[k] for k in ("table_name", "agency", "record_key", "review_date")} for d in expired]
    )
    with c.inner.registered("_tmp_safeguards_expired", frame):
        due_rows = c.arrow(
            "SELECT table_name, agency, record_key, review_date FROM _tmp_safeguards_expired UNION ALL "
            "SELECT 'contact_participants', p.agency, p.participant_id, e.review_date FROM "
            f"{c.own('contact_participants')} p JOIN _tmp_safeguards_expired e "
            "ON e.table_name = 'contacts' AND e.agency = p.agency AND e.record_key = p.contact_id"
        )
    with c.inner.registered(DUE, due_rows):
        rejects = c.arrow(f"SELECT reject_id FROM {c.own('rejects')} x WHERE {_rejects_going_sql()}")
    return due_rows, rejects


def _remove(g: Session) -> dict[str, int]:
    q = quote
    g.inner.execute(
        f"INSERT INTO tombstones SELECT table_name || ':' || agency || ':' || record_key, table_name, agency, "
        f"record_key, review_date, 'past its review date', ?, now()::TIMESTAMP FROM {DUE}",
        [g.user.user_id],
    )
    removed = {}
    for table in PREFIX:
        key = quote(model.table(table).key)
        removed[table] = _delete(
            g,
            f"{q(table)} x",
            f"EXISTS (SELECT 1 FROM {DUE} p WHERE p.table_name = "
            f"{lit(table)} AND p.agency = x.agency AND p.record_key = x.{key})",
        )
    removed["rejects"] = _delete(g, "rejects x", f"x.reject_id IN (SELECT reject_id FROM {REJECTED})")
    removed.update(_remove_derived(g))
    return {t: n for t, n in removed.items() if n}


def _rejects_going_sql() -> str:
    """Rejects past their review date, and every rejected copy of a purged record: a raw row naming a purged
    id in its key or a reference (a participant of a purged contact), as JSON or as the unparsed line."""
    conds = [
        f"EXISTS (SELECT 1 FROM {DUE} p WHERE p.table_name = 'rejects' AND p.agency = x.agency "
        "AND p.record_key = x.reject_id)"
    ]
    for table in PREFIX:
        declared = model.table(table)
        for f in declared.fields:
            target = table if f.name == declared.key else f.references
            if target not in PREFIX:
                continue
            named = (
                f"CASE WHEN json_valid(x.raw) THEN trim(json_extract_string(x.raw, {lit('$.' + f.name)})) = p.record_key "
                "ELSE regexp_matches(x.raw, '(^|[^[:alnum:]_-])' || regexp_escape(p.record_key) || '($|[^[:alnum:]_-])') END"
            )
            conds.append(
                f"(x.table_name = {lit(table)} AND EXISTS (SELECT 1 FROM {DUE} p WHERE p.table_name = {lit(target)} "
                f"AND (lower(trim(x.agency)) = p.agency OR trim(x.agency) = '') AND {named}))"
            )
    return " OR ".join(conds)


def _delete(g: Session, target: str, where: str) -> int:
    n = int(g.inner.scalar(f"SELECT count(*) FROM {target} WHERE {where}"))
    if n:
        g.inner.execute(f"DELETE FROM {target} WHERE {where}")
    return n


def _remove_derived(g: Session) -> dict[str, int]:
    """Derived rows naming a purged record by an id column or in an evidence list go too."""
    present = set(g.inner.table_names())
    keys = (
        f"(SELECT list(k) FROM (SELECT CASE table_name {' '.join(f'WHEN {lit(t)} THEN {lit(p)}' for t, p in PREFIX.items())} "
        f"END || ':' || record_key AS k FROM {DUE} UNION ALL SELECT record_key FROM {DUE}) AS named)"
    )
    removed: dict[str, int] = {}
    for table in model.tables.values():
        if table.kind != "derived" or table.name not in present:
            continue
        conds = [
            f"EXISTS (SELECT 1 FROM {DUE} p WHERE p.table_name = {lit(target)} AND p.record_key = x.{quote(col)}"
            + (f" AND p.agency = x.{quote(agency)})" if agency else ")")
            for col, target, agency in id_columns(table)
            if target in PREFIX
        ]
        conds += [f"list_has_any(x.{quote(f.name)}, {keys})" for f in table.fields if f.type == "list"]
        if conds:
            removed[table.name] = _delete(g, f"{quote(table.name)} x", " OR ".join(conds))
    return removed


def tombstoned_rows_sql(table: str, rows: str, keys: tuple[str, ...] = ("_row",)) -> str:
    """SELECT keys, field, reason for rows whose id was purged: for ingest to reject (and report) them."""
    key = quote(model.table(table).key)
    k = ", ".join(f"t.{quote(x)}" for x in keys)
    return (
        f"SELECT {k}, {lit(model.table(table).key)} AS field, 'purged: id ' || t.{key} || ' was purged on ' || "
        "z.purged_at::DATE || ' (' || z.reason || '); purged records are not imported again' AS reason "
        f"FROM {rows} t JOIN tombstones z ON z.table_name = {lit(table)} AND z.agency = t.agency "
        f"AND z.record_key = t.{key}"
    )
