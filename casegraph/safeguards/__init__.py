"""Safeguards: the data rules (claims' criteria and evidence, review and purge, disseminations, protected
fields) and the tamper-evident record of who did what (the audit log).

Entry points (CLI, API, scripts) open a `Session` once: embedded, `owner_session(store, settings)` acts for
the account that owns the store file; a server store's session is signed in as a user, and PostgreSQL's
row-level security decides what it sees. A Session is a Store, so stages cannot tell.
"""

from __future__ import annotations

from pathlib import Path

from casegraph.safeguards.audit import Anchor, export_anchor, read_exported_anchor
from casegraph.safeguards.claims import claim_problems_sql, review_dates_sql, valid_claims_sql
from casegraph.safeguards.dissemination import record_dissemination, who_received
from casegraph.safeguards.entry import add_claim
from casegraph.safeguards.explain import why
from casegraph.safeguards.fairness import fairness
from casegraph.safeguards.policy import OWNER, ROLE_ACTIONS, ROLES
from casegraph.safeguards.protected import assert_not_protected, declared_field_problems
from casegraph.safeguards.retention import due, keep, purge, reject_review_date_sql, tombstoned_rows_sql
from casegraph.safeguards.session import (
    Actor,
    Session,
    accept_audit_log,
    check_anchor,
    cli_origin,
    open_session,
    os_account,
    owner_session,
    signed_in_session,
)
from casegraph.safeguards.verify import Verification, verify, verify_server
from casegraph.settings import Settings
from casegraph.store import Store


def verify_log(
    store: Store,
    settings: Settings,
    expect: tuple[int, str] | None = None,
    exported: Path | None = None,
) -> Verification:
    """Check the whole audit chain and its anchor (works on a raw store: a broken log blocks sessions), and an
    anchor exported earlier (`exported`); a server store checks its own chain with its MAC key."""
    if hasattr(store, "audit_append"):
        return verify_server(store)
    return verify(
        store, Anchor(store, settings), expect, read_exported_anchor(exported) if exported else None
    )


__all__ = [
    "OWNER",
    "ROLES",
    "ROLE_ACTIONS",
    "Actor",
    "Session",
    "Verification",
    "accept_audit_log",
    "add_claim",
    "assert_not_protected",
    "check_anchor",
    "claim_problems_sql",
    "cli_origin",
    "declared_field_problems",
    "due",
    "export_anchor",
    "fairness",
    "keep",
    "open_session",
    "os_account",
    "owner_session",
    "purge",
    "record_dissemination",
    "reject_review_date_sql",
    "review_dates_sql",
    "signed_in_session",
    "tombstoned_rows_sql",
    "valid_claims_sql",
    "verify",
    "verify_log",
    "who_received",
    "why",
]
