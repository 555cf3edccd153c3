"""Verbs of a server store (PostgreSQL, several agencies): users, sign-in tokens, task forces, sharing.

`casegraph init` with the database superuser's URL creates the schema, the policies and the platform admin
(CASEGRAPH_USER, CASEGRAPH_PASSWORD); every other verb signs in as a user (CASEGRAPH_USER + CASEGRAPH_PASSWORD,
or the token `casegraph login` keeps), and PostgreSQL decides what it may read and change.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from typing import Any

import typer

from casegraph.cli.common import console, ctx_of, emit, fail, opened, out
from casegraph.errors import CasegraphError

users_app = typer.Typer(help="Users of a server store: each a PostgreSQL login of an agency, with a role.")
taskforce_app = typer.Typer(help="Task forces of a server store: agencies sharing records and results.")
agencies_app = typer.Typer(help="Sharing an agency's records with another agency (its admins).")
NEEDS_SERVER = "only a server store has {what} (CASEGRAPH_STORE=postgresql://...); an embedded store acts for the account that owns its file"


def server_url(ctx: typer.Context, what: str) -> str:
    from casegraph.store import is_server

    location = ctx_of(ctx).settings().store.path
    if not is_server(location):
        fail(NEEDS_SERVER.format(what=what))
    return location


def init_server(ctx: typer.Context) -> None:
    """`casegraph init` on a server URL (the database's superuser or owner, e.g. over its Unix socket)."""
    from casegraph.store.server import initialise, shown

    url = ctx_of(ctx).settings().store.path
    admin, password = os.environ.get("CASEGRAPH_USER"), os.environ.get("CASEGRAPH_PASSWORD")
    if not admin or not password:
        fail("name the platform admin to create: CASEGRAPH_USER and CASEGRAPH_PASSWORD")
    try:
        initialise(
            url,
            admin,
            password,
            os.environ.get("CASEGRAPH_AUTHENTICATOR_PASSWORD") or secrets.token_urlsafe(24),
        )
    except CasegraphError as exc:
        fail(str(exc))
    emit(
        ctx,
        {"store": shown(url), "platform_admin": admin},
        lambda d: out.print(f"server store ready: {d['store']}; platform admin {d['platform_admin']}"),
    )


def users_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User name (lower-case letters, digits, _ and .)."),
    agency: str = typer.Option(
        ..., "--agency", help="The user's agency (a platform admin may name a new one)."
    ),
    role: str = typer.Option(..., "--role", help="analyst, supervisor, auditor, admin or platform."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new user's password from stdin."
    ),
) -> None:
    """Add a user: a platform admin for any agency, an agency's admin for their own."""
    from casegraph.store.server import add_user

    server_url(ctx, "users")
    password = (
        sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(f"password for {name}: ")
    )
    if len(password) < 12:
        fail("a password of at least 12 characters, please")
    with opened(ctx, "user administration") as (g, _settings):
        add_user(g.inner, name, agency, role, password)  # type: ignore[arg-type]
        g.log("user-added", name, f"{role} of {agency}")
    emit(ctx, {"user": name, "agency": agency, "role": role}, lambda d: out.print(f"added {d['user']}"))


def users_list(ctx: typer.Context) -> None:
    """The users you may see (yourself; your agency's, for its admins, supervisors and auditors)."""
    server_url(ctx, "users")
    with opened(ctx, "user administration") as (g, _settings):
        rows = g.records(
            "SELECT user_id, agency, role, active, created_by, created_at FROM users ORDER BY 2, 1"
        )
    emit(ctx, rows, _render_users)


