"""What the store holds (per stage: ran or not, rows, last run), the schema, and the audit log."""

from __future__ import annotations

from typing import Any

from casegraph.api import cache
from casegraph.api.reads.common import has_table, listing, parsed, rows
from casegraph.pipeline import STAGE_NAMES, producer_of
from casegraph.safeguards import Session
from casegraph.schema import model
from casegraph.store import quote

SHOWN_TABLES = (
    "incidents",
    "person_records",
    "groups",
    "membership_claims",
    "person_identities",
    "incident_links",
    "series",
    "person_ties",
    "group_ties",
    "group_activity",
    "group_incidents",
    "hotspots",
    "alerts",
)


def status(g: Session) -> dict[str, Any]:
    """Each stage: its last run; each table behind a view: its rows (visible to the user)."""
    runs = {
        r["stage"]: r
        for r in rows(
            g,
            "SELECT stage, run_id, status, started_at, finished_at FROM runs "
            "QUALIFY row_number() OVER (PARTITION BY stage ORDER BY started_at DESC) = 1",
        )
    }
    stages = [
        {"stage": s, "last_run": runs.get(s), "state": "ran" if s in runs else "stage not run"}
        for s in STAGE_NAMES
    ]
    tables = [
        {
            "table": t,
            "stage": producer_of(t),
            "rows": int(cache.scalar(g, f"SELECT count(*) FROM {quote(t)}")) if has_table(g, t) else None,
        }
        for t in SHOWN_TABLES
    ]
    return {"user": _me(g), "stages": stages, "tables": tables}


def _me(g: Session) -> dict[str, Any]:
    scopes = getattr(g.inner, "scopes", None)  # a server store's: the user's agency and task forces
    return {
        "user_id": g.user.user_id,
        "agency": g.user.agency,
        "role": g.user.role,
        "purpose": g.purpose,
        "scope": g.scalar("SELECT casegraph.working_scope()") if scopes else None,
        "scopes": scopes() if scopes else [],
        "deployment": "embedded: the account that owns the store file sees every record in it"
        if g.user.agency is None
        else f"server: PostgreSQL's row-level security shows you what {g.user.agency} may see",
    }


def schema() -> dict[str, Any]:
    """Tables and fields as declared (the UI reads its field lists from here); protected fields are marked."""
    return {
        "tables": [
            {
                "name": t.name,
                "kind": t.kind,
                "description": t.description,
                "fields": [
                    {"name": f.name, "type": f.type, "description": f.description, "protected": f.protected}
                    for f in t.fields
                ],
            }
            for t in model.tables.values()
        ]
    }


def audit_where(user: str | None, action: str | None) -> tuple[str, list[Any]]:
    parts = [("user_id = ?", user), ("action = ?", action)]
    used = [(s, v) for s, v in parts if v]
    return " AND ".join(s for s, _ in used) or "true", [v for _, v in used]


def audit(g: Session, *, user: str | None, action: str | None, limit: int, offset: int) -> dict[str, Any]:
    """The audit log, newest first (auditors, supervisors and admins: the role check is the safeguards')."""
    g.require("audit", "audit log")
    where, params = audit_where(user, action)
    total = int(g.scalar(f"SELECT count(*) FROM audit_log WHERE {where}", params))
    items = rows(
        g,
        'SELECT seq, "at", user_id, agency, role, action, target, purpose, origin, outcome, row_count, '
        f"detail FROM audit_log WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return listing([parsed(r) for r in items], total=total, limit=limit, offset=offset)
