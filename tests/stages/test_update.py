"""Nightly files (issue 19 items 1 and 4): a month of records held back from the city arrives as files in a drop
folder; `casegraph watch --once` (the real command, in a subprocess) imports them, moves them to done/, runs the
stages whose inputs changed and reports the persons and series that grew and the new alerts; a broken file goes
to quarantine/ with its reason while the good ones load; a second watch and a second update do nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from casegraph import ingest, pipeline, update
from casegraph.settings import load_settings
from casegraph.store import open_store

RECORD_FILES = (
    "incidents",
    "person_records",
    "arrests",
    "involvements",
    "contacts",
    "contact_participants",
    "groups",
    "membership_claims",
)


def split_last_month(city_dir: Path, before: Path, later: Path) -> str:
    """Write the city's records without its last month to `before/<table>.csv`, and that month's incidents,
    arrests, involvements, contacts and participants, with the person records only they refer to, to
    `later/<table>-<month>.csv`."""
    tables = {t: pd.read_csv(city_dir / f"{t}.csv", dtype=str) for t in RECORD_FILES}
    month = max(tables["incidents"]["occurred_from"])[:7]
    held_incidents = tables["incidents"]["occurred_from"].str.startswith(month)
    incident_ids = set(tables["incidents"].loc[held_incidents, "incident_id"])
    held = {
        "incidents": held_incidents,
        "involvements": tables["involvements"]["incident_id"].isin(incident_ids),
        "arrests": tables["arrests"]["incident_id"].isin(incident_ids)
        | tables["arrests"]["arrested_at"].str.startswith(month),
        "contacts": tables["contacts"]["occurred_at"].str.startswith(month),
    }
    contact_ids = set(tables["contacts"].loc[held["contacts"], "contact_id"])
    held["contact_participants"] = tables["contact_participants"]["contact_id"].isin(contact_ids)
    held["person_records"] = _records_only_in(tables, held)
    for table, frame in tables.items():
        mask = held.get(table, pd.Series(False, index=frame.index))
        frame[~mask].to_csv(before / f"{table}.csv", index=False)
        if mask.any():
            frame[mask].to_csv(later / f"{table}-{month}.csv", index=False)
    return month


def _records_only_in(tables: dict[str, pd.DataFrame], held: dict[str, pd.Series]) -> pd.Series:
    referring = ("involvements", "arrests", "contact_participants")
    kept = set().union(*(set(tables[t].loc[~held[t], "record_id"]) for t in referring))
    kept |= set(tables["membership_claims"]["record_id"])
    later = set().union(*(set(tables[t].loc[held[t], "record_id"]) for t in referring))
    return tables["person_records"]["record_id"].isin(later - kept)


@contextmanager
def opened(root: Path) -> Iterator[Any]:
    settings = load_settings()
    settings.store.path = str(root / "store.duckdb")
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def watch_once(store: Path, folder: Path, tz: str = "UTC") -> dict:
    env = {**os.environ, "CASEGRAPH_STORE": str(store), "COLUMNS": "120", "TZ": tz}
    done = subprocess.run(
        [sys.executable, "-m", "casegraph", "watch", str(folder), "--once", "--settle", "0.2", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def month_arrives(city_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A store of the city without its last month, every stage run; the month's files dropped in a folder with
    a broken file among them; then `watch --once`."""
    root = tmp_path_factory.mktemp("nightly")
    before, drop = root / "before", root / "drop"
    before.mkdir()
    drop.mkdir()
    month = split_last_month(city_dir, before, drop)
    (drop / "incidents-broken.csv").write_text(
        "incident_id,agency,offence,occurred_from\nX1,metro_pd,burglary,not a date\nX2,metro_pd,burglary,31/02\n"
    )
    settings = load_settings()
    settings.store.path = str(root / "store.duckdb")
    store = open_store(settings)
    ingest.run_folder(store, settings, before)
    pipeline.run_all(store, settings)
    persons_before = dict(store.rows("SELECT agency || '/' || record_id, person_id FROM person_identities"))
    links_before = link_pairs(store)
    store.close()
    # imported on a machine six hours behind UTC: the stages' runs and the imports are compared in UTC
    first = watch_once(root / "store.duckdb", drop, tz="America/Chicago")
    return {
        "root": root,
        "drop": drop,
        "month": month,
        "first": first,
        "persons_before": persons_before,
        "links_before": links_before,
    }


