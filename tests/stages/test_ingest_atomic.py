"""An import is one transaction: kill -9 half way leaves the store as it was; the CLI's exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casegraph import ingest
from casegraph.store import open_store

HEADER = "incident_id,offence,occurred_from,lat,lon,narrative\n"


def big_file(path: Path, rows: int) -> Path:
    """JSON lines (the slower reader), so the import is surely still running when it is killed."""
    with path.open("w") as fh:
        for i in range(rows):
            day = f"2024-01-{1 + i % 28:02d} 10:00"
            fh.write(json.dumps({"incident_id": f"B{i}", "offence": "burglary", "occurred_from": day}) + "\n")
    return path


def cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "casegraph", "--store", str(store), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_kill_9_mid_import_leaves_store_unchanged(settings, tmp_path):
    store = open_store(settings)
    small = tmp_path / "small.csv"
    small.write_text(HEADER + "S1,theft,2024-01-01,41.8,-87.6,kept\n")
    ingest.run(store, settings, small, table="incidents", agency="metro_pd")
    store.close()
    path = big_file(tmp_path / "big.jsonl", 600_000)
    cmd = [
        sys.executable,
        "-m",
        "casegraph",
        "--store",
        settings.store.path,
        "ingest",
        "incidents",
        str(path),
        "--agency",
        "metro_pd",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.5)
    assert proc.poll() is None, "the import finished before it could be killed; use a bigger file"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(settings)
    assert store.rows("SELECT incident_id FROM incidents") == [("S1",)]
    assert store.count("sources") == 1 and store.count("rejects") == 0
    store.close()


def test_cli_exit_codes(tmp_path):
    db = tmp_path / "s.duckdb"
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "G1,theft,2024-01-01,41.8,-87.6,x\n")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(HEADER + "M1,theft,2024-01-01,41.8,-87.6,x\nM2,theft,not-a-date,41.8,-87.6,x\n")
    nameless = cli("ingest", "incidents", str(good), store=db)
    assert nameless.returncode == 2 and "--agency" in nameless.stderr  # no agency column, none given
    assert cli("ingest", "incidents", str(good), "--agency", "metro_pd", store=db).returncode == 0
    result = cli("ingest", "incidents", str(mixed), "--agency", "metro_pd", store=db)
    assert result.returncode == 3
    assert "mixed.csv: row 2: occurred_from: not a valid timestamp" in result.stderr
    result = cli("ingest", "incidents", str(tmp_path / "absent.csv"), store=db)
    assert result.returncode == 2 and "no such file" in result.stderr
    again = cli("--json", "ingest", "incidents", str(good), "--agency", "metro_pd", store=db)
    assert again.returncode == 0 and '"already_imported": true' in again.stdout


def test_cli_export_is_logged_and_inert(tmp_path):
    db = tmp_path / "s.duckdb"
    evil = tmp_path / "evil.csv"
    evil.write_text(HEADER + 'E1,theft,2024-01-01,41.8,-87.6,"=HYPERLINK(""http://x"")"\n')
    assert cli("ingest", "incidents", str(evil), "--agency", "metro_pd", store=db).returncode == 0
    out = tmp_path / "out.csv"
    assert cli("export", "incidents", "-o", str(out), store=db).returncode == 2  # no recipient, no purpose
    result = cli("export", "incidents", "-o", str(out), "--to", "DA office", "--purpose", "case 7", store=db)
    assert result.returncode == 0, result.stderr
    assert "'=HYPERLINK" in out.read_text()
    given = cli("--json", "audit", "disseminations", "E1", store=db)
    assert given.returncode == 0, given.stderr
    assert "DA office" in given.stdout and "case 7" in given.stdout


def test_cli_counts_loaded_already_stored_and_rejected(tmp_path):
    db = tmp_path / "s.duckdb"
    rows = [f"R{i},theft,2024-01-{1 + i % 28:02d},41.8,-87.6,x\n" for i in range(48)]
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "".join(rows))
    assert cli("ingest", "incidents", str(first), "--agency", "metro_pd", store=db).returncode == 0
    again = tmp_path / "again.csv"  # the same 48 rows, plus two bad ones
    again.write_text(
        HEADER + "".join(rows) + "X1,theft,not-a-date,41.8,-87.6,x\nX2,,2024-01-01,41.8,-87.6,x\n"
    )
    result = cli("ingest", "incidents", str(again), "--agency", "metro_pd", store=db)
    assert result.returncode == 3, result.stderr
    assert f"{again} -> incidents: 0 loaded, 48 already stored, 2 rejected (50 rows read)" in result.stdout
    assert "warning: 2 rows rejected (see `casegraph rejects`)" in result.stderr
    assert "every row was rejected" not in result.stderr
    people = tmp_path / "people.csv"
    people.write_text("record_id,family_name,dob\nP1,Lee,2199-01-01\nP2,Park,1980-05-06\n")
    result = cli("ingest", "person_records", str(people), "--agency", "metro_pd", store=db)
    assert result.returncode == 3, result.stderr
    assert (
        "2 loaded (1 of them with 1 bad value dropped), 0 already stored, 0 rejected (2 rows read)"
        in result.stdout
    )
    assert "people.csv: row 1: dob: in the future: 2199-01-01 (value dropped, row loaded)" in result.stderr
    assert "warning: 1 bad value dropped from 1 loaded row (see `casegraph rejects`)" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "B1,theft,never,41.8,-87.6,x\n")
    result = cli("ingest", "incidents", str(bad), "--agency", "metro_pd", store=db)
    assert result.returncode == 2
    assert "nothing loaded: the one row was rejected (see `casegraph rejects`)" in result.stderr