def _render_users(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        out.print(f"{r['user_id']}  {r['role']} of {r['agency']}")


def login(
    ctx: typer.Context,
    hours: float = typer.Option(12, "--hours", min=0.1, max=720, help="How long the token lasts."),
) -> None:
    """Sign in once (your password, asked here or from CASEGRAPH_PASSWORD): a token kept 0600 in your config
    folder signs in the later verbs until it expires or `casegraph logout`."""
    from casegraph.store.server import ServerStore, credentials_for, issue_token, save_token

    url = server_url(ctx, "sign-in")
    settings = ctx_of(ctx).settings()
    if not os.environ.get("CASEGRAPH_USER"):
        os.environ["CASEGRAPH_USER"] = input("user: ").strip()
    if not os.environ.get("CASEGRAPH_PASSWORD"):
        os.environ["CASEGRAPH_PASSWORD"] = getpass.getpass("password: ")
    try:
        store = ServerStore(settings.store, url, credentials_for(url))
    except CasegraphError as exc:
        fail(str(exc))
    try:
        token = issue_token(store, hours)
        store.audit_append(
            {
                "action": "login",
                "target": token["role"],
                "origin": "cli",
                "outcome": "ok",
                "detail": f"token until {token['expires']}",
            }
        )
    finally:
        store.close()
    path = save_token(url, token)
    emit(
        ctx,
        {"user": token["user"], "expires": token["expires"], "kept_in": str(path)},
        lambda d: out.print(f"signed in as {d['user']} until {d['expires']} (token in {d['kept_in']})"),
    )


def logout(ctx: typer.Context) -> None:
    """End the token `casegraph login` made: the server refuses it from now on, and it is deleted here."""
    from casegraph.store.server import ServerStore, credentials_for, save_token

    url = server_url(ctx, "sign-in")
    try:
        store = ServerStore(ctx_of(ctx).settings().store, url, credentials_for(url))
        try:
            store.audit_append({"action": "logout", "target": store.credentials.user, "origin": "cli"})
            store.execute("SELECT casegraph.revoke_token()")
        finally:
            store.close()
    except CasegraphError as exc:
        console.print(f"the server did not confirm: {exc}")
    finally:
        save_token(url, {})
    console.print("signed out")


def taskforce_add(
    ctx: typer.Context,
    scope: str = typer.Argument(..., help="The task force's short name (also the scope of its runs)."),
    agencies: str = typer.Option(..., "--agencies", help="Member agencies, comma-separated."),
    name: str = typer.Option(None, "--name", help="Full name."),
    purpose: str = typer.Option("", "--purpose", help="The agreement it serves."),
) -> None:
    """Create a task force (platform admins): its members read one another's records and share its results."""
    server_url(ctx, "task forces")
    members = [a.strip() for a in agencies.split(",") if a.strip()]
    with opened(ctx, "task force administration") as (g, _settings):
        g.require("manage_agencies", scope)
        g.execute(
            "INSERT INTO task_forces (scope, name, purpose, agencies, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, now())",
            [scope, name, purpose or None, members, g.user.user_id],
        )
        g.log("task-force", scope, f"members: {', '.join(members)}")
    emit(
        ctx,
        {"scope": scope, "agencies": members},
        lambda d: out.print(f"task force {d['scope']}: {d['agencies']}"),
    )


def agencies_share(
    ctx: typer.Context,
    grantee: str = typer.Argument(..., help="Agency allowed to read your agency's records."),
    purpose: str = typer.Option("", "--purpose", help="The agreement the sharing serves."),
    revoke: bool = typer.Option(False, "--revoke", help="Withdraw the grant."),
) -> None:
    """Share your agency's records with another agency, or stop (admins of the owning agency)."""
    server_url(ctx, "sharing")
    with opened(ctx, "sharing administration") as (g, _settings):
        g.require("manage_sharing", grantee)
        owner = g.user.agency
        if revoke:
            g.execute(
                "UPDATE sharing_rules SET revoked_by = ?, revoked_at = now() WHERE owner = ? AND grantee = ? "
                "AND revoked_at IS NULL",
                [g.user.user_id, owner, grantee],
            )
        else:
            g.execute(
                "INSERT INTO sharing_rules (rule_id, owner, grantee, purpose, granted_by, granted_at) "
                "VALUES (?, ?, ?, ?, ?, now())",
                [
                    f"{owner}>{grantee}:{secrets.token_hex(4)}",
                    owner,
                    grantee,
                    purpose or None,
                    g.user.user_id,
                ],
            )
        g.log("share", grantee, "revoked" if revoke else f"granted: {purpose}")
    data: dict[str, Any] = {"owner": owner, "grantee": grantee, "revoked": revoke}
    emit(
        ctx,
        data,
        lambda d: out.print(f"{d['owner']} -> {d['grantee']}" + (" revoked" if d["revoked"] else "")),
    )


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    users_app.command("add")(users_add)
    users_app.command("list")(users_list)
    taskforce_app.command("add")(taskforce_add)
    agencies_app.command("share")(agencies_share)
    app.add_typer(users_app, name="users")
    app.add_typer(taskforce_app, name="taskforce")
    app.add_typer(agencies_app, name="agencies")
    app.command()(login)
    app.command()(logout)
