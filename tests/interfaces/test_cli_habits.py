"""What a command-line user expects: a verb with nothing to show says so, hot spots read the store, progress
bars leave nothing behind in a log, a missing resolution is explained as it is."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from casegraph import network
from casegraph.cli import app
from casegraph.cli.trends import points_of
from casegraph.store import open_store

runner = CliRunner()


@pytest.fixture
def no_store_env(monkeypatch):
    monkeypatch.delenv("CASEGRAPH_STORE", raising=False)


def test_rejects_says_so_when_there_are_none(settings, no_store_env):
    result = runner.invoke(app, ["--store", settings.store.path, "rejects"])
    assert result.exit_code == 0, result.output
    assert "no rejected rows" in result.stdout


def test_hotspots_read_the_stores_incidents_when_no_file_is_given(
    city_store_file, city_dir, tmp_path, no_store_env
):
    store = tmp_path / "city.duckdb"
    shutil.copy(city_store_file, store)
    args = ["--store", str(store), "--json", "trends", "hotspots", "--where", "offence=burglary"]
    mixed = runner.invoke(app, args)
    assert mixed.exit_code == 2 and "choose one agency with --where agency=NAME" in mixed.stderr
    result = runner.invoke(app, [*args, "--where", "agency=metro_pd", "--cell", "500"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    incidents = pd.read_csv(city_dir / "incidents.csv")
    mine = incidents[(incidents["agency"] == "metro_pd") & (incidents["offence"] == "burglary")]
    assert found["n"] == len(mine)
    assert sum(found["classes"].values()) == found["locations"] > 0


def test_points_from_the_store_are_one_agencys():
    frame = pd.DataFrame(
        {
            "agency": ["a", "a", "b"],
            "x": [1.0, 2.0, 3.0],
            "y": [1.0, 2.0, 3.0],
            "date": ["2024-01-01", "2024-01-02", "2024-01-03"],
        }
    )
    with pytest.raises(ValueError, match=r"incidents of a, b.*--where agency=NAME"):
        points_of(frame, ("x", "y", "date"), [], one_agency=True)
    xy, days = points_of(frame, ("x", "y", "date"), ["agency=a"], one_agency=True)
    assert xy.tolist() == [[1.0, 1.0], [2.0, 2.0]] and len(days) == 2
    assert len(points_of(frame, ("x", "y", "date"), [])[0]) == 3  # a CSV is the user's choice


def test_progress_bars_leave_no_blank_lines_when_output_is_not_a_terminal(tmp_path):
    result = runner.invoke(app, ["synth", "--incidents", "500", "--out", str(tmp_path / "city")])
    assert result.exit_code == 0, result.output
    assert "\n\n" not in result.stderr and not result.stderr.startswith("\n")


def test_the_network_says_why_it_has_no_resolved_persons(settings, city_store, tmp_path):
    other = settings.model_copy(deep=True)
    other.store.path = str(tmp_path / "empty.duckdb")
    store = open_store(other)
    empty = network.run(store, other)
    store.close()
    assert any(n.startswith("no person records are stored") for n in empty["notes"])
    unresolved = network.run(city_store, settings)
    assert any(n.startswith("resolve has not run") for n in unresolved["notes"])
    run_id = city_store.new_run("resolve", {}, "test")
    city_store.finish_run(run_id, "ok", {"n_records": 0})
    stale = network.run(city_store, settings)
    assert any("though resolve ran" in n for n in stale["notes"])


def test_synth_refuses_a_city_too_small_with_a_message(tmp_path):
    result = runner.invoke(app, ["synth", "--incidents", "300", "--out", str(tmp_path / "city")])
    assert result.exit_code == 2 and "at least 500" in result.stderr
