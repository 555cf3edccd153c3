"""Network against ground truth: on a synthetic city, the planted group tie (found, onset error), significant
ties that were not planted, and communities against the true groups (NMI, ARI); on a folder of network files
(`casegraph eval network --data DIR`), communities against the recorded groups, group ties and key players."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from casegraph.evaluation.truth import truth_frame
from casegraph.network import sql
from casegraph.network.evaluate import evaluate_folder as analyse_folder
from casegraph.network.roles import agreement
from casegraph.network.stage import role_params, tie_params
from casegraph.settings import Settings
from casegraph.store import Store

TRUTH = ("person_truth", "group_truth", "group_tie_truth")


def node_records_sql(use_identities: bool) -> str:
    """Each network person with the records behind them."""
    return f"SELECT k.person_id, r.record_id FROM key_players k JOIN ({sql.persons_sql(use_identities)}) r USING (person_id)"


def true_groups(store: Store, city: Path) -> pd.DataFrame:
    """person_id, true_group: the true group of the true person most of a network person's records belong to."""
    identities = bool(store.scalar(sql.count_sql("person_identities")))
    records = store.df(node_records_sql(identities))
    truth = truth_frame(city, "person_truth", ("record_id", "person_id"))
    groups = truth_frame(city, "group_truth", ("person_id", "group_id"))
    groups = groups.rename(columns={"person_id": "true_person"})
    merged = records.merge(truth.rename(columns={"person_id": "true_person"}), on="record_id", how="left")
    majority = merged.groupby("person_id")["true_person"].agg(
        lambda s: s.mode().iat[0] if s.notna().any() else None
    )
    out = majority.reset_index().merge(groups, on="true_person", how="left")
    return out.rename(columns={"group_id": "true_group"})[["person_id", "true_group"]]


def planted_ties(city: Path) -> pd.DataFrame:
    truth = truth_frame(city, "group_tie_truth", ("group_a", "group_b", "onset"))
    lo = truth[["group_a", "group_b"]].min(axis=1)
    hi = truth[["group_a", "group_b"]].max(axis=1)
    return pd.DataFrame({"group_a": lo, "group_b": hi, "onset": pd.to_datetime(truth["onset"])})


def score_ties(ties: pd.DataFrame, planted: pd.DataFrame) -> dict[str, Any]:
    """Planted ties found (significant), onset error in days (the largest), significant ties not planted;
    `onsets`: each planted tie with its true onset and, when found, the onset found and the day it was detected."""
    significant = ties[ties["significant"].astype(bool)]
    found = planted.merge(significant, on=["group_a", "group_b"], how="left", suffixes=("_truth", ""))
    onsets = [_onset(r) for r in found.itertuples()]
    errors = [o["onset_error_days"] for o in onsets if o["onset_error_days"] is not None]
    keys = set(zip(planted["group_a"], planted["group_b"], strict=True))
    false = [
        f"{a}-{b}"
        for a, b in zip(significant["group_a"], significant["group_b"], strict=True)
        if (a, b) not in keys
    ]
    return {
        "planted_ties": len(planted),
        "planted_ties_found": sum(o["found"] is not None for o in onsets),
        "onset_error_days": max(errors) if errors else None,
        "onsets": onsets,
        "false_group_ties": len(false),
        "false_ties": false,
    }


def _onset(r: Any) -> dict[str, Any]:
    """One planted tie (a row of planted left-joined with the significant ties)."""
    was_found = pd.notna(r.significant)
    onset = pd.Timestamp(r.onset) if was_found and pd.notna(r.onset) else None
    return {
        "pair": f"{r.group_a}-{r.group_b}",
        "truth": str(r.onset_truth.date()),
        "found": str(onset.date()) if onset is not None else ("no onset" if was_found else None),
        "detected": str(r.detected_at)[:10] if was_found else None,
        "onset_error_days": abs((onset - r.onset_truth).days) if onset is not None else None,
    }


def score(store: Store, city: Path) -> dict[str, Any]:
    """group_ties and key_players of a store against a city's planted tie and true groups."""
    ties = store.df("SELECT * FROM group_ties")
    players = store.df("SELECT person_id, community FROM key_players").merge(
        true_groups(store, city), on="person_id"
    )
    fit = agreement(players["community"].to_numpy(), players["true_group"].to_numpy(object))
    return {
        "nmi": fit["nmi"],
        "ari": fit["ari"],
        "truth_compared": fit["compared"],
        "true_groups": int(players["true_group"].nunique()),
        **score_ties(ties, planted_ties(city)),
    }


def rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    out = [
        {
            "measure": f"planted tie {o['pair']}",
            "found": f"found, onset {o['found']}" if o["found"] else "not found",
            "truth": f"onset {o['truth']}",
            "quality": f"onset error {o['onset_error_days']} days; detected {o['detected']}"
            if o["found"]
            else "",
        }
        for o in s["onsets"]
    ]
    out.append(
        {
            "measure": "significant group ties",
            "found": str(s["planted_ties_found"] + s["false_group_ties"]),
            "truth": str(s["planted_ties"]),
            "quality": f"not planted: {', '.join(s['false_ties']) or 'none'}",
        }
    )
    out.append(
        {
            "measure": "groups as communities",
            "found": f"NMI {s['nmi']:.3f}",
            "truth": f"{s['true_groups']} groups",
            "quality": f"ARI {s['ari']:.3f} over {s['truth_compared']} persons of a true group",
        }
    )
    return out


def evaluate_folder(data: Path, settings: Settings, group_column: str | None = None) -> dict[str, Any]:
    """A folder of network files (nodes.csv and edges.csv or affiliation.csv), analysed as the stage would with
    these settings, without a store."""
    return analyse_folder(
        data,
        group_column,
        tie_params=tie_params(settings.network),
        role_params=role_params(settings.network),
        gap_days=settings.network.onset_gap_days,
    )
