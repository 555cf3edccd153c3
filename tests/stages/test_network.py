"""Stage network on the synthetic city: declared tables only, evidence that exists and matches the truth, the
planted tie found (and nothing in a city with it removed), acknowledgements kept, the CLI verbs, real data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from casegraph import network
from casegraph.evaluation.network import planted_ties
from casegraph.evaluation.network import score as score_city
from tests.conftest import changed_tables, table_counts

runner = CliRunner()


def true_identities(store, city_dir: Path) -> None:
    """person_identities from the truth, so the test measures the network, not resolution."""
    truth = pd.read_csv(city_dir / "person_truth.csv", dtype=str)
    recs = store.df("SELECT agency, record_id FROM person_records").merge(truth, on="record_id")
    recs["cluster_size"] = recs.groupby("person_id")["record_id"].transform("size")
    store.write("person_identities", recs.assign(run_id="truth"), mode="replace")


@pytest.fixture
def ran(city_store, settings, city_dir):
    true_identities(city_store, city_dir)
    before = table_counts(city_store)
    summary = network.run(city_store, settings)
    return city_store, settings, summary, before


def test_writes_only_declared_tables(ran):
    store, _settings, summary, before = ran
    changed = changed_tables(store, before)
    assert changed <= set(network.WRITES) | {"runs"}
    assert {"person_ties", "group_ties", "group_tie_evidence", "key_players"} <= changed
    assert not [t for t in store.table_names() if t.startswith("_tmp_network")]
    assert store.scalar("SELECT count(DISTINCT run_id) FROM person_ties") == 1
    assert summary["rows"]["person_ties"] == store.count("person_ties")


def test_every_evidence_id_is_a_stored_record(ran):
    store = ran[0]
    ids = store.df("SELECT DISTINCT unnest(evidence) AS item FROM person_ties")["item"]
    kind, _, key = ids.str.partition(":").iloc[:, 0], None, ids.str.partition(":").iloc[:, 2]
    tables = {
        "incident": ("incidents", "incident_id"),
        "contact": ("contacts", "contact_id"),
        "arrest": ("arrests", "arrest_id"),
        "person_record": ("person_records", "record_id"),
    }
    for prefix, (table, column) in tables.items():
        wanted = set(key[kind == prefix])
        stored = set(store.df(f"SELECT {column} FROM {table}")[column])
        assert wanted <= stored, prefix
    assert set(kind) <= set(tables)
    # An incident or a contact is one evidence id: a tie resting on n of them lists n ids.
    ties = store.df(
        "SELECT kind, n_events, evidence_total FROM person_ties WHERE kind IN ('call', 'meeting')"
    )
    assert (ties["evidence_total"] == ties["n_events"]).all() and (ties["n_events"] > 1).any()


def test_planted_tie_found_and_its_evidence_is_true(ran, city_dir):
    store = ran[0]
    scores = score_city(store, city_dir)
    assert scores["planted_ties_found"] == 1 and scores["false_group_ties"] == 0
    truth = planted_ties(city_dir).iloc[0]
    tie = store.df("SELECT * FROM group_ties WHERE significant").iloc[0]
    # Evidence cannot precede the planted onset; detection follows the onset.
    assert truth["onset"] <= pd.Timestamp(tie["onset"]) <= pd.Timestamp(tie["detected_at"])
    # Every cross-group event names true members of the two groups (from person_truth / group_truth).
    groups = pd.read_csv(city_dir / "group_truth.csv", dtype=str).set_index("person_id")["group_id"]
    ev = store.df("SELECT * FROM group_tie_evidence WHERE pair = 'G01|G02'")
    assert len(ev) >= tie["person_ties"]
    assert (ev["person_a"].map(groups) == "G01").all() and (ev["person_b"].map(groups) == "G02").all()
    assert scores["nmi"] > 0.8  # communities against the true groups of the people in the network


def test_no_tie_in_the_city_without_the_planted_one(city_store, settings, city_dir):
    true_identities(city_store, city_dir)
    groups = pd.read_csv(city_dir / "group_truth.csv", dtype=str)
    persons = pd.read_csv(city_dir / "person_truth.csv", dtype=str).merge(groups, on="person_id")
    tied = persons[persons["group_id"].isin(["G01", "G02"])][["record_id", "group_id"]]
    with city_store.registered("_t_tied", tied):
        for table, key in (
            ("contact_participants", "contact_id"),
            ("involvements", "incident_id"),
            ("arrests", "incident_id"),
        ):
            city_store.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT x.{key} FROM {table} x JOIN _t_tied t USING (record_id)"
                f" GROUP BY x.{key} HAVING count(DISTINCT t.group_id) = 2)"
            )
    summary = network.run(city_store, settings)
    assert summary["significant_group_ties"] == 0


def test_rerun_replaces_rows_and_keeps_acknowledgements(ran):
    store, settings, summary, _ = ran
    assert summary["rows"]["alerts"] >= 1
    alert = network.alerts(store).iloc[0]
    assert alert["kind"] == "group_tie_new" and alert["subject"] == "G01|G02" and len(alert["evidence"])
    assert network.acknowledge(store, alert["alert_id"], "supervisor1", note="seen")
    rows = store.count("person_ties")
    network.run(store, settings)
    assert store.count("person_ties") == rows
    again = network.alerts(store).set_index("alert_id").loc[alert["alert_id"]]
    assert again["status"] == "acknowledged"


def test_fallback_without_identities_says_so(city_store, settings):
    summary = network.run(city_store, settings)
    assert not summary["built_from"]["person_identities"]
    assert any("one person per record" in note for note in summary["notes"])
    assert store_people_are_records(city_store)


def store_people_are_records(store) -> bool:
    ids = store.df("SELECT person_id FROM key_players")["person_id"]
    return bool(ids.str.contains(":").all())


def test_cli_verbs(ran, tmp_path, monkeypatch):
    from casegraph.cli import app

    store, settings, _, _ = ran
    store.close()
    monkeypatch.setenv("CASEGRAPH_STORE", settings.store.path)
    result = runner.invoke(app, ["--json", "network", "ties"])
    assert result.exit_code == 0, result.output
    assert [(t["group_a"], t["group_b"]) for t in json.loads(result.output)] == [("G01", "G02")]
    result = runner.invoke(app, ["--json", "network", "tie", "G02", "G01"])
    months = json.loads(result.output)["months"]
    assert sum(m["joint_events"] for m in months) > 0 and all(m["evidence"] for m in months)
    out = tmp_path / "g.csv"
    assert runner.invoke(app, ["network", "export", "--format", "i2", "-o", str(out)]).exit_code == 0
    assert out.read_text().startswith("Entity1_ID,")


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json", "i2"])
def test_every_graph_export_of_a_run_is_read_back_by_networkx_and_igraph(ran, tmp_path, monkeypatch, fmt):
    from casegraph.cli import app
    from tests.unit.test_network_export import read_back

    store, settings, summary, _ = ran
    store.close()
    monkeypatch.setenv("CASEGRAPH_STORE", settings.store.path)
    out = tmp_path / f"people.{fmt}"
    result = runner.invoke(app, ["--json", "network", "export", "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    g, h = read_back(fmt, out)
    assert g.number_of_edges() == h.ecount() == json.loads(result.stdout)["ties"] > 0
    if fmt != "i2":  # the link table lists the people on a tie only
        assert g.number_of_nodes() == h.vcount() == summary["n_nodes"]


@pytest.mark.realdata
def test_eval_on_the_ndrangheta_summits():
    from tests.conftest import shared_data

    folder = shared_data("networks", "ndrangheta_infinito")
    from casegraph.network.evaluate import evaluate_folder

    result = evaluate_folder(folder)
    assert (result["n_nodes"], result["n_groups"], result["labelled_nodes"]) == (156, 15, 118)
    # Calderoni & Piccardi: communities only partially follow the locali.
    assert 0.3 < result["nmi"] < 0.9
    # Locale M has one member: its tie to E rests on one person and must not be significant.
    em = [t for t in result["group_ties"] if (t["group_a"], t["group_b"]) == ("E", "M")]
    assert em and not em[0]["significant"]
