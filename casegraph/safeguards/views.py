"""What a user may see: TEMP VIEWs that shadow the table names for one session.

In DuckDB the temp catalog comes first in name resolution, even before the catalog set by `USE cg` (and
`main.t` resolves to `temp.main.t` too), so a stage's `SELECT ... FROM incidents` reads the view: the user's
agency plus agencies sharing with it, protected fields left out. Only `cg.main.incidents` reaches the table,
and the guard refuses statements that name the catalog. Writes are pointed at the real tables by the guard.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field

from casegraph.safeguards.claims import lit, valid_claims_sql
from casegraph.safeguards.policy import User, masked_fields
from casegraph.schema import Table, model
from casegraph.settings import SafeguardSettings
from casegraph.store import Store, quote

# Id columns in derived tables, by stem, and the record table they name: record_id, record_a, incident_b ...
ID_STEMS = {
    "record": "person_records",
    "incident": "incidents",
    "contact": "contacts",
    "claim": "membership_claims",
    "arrest": "arrests",
    "group": "groups",
}
# Record views that hide rows beyond agency (claims past review, unapproved ...).
ROW_RULES = {"membership_claims"}
SNAPSHOTS, SNAPSHOT = "casegraph_snapshots", "valid_claims_"  # the passing claims' keys (see install)
_snapshot_lock = threading.Lock()
ID_COLUMN = re.compile(
    r"^(?P<stem>" + "|".join(ID_STEMS) + r")(?:_id)?(?:_(?P<side>[abc12lr]|src|dst|from|to|left|right))?$"
)


@dataclass
class Visibility:
    """One session's views: which agencies each record table shows, and where writes really go."""

    catalog: str
    schema: str
    agencies: dict[str, list[str]] = field(default_factory=dict)
    views: list[str] = field(default_factory=list)

    def qualified(self, table: str) -> str:
        return f"{quote(self.catalog)}.{quote(self.schema)}.{quote(table)}"

    def replacement(self) -> dict[str, str]:
        return {name: self.qualified(name) for name in self.views}

    def rows_of(self, table: str, agencies: list[str] | None = None) -> str:
        """The real table's rows of some agencies, protected fields included (for safeguards' own use)."""
        chosen = agencies if agencies is not None else self.agencies.get(table, [])
        return f"(SELECT * FROM {self.qualified(table)} WHERE agency IN ({_in_list(chosen)}))"


def _in_list(values: list[str]) -> str:
    return ", ".join(lit(v) for v in values) or "NULL"


def visible_agencies(store: Store, agency: str) -> dict[str, list[str]]:
    """Per record table: the user's agency plus owners with an unrevoked sharing rule for it."""
    rules = store.rows(
        "SELECT owner, tables FROM sharing_rules WHERE grantee = ? AND revoked_at IS NULL ORDER BY owner",
        [agency],
    )
    out = {}
    for table in model.record_tables():
        owners = [o for o, tables in rules if not tables or table.name in tables]
        out[table.name] = [agency, *dict.fromkeys(o for o in owners if o != agency)]
    return out


def id_columns(table: Table) -> list[tuple[str, str, str | None]]:
    """(column, record table it names, the column holding that record's agency or None) for a derived or system
    table. An id's agency is the agency column with its side (incident_a: agency_a), the one declaring it owns
    the id (`owner_of`), or else a plain `agency` column when the table declares no owner."""
    names = set(table.field_names)
    owners = {f.owner_of: f.name for f in table.fields if f.owner_of}
    out = []
    for f in table.fields:
        target = f.references if f.references in ID_STEMS.values() else None
        match = ID_COLUMN.match(f.name)
        if target is None and match and f.type in {"id", "string", "code"}:
            target = ID_STEMS[match["stem"]]
        if target is None:
            continue
        side = match["side"] if match else None
        if side and f"agency_{side}" in names:
            agency_col: str | None = f"agency_{side}"
        elif owners:
            agency_col = owners.get(f.name)
        else:
            agency_col = "agency" if "agency" in names else None
        out.append((f.name, target, agency_col))
    return out


def record_view_sql(table: Table, vis: Visibility) -> str:
    masked = masked_fields(table)
    exclude = f" EXCLUDE ({', '.join(quote(m) for m in masked)})" if masked else ""
    return f"SELECT *{exclude} FROM {vis.qualified(table.name)} WHERE agency IN ({_in_list(vis.agencies[table.name])})"


