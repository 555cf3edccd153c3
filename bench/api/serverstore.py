"""The server backend of bench/api: the demo city on a PostgreSQL server store, served by `casegraph serve
--workers N` and signed in as an analyst of one agency.

The store is what `scripts/demo --server` makes (`casegraph demo-server`: the city imported by the platform
admin, every stage run by each agency's analyst in its scope and for the task force), built once into a
throwaway cluster kept in bench/results/server-N (its database `casegraph_demo` and the users' passwords).
Each load run gets a fresh copy of that database (CREATE DATABASE ... TEMPLATE: its own audit log); the
cluster runs for the benchmark only and is stopped after it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, SEED, casegraph_cli, free_port

TEMPLATE = "casegraph_demo"  # what `casegraph demo-server` creates
ANALYST = "ana.metro_pd"  # who the load signs in as: an analyst of the city police (in the task force)
PORT = 55490


@dataclass
class ServerDemo:
    folder: Path
    superuser: str  # the cluster's superuser URL (Unix socket, trust)
    users: dict[str, str]  # name -> password (server-users.json)
    port: int

    @property
    def cluster(self) -> Path:
        return self.folder / "pg"

    def url(self, database: str) -> str:
        return f"postgresql://127.0.0.1:{self.port}/{database}"


def start_cluster(folder: Path) -> str:
    started = subprocess.run(
        [str(ROOT / "scripts" / "pg"), "start", str(folder / "pg"), str(PORT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode:
        raise SystemExit(f"scripts/pg could not start PostgreSQL: {started.stderr}")
    return started.stdout.strip()


def stop_cluster(demo: ServerDemo) -> None:
    subprocess.run([str(ROOT / "scripts" / "pg"), "stop", str(demo.cluster)], check=False)


def server_store(n: int, folder: Path | None = None) -> ServerDemo:
    """The city of n incidents on a server store (started); built once under bench/results' lock (or one
    built before, in `folder`)."""
    folder = folder or RESULTS / f"server-{n}"
    done = folder / "built.ok"
    if not done.exists():
        with (RESULTS / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done.exists():
                _build(folder, n)
    superuser = start_cluster(folder)
    users = json.loads((folder / "server-users.json").read_text())["users"]
    return ServerDemo(folder, superuser, users, int(superuser.rsplit("port=", 1)[1]))


def _build(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    superuser = start_cluster(folder)
    log = RESULTS / f"server-{n}.log"
    print(f"building the server store once: casegraph demo-server -n {n} (log: {log}) ...", file=sys.stderr)
    started = time.perf_counter()
    cmd = [casegraph_cli(), "demo-server", superuser, "-n", str(n), "--seed", str(SEED), "--out", str(folder)]
    env = {k: v for k, v in os.environ.items() if k != "CASEGRAPH_STORE"}
    with log.open("w") as fh:
        if subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode:
            raise SystemExit(f"casegraph demo-server failed: see {log}")
    (folder / "built.ok").write_text(
        f"casegraph demo-server -n {n} --seed {SEED}: {time.perf_counter() - started:.0f} s\n"
    )


def superuser_connection(demo: ServerDemo, database: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(
        f"host={demo.cluster} port={demo.port} dbname={database} user=postgres", autocommit=True
    )


def sample_inputs(demo: ServerDemo) -> dict[str, list[Any]]:
    """What the load asks for, read from the template database (the superuser reads past row-level security;
    incident ids are the analyst's agency's own)."""
    with superuser_connection(demo, TEMPLATE) as con:
        q = lambda sql: [r[0] for r in con.execute(sql).fetchall()]  # noqa: E731
        return {
            "ids": q(
                "SELECT incident_id FROM casegraph.incidents WHERE agency = 'metro_pd' "
                "ORDER BY random() LIMIT 2000"
            ),
            "offences": q("SELECT DISTINCT offence FROM casegraph.incidents"),
            "areas": q("SELECT DISTINCT area FROM casegraph.incidents WHERE area IS NOT NULL"),
            "names": q(
                "SELECT family_name FROM (SELECT DISTINCT family_name FROM casegraph.person_records "
                "WHERE family_name IS NOT NULL) n ORDER BY random() LIMIT 200"
            ),
            "months": q("SELECT DISTINCT to_char(occurred_from, 'YYYY-MM') FROM casegraph.incidents"),
        }


@contextmanager
def fresh_database(demo: ServerDemo) -> Iterator[str]:
    """A copy of the demo database for one load run (its own audit log); dropped after it."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with superuser_connection(demo) as su:
        su.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield name
    finally:
        with superuser_connection(demo) as su:
            su.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def served_server(
    demo: ServerDemo, workers: int, purpose: str
) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes], str]]:
    """`casegraph serve --workers N` over a fresh copy of the demo database, the analyst signed in through the
    sign-in page: (base url, the session's headers, the server process, the database's name)."""
    from run import stop, wait_up  # run.py imports this module

    with fresh_database(demo) as database:
        port = free_port()
        env = {
            **os.environ,
            "CASEGRAPH_STORE": demo.url(database),
            "CASEGRAPH_AUTHENTICATOR_PASSWORD": demo.users["cg_authenticator"],
        }
        cmd = [casegraph_cli(), "serve", "--port", str(port), "--workers", str(workers)]
        log = (
            demo.folder / "serve.log"
        )  # the last run's (a file, not a pipe: a full pipe would stall the server)
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            try:
                asyncio.run(wait_up(base, proc))
            except SystemExit as exc:
                raise SystemExit(f"{exc}\n{log.read_text()[-2000:]}") from exc
            yield base, sign_in(base, ANALYST, demo.users[ANALYST], purpose), proc, database
        finally:
            stop(proc)


