"""Membership claims: the criteria met, the evidence behind them, approval for minors, the review date.

One SQL definition of "a claim that passes" serves three places: ingest refuses claims that fail it, the
guarded store shows only claims that pass (so group-level results count only those), and `why` / `review`
show each claim's problems. The relation a builder is given must have membership_claims' columns.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from casegraph.errors import ClaimRefused
from casegraph.schema import model
from casegraph.settings import SafeguardSettings
from casegraph.store import Store, quote

# Evidence kinds a claim may cite as kind:id, with the table, key and date of each.
EVIDENCE = {
    "incident": ("incidents", "incident_id", "coalesce(occurred_to, occurred_from)"),
    "arrest": ("arrests", "arrest_id", "arrested_at"),
    "contact": ("contacts", "contact_id", "occurred_at"),
}
EVIDENCE_PATTERN = "(" + "|".join(EVIDENCE) + r"):\S+"


def lit(value: object) -> str:
    """A SQL string literal for values from settings or the schema (never from a remote user)."""
    return "'" + str(value).replace("'", "''") + "'"


def date_sql(today: date | None) -> str:
    return f"DATE {lit(today.isoformat())}" if today else "current_date"


def evidence_dates_sql() -> str:
    """Every citable record as item 'kind:id' with its date (the latest, if an id is held by two agencies)."""
    return " UNION ALL ".join(
        f"SELECT {lit(kind + ':')} || {key} AS item, max({when}) AS ev_at FROM {table} GROUP BY 1"
        for kind, (table, key, when) in EVIDENCE.items()
    )


def _ctes(claims: str, keys: tuple[str, ...], rules: SafeguardSettings) -> str:
    """c: the claims; ev: each cited item, found or not, with its date; dated: each claim's review date."""
    k = ", ".join(quote(x) for x in keys)
    ck = ", ".join(f"c.{quote(x)}" for x in keys)
    base = f"(coalesce(l.latest, c.entered_at)::DATE + INTERVAL {int(rules.review_years)} YEAR)::DATE"
    return (
        f"c AS (SELECT * FROM {claims}), "
        f"ev AS (SELECT {k}, e.item, s.ev_at, s.item IS NOT NULL AS found FROM "
        f"(SELECT {k}, unnest(coalesce(evidence, []::VARCHAR[])) AS item FROM c) e "
        f"LEFT JOIN ({evidence_dates_sql()}) s ON s.item = e.item), "
        f"latest AS (SELECT {k}, max(ev_at) AS latest FROM ev WHERE found GROUP BY ALL), "
        "kept AS (SELECT agency, record_key, max(next_review) AS kept FROM reviews "
        "WHERE table_name = 'membership_claims' AND decision = 'keep' GROUP BY ALL), "
        f"dated AS (SELECT {ck}, l.latest AS latest_evidence, "
        f"greatest(least(coalesce(c.review_date, {base}), {base}), kp.kept) AS review_date FROM c "
        f"LEFT JOIN latest l USING ({k}) "
        "LEFT JOIN kept kp ON kp.agency = c.agency AND kp.record_key = c.claim_id)"
    )


def review_dates_sql(
    claims: str, rules: SafeguardSettings, keys: tuple[str, ...] = ("agency", "claim_id")
) -> str:
    """keys, latest_evidence, review_date: the earlier of the stated date and latest evidence + review_years,
    moved on by a supervisor's keep decision."""
    return f"WITH {_ctes(claims, keys, rules)} SELECT * FROM dated"


def _criteria_checks(k: str, rules: SafeguardSettings) -> list[str]:
    need = int(rules.min_criteria)
    checks = [
        f"SELECT {k}, 'criteria' AS field, 'meets ' || coalesce(len(list_distinct(criteria)), 0) || "
        f"' criteria; at least {need} are required (28 CFR 23.20(a): reasonable suspicion, stated criteria)' "
        f"AS reason FROM c WHERE coalesce(len(list_distinct(criteria)), 0) < {need}"
    ]
    accepted = rules.accepted_criteria or model.vocabulary("membership_criteria")
    checks.append(
        f"SELECT {k}, 'criteria', 'criterion ' || x || ' is not one of the accepted criteria' FROM "
        f"(SELECT {k}, unnest(criteria) AS x FROM c) WHERE x NOT IN ({', '.join(lit(a) for a in accepted)})"
    )
    return checks


