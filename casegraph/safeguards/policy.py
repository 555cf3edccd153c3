"""Who may do what, as data: the roles of a server's users and their actions.

An embedded store has one actor, the account that owns the file (OWNER), who may do everything: casegraph
does not pretend roles inside a file its owner can read byte by byte. On a server, each role is also a
PostgreSQL role whose grants and row-level security enforce the same rules; the checks here give the clear
message first.
"""

from __future__ import annotations

from typing import Any

from casegraph.errors import PolicyDenied
from casegraph.schema import Table, model

ROLES = ("analyst", "supervisor", "auditor", "admin", "platform")
OWNER = "owner"  # the account that owns an embedded store file
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
# A server's platform admin manages agencies, users of any agency and task forces, and may import files that
# hold several agencies' rows; an embedded store's owner may do everything.
ROLE_ACTIONS["platform"] = ROLE_ACTIONS["admin"] | {"manage_agencies"}
ROLE_ACTIONS[OWNER] = frozenset().union(*ROLE_ACTIONS.values())
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
    "manage_agencies": "add agencies and task forces",
}


def require(user: Any, action: str, what: str = "") -> None:
    """Raise PolicyDenied unless the user's role allows the action."""
    if not user.can(action):
        allowed = [r for r in ROLES if action in ROLE_ACTIONS[r]]
        raise PolicyDenied(
            f"{user.describe()} may not {ACTION_WORDS.get(action, action)}{' (' + what + ')' if what else ''}: "
            f"that needs the role {' or '.join(allowed) or 'none'}"
        )


def masked_fields(table: Table) -> list[str]:
    """Protected fields: stored as reported descriptions (for the fairness check), never shown by a read surface
    or an export, never a feature (on a server, analysts' roles have no SELECT grant on these columns)."""
    return [f.name for f in table.fields if f.protected]


def shown_columns(table: str, alias: str = "") -> str:
    """The select list of a table's declared fields minus the protected ones, for reads and exports."""
    declared = model.table(table)
    hidden = set(masked_fields(declared))
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{f.name}"' for f in declared.fields if f.name not in hidden)