def link_pairs(store: Any) -> set[tuple[str, str]]:
    return set(
        store.rows("SELECT agency_a || '/' || incident_a, agency_b || '/' || incident_b FROM incident_links")
    )


def test_the_months_files_load_and_move_to_done(month_arrives):
    drop, first = month_arrives["drop"], month_arrives["first"]
    loaded = {f["file"] for f in first["files"] if f["status"] == "loaded"}
    month = month_arrives["month"]
    assert loaded == {
        f"{t}-{month}.csv"
        for t in (
            "incidents",
            "involvements",
            "arrests",
            "contacts",
            "contact_participants",
            "person_records",
        )
    } & {p.name for p in (drop / "done").iterdir()}
    assert all(f["loaded"] > 0 for f in first["files"] if f["status"] == "loaded")
    assert not [p for p in drop.iterdir() if p.is_file()]  # nothing left lying in the folder


def test_a_broken_file_is_quarantined_with_its_reason(month_arrives):
    drop, first = month_arrives["drop"], month_arrives["first"]
    bad = next(f for f in first["files"] if f["file"] == "incidents-broken.csv")
    assert bad["status"] == "quarantined" and bad["reason"] == "every row was rejected"
    reason = (drop / "quarantine" / "incidents-broken.csv.reason.txt").read_text()
    assert "file: incidents-broken.csv" in reason and "table: incidents" in reason
    assert "row 1: field occurred_from:" in reason, reason
    assert (drop / "quarantine" / "incidents-broken.csv").exists()


def test_update_runs_every_stage_and_persons_and_series_grow_under_their_ids(month_arrives):
    report = month_arrives["first"]["update"]
    assert report["ran"] == list(pipeline.STAGE_NAMES)
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["resolve"]["reasons"] == ["new files in person_records (1)"]
    assert "resolve runs first" in stages["linkage"]["reasons"]
    for stage in ("resolve", "linkage"):
        events = stages[stage]["lineage"]
        grew = [e for e in events if e["event"] == "grew"]
        assert grew, (stage, events[:5])
        assert all(e["members"] > e["previous_members"] for e in grew)
    # a person who grew kept the id the store gave them before the month arrived
    with opened(month_arrives["root"]) as store:
        after = dict(store.rows("SELECT agency || '/' || record_id, person_id FROM person_identities"))
    grown_ids = {e["id"] for e in stages["resolve"]["lineage"] if e["event"] == "grew"}
    before = month_arrives["persons_before"]
    assert all(after[k] == i for k, i in before.items() if i in grown_ids)


def test_resolve_scores_only_the_new_records_with_the_last_model(month_arrives):
    """The month's person records are compared with the stored ones by the last run's Splink model (no
    retraining): each gets a person, the persons before keep their records, and no new model was saved."""
    resolve = next(s for s in month_arrives["first"]["update"]["stages"] if s["stage"] == "resolve")
    summary = resolve["summary"]
    assert summary["incremental"] is True, summary
    month = pd.read_csv(
        month_arrives["drop"] / "done" / f"person_records-{month_arrives['month']}.csv", dtype=str
    )
    assert summary["new_records"] == len(month) and summary["new_pairs"] > 0
    with opened(month_arrives["root"]) as store:
        persons = dict(store.rows("SELECT agency || '/' || record_id, person_id FROM person_identities"))
        models = store.scalar("SELECT count(*) FROM resolve_models")
    assert set(month["agency"] + "/" + month["record_id"]) <= set(persons)
    assert models == 1
    grown = [e for e in resolve["lineage"] if e["event"] == "grew"]
    assert grown  # some new records joined a stored person under its id