def derived_view_sql(table: Table, vis: Visibility) -> str | None:
    """Rows whose every named record is visible; None when the table names no record (left unfiltered).

    A record named with its agency is visible when that agency's rows of its table are (the record views'
    rule), checked on the derived row itself: a lookup then reads the derived table's own matching rows. An
    EXISTS against the record view made DuckDB join the whole derived table with the whole record table on
    reads it could not push a filter into (50 ms for one incident's people at 100,000 incidents). A derived row
    cannot outlive its record: records are never deleted except by purge, which removes the derived rows naming
    them (retention.py). Claims (whose view has rules beyond agency) and ids named without an agency are looked
    up in the record view."""
    conditions = []
    for col, target, agency_col in id_columns(table):
        if agency_col and target in vis.agencies and target not in ROW_RULES:
            check = f"t.{quote(agency_col)} IN ({_in_list(vis.agencies[target])})"
        else:
            key = model.table(target).key
            same_agency = f" AND v.agency = t.{quote(agency_col)}" if agency_col else ""
            check = (
                f"EXISTS (SELECT 1 FROM temp.main.{quote(target)} v WHERE v.{quote(key)} = t.{quote(col)}"
                f"{same_agency})"
            )
        conditions.append(f"(t.{quote(col)} IS NULL OR {check})")
    if not conditions:
        return None
    return f"SELECT t.* FROM {vis.qualified(table.name)} t WHERE " + " AND ".join(conditions)


def install(
    store: Store, user: User, rules: SafeguardSettings, *, claims_snapshot: str | None = None
) -> Visibility:
    """Create this session's views (record tables first: the others read them).

    Which claims pass their rules is worked out over every claim and the records they cite (0.4-0.7 s at
    1,000,000 incidents), on every read of membership_claims. A long-lived session (the workspace's reader
    lanes) passes `claims_snapshot`, a token it changes whenever the store or the date may have changed: the
    keys of the passing claims are then kept in a table per token and visibility, and the view reads the claims
    whose keys are in it (the rows read live; which claims pass as when the token was set)."""
    catalog, schema = store.rows("SELECT current_database(), current_schema()")[0]
    vis = Visibility(str(catalog), str(schema), visible_agencies(store, user.agency))
    present = set(store.table_names())
    for table in model.record_tables():
        _create(store, vis, table.name, record_view_sql(table, vis))
    claims = model.table("membership_claims")
    valid = valid_claims_sql(f"({record_view_sql(claims, vis)})", rules)
    if claims_snapshot is not None:
        valid = _snapshot_sql(store, vis, claims, valid, claims_snapshot)
    _create(store, vis, claims.name, valid)
    for table in model.tables.values():
        if table.kind == "derived" and table.name in present:
            body = derived_view_sql(table, vis)
            if body:
                _create(store, vis, table.name, body)
    return vis


def _snapshot_sql(store: Store, vis: Visibility, claims: Table, valid: str, token: str) -> str:
    """The claims view reading the passing claims' keys from a table made once per token and visibility, in an
    in-memory database attached to the open store, so every connection to it (each workspace lane) shares it."""
    key = hashlib.sha256(repr((token, sorted(vis.agencies.items()))).encode()).hexdigest()[:16]
    name = f"{SNAPSHOTS}.main.{quote(SNAPSHOT + key)}"
    with _snapshot_lock:  # two lanes asking at once: one builds it, the other reads it
        store.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {SNAPSHOTS}")
        store.execute(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT agency, claim_id FROM ({valid})")
    return (
        f"SELECT c.* FROM ({record_view_sql(claims, vis)}) c WHERE EXISTS (SELECT 1 FROM {name} k "
        "WHERE k.agency = c.agency AND k.claim_id = c.claim_id)"
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


def _create(store: Store, vis: Visibility, name: str, body: str) -> None:
    store.execute(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS {body}")
    if name not in vis.views:
        vis.views.append(name)


def uninstall(store: Store, vis: Visibility) -> None:
    for name in reversed(vis.views):
        store.execute(f"DROP VIEW IF EXISTS temp.main.{quote(name)}")
