"""Stable cluster ids across runs: growth keeps the id, merges and splits are recorded, nothing is renamed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from casegraph.lineage import carry_ids


def named(first: pd.Series) -> pd.Series:
    return first.map(lambda k: "X" + k)


def prev(**ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame([(k, i) for i, keys in ids.items() for k in keys], columns=["key", "id"])


def events(carried) -> dict[str, tuple[str, list[str]]]:
    return {r.id: (r.event, list(r.from_ids)) for r in carried.events.itertuples()}


def test_the_first_run_founds_every_id_from_its_least_key():
    carried = carry_ids(prev(), np.array(["b", "a", "c"]), np.array([0, 0, 1]), named)
    assert carried.ids.tolist() == ["Xa", "Xa", "Xc"]
    assert events(carried) == {"Xa": ("founded", []), "Xc": ("founded", [])}


def test_a_cluster_that_grows_keeps_its_id_even_when_its_least_key_changes():
    carried = carry_ids(prev(P1=["b", "c"]), np.array(["a", "b", "c"]), np.array([7, 7, 7]), named)
    assert carried.ids.tolist() == ["P1", "P1", "P1"]
    assert events(carried) == {"P1": ("grew", [])}


def test_an_unchanged_run_records_nothing():
    carried = carry_ids(prev(P1=["a", "b"], P2=["c"]), np.array(["a", "b", "c"]), np.array([3, 3, 4]), named)
    assert carried.ids.tolist() == ["P1", "P1", "P2"]
    assert carried.events.empty


def test_a_merge_keeps_the_larger_id_and_retires_the_other_pointing_to_it():
    carried = carry_ids(prev(P1=["a", "b"], P2=["c"]), np.array(["a", "b", "c"]), np.array([0, 0, 0]), named)
    assert set(carried.ids) == {"P1"}
    assert events(carried) == {"P1": ("merged", ["P2"]), "P2": ("retired", ["P1"])}


def test_a_split_keeps_the_id_on_the_larger_part_and_names_the_other_anew():
    carried = carry_ids(prev(P1=["a", "b", "c"]), np.array(["a", "b", "c"]), np.array([0, 1, 1]), named)
    assert carried.ids.tolist() == ["Xa", "P1", "P1"]
    assert events(carried) == {"P1": ("shrank", []), "Xa": ("split", ["P1"])}


def test_a_fresh_name_never_reuses_an_id_in_use():
    # the part that leaves holds the least key, whose fresh name the kept cluster already bears
    carried = carry_ids(prev(Xa=["a", "b", "c"]), np.array(["a", "b", "c"]), np.array([0, 1, 1]), named)
    assert carried.ids.tolist() == ["Xa-1", "Xa", "Xa"]


def test_gone_members_retire_their_id():
    carried = carry_ids(prev(P1=["a"], P2=["z"]), np.array(["a"]), np.array([0]), named)
    assert carried.ids.tolist() == ["P1"]
    assert events(carried) == {"P2": ("retired", [])}
