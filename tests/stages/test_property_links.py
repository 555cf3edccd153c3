"""Stolen property as evidence on the test city: the same identifier is a hard link (score 1), a near match only
a candidate; series, attribution and `similar` use and name the items; the network finds the planted fence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from casegraph import linkage, network
from casegraph.evaluation import property as property_eval
from casegraph.linkage import attribute, item_decisions, similar
from casegraph.linkage.property import property_links
from casegraph.linkage.stage import with_hard_links
from casegraph.schema.identifiers import near_identifiers, normal_identifier
from casegraph.settings import load_settings
from casegraph.store import open_store


@pytest.fixture(scope="module")
def linked(city_store_file: Path, city_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The city after `link` and `network`, persons resolved as the truth says (so ids are truth persons)."""
    settings = load_settings()
    settings.store.path = str(tmp_path_factory.mktemp("property") / "city.duckdb")
    shutil.copy(city_store_file, settings.store.path)
    store = open_store(settings)
    truth = pd.read_csv(city_dir / "person_truth.csv", dtype=str)
    records = store.df("SELECT agency, record_id FROM person_records")
    store.write(
        "person_identities",
        records.merge(truth, on="record_id").assign(cluster_size=1, run_id="resolve-truth"),
    )
    summary = linkage.run(store, settings)
    network.run(store, settings)
    yield store, settings, summary
    store.close()


@pytest.fixture(scope="module")
def sightings(city_dir: Path) -> pd.DataFrame:
    """Truth of every sighting with the identifier the item has and the one its sighting recorded."""
    truth = pd.read_csv(city_dir / "property_truth.csv", dtype=str).fillna("")
    items = pd.read_csv(city_dir / "property_items.csv", dtype=str).fillna("")
    sales = pd.read_csv(city_dir / "pawn_transactions.csv", dtype=str).fillna("")
    found = pd.read_csv(city_dir / "property_events.csv", dtype=str).fillna("")
    seen = pd.concat(
        [
            sales.rename(columns={"transaction_id": "event_id"})[["event_id", "imei", "serial"]],
            found[["event_id", "imei", "serial"]],
        ]
    )
    out = truth.merge(items[["item_id", "imei", "serial"]], on="item_id").merge(
        seen, on="event_id", suffixes=("", "_seen")
    )
    out["mistyped"] = (out.imei != out.imei_seen) | (out.serial != out.serial_seen)
    return out


def test_item_links_are_exact_and_near_matches_only_candidates(linked):
    store, _, summary = linked
    links = store.df("SELECT * FROM property_links")
    items, near = links[links.kind == "item"], links[links.kind == "near_match"]
    assert len(items) and len(near)
    assert (items.identifier_a == items.identifier_b).all() and (items.score == 1.0).all()
    assert near.score.isna().all()
    assert all(
        near_identifiers(a, b) == m for a, b, m in near[["identifier_a", "identifier_b", "match"]].values
    )
    assert summary["property_links"]["item"] == len(items)
    assert summary["property_links"]["near_match"] == len(near)


def test_every_correct_sighting_is_linked_and_no_typo_is(linked, sightings):
    store, *_ = linked
    pairs = {
        frozenset(p)
        for p in store.rows("SELECT sighting_a, sighting_b FROM property_links WHERE kind = 'item'")
    }
    near = {
        frozenset(p)
        for p in store.rows("SELECT sighting_a, sighting_b FROM property_links WHERE kind = 'near_match'")
    }
    correct, typos = sightings[~sightings.mistyped], sightings[sightings.mistyped]
    assert all(frozenset((i, e)) in pairs for i, e in correct[["item_id", "event_id"]].values)
    assert len(typos) and not any(
        frozenset((i, e)) in pairs for i, e in typos[["item_id", "event_id"]].values
    )
    # a mistyped serial (no check digit) loads and is offered as a near match; a mistyped IMEI fails Luhn
    serials = typos[typos.serial != ""]
    assert len(serials) and all(frozenset((i, e)) in near for i, e in serials[["item_id", "event_id"]].values)


