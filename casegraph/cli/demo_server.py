"""`casegraph demo-server SUPERUSER_URL`: the demo city on a server store, as three agencies would hold it.

A new database `casegraph_demo` on the server (its superuser's URL, e.g. from `scripts/pg start`), the platform
admin, an analyst and an admin for each of the city's agencies, a task force of the city police and the county
sheriff, the city imported by the platform admin, and every stage run by each agency's analyst in its own scope
and by the city police's analyst for the task force. The passwords are written to a file only this account
can read; the output says how to sign in. `scripts/demo --server` starts a throwaway cluster and calls this.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import typer

from casegraph.cli.common import RichProgress, console, emit, fail, out
from casegraph.errors import CasegraphError

DATABASE = "casegraph_demo"
TASK_FORCE = "regional"


def demo_server(
    ctx: typer.Context,
    superuser_url: str = typer.Argument(
        ..., help="The server's superuser URL (scripts/pg start prints one)."
    ),
    incidents: int = typer.Option(4000, "--incidents", "-n", help="Incidents in the demo city."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
    out_dir: Path = typer.Option(
        Path("demo-out"), "--out", "-o", help="Folder for the city and the passwords."
    ),
) -> None:
    """Load the demo city into a server store for three agencies and a task force, and say how to sign in."""
    from casegraph.demo import CityConfig, make_city

    started = time.perf_counter()
    agencies = list(CityConfig().agencies)
    city = out_dir / "city-server"
    console.print(f"[bold]1/4[/] making a synthetic city of {incidents} incidents in {city}")
    make_city(city, n_incidents=incidents, seed=seed, progress=RichProgress())
    try:
        url, users = _fresh_database(superuser_url, agencies)
        console.print("[bold]2/4[/] importing it as the platform admin")
        _as(url, users["platform"], lambda g: _import(g, city))
        console.print(
            f"[bold]3/4[/] each agency's analyst runs every stage in its own scope; task force {TASK_FORCE}"
        )
        for agency in agencies:
            _as(url, users[f"ana.{agency}"], _run_stages)
        _as(url, users[f"ana.{agencies[0]}"], _run_stages, scope=TASK_FORCE)
    except CasegraphError as exc:
        fail(str(exc))
    keep = _keep_passwords(out_dir, url, users)
    console.print(
        f"[bold]4/4[/] done in {time.perf_counter() - started:.0f} s; passwords in {keep} (mode 0600)"
    )
    data = {
        "store": url,
        "users": sorted(u for u in users if u != "cg_authenticator"),
        "task_force": {TASK_FORCE: agencies[:2]},
        "passwords": str(keep),
    }
    emit(ctx, data, lambda d: _render(d, agencies[0]))


def _fresh_database(superuser_url: str, agencies: list[str]) -> tuple[str, dict[str, tuple[str, str]]]:
    """Drop and create the demo database, init it, add the users and the task force; (user URL, users)."""
    import psycopg

    from casegraph.store.server import ServerStore, add_user, conninfo, initialise

    with psycopg.connect(conninfo(superuser_url), autocommit=True) as su:
        su.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        su.execute(f"CREATE DATABASE {DATABASE}")
        port = su.execute("SHOW port").fetchone()[0]  # type: ignore[index]
        roles = [
            r[0]
            for r in su.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'ana.%%' OR "
                "rolname LIKE 'admin.%%' OR rolname = 'platform'"
            ).fetchall()
        ]
        for role in roles:  # the previous demo's users (roles are the cluster's, not the database's)
            su.execute(f'DROP ROLE IF EXISTS "{role}"')
    admin_url = superuser_url.replace("/postgres?", f"/{DATABASE}?", 1)
    users = {"platform": ("platform", secrets.token_urlsafe(12))}
    # the workspace's own login (cg_authenticator), kept with the users' passwords for `casegraph serve`
    users["cg_authenticator"] = (
        "cg_authenticator",
        os.environ.get("CASEGRAPH_AUTHENTICATOR_PASSWORD") or secrets.token_urlsafe(24),
    )
    initialise(admin_url, "platform", users["platform"][1], users["cg_authenticator"][1])
    url = f"postgresql://127.0.0.1:{port}/{DATABASE}"
    from casegraph.settings import load_settings
    from casegraph.store.server import Credentials

    settings = load_settings()
    with ServerStore(settings.store, url, Credentials(*users["platform"])) as platform:
        for agency in agencies:
            for role, prefix in (("analyst", "ana"), ("admin", "admin")):
                name = f"{prefix}.{agency}"
                users[name] = (name, secrets.token_urlsafe(12))
                add_user(platform, name, agency, role, users[name][1])
        platform.execute(
            "INSERT INTO task_forces (scope, name, purpose, agencies, created_by, created_at) "
            "VALUES (?, ?, ?, ?, 'platform', now())",
            [TASK_FORCE, "Regional task force", "demo: the same crew in two jurisdictions", agencies[:2]],
        )
    return url, users


def _as(url: str, user: tuple[str, str], work: Any, scope: str | None = None) -> Any:
    from casegraph.safeguards import signed_in_session
    from casegraph.settings import load_settings
    from casegraph.store.server import Credentials, ServerStore

    settings = load_settings()
    with ServerStore(settings.store, url, Credentials(*user)) as store:
        g = signed_in_session(store, settings, purpose="server demo on synthetic data")
        if scope:
            g.use_scope(scope)
        return work(g)


def _import(g: Any, city: Path) -> None:
    from casegraph.pipeline import import_folder

    import_folder(g, g.settings, city, progress=RichProgress())


def _run_stages(g: Any) -> None:
    from casegraph.pipeline import STAGE_NAMES, run_stage

    for name in STAGE_NAMES:
        run_stage(g, g.settings, name, RichProgress())


def _keep_passwords(out_dir: Path, url: str, users: dict[str, tuple[str, str]]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "server-users.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"store": url, "users": {name: pw for name, pw in users.values()}}, fh, indent=2)
    os.chmod(path, 0o600)
    return path


def _render(d: dict[str, Any], first: str) -> None:
    out.print(f"server store: {d['store']}  users: {', '.join(d['users'])}  task force: {d['task_force']}")
    read = f"python3 -c \"import json; print(json.load(open('{d['passwords']}'))['users']['{{}}'])\""
    out.print(
        f"sign in as the city police's analyst:\n  export CASEGRAPH_STORE={d['store']}\n"
        f"  export CASEGRAPH_USER=ana.{first} CASEGRAPH_PASSWORD=$({read.format(f'ana.{first}')})\n"
        "  casegraph status",
        highlight=False,
    )
    out.print(
        "the workspace in a browser:\n"
        f"  CASEGRAPH_STORE={d['store']} CASEGRAPH_AUTHENTICATOR_PASSWORD=$({read.format('cg_authenticator')}) "
        "casegraph serve\n"
        f"  open http://127.0.0.1:8765/login: user ana.{first}, password: {read.format(f'ana.{first}')}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("demo-server")(demo_server)
