"""Person and series ids survive re-runs (issue 19, stable ids): a re-run on the same records renames nothing and
records no event; when records arrive, the persons and series they join keep their ids and say they grew."""

from __future__ import annotations

import pandas as pd
import pytest

from casegraph import linkage, resolve


def held_back(store, table: str, key: str) -> None:
    """Take one row in ten out of `table` (kept aside in held_<table>), as if they had not arrived yet."""
    store.execute(f"CREATE TABLE held_{table} AS SELECT * FROM {table} WHERE hash({key}) % 10 = 0")
    store.execute(f"DELETE FROM {table} WHERE hash({key}) % 10 = 0")


def arrive(store, table: str) -> None:
    store.execute(f"INSERT INTO {table} SELECT * FROM held_{table}")


def members(store, sql: str) -> dict[str, frozenset[str]]:
    frame = store.df(sql)
    return {i: frozenset(g["key"]) for i, g in frame.groupby("id")}


def lineage(store, run_id: str) -> pd.DataFrame:
    return store.df("SELECT * FROM id_lineage WHERE run_id = ?", [run_id])


PERSONS = "SELECT person_id AS id, agency || '/' || record_id AS key FROM person_identities"
SERIES = "SELECT series_id AS id, agency || '/' || incident_id AS key FROM series"


def kept_their_ids(before: dict[str, frozenset[str]], after: dict[str, frozenset[str]]) -> float:
    """Of the clusters that only grew (all their members together after, with no other cluster's members), the
    share that kept their id (a merge keeps one id of several: its lineage says so, checked apart)."""
    where = {k: i for i, keys in after.items() for k in keys}
    old = {k: i for i, keys in before.items() for k in keys}
    grew = [
        i
        for i, keys in before.items()
        if len({where.get(k) for k in keys}) == 1
        and next(iter(keys)) in where
        and {old.get(k, i) for k in after[where[next(iter(keys))]]} == {i}
    ]
    assert grew
    return sum(where[next(iter(before[i]))] == i for i in grew) / len(grew)


@pytest.mark.parametrize(
    ("stage", "table", "key", "sql"),
    [
        (resolve, "person_records", "record_id", PERSONS),
        (linkage, "incidents", "incident_id", SERIES),
    ],
    ids=["persons", "series"],
)
def test_ids_survive_new_records_and_re_runs(city_store, settings, stage, table, key, sql):
    held_back(city_store, table, key)
    first = stage.run(city_store, settings)
    before = members(city_store, sql)
    assert set(lineage(city_store, first["run_id"])["event"]) == {"founded"}

    arrive(city_store, table)
    grown = stage.run(city_store, settings)
    after = members(city_store, sql)
    assert kept_their_ids(before, after) == 1.0
    events = lineage(city_store, grown["run_id"])
    assert (events["event"] == "grew").sum() > 0, events["event"].value_counts()
    merged = events[events["event"] == "merged"]
    for row in merged.itertuples():  # each id it took members from lives on, or is retired pointing here
        for source in row.from_ids:
            gone = events[(events["id"] == source) & (events["event"] == "retired")]
            assert source in after or row.id in list(gone["from_ids"].iloc[0]), (row.id, source)

    again = stage.run(city_store, settings)
    assert members(city_store, sql) == after
    assert lineage(city_store, again["run_id"]).empty


def test_the_workspace_follows_a_merged_person_id(city_store, settings):
    """A person id written down before a merge opens the person its records joined, saying so."""
    from casegraph.api.reads.people import person
    from casegraph.safeguards import owner_session

    resolve.run(city_store, settings)
    first, second = (
        r[0] for r in city_store.rows("SELECT DISTINCT person_id FROM person_identities ORDER BY 1 LIMIT 2")
    )
    record = "SELECT agency, record_id FROM person_identities WHERE person_id = ? LIMIT 1"
    a, b = city_store.rows(record, [first])[0], city_store.rows(record, [second])[0]
    resolve.decide(city_store, a, b, "accept", user="analyst", note="same fingerprints")
    resolve.run(city_store, settings)
    now = {r[0] for r in city_store.rows("SELECT DISTINCT person_id FROM person_identities")}
    (gone,) = {first, second} - now
    g = owner_session(city_store, settings, purpose="test: lineage", origin="test")
    shown = person(g, gone)
    assert shown["formerly"] == gone and shown["person_id"] in {first, second} & now
    assert {(r["agency"], r["record_id"]) for r in shown["records"]} >= {tuple(a), tuple(b)}
