"""Score a network run on a synthetic city against its truth files: the planted group tie (found, onset
error), significant ties that were not planted, and communities against the true groups (NMI, ARI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from casegraph.network import sql
from casegraph.network.roles import agreement
from casegraph.store.base import Store


def node_records_sql(use_identities: bool) -> str:
    """Each network person with the records behind them."""
    return f"SELECT k.person_id, r.record_id FROM key_players k JOIN ({sql.persons_sql(use_identities)}) r USING (person_id)"


def true_groups(store: Store, city: Path) -> pd.DataFrame:
    """person_id, true_group: the true group of the true person most of a network person's records belong to."""
    identities = bool(store.scalar(sql.count_sql("person_identities")))
    records = store.df(node_records_sql(identities))
    truth = pd.read_csv(city / "person_truth.csv", dtype=str)
    groups = pd.read_csv(city / "group_truth.csv", dtype=str).rename(columns={"person_id": "true_person"})
    merged = records.merge(truth.rename(columns={"person_id": "true_person"}), on="record_id", how="left")
    majority = merged.groupby("person_id")["true_person"].agg(
        lambda s: s.mode().iat[0] if s.notna().any() else None
    )
    out = majority.reset_index().merge(groups, on="true_person", how="left")
    return out.rename(columns={"group_id": "true_group"})[["person_id", "true_group"]]


def planted_ties(city: Path) -> pd.DataFrame:
    truth = pd.read_csv(city / "group_tie_truth.csv", dtype=str)
    lo = truth[["group_a", "group_b"]].min(axis=1)
    hi = truth[["group_a", "group_b"]].max(axis=1)
    return pd.DataFrame({"group_a": lo, "group_b": hi, "onset": pd.to_datetime(truth["onset"])})


def score_ties(ties: pd.DataFrame, planted: pd.DataFrame) -> dict[str, Any]:
    """Planted ties found (significant), onset error in days (the largest), significant ties not planted."""
    significant = ties[ties["significant"].astype(bool)]
    found = planted.merge(significant, on=["group_a", "group_b"], how="inner", suffixes=("_truth", ""))
    errors = [
        abs((pd.Timestamp(o) - t).days)
        for o, t in zip(found["onset"], found["onset_truth"], strict=True)
        if pd.notna(o)
    ]
    keys = set(zip(planted["group_a"], planted["group_b"], strict=True))
    false = [
        f"{a}-{b}"
        for a, b in zip(significant["group_a"], significant["group_b"], strict=True)
        if (a, b) not in keys
    ]
    return {
        "planted_ties": len(planted),
        "planted_ties_found": len(found),
        "onset_error_days": max(errors) if errors else None,
        "onsets": [
            {
                "pair": f"{r.group_a}-{r.group_b}",
                "truth": str(r.onset_truth.date()),
                "found": str(r.onset)[:10],
                "detected": str(r.detected_at)[:10],
            }
            for r in found.itertuples()
        ],
        "false_group_ties": len(false),
        "false_ties": false,
    }


def score_city(store: Store, city: str | Path) -> dict[str, Any]:
    city = Path(city)
    ties = store.df("SELECT * FROM group_ties")
    players = store.df("SELECT person_id, community FROM key_players").merge(
        true_groups(store, city), on="person_id"
    )
    fit = agreement(players["community"].to_numpy(), players["true_group"].to_numpy(object))
    return {
        "nmi": fit["nmi"],
        "ari": fit["ari"],
        "truth_compared": fit["compared"],
        **score_ties(ties, planted_ties(city)),
    }
