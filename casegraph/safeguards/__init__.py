"""Safeguards (issue 4): who may do what, what they may see, and a tamper-evident record of all of it.

Entry points (CLI, API) open a session once: `session(store, settings)` (the configured user) or
`guard(store, user)`; the GuardedStore they get is a Store, so stages cannot tell. See guard.py.
"""

from __future__ import annotations

from casegraph.safeguards.audit import Anchor
from casegraph.safeguards.claims import claim_problems_sql, review_dates_sql, valid_claims_sql
from casegraph.safeguards.dissemination import record_dissemination, who_received
from casegraph.safeguards.entry import add_claim
from casegraph.safeguards.explain import why
from casegraph.safeguards.fairness import fairness
from casegraph.safeguards.guard import GuardedStore
from casegraph.safeguards.identity import add_user, bootstrap, cli_origin, guard, list_users, session, share
from casegraph.safeguards.policy import ROLE_ACTIONS, ROLES, User
from casegraph.safeguards.protected import assert_not_protected, declared_field_problems
from casegraph.safeguards.retention import due, keep, purge, tombstoned_rows_sql
from casegraph.safeguards.verify import Verification, verify
from casegraph.settings import Settings
from casegraph.store import Store


def verify_log(store: Store, settings: Settings, expect: tuple[int, str] | None = None) -> Verification:
    """Check the whole audit chain and its anchor (works on a raw store: a broken log blocks sessions)."""
    return verify(store, Anchor(store, settings), expect)


__all__ = [
    "ROLES",
    "ROLE_ACTIONS",
    "GuardedStore",
    "User",
    "Verification",
    "add_claim",
    "add_user",
    "assert_not_protected",
    "bootstrap",
    "claim_problems_sql",
    "cli_origin",
    "declared_field_problems",
    "due",
    "fairness",
    "guard",
    "keep",
    "list_users",
    "purge",
    "record_dissemination",
    "review_dates_sql",
    "session",
    "share",
    "tombstoned_rows_sql",
    "valid_claims_sql",
    "verify",
    "verify_log",
    "who_received",
    "why",
]
