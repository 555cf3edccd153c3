"""Scored pairs + analyst decisions -> person_identities rows (the model never outranks an analyst)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from casegraph.errors import StageNotRun
from casegraph.lineage import LINEAGE, id_changes, lineage_rows
from casegraph.resolve import sql
from casegraph.resolve.cluster import cluster_labels, membership, person_ids
from casegraph.settings import Settings
from casegraph.store import Store

PAIR_COLUMNS = ["uid_l", "uid_r", "match_weight", "match_probability"]


def _uids(keys: pd.DataFrame) -> pd.DataFrame:
    return keys.assign(uid=np.arange(len(keys), dtype=np.int64))


def decision_uid_pairs(keys: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Decisions whose two records are both present, as (uid_l, uid_r, decision)."""
    idx = _uids(keys)
    left = idx.rename(columns={"agency": "agency_a", "record_id": "record_a", "uid": "uid_l"})
    right = idx.rename(columns={"agency": "agency_b", "record_id": "record_b", "uid": "uid_r"})
    found = decisions.merge(left, on=["agency_a", "record_a"]).merge(right, on=["agency_b", "record_b"])
    return found[["uid_l", "uid_r", "decision"]].reset_index(drop=True)


def accepted_uid_pairs(keys: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    pairs = decision_uid_pairs(keys, decisions)
    return pairs.loc[pairs["decision"] == "accept", ["uid_l", "uid_r"]].reset_index(drop=True)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    lo = np.minimum(frame["uid_l"].to_numpy(), frame["uid_r"].to_numpy())
    hi = np.maximum(frame["uid_l"].to_numpy(), frame["uid_r"].to_numpy())
    return frame.assign(uid_l=lo.astype(np.int64), uid_r=hi.astype(np.int64))


def _with_decisions(pairs: pd.DataFrame, decided: pd.DataFrame) -> pd.DataFrame:
    """Scored pairs without rejected ones, plus accepted ones at probability 1 (keeping the model's weight)."""
    pairs, decided = _ordered(pairs[PAIR_COLUMNS]), _ordered(decided)
    merged = pairs.merge(decided, on=["uid_l", "uid_r"], how="outer")
    merged = merged[merged["decision"].ne("reject")]
    accepted = merged["decision"].eq("accept")
    merged.loc[accepted, "match_probability"] = 1.0
    return merged.reset_index(drop=True)


def assign(
    store: Store,
    keys: pd.DataFrame,
    pairs: pd.DataFrame,
    decisions: pd.DataFrame,
    threshold: float,
    run_id: str,
) -> dict[str, Any]:
    """Cluster and write person_identities (replacing the previous rows). keys: agency, record_id in uid order."""
    n = len(keys)
    decided = decision_uid_pairs(keys, decisions)
    scored = _with_decisions(pairs, decided)
    links = scored[scored["match_probability"] >= threshold]
    links = links.assign(match_weight=np.where(links["decision"].eq("accept"), np.inf, links["match_weight"]))
    rejected = decided.loc[decided["decision"] == "reject", ["uid_l", "uid_r"]]
    labels = cluster_labels(n, links, list(rejected.itertuples(index=False, name=None)))
    member = membership(n, scored, labels)
    key_text = (keys["agency"] + "/" + keys["record_id"]).to_numpy()
    touched = np.zeros(n, dtype=bool)
    touched[decided[["uid_l", "uid_r"]].to_numpy().ravel()] = True
    previous = store.df(f"SELECT agency || '/' || record_id AS key, person_id AS id FROM {sql.IDENTITIES}")
    carried = person_ids(labels, key_text, previous)
    rows = pd.DataFrame(
        {
            "record_id": keys["record_id"].to_numpy(),
            "agency": keys["agency"].to_numpy(),
            "person_id": carried.ids,
            "match_weight": member["match_weight"].to_numpy(),
            "match_probability": member["match_probability"].to_numpy(),
            "cluster_size": member["cluster_size"].to_numpy(),
            "cluster_confidence": member["cluster_confidence"].to_numpy(),
            "decided": touched,
            "run_id": run_id,
        }
    )
    store.write(sql.IDENTITIES, rows, mode="replace")
    at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    store.write(LINEAGE, lineage_rows(carried.events, run_id=run_id, stage="resolve", at=at))
    sizes = member.groupby("label").size()
    return {
        "n_records": n,
        "n_persons": len(sizes),
        "n_pairs_scored": len(pairs),
        "n_links": len(links),
        "largest_person": int(sizes.max()) if n else 0,
        "decisions_applied": len(decided),
        "ids": id_changes(carried.events),
    }


def recluster(store: Store, settings: Settings) -> dict[str, Any]:
    """Re-apply the decisions to the latest run's stored pairs: no retraining, takes effect at once."""
    if not store.count(sql.IDENTITIES):
        raise StageNotRun("no resolution yet: run `casegraph resolve` first")
    run_id = store.new_run(
        "resolve", {"recluster": True, "match_threshold": settings.resolve.match_threshold}
    )
    try:
        summary = recluster_run(store, settings, run_id)
    except BaseException as exc:  # the run's writes are rolled back
        store.finish_run(run_id, "failed", {"error": str(exc)[:2000]})
        raise
    summary = {"run_id": run_id, "reclustered": True, **summary}
    store.finish_run(run_id, "ok", summary)
    return summary


def recluster_run(store: Store, settings: Settings, run_id: str) -> dict[str, Any]:
    """Persons from every stored pair and the decisions in force, for every person record, written as
    run_id's person_identities."""
    keys = store.df("SELECT agency, record_id FROM person_records ORDER BY agency, record_id")
    stored = store.df(sql.pairs_sql())
    idx = _uids(keys)
    pairs = stored.merge(
        idx.rename(columns={"agency": "agency_a", "record_id": "record_a", "uid": "uid_l"}),
        on=["agency_a", "record_a"],
    ).merge(
        idx.rename(columns={"agency": "agency_b", "record_id": "record_b", "uid": "uid_r"}),
        on=["agency_b", "record_b"],
    )
    decisions = store.df(sql.active_decisions_sql())
    return assign(store, keys, pairs, decisions, threshold=settings.resolve.match_threshold, run_id=run_id)