def _evidence_checks(k: str) -> list[str]:
    kinds = ", ".join(f"{kind}:" for kind in EVIDENCE)
    return [
        f"SELECT {k}, 'evidence', 'no evidence records cited: each claim names the incidents, arrests or "
        f"contacts behind its criteria' FROM c WHERE coalesce(len(evidence), 0) = 0",
        f"SELECT {k}, 'evidence', 'evidence ' || item || ' is not written kind:id ({kinds})' FROM ev "
        f"WHERE NOT regexp_full_match(item, {lit(EVIDENCE_PATTERN)})",
        f"SELECT {k}, 'evidence', 'evidence ' || item || ' is not in the store (or not visible to you)' FROM ev "
        f"WHERE regexp_full_match(item, {lit(EVIDENCE_PATTERN)}) AND NOT found",
        f"SELECT {k}, 'record_id', 'person record ' || record_id || ' is not in the store' FROM c WHERE NOT EXISTS "
        "(SELECT 1 FROM person_records p WHERE p.agency = c.agency AND p.record_id = c.record_id)",
    ]


def _approval_check(k: str, rules: SafeguardSettings) -> str:
    unknown = "true" if rules.unknown_age_needs_approval else "false"
    age = "date_sub('year', p.dob, c.entered_at::DATE)"
    approved = (
        "coalesce(trim(c.approved_by), '') <> '' AND c.approved_by <> c.entered_by "
        "AND coalesce(u.role, 'supervisor') = 'supervisor'"
    )
    why = (
        f"CASE WHEN p.dob IS NULL THEN 'the person''s age is unknown' ELSE 'the person was ' || {age} || "
        f"' when the claim was entered' END || ': a supervisor''s approval is required (approved_by' || "
        "CASE WHEN c.approved_by = c.entered_by THEN ', by someone other than who entered it' "
        "WHEN u.role IS NOT NULL AND u.role <> 'supervisor' THEN '; ' || c.approved_by || ' is a ' || u.role "
        "ELSE '' END || ')'"
    )
    cols = ", ".join(f"c.{x.strip()}" for x in k.split(","))
    return (
        f"SELECT {cols}, 'approved_by', {why} FROM c "
        "LEFT JOIN person_records p ON p.agency = c.agency AND p.record_id = c.record_id "
        "LEFT JOIN users u ON u.user_id = c.approved_by "
        f"WHERE ({age} < {int(rules.minor_age)} OR (p.dob IS NULL AND {unknown})) AND NOT ({approved})"
    )


def claim_problems_sql(
    claims: str,
    rules: SafeguardSettings,
    *,
    keys: tuple[str, ...] = ("_row",),
    today: date | None = None,
    include_expiry: bool = True,
) -> str:
    """SELECT keys, field, reason: one row per rule a claim breaks (none for a claim that passes).

    `claims` is a table name or a parenthesised query with membership_claims' columns (and the keys).
    Ingest calls it on its typed rows with keys=("_row",); the guard with keys=("agency", "claim_id")."""
    k = ", ".join(quote(x) for x in keys)
    checks = [*_criteria_checks(k, rules), *_evidence_checks(k), _approval_check(k, rules)]
    if include_expiry:
        checks.append(
            f"SELECT {k}, 'review_date', 'past its review date ' || review_date || ' (latest evidence ' || "
            f"coalesce(latest_evidence::DATE::VARCHAR, 'none') || '): review it or purge it' FROM dated "
            f"WHERE review_date < {date_sql(today)}"
        )
    return f"WITH {_ctes(claims, keys, rules)} " + " UNION ALL ".join(f"({c})" for c in checks)