def sign_in(base: str, user: str, password: str, purpose: str) -> dict[str, str]:
    import httpx

    form = {"user": user, "password": password, "purpose": purpose}
    answer = httpx.post(f"{base}/login", data=form, follow_redirects=False, timeout=60)
    if "cg_session" not in answer.cookies:
        raise SystemExit(f"sign-in refused ({answer.status_code}): {answer.text[:300]}")
    return {"Cookie": f"cg_session={answer.cookies['cg_session']}", "X-Casegraph-Purpose": purpose}


def audit_check(demo: ServerDemo, database: str, answered: int, *, statements: bool = True) -> str:
    """After the run (server stopped): `casegraph audit verify` as the platform admin (the whole chain and its
    anchor, on the server), and the read entries the answered requests left."""
    env = {
        **os.environ,
        "CASEGRAPH_STORE": demo.url(database),
        "CASEGRAPH_USER": "platform",
        "CASEGRAPH_PASSWORD": demo.users["platform"],
    }
    verified = subprocess.run(
        [casegraph_cli(), "--json", "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    with superuser_connection(demo, database) as con:
        reads, entries = con.execute(
            "SELECT count(*) FILTER (WHERE action = 'read' AND purpose = 'benchmark'), count(*) "
            "FROM casegraph.audit_log"
        ).fetchone()
    if verified.returncode:
        state = f"BROKEN ({(verified.stdout + verified.stderr).strip()[-300:]})"
    elif statements and answered and not reads:
        state = "MISSING: no read entries"
    elif not statements and reads:
        state = "UNEXPECTED: read entries"
    else:
        state = "ok"
    return (
        f"audit: {state}: `casegraph audit verify` on the chain of {entries} entries; {reads} read entries "
        f"(purpose 'benchmark') for {answered} answered requests (+ warm-up)"
    )


def postgres_cpu_seconds(demo: ServerDemo) -> float:
    """CPU seconds of the cluster's processes so far (the postmaster and its backends, live ones)."""
    from run import cpu_seconds

    try:
        postmaster = int((demo.cluster / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return sum(cpu_seconds(pid) for pid in process_tree(postmaster))


def process_tree(root: int) -> list[int]:
    """root and every process descended from it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = _pid_and_parent(stat.read_text())
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _pid_and_parent(stat: str) -> tuple[int, int]:
    head, _, rest = stat.rpartition(")")
    return int(head.split(" (", 1)[0]), int(rest.split()[1])