def test_linkage_links_only_the_new_incidents_into_its_last_run(month_arrives):
    """The month's incidents are scored against their blocking candidates with the last run's model: every
    link the update added touches a new incident, and no earlier link was dropped or re-scored away."""
    linkage = next(s for s in month_arrives["first"]["update"]["stages"] if s["stage"] == "linkage")
    summary = linkage["summary"]
    assert summary["incremental"] is True, summary
    month = pd.read_csv(month_arrives["drop"] / "done" / f"incidents-{month_arrives['month']}.csv", dtype=str)
    new = set(month["agency"] + "/" + month["incident_id"])
    assert summary["new_incidents"] == len(new)
    with opened(month_arrives["root"]) as store:
        after = link_pairs(store)
        in_series = {k for (k,) in store.rows("SELECT agency || '/' || incident_id FROM series")}
    added = after - month_arrives["links_before"]
    assert month_arrives["links_before"] <= after
    assert added and len(added) == summary["new_links"]
    assert all(a in new or b in new for a, b in added)
    assert new & in_series  # some of the month's incidents joined or founded series


def test_new_alerts_are_reported_with_title_and_evidence(month_arrives):
    alerts = month_arrives["first"]["update"]["new_alerts"]
    assert alerts
    assert all(a["title"] and a["evidence"] and a["alert_id"] for a in alerts)
    month = month_arrives["month"]
    assert any(a["onset"] and a["onset"].startswith(month) for a in alerts), [a["onset"] for a in alerts][:10]


def test_a_second_watch_and_update_do_nothing(month_arrives):
    again = watch_once(month_arrives["root"] / "store.duckdb", month_arrives["drop"])
    assert again == {"files": [], "update": None}
    with opened(month_arrives["root"]) as store:
        assert update.stale_stages(store) == {}
    env = {**os.environ, "CASEGRAPH_STORE": str(month_arrives["root"] / "store.duckdb")}
    said = subprocess.run(
        [sys.executable, "-m", "casegraph", "update"], capture_output=True, text=True, env=env, timeout=300
    )
    assert said.returncode == 0, said.stderr
    assert said.stdout.strip() == "update: nothing changed since the last runs; no stage ran"


def test_ingest_update_runs_only_the_stages_that_read_the_new_file(month_arrives, tmp_path):
    month = month_arrives["month"]
    late = pd.read_csv(month_arrives["drop"] / "done" / f"incidents-{month}.csv", dtype=str).head(1)
    late["incident_id"] = "I9999999"
    late.to_csv(tmp_path / "late.csv", index=False)
    env = {**os.environ, "CASEGRAPH_STORE": str(month_arrives["root"] / "store.duckdb")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "casegraph",
            "--json",
            "ingest",
            "incidents",
            str(tmp_path / "late.csv"),
            "--update",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout)
    assert d["import"]["loaded"] == 1
    assert d["update"]["ran"] == ["linkage", "network", "trends"]  # no person record came: resolve stays


def check_full(store: Path) -> tuple[int, dict]:
    env = {**os.environ, "CASEGRAPH_STORE": str(store), "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "casegraph", "check", "--full", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_check_full_finds_the_updated_store_equal_to_a_whole_rerun(month_arrives):
    code, report = check_full(month_arrives["root"] / "store.duckdb")
    measures = {m["name"]: m for m in report["measures"]}
    assert code == 0 and report["ok"], measures
    assert measures["persons"]["value"] >= 0.99 and measures["links"]["value"] >= 0.99
    assert measures["alerts"]["n_store"] == measures["alerts"]["n_rerun"] > 0
    assert measures["significant group ties"]["n_store"] >= 1


def test_check_full_fails_on_a_planted_difference(month_arrives, tmp_path):
    """A copy of the updated store with one alert gone and a tenth of its links dropped: check --full names
    the alert, measures the links below the tolerance and exits 1."""
    for f in month_arrives["root"].glob("store.duckdb*"):
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    with opened(tmp_path) as store:
        gone = store.scalar("SELECT min(alert_id) FROM alerts")
        store.execute("DELETE FROM alerts WHERE alert_id = ?", [gone])
        store.execute("DELETE FROM incident_links WHERE hash(link_id) % 10 = 0")
    code, report = check_full(tmp_path / "store.duckdb")
    measures = {m["name"]: m for m in report["measures"]}
    assert code == 1 and not report["ok"]
    assert measures["alerts"]["only_rerun"] == [gone] and not measures["alerts"]["ok"]
    assert measures["links"]["value"] < 0.99 and measures["links"]["n_only_rerun"] > 0
    assert measures["persons"]["ok"]
