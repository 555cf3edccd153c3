"""A stage run on a server store computes in DuckDB and writes its results back at the end, so the server hears
of it at its start: a run killed with kill -9 leaves its runs row ("running" while its process lives, marked
interrupted by the next session that opens its scope) and nothing it computed; the scope's results stay whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import creds, signed_in, superuser

from casegraph.pipeline import run_stage

pytestmark = pytest.mark.server
COUNTY = "county_so"
NETWORK_TABLES = ("person_ties", "group_ties", "key_players")


def digest(cluster: dict[str, Any], db: str, scope: str) -> dict[str, str]:
    """Each network table's rows of one scope, as the superuser sees them (run ids left out: a new run changes
    them)."""
    out = {}
    with superuser(cluster, db) as su:
        for table in NETWORK_TABLES:
            row = su.execute(
                f"SELECT count(*), md5(coalesce(string_agg((to_jsonb(t) - 'run_id')::text, ',' "
                f"ORDER BY (to_jsonb(t) - 'run_id')::text), '')) FROM casegraph.{table} t WHERE scope = %s",
                [scope],
            ).fetchone()
            out[table] = f"{row[0]}:{row[1]}"
    return out


def running_row(cluster: dict[str, Any], db: str, proc: subprocess.Popen[bytes]) -> str:
    """The run id of the network run the process started, once its "running" row is on the server."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        with superuser(cluster, db) as su:
            found = su.execute(
                "SELECT run_id FROM casegraph.runs WHERE scope = %s AND stage = 'network' AND status = 'running'",
                [COUNTY],
            ).fetchone()
        if found:
            return str(found[0])
        time.sleep(0.2)
    raise AssertionError("the run's row never reached the server")


def waiting_on(cluster: dict[str, Any], db: str, lock: str, proc: subprocess.Popen[bytes]) -> None:
    """Returns once the process's connection waits for the advisory lock the test holds (its run is mid-way:
    computed, about to write its results)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended while the test held its scope's write lock"
        with superuser(cluster, db) as su:
            waits = su.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = "
                "(hashtext(%s)::bigint & 4294967295)",
                [lock],
            ).fetchone()
        if waits and waits[0]:
            return
        time.sleep(0.2)
    raise AssertionError("the run never reached its write")


def released(cluster: dict[str, Any], db: str, run_id: str) -> None:
    """Waits until the killed run's server session is gone (its run lock free), as after a crash."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with superuser(cluster, db) as su:
            key = f"casegraph run {run_id}"
            free = su.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key]).fetchone()
            if free and free[0]:
                return
        time.sleep(0.2)
    raise AssertionError("the killed run's session never ended")


def test_kill_9_mid_run_leaves_its_runs_row_marked_interrupted_and_the_results_whole(
    server_db, pg_cluster, tmp_path
):
    db = server_db.rsplit("/", 1)[1]
    with signed_in(server_db, "ana_county") as g:
        run_stage(g, g.settings, "resolve")
        run_stage(g, g.settings, "network")
    before = digest(pg_cluster, db, COUNTY)
    assert int(before["person_ties"].split(":")[0]) > 0
    env = {
        **os.environ,
        "CASEGRAPH_STORE": server_db,
        "CASEGRAPH_USER": "ana_county",
        "CASEGRAPH_PASSWORD": creds("ana_county").password,
    }
    cmd = [sys.executable, "-m", "casegraph", "network"]
    # The test holds the scope's write lock, so the run is caught mid-way whatever the machine's speed.
    scope_lock = f"scope {COUNTY}"
    with superuser(pg_cluster, db) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext(%s))", [scope_lock])
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run_id = running_row(pg_cluster, db, proc)
            with signed_in(
                server_db, "ana_county"
            ) as g:  # its process lives: another session leaves it running
                assert g.scalar("SELECT status FROM runs WHERE run_id = ?", [run_id]) == "running"
            waiting_on(pg_cluster, db, scope_lock, proc)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            holder.execute("SELECT pg_advisory_unlock(hashtext(%s))", [scope_lock])
    released(pg_cluster, db, run_id)
    with signed_in(server_db, "ana_county") as g:  # the next session of the scope marks it
        status, owner, summary = g.rows(
            "SELECT status, owner, summary_json FROM runs WHERE run_id = ?", [run_id]
        )[0]
        assert g.scalar("SELECT count(*) FROM runs WHERE status = 'running'") == 0
    assert status == "interrupted"
    assert owner == f"{os.uname().nodename} pid {proc.pid}"
    assert json.loads(summary) == {
        "interrupted": f"the process ({owner}) ended without finishing the run (killed or crashed); nothing it "
        "computed was written"
    }
    assert digest(pg_cluster, db, COUNTY) == before  # the last good run's results, whole


def test_a_finished_run_leaves_one_runs_row_with_its_outcome(server_db):
    with signed_in(server_db, "ana_county") as g:
        run_stage(g, g.settings, "network")
        run_id, status = g.rows(
            "SELECT run_id, status FROM runs WHERE stage = 'network' ORDER BY started_at DESC"
        )[0]
        assert status == "ok"
        assert g.scalar("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]) == 1
