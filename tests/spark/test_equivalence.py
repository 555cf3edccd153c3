"""Spark and DuckDB give the same answers on the same city: persons, Knox counts, group activity, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from casegraph import linkage, network, resolve, trends
from casegraph.errors import EngineError
from casegraph.store import tables


def test_resolve_finds_the_same_persons(pair: Any) -> None:
    assert pair.summaries["resolve_spark"]["engine"] == "spark"
    assert pair.summaries["resolve_duckdb"]["engine"] == "duckdb"
    d, s = resolve.identities(pair.duckdb), resolve.identities(pair.spark)
    both = d.merge(s, on=["agency", "record_id"], suffixes=("_d", "_s"))
    assert len(both) == len(d) == len(s) > 1000
    assert adjusted_rand_score(both["person_id_d"], both["person_id_s"]) >= 0.99


def test_knox_counts_are_the_same_on_both_engines_and_as_the_numpy_table(pair: Any) -> None:
    cfg = pair.settings["duckdb"].trends
    d, s = trends.knox_counts(pair.duckdb, cfg), trends.knox_counts(pair.spark, cfg)
    assert len(d) > 10
    pd.testing.assert_frame_equal(d, s, check_dtype=False)
    # and the near-repeat tables each engine's trends run wrote hold those counts
    for store in (pair.duckdb, pair.spark):
        written = store.df("SELECT offence, space_band, time_band, nst FROM near_repeat")
        assert not written.empty
        assert int(written["nst"].sum()) == int(d[d["offence"].isin(written["offence"])]["pairs"].sum())


def _sorted(store: Any, table: str, columns: list[str]) -> pd.DataFrame:
    frame = store.df(f"SELECT {', '.join(columns)} FROM {table}")
    return frame.sort_values(columns).reset_index(drop=True)


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("group_incidents", ["group_id", "agency", "incident_id", "via", "occurred_on"]),
        ("group_activity", ["group_id", "period_kind", "period_start", "area", "incidents"]),
        ("alerts", ["alert_id", "kind", "subject", "onset", "severity"]),
    ],
)
def test_trends_writes_the_same_rows(pair: Any, table: str, columns: list[str]) -> None:
    d, s = _sorted(pair.duckdb, table, columns), _sorted(pair.spark, table, columns)
    assert len(d) > 0
    pd.testing.assert_frame_equal(d, s, check_dtype=False)


def test_spread_alerts_are_the_same(pair: Any) -> None:
    d, s = pair.summaries["trends_duckdb"]["spreads"], pair.summaries["trends_spark"]["spreads"]
    assert d == s


def test_duckdb_reads_the_spark_tables(pair: Any) -> None:
    folder = tables.folder(pair.spark.root, "person_identities")
    read = duckdb.sql(f"SELECT count(*), count(DISTINCT person_id) FROM read_parquet('{folder}/*.parquet')")
    n, persons = read.fetchall()[0]
    assert n == pair.spark.count("person_identities")
    assert persons == pair.summaries["resolve_spark"]["n_persons"]


def test_network_finds_the_same_significant_group_ties(pair: Any) -> None:
    columns = ["pair", "person_ties", "persons_a", "persons_b", "joint_events", "significant", "first_at"]
    d, s = _sorted(pair.duckdb, "group_ties", columns), _sorted(pair.spark, "group_ties", columns)
    assert d["significant"].any()  # the city plants a tie between two groups
    pd.testing.assert_frame_equal(d, s, check_dtype=False)
    dp, sp = (_sorted(store, "group_ties", ["pair", "p_value"]) for store in (pair.duckdb, pair.spark))
    np.testing.assert_allclose(dp["p_value"], sp["p_value"], rtol=1e-9)
    assert (
        pair.summaries["network_spark"]["significant_group_ties"]
        == pair.summaries["network_duckdb"]["significant_group_ties"]
    )


def test_the_graph_on_the_driver_is_bounded(pair: Any) -> None:
    settings = pair.settings["spark"].model_copy(deep=True)
    settings.engine.driver_graph_max_edges = 10
    with pytest.raises(EngineError, match="run on the Spark driver, which takes at most"):
        network.run(pair.spark, settings)


def test_linkage_does_not_run_on_spark_and_says_so(pair: Any) -> None:
    with pytest.raises(EngineError, match="linkage does not run on the spark engine yet"):
        linkage.run(pair.spark, pair.settings["spark"])


def test_changes_are_copy_on_write_and_typed(pair: Any) -> None:
    store = pair.spark
    before = store.count("runs")
    run_id = store.new_run("probe", {"k": 1})
    store.finish_run(run_id, "ok", {"n": 3})
    assert store.rows("SELECT status, summary_json FROM runs WHERE run_id = ?", [run_id]) == [
        ("ok", '{"n": 3}')
    ]
    store.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
    assert store.count("runs") == before
    # a timestamp without a zone comes back as written, whatever the machine's zone
    started = store.scalar("SELECT started_at FROM runs WHERE stage = 'resolve' LIMIT 1")
    assert isinstance(started, datetime) and started.tzinfo is None