def valid_claims_sql(claims: str, rules: SafeguardSettings) -> str:
    """The claims that pass every rule today: what group-level results may count."""
    problems = claim_problems_sql(claims, rules, keys=("agency", "claim_id"))
    return (
        f"SELECT * FROM {claims} AS ok WHERE NOT EXISTS (SELECT 1 FROM ({problems}) bad "
        "WHERE bad.agency = ok.agency AND bad.claim_id = ok.claim_id)"
    )


def claim_row(user_id: str, agency: str, claim: dict[str, Any]) -> dict[str, Any]:
    """One membership_claims row entered through casegraph (not imported), with its provenance."""
    row = {
        "claim_id": claim.get("claim_id") or f"MC-{uuid.uuid4().hex[:12]}",
        "agency": agency,
        "record_id": claim["record_id"],
        "group_id": claim["group_id"],
        "criteria": list(claim.get("criteria") or []),
        "evidence": list(claim.get("evidence") or []),
        "entered_by": user_id,
        "entered_at": datetime.now(UTC).replace(tzinfo=None),
        "review_date": claim.get("review_date"),
        "approved_by": claim.get("approved_by"),
    }
    digest = hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()
    return {
        **row,
        "source_id": f"entered-by:{user_id}",
        "source_row": 0,
        "row_hash": digest,
        "ingested_at": row["entered_at"],
    }


ARROW_TYPES = {
    "list": pa.list_(pa.string()),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def claim_frame(rows: list[dict[str, Any]]) -> pa.Table:
    """Claim rows as Arrow with the schema's types (a lone NULL must still be a DATE, a list of text ...)."""
    fields = [
        pa.field(f.name, ARROW_TYPES.get(f.type, pa.string()))
        for f in model.table("membership_claims").fields
    ]
    return pa.Table.from_pylist(
        [{f.name: r.get(f.name) for f in fields} for r in rows], schema=pa.schema(fields)
    )


def check_claim(store: Store, rules: SafeguardSettings, row: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for each rule one claim breaks, checked against the records the store shows."""
    frame = claim_frame([row]).append_column("_row", pa.array([1], pa.int64()))
    with store.registered("_tmp_claim_check", frame) as name:
        return [(f, r) for _, f, r in store.rows(claim_problems_sql(name, rules))]


def refuse_if_invalid(problems: list[tuple[str, str]], claim_id: str) -> None:
    if problems:
        listed = "; ".join(f"{f}: {r}" for f, r in problems)
        raise ClaimRefused(f"claim {claim_id} refused: {listed}")


SNAPSHOTS, SNAPSHOT = "casegraph_snapshots", "valid_claims_"
_snapshot_lock = threading.Lock()


def claims_snapshot_sql(store: Store, rules: SafeguardSettings, token: str) -> str:
    """The passing claims, their keys read from a table made once per `token` (which its caller changes
    whenever the store or the date may have changed) instead of checking every claim's rules on each read
    (0.4-0.7 s at 1,000,000 incidents). The table sits in an in-memory database attached to the open store,
    so every connection to it (each workspace lane) shares it; the claims' rows are read live."""
    key = hashlib.sha256(token.encode()).hexdigest()[:16]
    name = f"{SNAPSHOTS}.main.{quote(SNAPSHOT + key)}"
    with _snapshot_lock:  # two lanes asking at once: one builds it, the other reads it
        store.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {SNAPSHOTS}")
        store.execute(
            f"CREATE TABLE IF NOT EXISTS {name} AS SELECT agency, claim_id FROM "
            f"({valid_claims_sql('membership_claims', rules)})"
        )
    return (
        "SELECT c.* FROM membership_claims c WHERE EXISTS (SELECT 1 FROM "
        f"{name} k WHERE k.agency = c.agency AND k.claim_id = c.claim_id)"
    )


def drop_claims_snapshots(store: Store) -> None:
    """Forget every claims snapshot (after a change: the next reads make them again). Call it when no read that
    may use one is under way."""
    with _snapshot_lock:
        if store.scalar("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [SNAPSHOTS]):
            for (table,) in store.rows(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [SNAPSHOTS]
            ):
                store.execute(f"DROP TABLE IF EXISTS {SNAPSHOTS}.main.{quote(table)}")
