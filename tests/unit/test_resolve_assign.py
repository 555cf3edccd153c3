"""Pair keys in decision order, and analyst decisions applied over model scores."""

from __future__ import annotations

import pandas as pd

from casegraph.resolve.assign import _with_decisions, decision_uid_pairs
from casegraph.resolve.stage import pairs_with_keys

KEYS = pd.DataFrame({"agency": ["b", "a", "a"], "record_id": ["1", "2", "10"]})


def test_pair_keys_put_the_lesser_key_first_whatever_the_uid_order() -> None:
    pairs = pd.DataFrame(
        {"uid_l": [0, 1], "uid_r": [1, 2], "match_weight": [3.0, 4.0], "match_probability": [0.9, 0.95]}
    )
    out = pairs_with_keys(pairs, KEYS, "run-1")
    assert out[["agency_a", "record_a", "agency_b", "record_b"]].values.tolist() == [
        ["a", "2", "b", "1"],  # ("a","2") < ("b","1")
        ["a", "10", "a", "2"],  # "10" < "2" as text, as decisions compare them
    ]
    assert out["pair_id"].tolist() == ["a/2|b/1", "a/10|a/2"] and (out["run_id"] == "run-1").all()


def test_decisions_replace_model_scores() -> None:
    decisions = pd.DataFrame(
        {
            "agency_a": ["a", "a"],
            "record_a": ["10", "2"],
            "agency_b": ["a", "b"],
            "record_b": ["2", "1"],
            "decision": ["accept", "reject"],
        }
    )
    decided = decision_uid_pairs(KEYS, decisions)
    scored = pd.DataFrame({"uid_l": [0], "uid_r": [1], "match_weight": [9.0], "match_probability": [0.99]})
    merged = _with_decisions(scored, decided)
    assert merged[["uid_l", "uid_r"]].values.tolist() == [[1, 2]]  # the rejected pair 0-1 is gone
    assert merged.loc[0, "match_probability"] == 1.0  # the accepted pair was never scored


def test_run_on_no_records_and_on_one_record(store, settings) -> None:
    from casegraph import resolve

    assert resolve.run(store, settings)["n_persons"] == 0
    now = pd.Timestamp("2026-01-01")
    store.write(
        "person_records",
        pd.DataFrame(
            [
                {
                    "record_id": "1",
                    "agency": "a",
                    "given_name": "X",
                    "source_id": "s",
                    "source_row": 1,
                    "row_hash": "h",
                    "ingested_at": now,
                }
            ]
        ),
    )
    summary = resolve.run(store, settings)
    ids = resolve.identities(store)
    assert summary["n_persons"] == 1 and ids["cluster_size"].tolist() == [1]
    assert ids["run_id"].tolist() == [summary["run_id"]]
