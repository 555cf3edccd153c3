"""`casegraph demo`: it runs twice in a row (it replaces every file of its store), and when it refuses to
replace a store, it says exactly what to do."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casegraph.cli import app
from casegraph.cli.storefiles import replace_demo_store, store_files
from casegraph.errors import CasegraphError
from casegraph.settings import load_settings
from casegraph.store import open_store

runner = CliRunner()
SMALL_CITY = ["--incidents", "1000", "--seed", "3"]


def demo(out: Path, *extra: str):
    return runner.invoke(app, [*extra, "demo", "--out", str(out), *SMALL_CITY])


def test_the_demo_runs_twice_and_ends_with_what_it_found_against_the_truth(tmp_path, monkeypatch):
    monkeypatch.delenv("CASEGRAPH_STORE", raising=False)
    out = tmp_path / "demo-out"
    first = demo(out, "--json")
    assert first.exit_code == 0, first.output
    found = json.loads(first.stdout)  # a small city: the scores themselves are checked on a larger one below
    assert list(found["vs_truth"]) == ["resolve", "linkage", "network", "trends"]
    assert {r["stage"] for r in found["table"]} == set(found["vs_truth"])
    assert (
        found["vs_truth"]["resolve"]["persons_true"] > 0 and found["vs_truth"]["network"]["planted_ties"] == 1
    )
    store = out / "casegraph.duckdb"
    # the side files a first run leaves (the audit anchor: a new store beside an old anchor refuses to open),
    # and one an earlier version's workspace left
    assert runner.invoke(app, ["--store", str(store), "status"]).exit_code == 0  # one more audited verb
    assert Path(f"{store}.audit-anchor").exists()
    Path(f"{store}.api-secret").write_text("from an earlier version")
    too_small = runner.invoke(app, ["demo", "--out", str(out), "--incidents", "100"])
    assert too_small.exit_code == 2 and "at least 500" in too_small.stderr
    assert store.exists()  # refused before the old store was removed
    second = demo(out)
    assert second.exit_code == 0, second.output
    table = second.stdout[second.stdout.index("against the city's planted truth") :]
    for words in ("persons", "recovered", "G01-G02", "spread"):
        assert words in table  # the rendered table ends the demo
    assert "next: casegraph" in second.stdout.splitlines()[-1]
    status = runner.invoke(app, ["--store", str(store), "--json", "status"])
    assert status.exit_code == 0, status.output
    assert not Path(f"{store}.api-secret").exists()  # the old store's files went with it


def assert_found_near_the_truth(scores: dict) -> None:
    """What the stages find in a small city, against its planted truth (the same scorers as `eval`)."""
    persons = scores["resolve"]
    assert abs(persons["persons_found"] - persons["persons_true"]) <= 0.03 * persons["persons_true"]
    assert scores["linkage"]["series_recovered"] >= 0.3 * scores["linkage"]["planted_series"]
    tie = scores["network"]
    assert tie["planted_ties_found"] == 1 and tie["onset_error_days"] <= 60 and tie["false_group_ties"] == 0
    spread = scores["trends"]
    assert spread["spreads_detected"] == spread["spreads"] and spread["spread_delay_days"] <= 30


def test_eval_city_prints_the_same_scores_as_the_demo_from_a_scratch_store(city_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a scratch store: nothing is written here
    result = runner.invoke(app, ["--json", "eval", "city", "--data", str(city_dir)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert set(found["stages"]) == {"resolve", "linkage", "network", "trends"}
    assert (found["engine"], found["ingest_engine"]) == ("duckdb", "duckdb")  # the engine that ran it
    assert_found_near_the_truth(found["scores"])
    assert list(tmp_path.iterdir()) == []


def test_the_demo_refuses_a_store_it_did_not_make_and_says_how_to_remove_it(tmp_path):
    settings = load_settings()
    settings.store.path = str(tmp_path / "mine.duckdb")
    open_store(settings).close()
    with pytest.raises(CasegraphError) as refused:
        replace_demo_store(settings, tmp_path / "city")
    message = str(refused.value)
    assert "not a store made by `casegraph demo`" in message
    assert f"rm -r {settings.store.path}" in message and "--out" in message
    assert Path(settings.store.path).exists()  # nothing was removed


def test_the_demo_refuses_a_store_open_in_another_process(tmp_path):
    settings = load_settings()
    settings.store.path = str(tmp_path / "demo.duckdb")
    replace_demo_store(settings, tmp_path / "city")  # marks it as the demo's
    open_store(settings).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            settings.store.path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(CasegraphError, match=r"open in another process.*stop that process"):
            replace_demo_store(settings, tmp_path / "city")
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    removed = replace_demo_store(settings, tmp_path / "city")
    assert Path(settings.store.path) in removed and not Path(settings.store.path).exists()


def test_store_files_name_the_anchor_where_the_settings_put_it(tmp_path):
    settings = load_settings()
    settings.store.path = str(tmp_path / "s.duckdb")
    settings.safeguards.audit_anchor_file = str(tmp_path / "elsewhere" / "anchor")
    names = {str(p) for p in store_files(settings)}
    assert str(tmp_path / "elsewhere" / "anchor") in names
    assert f"{settings.store.path}.api-secret" in names and f"{settings.store.path}.wal" in names


def test_eval_on_a_folder_without_truth_says_which_files_are_missing(tmp_path):
    result = runner.invoke(app, ["eval", "trends", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a synthetic city with truth: no spread_truth.csv" in result.output