def test_serial_normal_form_matches_sql(linked):
    store, *_ = linked
    raw = " sn-ab 12/cd "
    assert store.scalar(
        "SELECT upper(regexp_replace(?, '[^0-9A-Za-z]', '', 'g'))", [raw]
    ) == normal_identifier(raw)


def test_hard_links_join_the_model_links_once_at_probability_one():
    i, j, p = with_hard_links(
        np.array([0, 2]), np.array([1, 3]), np.array([0.4, 0.9]), np.array([1, 5]), np.array([0, 6])
    )
    assert sorted(zip(i.tolist(), j.tolist(), p.tolist(), strict=True)) == [
        (0, 1, 1.0),
        (2, 3, 0.9),
        (5, 6, 1.0),
    ]


def test_attribute_names_the_seller_and_the_item(linked, sightings):
    store, settings, _ = linked
    own = sightings[~sightings.mistyped & (sightings.offender_id == sightings.holder_id)]
    row = own[own.event_id.str.startswith("T")].iloc[0]
    answer = attribute(store, row.incident_id, settings.linkage, agency=row.agency)
    seller = next(o for o in answer["offenders"] if o["offender"] == row.holder_id)
    assert seller["score"] == 1.0 and seller["items"][0]["item"] == row.item_id
    assert any(i["sighting"] == row.event_id for i in answer["items"])
    without = attribute(store, row.incident_id, settings.linkage, agency=row.agency, use_property=False)
    assert not without["items"] and all("items" not in o for o in without["offenders"])


def test_similar_says_when_an_item_links_two_incidents(linked):
    store, *_ = linked
    a, i, b, j = store.rows(
        "SELECT agency_a, incident_a, agency_b, incident_b FROM property_links WHERE kind = 'item' "
        "AND incident_a IS NOT NULL AND incident_b IS NOT NULL AND incident_a <> incident_b LIMIT 1"
    )[0]
    answer = similar(store, i, agency=a, top=50)
    assert any(s["incident_id"] == j and s["agency"] == b for s in answer["items"])
    by_item = {(s["agency"], s["incident_id"]) for s in answer["items"]}
    for r in answer["results"]:
        assert ("items" in r) == ((r["agency"], r["incident_id"]) in by_item)


def test_the_fence_is_a_key_player_and_the_eval_scores_property(linked, city_dir):
    store, settings, _ = linked
    assert store.scalar("SELECT count(*) FROM person_ties WHERE kind = 'item'") > 0
    scores = property_eval.score(store, city_dir, settings, sample=40)
    assert scores["fences"] == scores["fences_found"] == 1
    assert scores["hard_links_from_near_matches"] == 0 and scores["near_match_candidates"] > 0
    assert scores["attribution_recall_with_property"] >= scores["attribution_recall_without_property"]


def test_a_near_match_becomes_a_link_only_by_an_analysts_decision(linked):
    store, _, summary = linked
    near = item_decisions.candidates(store)
    assert near and all(c["score"] is None or pd.isna(c["score"]) for c in near)
    first = near[0]
    a = item_decisions.sighting_key(store, f"{first['agency_a']}:{first['sighting_a']}")
    b = item_decisions.sighting_key(store, f"{first['agency_b']}:{first['sighting_b']}")
    item_decisions.decide(store, b, a, "same-item", user="ana", note="shop clerk swapped two digits")
    links = property_links(store, summary["run_id"])
    row = links[(links.sighting_a == a[1]) & (links.sighting_b == b[1])].iloc[0]
    assert (row.kind, row.score, row.decision) == ("item", 1.0, "same-item")
    assert item_decisions.undo(store, a, b, user="ana") == 1
    links = property_links(store, summary["run_id"])
    row = links[(links.sighting_a == a[1]) & (links.sighting_b == b[1])].iloc[0]
    assert row.kind == "near_match" and pd.isna(row.score) and row.decision is None


