"""Users, sessions and sharing rules. Nothing runs anonymously: a session's user must match a `users` row.

The CLI takes the user from settings ([user] in casegraph.toml, or CASEGRAPH_USER / AGENCY / ROLE); the
claimed agency and role must equal the stored ones, so editing the config cannot raise one's role. A new
store's first session creates the configured user and an admin (`bootstrap`), logged like every change.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

from casegraph.errors import PolicyDenied
from casegraph.safeguards.audit import Anchor, Entry, anchor_problem
from casegraph.safeguards.guard import GuardedStore, audit_log_of, reload_audit_log
from casegraph.safeguards.policy import ROLES, User
from casegraph.schema import model
from casegraph.settings import Settings
from casegraph.store import Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def cli_origin() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli {who}@{socket.gethostname()} pid {os.getpid()}"


def load_user(store: Store, user_id: str) -> tuple[User, bool] | None:
    """(user, active) from the users table, or None."""
    rows = store.rows(
        "SELECT user_id, agency, role, coalesce(active, true) FROM users WHERE user_id = ?", [user_id]
    )
    if not rows:
        return None
    uid, agency, role, active = rows[0]
    return User(str(uid), str(agency), str(role)), bool(active)


def bootstrap(store: Store, settings: Settings) -> list[User]:
    """On a store with no users: the configured user and an admin of the same agency (returns those created)."""
    if store.scalar("SELECT count(*) FROM users") or anchor_problem(store, Anchor(store, settings)):
        return []  # a store whose audit log fails its anchor gets no new users: guard() refuses it
    me = settings.user
    wanted = {me.id: User(me.id, me.agency, me.role)}
    admin = settings.safeguards.bootstrap_admin
    wanted.setdefault(admin, User(admin, me.agency, "admin"))
    log = audit_log_of(store, settings)
    for user in wanted.values():
        store.execute(
            "INSERT INTO users (user_id, agency, role, name, active, created_by, created_at) VALUES (?,?,?,?,?,?,?)",
            [user.user_id, user.agency, user.role, None, True, "bootstrap", _now()],
        )
        log.append(
            [
                Entry(
                    user_id="bootstrap",
                    action="user-added",
                    target=user.user_id,
                    detail=f"{user.role} of {user.agency} (first users of a new store)",
                )
            ]
        )
    return list(wanted.values())


def _refuse_login(store: Store, settings: Settings, claimed: User, reason: str, origin: str) -> None:
    audit_log_of(store, settings).append(
        [
            Entry(
                user_id=claimed.user_id,
                agency=claimed.agency,
                role=claimed.role,
                action="login",
                origin=origin,
                outcome=f"denied: {reason}",
            )
        ]
    )
    raise PolicyDenied(f"login refused for {claimed.describe()}: {reason}")


def guard(
    store: Store,
    user: User | str,
    *,
    settings: Settings | None = None,
    purpose: str | None = None,
    origin: str = "python",
    owns_store: bool = False,
) -> GuardedStore:
    """A GuardedStore acting for `user`, who must exist (active, same agency and role) in the users table."""
    settings = settings or Settings()
    problem = anchor_problem(store, Anchor(store, settings))
    if problem:
        raise PolicyDenied(
            f"the audit log does not match its anchor: {problem}. Nothing runs until an auditor or admin has "
            "looked: `casegraph audit verify` (an admin accepts with `casegraph audit verify --accept`)"
        )
    claimed = user if isinstance(user, User) else User(user, settings.user.agency, settings.user.role)
    found = load_user(store, claimed.user_id)
    if found is None:
        _refuse_login(
            store, settings, claimed, "no such user (an admin adds users: `casegraph users add`)", origin
        )
    stored, active = found  # type: ignore[misc]
    if not active:
        _refuse_login(store, settings, claimed, "the account is disabled", origin)
    if isinstance(user, User) and (stored.agency, stored.role) != (user.agency, user.role):
        why = f"the users table says {stored.role} of {stored.agency}, not {user.role} of {user.agency}"
        _refuse_login(store, settings, claimed, why, origin)
    why_here = (purpose or settings.user.purpose or "").strip()
    if not why_here:
        _refuse_login(store, settings, claimed, "no purpose stated", origin)
    session = GuardedStore(store, stored, settings, purpose=why_here, origin=origin, owns_inner=owns_store)
    session.log("login", stored.user_id)
    return session


def session(
    store: Store, settings: Settings, *, origin: str | None = None, purpose: str | None = None
) -> GuardedStore:
    """The session of the configured user (bootstrapping a store without users)."""
    bootstrap(store, settings)
    me = settings.user
    return guard(
        store,
        User(me.id, me.agency, me.role),
        settings=settings,
        purpose=purpose,
        origin=origin or cli_origin(),
    )


def add_user(
    g: GuardedStore, user_id: str, agency: str, role: str, name: str | None = None
) -> dict[str, Any]:
    g.require("manage_users", user_id)
    if role not in ROLES:
        raise PolicyDenied(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if g.scalar("SELECT count(*) FROM users WHERE user_id = ?", [user_id]):
        raise PolicyDenied(f"user {user_id} already exists")
    g.execute(
        "INSERT INTO users (user_id, agency, role, name, active, created_by, created_at) VALUES (?,?,?,?,?,?,?)",
        [user_id, agency, role, name, True, g.user.user_id, _now()],
    )
    return {"user_id": user_id, "agency": agency, "role": role, "name": name}


def set_active(g: GuardedStore, user_id: str, active: bool) -> None:
    g.require("manage_users", user_id)
    g.execute("UPDATE users SET active = ? WHERE user_id = ?", [active, user_id])


def list_users(g: GuardedStore) -> list[dict[str, Any]]:
    if not (g.user.can("manage_users") or g.user.can("audit")):
        g.require("manage_users", "list users")
    df = g.df(
        "SELECT user_id, agency, role, name, coalesce(active, true) AS active, created_by, created_at "
        "FROM users ORDER BY agency, user_id"
    )
    return df.to_dict("records")  # type: ignore[no-any-return]


def share(
    g: GuardedStore, grantee: str, *, tables: list[str] | None = None, purpose: str = "", revoke: bool = False
) -> dict[str, Any]:
    """The user's agency (as owner) lets `grantee` read its rows, or revokes that; admins only."""
    owner = g.user.agency
    g.require("manage_sharing", f"{owner} -> {grantee}")
    for t in tables or []:
        if model.table(t).kind != "record":
            raise PolicyDenied(f"only record tables are shared; {t} is {model.table(t).kind}")
    if revoke:
        g.execute(
            "UPDATE sharing_rules SET revoked_by = ?, revoked_at = ? WHERE owner = ? AND grantee = ? "
            "AND revoked_at IS NULL",
            [g.user.user_id, _now(), owner, grantee],
        )
    else:
        g.execute(
            "INSERT INTO sharing_rules (rule_id, owner, grantee, tables, purpose, granted_by, granted_at) "
            "VALUES (?,?,?,?,?,?,?)",
            [
                f"{owner}>{grantee}:{uuid.uuid4().hex[:8]}",
                owner,
                grantee,
                tables or None,
                purpose or None,
                g.user.user_id,
                _now(),
            ],
        )
    g.refresh_views()
    return {"owner": owner, "grantee": grantee, "tables": tables or "all record tables", "revoked": revoke}


def accept_audit_log(store: Store, settings: Settings, user_id: str, origin: str = "python") -> str | None:
    """An admin accepts a log that fails its anchor after looking: the problem is written into the log itself
    (so it is never lost) and the anchor moves to the new end. Returns the problem accepted, or None."""
    found = load_user(store, user_id)
    if found is None or found[0].role != "admin" or not found[1]:
        raise PolicyDenied(f"{user_id} is not an active admin: only an admin accepts a broken audit log")
    problem = anchor_problem(store, Anchor(store, settings))
    if problem is None:
        return None
    user = found[0]
    reload_audit_log(store, settings).append(
        [
            Entry(
                user_id=user.user_id,
                agency=user.agency,
                role=user.role,
                action="audit-reanchored",
                origin=origin,
                detail=f"accepted after review: {problem}",
            )
        ]
    )
    return problem
