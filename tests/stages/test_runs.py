"""A stage run is one transaction: a run killed with kill -9 leaves its results as they were, and the next open
marks it interrupted (in `runs` and `casegraph status`); a run that fails is rolled back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casegraph import network, resolve
from casegraph.store import open_store

NETWORK_TABLES = ("person_ties", "group_ties", "key_players")


def digest(store, tables=NETWORK_TABLES) -> dict[str, list]:
    return {t: sorted(map(str, store.rows(f"SELECT * EXCLUDE (run_id) FROM {t}"))) for t in tables}


def wait_for_first_commit(wal: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    """The run's row is the first commit of `casegraph network`: it shows as the store's WAL (nothing before it
    writes; the run's own writes wait for its end)."""
    deadline = time.monotonic() + seconds
    while not (wal.exists() and wal.stat().st_size) and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    assert wal.exists(), "the run never started"


@pytest.mark.slow
def test_kill_9_mid_run_is_marked_interrupted_and_its_writes_rolled_back(city_store, settings, tmp_path):
    resolve.run(city_store, settings)
    network.run(city_store, settings)
    before = digest(city_store)
    assert all(before.values())
    city_store.close()
    slow = tmp_path / "slow.toml"  # permutations enough to keep the run busy for minutes
    slow.write_text('[network]\nnull_model = "permutation"\nn_permutations = 1000000\n')
    cmd = [
        sys.executable,
        "-m",
        "casegraph",
        "--config",
        str(slow),
        "--store",
        settings.store.path,
        "network",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_first_commit(Path(settings.store.path + ".wal"), proc)
    time.sleep(1.0)  # well inside the run: the permutations take minutes
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(settings)
    try:
        stage, status, summary = store.rows(
            "SELECT stage, status, summary_json FROM runs ORDER BY started_at DESC LIMIT 1"
        )[0]
        assert (stage, status) == ("network", "interrupted")
        assert json.loads(summary) == {
            "interrupted": f"the process ({os.uname().nodename} pid {proc.pid}) ended without finishing the run "
            "(killed or crashed); what it had written was rolled back"
        }
        assert digest(store) == before  # the last good run's results, whole
        assert store.scalar("SELECT count(*) FROM runs WHERE status = 'running'") == 0
    finally:
        store.close()
    shown = subprocess.run(
        [sys.executable, "-m", "casegraph", "--json", "--store", settings.store.path, "status"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(shown.stdout)["runs"][0]["status"] == "interrupted"


KILLED_AFTER_WRITING = """
import os, signal, sys
from casegraph.settings import load_settings
from casegraph.store import open_store
s = load_settings()
s.store.path = sys.argv[1]
store = open_store(s)
store.new_run("network", {})
store.execute("DELETE FROM person_ties")  # the run replaces results ...
store.execute("DELETE FROM key_players")
os.kill(os.getpid(), signal.SIGKILL)  # ... and dies before it finishes
"""


def test_what_a_killed_run_had_written_is_rolled_back(city_store, settings):
    resolve.run(city_store, settings)
    network.run(city_store, settings)
    before = digest(city_store)
    city_store.close()
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_WRITING, settings.store.path], check=False)
    assert killed.returncode == -signal.SIGKILL
    store = open_store(settings)
    try:
        assert digest(store) == before
        assert store.rows("SELECT stage, status FROM runs ORDER BY started_at DESC LIMIT 1") == [
            ("network", "interrupted")
        ]
    finally:
        store.close()