def test_a_fence_is_named_as_receiver_not_taken_for_the_offender(linked, sightings, city_dir):
    store, settings, _ = linked
    fence = pd.read_csv(city_dir / "fence_truth.csv", dtype=str)["person_id"][0]
    sold = sightings[~sightings.mistyped & (sightings.holder_id == fence) & (sightings.offender_id != fence)]
    row = sold.iloc[0]
    answer = attribute(store, row.incident_id, settings.linkage, agency=row.agency)
    assert [r["person"] for r in answer["receivers"]] == [fence]
    assert answer["receivers"][0]["items"][0]["sighting"] == row.event_id
    assert fence not in [o["offender"] for o in answer["offenders"]]


def test_dealers_are_nodes_and_a_shared_fence_is_a_tie_of_its_own_kind(linked, city_dir):
    """Dealers that took in stolen items are key-player nodes; groups whose items went to the planted fence are
    tied through it in group_receiver_ties, and those ties are not counted in the group-tie test."""
    store, _, _ = linked
    fence = pd.read_csv(city_dir / "fence_truth.csv", dtype=str).iloc[0]
    dealers = store.df("SELECT * FROM key_players WHERE node = 'dealer' ORDER BY betweenness DESC")
    shops = pd.read_csv(city_dir / "pawn_transactions.csv", dtype=str)["shop_licence"].unique()
    assert len(dealers) and set(dealers["person_id"]) <= {f"dealer:{s}" for s in shops}
    assert (dealers["degree"] > 0).all() and dealers["group_id"].isna().all()
    through = store.df("SELECT * FROM group_receiver_ties WHERE receiver = ?", [fence["person_id"]])
    buys_from = sorted(fence["buys_from"].split(";"))
    expected = {f"{a}|{b}" for k, a in enumerate(buys_from) for b in buys_from[k + 1 :]}
    assert set(through["pair"]) == expected
    assert (through["receiver_kind"] == "person").all() and (
        through["receiver_group"] == fence["group_id"]
    ).all()
    assert through["evidence"].map(lambda ids: any(i.startswith("property_event:") for i in ids)).all()
    ties = store.df("SELECT * FROM group_ties")
    assert not ties["kinds"].map(lambda k: "item" in list(k)).any()
    shared = ties[ties["pair"].isin(expected)]
    assert (shared["shared_receivers"] >= 1).all()
    assert shared["explanation"].str.contains("shared receivers").all()
    a, b = buys_from[:2]
    assert fence["person_id"] in [r["receiver"] for r in network.tie(store, b, a)["receivers"]]


def test_the_cli_records_and_undoes_both_kinds_of_decision(city_store_file: Path, tmp_path: Path):
    """`link items`, `link item-decide` and `link decide` from the command line, as an analyst types them."""
    from typer.testing import CliRunner

    from casegraph.cli import app

    store = tmp_path / "city.duckdb"
    shutil.copy(city_store_file, store)
    runner = CliRunner()
    base = ["--store", str(store), "--json"]

    def run(*args: str) -> dict | list:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    run("link")
    near = run("link", "items")
    assert near, "the test city plants mistyped identifiers"
    a, b = (f"{near[0][f'agency_{s}']}:{near[0][f'sighting_{s}']}" for s in "ab")
    assert run("link", "item-decide", a, b, "same-item", "--note", "two digits swapped")["decided_by"]
    assert run("link", "item-decide", a, b, "undo") == {"undone": 1}
    settings = load_settings()
    settings.store.path = str(store)
    with open_store(settings) as opened:
        x, y = opened.rows(
            "SELECT incident_a, incident_b FROM incident_links ORDER BY probability DESC LIMIT 1"
        )[0]
    decided = run("link", "decide", x, y, "not-linked", "--note", "alibi")
    assert decided["decision"] == "not-linked" and decided["decided_by"]
    assert [d["incident_a"] for d in run("link", "decisions")] == [decided["incident_a"]]
    assert run("link", "decide", x, y, "undo") == {"undone": 1}
    assert run("link", "decisions") == []
