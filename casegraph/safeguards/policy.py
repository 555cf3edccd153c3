"""Who may do what, as data: roles and their actions, and which action reading or writing each table needs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from casegraph.errors import PolicyDenied
from casegraph.schema import Table, model

ROLES = ("analyst", "supervisor", "auditor", "admin")
# Actions each role may take. Auditors read but never change anything; analysts cannot purge or approve;
# admins manage accounts and sharing but do not approve claims (a supervisor's judgement).
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"read", "run", "ingest", "scratch", "export", "review"}),
    "supervisor": frozenset(
        {"read", "run", "ingest", "scratch", "export", "review", "approve", "purge", "audit", "fairness"}
    ),
    "auditor": frozenset({"read", "review", "audit", "fairness"}),
    "admin": frozenset(
        {
            "read",
            "run",
            "ingest",
            "scratch",
            "export",
            "review",
            "purge",
            "audit",
            "fairness",
            "manage_users",
            "manage_sharing",
            "encrypt",
        }
    ),
}
ACTION_WORDS = {
    "read": "read records",
    "run": "run stages",
    "ingest": "import records",
    "scratch": "create working tables",
    "export": "export or disseminate records",
    "review": "list records due for review",
    "approve": "approve claims or keep them after review",
    "purge": "purge expired records",
    "audit": "read the audit and dissemination logs",
    "fairness": "run the fairness check",
    "manage_users": "add or change users",
    "manage_sharing": "share an agency's rows",
    "encrypt": "encrypt a store",
}
# System tables only casegraph.safeguards writes (append-only); no statement through a guarded store may.
INTERNAL_TABLES = frozenset({"audit_log", "tombstones", "disseminations", "dissemination_items", "reviews"})
APPEND_ONLY = INTERNAL_TABLES | {"sources", "rejects"}
READ_ACTION = {"audit_log": "audit", "disseminations": "audit", "dissemination_items": "audit"}
WRITE_ACTION = {
    "users": "manage_users",
    "agencies": "manage_sharing",
    "sharing_rules": "manage_sharing",
    "sources": "ingest",
    "rejects": "ingest",
    "runs": "run",
}
# Id columns that name a person record, in derived and system tables (record_id, record_a, record_b ...).
PERSON_KEY_PREFIXES = ("record_", "person_")


@dataclass(frozen=True)
class User:
    user_id: str
    agency: str
    role: str

    def can(self, action: str) -> bool:
        return action in ROLE_ACTIONS.get(self.role, frozenset())

    def describe(self) -> str:
        return f"{self.user_id} ({self.role}, {self.agency})"


def require(user: User, action: str, what: str = "") -> None:
    """Raise PolicyDenied unless the user's role allows the action."""
    if not user.can(action):
        allowed = [r for r in ROLES if action in ROLE_ACTIONS[r]]
        raise PolicyDenied(
            f"{user.describe()} may not {ACTION_WORDS.get(action, action)}{' (' + what + ')' if what else ''}: "
            f"that needs the role {' or '.join(allowed) or 'none'}"
        )


def table_kind(name: str) -> str:
    """record | derived | system for schema tables, scratch for anything else (temp and _tmp_ tables)."""
    table = model.tables.get(name)
    return table.kind if table else "scratch"


def read_action(name: str) -> str:
    return READ_ACTION.get(name, "read")


def write_action(name: str, verb: str) -> str | None:
    """The action a write needs, or None when no user may write the table this way."""
    kind = table_kind(name)
    if name in INTERNAL_TABLES:
        return None
    if verb in {"DROP", "ALTER", "CREATE"} and kind != "scratch":
        return None  # the store creates and migrates schema tables; stages never reshape them
    if kind == "record":
        return "ingest" if verb == "INSERT" else None  # records are never edited in place
    if name in APPEND_ONLY and verb != "INSERT":
        return None
    return WRITE_ACTION.get(name, {"derived": "run", "system": "run", "scratch": "scratch"}[kind])


def refusal_reason(name: str, verb: str) -> str:
    if table_kind(name) == "record":
        return (
            f"{verb} on the record table {name} is refused: records are never edited in place; "
            "expired ones are removed by `casegraph purge`"
        )
    if name in INTERNAL_TABLES:
        return f"{name} is written only by casegraph's safeguards (append-only)"
    return f"{verb} on {name} is refused: the store creates and migrates schema tables; rows are appended"


@cache
def is_person_level(name: str) -> bool:
    """Tables whose rows say something about a person: every read of them is audited."""
    table = model.tables.get(name)
    if table is None:
        return False
    if name in READ_ACTION or table.sensitive or any(f.sensitive or f.protected for f in table.fields):
        return True
    return any(
        f.references == "person_records" or f.name.startswith(PERSON_KEY_PREFIXES) for f in table.fields
    )


def masked_fields(table: Table) -> list[str]:
    """Protected fields: stored as reported descriptions, hidden from every guarded read."""
    return [f.name for f in table.fields if f.protected]
