"""Stage linkage on the synthetic city (3,000 incidents, seed 7): declared tables only, explained links,
series and similar incidents against the city's ground truth, protected fields without effect, evaluation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix

from casegraph import linkage
from casegraph.linkage.attribute import attribute
from casegraph.linkage.datasets import convert_crime_series, read_truth
from casegraph.linkage.heldout import evaluate
from casegraph.linkage.metrics import clustering_scores
from casegraph.linkage.query import similar
from casegraph.schema import model
from casegraph.settings import load_settings
from casegraph.store import open_store
from tests.conftest import changed_tables, shared_data, table_counts


def resolved_identities(store, city_dir: Path) -> None:
    """person_identities as a perfect resolve stage would write them (from the city's person truth)."""
    truth = pd.read_csv(city_dir / "person_truth.csv", dtype=str)
    records = store.df("SELECT agency, record_id FROM person_records")
    rows = records.merge(truth, on="record_id").assign(cluster_size=1, run_id="resolve-truth")
    store.write("person_identities", rows)


@pytest.fixture(scope="module")
def linked(city_store_file: Path, city_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The city after one `link` run (offenders resolved to persons), with the table counts from before it."""
    settings = load_settings()
    settings.store.path = str(tmp_path_factory.mktemp("linked") / "city.duckdb")
    shutil.copy(city_store_file, settings.store.path)
    store = open_store(settings)
    resolved_identities(store, city_dir)
    before = table_counts(store)
    summary = linkage.run(store, settings)
    yield store, settings, summary, before
    store.close()


@pytest.fixture(scope="module")
def truth(city_dir: Path) -> pd.DataFrame:
    return pd.read_csv(city_dir / "incident_truth.csv", dtype=str)


def test_run_writes_only_its_declared_tables(linked):
    store, _, summary, before = linked
    changed = changed_tables(store, before)
    assert changed <= set(linkage.WRITES) | {"runs"}
    assert {"incident_links", "series", "linkage_models", "linkage_index"} <= changed
    assert summary["n_links"] == store.count("incident_links")
    assert store.count("linkage_index") == summary["n_incidents"] == 3000
    assert store.scalar("SELECT count(*) FROM linkage_models WHERE selected") == 1


def test_every_link_is_explained_by_non_protected_features(linked):
    store, *_ = linked
    links = store.df("SELECT probability, log_odds, base, contributions, features FROM incident_links")
    protected = {name for _, name in model.protected_fields()}
    for row in links.sample(200, random_state=0).itertuples():
        contributions, values = json.loads(row.contributions), json.loads(row.features)
        assert not (set(contributions) | set(values)) & protected
        # contributions are rounded to 0.01 and those under 0.005 left out
        assert row.base + sum(contributions.values()) == pytest.approx(
            row.log_odds, abs=0.01 * len(values) + 0.05
        )
    assert (links["probability"] >= load_settings().linkage.link_threshold).all()


def test_series_match_the_planted_series(linked, truth):
    store, *_ = linked
    ids = store.df("SELECT incident_id FROM linkage_index ORDER BY row_no")["incident_id"]
    position = pd.Series(np.arange(len(ids)), index=ids)
    series = store.df("SELECT incident_id, series_id FROM series")
    predicted = np.arange(len(ids)) + len(ids)  # incidents in no series stand alone
    predicted[position[series["incident_id"]].to_numpy()] = pd.factorize(series["series_id"])[0]
    key = truth["series_id"].fillna("single:" + truth["incident_id"])
    planted = csr_matrix(
        (np.ones(len(truth)), (position[truth["incident_id"]].to_numpy(), pd.factorize(key)[0]))
    )
    scores = clustering_scores(np.unique(predicted, return_inverse=True)[1], planted)
    assert scores["bcubed_precision"] > 0.75
    assert scores["bcubed_f1"] > 0.7


def test_without_resolved_identities_linkage_still_runs(city_store, settings):
    """No person_identities: each offender record stands for itself; fewer labels, but every link explained."""
    summary = linkage.run(city_store, settings)
    assert summary["training"]["linked"] > 50 and summary["n_links"] > 0


def test_similar_ranks_series_members_first(linked, truth):
    store, *_ = linked
    members = truth.dropna(subset=["series_id"]).drop_duplicates("incident_id")
    seeds = members.groupby("series_id")["incident_id"].min().sample(30, random_state=1)
    hits = 0
    for series_id, seed in seeds.items():
        result = similar(store, seed, top=10)
        found = {r["incident_id"] for r in result["results"]}
        hits += bool(found & set(members.loc[members["series_id"] == series_id, "incident_id"]) - {seed})
        probabilities = [r["probability"] for r in result["results"]]
        assert probabilities == sorted(probabilities, reverse=True)
    assert hits / len(seeds) > 0.7


def test_similar_explains_with_both_incidents_values(linked):
    store, *_ = linked
    seed = store.scalar("SELECT incident_a FROM incident_links ORDER BY probability DESC LIMIT 1")
    best = similar(store, seed, top=1)["results"][0]
    stored = store.scalar(
        "SELECT probability FROM incident_links WHERE (incident_a = ? AND incident_b = ?) "
        "OR (incident_a = ? AND incident_b = ?)",
        [seed, best["incident_id"], best["incident_id"], seed],
    )
    assert best["probability"] == pytest.approx(stored, abs=1e-4)  # `similar` scores as `link` stored
    top = best["contributions"][0]
    assert set(top) >= {"feature", "contribution", "value", "seed", "other"}


def test_attribute_names_the_known_offender_of_a_linked_solved_incident(linked):
    store, settings, *_ = linked
    # an incident linked to an incident with an arrest: the arrested record must be among the offenders
    row = store.rows(
        "SELECT l.incident_a, r.agency || ':' || r.record_id FROM incident_links l JOIN arrests r "
        "ON r.incident_id = l.incident_b WHERE l.probability > 0.5 ORDER BY l.probability DESC LIMIT 1"
    )[0]
    result = attribute(store, row[0], settings.linkage)
    assert row[1] in {record for o in result["offenders"] for record in o["records"]}
    assert all(o["evidence"] for o in result["offenders"])


def test_protected_field_changes_no_probability(city_store, settings):
    """Fill the protected suspect_race with values correlated with the planted offenders: nothing changes."""
    first = linkage.run(city_store, settings)
    before = city_store.df(
        "SELECT incident_a, incident_b, probability, contributions FROM incident_links "
        "ORDER BY incident_a, incident_b"
    )
    city_store.execute(
        "UPDATE incidents SET suspect_race = CASE WHEN hash(incident_id) % 2 = 0 THEN 'a' ELSE 'b' END"
    )
    second = linkage.run(city_store, settings)
    after = city_store.df(
        "SELECT incident_a, incident_b, probability, contributions FROM incident_links "
        "ORDER BY incident_a, incident_b"
    )
    pd.testing.assert_frame_equal(before, after)
    assert first["run_id"] != second["run_id"]
    for table in (
        "incident_links",
        "series",
        "linkage_models",
        "linkage_index",
    ):  # a re-run replaces the last
        assert city_store.rows(f"SELECT DISTINCT run_id FROM {table}") == [(second["run_id"],)]


def test_eval_on_the_city_meets_the_targets(city_store_file, city_dir, settings):
    shutil.copy(city_store_file, settings.store.path)  # any store with the city's incidents
    store = open_store(settings)
    result = evaluate(store, settings, read_truth(city_dir, n_splits=1))
    store.close()
    assert result["linked_by"] == "series_id"
    assert result["auc"] > 0.95
    assert result["top10_any"] > 0.8
    assert result["n_incidents"] == 3000 and result["n_series"] > 20


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize(("name", "peer_auc"), [("porter", 0.887), ("israel", 0.947)])
def test_eval_on_real_series_beats_the_peer_baseline(name, peer_auc, tmp_path, settings):
    folders = dict(
        zip(
            ("porter", "israel"),
            convert_crime_series(shared_data("crime_series"), tmp_path / "cs"),
            strict=True,
        )
    )
    from casegraph import ingest

    store = open_store(settings)
    mapping = folders[name] / "mapping.yaml"
    ingest.run(
        store,
        settings,
        folders[name] / "incidents.csv",
        table="incidents",
        mapping=mapping if mapping.exists() else None,
    )
    result = evaluate(store, settings, read_truth(folders[name]), all_pairs=True)
    store.close()
    assert result["auc"] >= peer_auc
    assert np.isfinite(result["bcubed_f1"])


def test_attribute_reaches_groups_through_membership_claims(linked):
    store, settings, *_ = linked
    incident, group = store.rows(
        "SELECT l.incident_a, m.group_id FROM incident_links l "
        "JOIN arrests r ON r.incident_id = l.incident_b AND r.agency = l.agency_b "
        "JOIN membership_claims m ON m.record_id = r.record_id AND m.agency = r.agency "
        "WHERE l.probability > 0.5 ORDER BY l.probability DESC LIMIT 1"
    )[0]
    groups = {g["group_id"]: g for g in attribute(store, incident, settings.linkage)["groups"]}
    assert group in groups
    assert groups[group]["claims"] and groups[group]["evidence"] and groups[group]["members"]


@pytest.fixture
def incidents_only(city_dir: Path, settings):
    """The city's incidents and nothing else: no involvements, no arrests (no solved incidents)."""
    from casegraph import ingest

    store = open_store(settings)
    ingest.run(store, settings, city_dir / "incidents.csv", table="incidents")
    yield store
    store.close()


def test_without_solved_incidents_the_shipped_model_answers_and_says_so(incidents_only, settings):
    summary = linkage.run(incidents_only, settings)
    assert summary["selected_model"] == "default" and "shipped" in summary["model"]
    assert any("no solved incidents" in note for note in summary["notes"])
    assert summary["n_links"] > 0
    seed = incidents_only.scalar("SELECT incident_a FROM incident_links ORDER BY probability DESC LIMIT 1")
    answer = similar(incidents_only, seed, top=5)
    assert answer["results"] and "shipped" in answer["model"] and answer["notes"]
    assert "shipped" in attribute(incidents_only, seed, settings.linkage)["model"]


def test_without_coordinates_linkage_compares_times_and_says_what_is_missing(incidents_only, settings):
    incidents_only.execute("UPDATE incidents SET x = NULL, y = NULL, lat = NULL, lon = NULL")
    summary = linkage.run(incidents_only, settings)
    assert "distance_m" not in summary["features"]
    assert any("no coordinates" in note for note in summary["notes"])
    seed = incidents_only.scalar("SELECT incident_id FROM incidents LIMIT 1")
    assert similar(incidents_only, seed, top=5)["candidates"] > 0


def test_decisions_override_the_score_and_become_labels(city_store, settings):
    from casegraph.linkage import decisions

    linkage.run(city_store, settings)
    strong = city_store.rows(
        "SELECT agency_a, incident_a, agency_b, incident_b FROM incident_links ORDER BY probability DESC LIMIT 1"
    )[0]
    far = city_store.rows("SELECT agency, incident_id FROM incidents ORDER BY occurred_from LIMIT 1")[0]
    last = city_store.rows("SELECT agency, incident_id FROM incidents ORDER BY occurred_from DESC LIMIT 1")[0]
    decisions.decide(city_store, strong[:2], strong[2:], "not-linked", user="ana", note="alibi")
    decisions.decide(city_store, far, last, "linked", user="ana", note="same DNA")
    summary = linkage.run(city_store, settings)
    assert summary["decisions_in_force"] == 2 and summary["training"]["analyst_decisions"] == 2
    pairs = city_store.df("SELECT incident_a, incident_b, probability, decision FROM incident_links")
    by_pair = {frozenset((a, b)): (p, d) for a, b, p, d in pairs.itertuples(index=False)}
    assert frozenset((strong[1], strong[3])) not in by_pair
    assert by_pair[frozenset((far[1], last[1]))] == (1.0, "linked")
    offered = similar(city_store, strong[1], agency=strong[0], top=50)["results"]
    assert (strong[2], strong[3]) not in {(r["agency"], r["incident_id"]) for r in offered}
    first = similar(city_store, far[1], agency=far[0], top=5)["results"][0]  # years apart, still compared
    assert (first["incident_id"], first["probability"], first["decision"]) == (last[1], 1.0, "linked")
    assert decisions.undo(city_store, far, last, user="ana") == 1
    assert linkage.run(city_store, settings)["decisions_in_force"] == 1  # not-linked stays in force
    assert city_store.scalar("SELECT count(*) FROM incident_links WHERE decision IS NOT NULL") == 0
    kept = city_store.scalar(
        "SELECT count(*) FROM incident_links WHERE incident_a IN (?, ?) AND incident_b IN (?, ?)",
        [*strong[1::2]] * 2,
    )
    assert kept == 0
