"""A real PostgreSQL for the server-store tests: a throwaway cluster started by scripts/pg (never a mock), one
database per test module made from a template that holds the synthetic city, imported by a platform admin,
with users of three agencies and a task force of two of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from casegraph.pipeline import import_folder
from casegraph.safeguards import signed_in_session
from casegraph.settings import load_settings
from casegraph.store.server import Credentials, ServerStore, initialise

ROOT = Path(__file__).resolve().parents[2]
ADMIN = Credentials("platadmin", "platform-password-1")
USERS = {  # name: (agency, role)
    "ana_metro": ("metro_pd", "analyst"),
    "sup_metro": ("metro_pd", "supervisor"),
    "aud_metro": ("metro_pd", "auditor"),
    "adm_metro": ("metro_pd", "admin"),
    "ana_county": ("county_so", "analyst"),
    "ana_transit": ("transit_pd", "analyst"),
    "adm_transit": ("transit_pd", "admin"),
}
TASK_FORCE = ("north", ["metro_pd", "county_so"])  # transit_pd is in no agreement with anyone


def password(name: str) -> str:
    return f"{name}-password-12"


def creds(name: str) -> Credentials:
    return ADMIN if name == ADMIN.user else Credentials(name, password(name))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[dict[str, Any]]:
    """The cluster (a folder the postgres account can enter) and its superuser URL; stopped at the end."""
    if not any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        pytest.skip("PostgreSQL server not installed (scripts/setup installs Debian's postgresql as root)")
    folder = Path(tempfile.mkdtemp(prefix="casegraph-pg-", dir="/tmp"))
    os.chmod(folder, 0o755)
    data = folder / "data"
    port = str(20000 + uuid.uuid4().int % 20000)
    started = subprocess.run(
        [str(ROOT / "scripts" / "pg"), "start", str(data), port], capture_output=True, text=True, check=False
    )
    if started.returncode:
        pytest.fail(f"scripts/pg could not start PostgreSQL: {started.stderr}")
    yield {"superuser": started.stdout.strip(), "folder": data, "port": port}
    subprocess.run([str(ROOT / "scripts" / "pg"), "stop", str(data)], check=False, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def superuser(cluster: dict[str, Any], db: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(
        f"host={cluster['folder']} port={cluster['port']} dbname={db} user=postgres", autocommit=True
    )


def user_url(cluster: dict[str, Any], db: str) -> str:
    return f"postgresql://127.0.0.1:{cluster['port']}/{db}"


def settings_for(url: str) -> Any:
    s = load_settings()
    s.store.path = url
    return s


@contextmanager
def signed_in(url: str, who: str, scope: str | None = None) -> Iterator[Any]:
    """A session of `who` on the server store (closed at the end)."""
    s = settings_for(url)
    store = ServerStore(s.store, url, creds(who))
    try:
        g = signed_in_session(store, s, purpose="server tests", origin="pytest")
        if scope:
            g.use_scope(scope)
        yield g
    finally:
        store.close()


@pytest.fixture(scope="session")
def city_template(pg_cluster: dict[str, Any], city_dir: Path) -> str:
    """A database holding the city, its users and the task force: each module's database is a copy of it."""
    name = "cg_template"
    with superuser(pg_cluster) as su:
        su.execute(f"CREATE DATABASE {name}")
    init_url = f"postgresql://postgres@/{name}?host={pg_cluster['folder']}&port={pg_cluster['port']}"
    initialise(init_url, ADMIN.user, ADMIN.password, "authenticator-password-1")
    url = user_url(pg_cluster, name)
    from casegraph.store.server import add_user

    with signed_in(url, ADMIN.user) as admin:
        for user, (agency, role) in USERS.items():
            add_user(admin.inner, user, agency, role, password(user))
        admin.execute(
            "INSERT INTO task_forces (scope, name, agencies, created_by, created_at) VALUES (?, ?, ?, ?, now())",
            [TASK_FORCE[0], "north task force", TASK_FORCE[1], ADMIN.user],
        )
        import_folder(admin, settings_for(url), city_dir)
    return name


@pytest.fixture(scope="module")
def server_db(pg_cluster: dict[str, Any], city_template: str) -> Iterator[str]:
    """A fresh copy of the city database for one test module; its user URL."""
    name = f"cg_{uuid.uuid4().hex[:10]}"
    with superuser(pg_cluster) as su:
        su.execute(f"CREATE DATABASE {name} TEMPLATE {city_template}")
    yield user_url(pg_cluster, name)
    with superuser(pg_cluster) as su:
        su.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
