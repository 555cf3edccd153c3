"""Linkage against ground truth: the series a run stored against a synthetic city's planted series (how many
were recovered, B-cubed, adjusted Rand), and the held-out protocol on an evaluation folder
(`casegraph eval linkage --data DIR`: train on some series, score the others; casegraph.linkage.heldout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from casegraph import ingest
from casegraph.evaluation.scratch import import_records, scratch_store
from casegraph.evaluation.truth import truth_frame
from casegraph.linkage.datasets import read_truth
from casegraph.linkage.heldout import evaluate as held_out
from casegraph.linkage.metrics import clustering_scores
from casegraph.settings import Settings
from casegraph.store import Store

TRUTH = ("incident_truth",)
# The linkage figures `casegraph eval linkage` and bench/linkage show, in their order.
LINKAGE_METRICS = (
    "blocking_recall",
    "auc",
    "average_precision",
    "top10_any",
    "top10_all",
    "top25_any",
    "bcubed_f1",
    "adjusted_rand",
)


def score(store: Store, city: Path) -> dict[str, Any]:
    """The `series` table of a store against a city's incident_truth.csv (series_id per incident)."""
    truth = truth_frame(city, "incident_truth", ("incident_id", "series_id"))
    incidents = store.df("SELECT DISTINCT incident_id FROM incidents ORDER BY 1")["incident_id"]
    series = store.df("SELECT DISTINCT incident_id, series_id FROM series")
    return score_series(incidents, series, truth)


def score_series(incidents: pd.Series, series: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Found series (incident_id, series_id) against planted ones (incident_id, series_id; empty: none).
    A planted series counts as recovered when one found series holds at least half of its incidents and
    at least half of that found series is of it."""
    position = pd.Series(np.arange(len(incidents)), index=incidents.astype(str))
    truth = truth[truth["incident_id"].isin(position.index)]
    planted = truth.dropna(subset=["series_id"])[["incident_id", "series_id"]].drop_duplicates()
    predicted = np.arange(len(position)) + len(position)  # incidents in no found series stand alone
    found = series[series["incident_id"].isin(position.index)].drop_duplicates("incident_id")
    predicted[position[found["incident_id"]].to_numpy()] = pd.factorize(found["series_id"])[0]
    key = truth["series_id"].fillna("single:" + truth["incident_id"])
    matrix = csr_matrix(
        (np.ones(len(truth)), (position[truth["incident_id"]].to_numpy(), pd.factorize(key)[0])),
        shape=(len(position), max(1, key.nunique())),
    )
    clustering = clustering_scores(np.unique(predicted, return_inverse=True)[1], matrix)
    return {
        "planted_series": int(planted["series_id"].nunique()),
        "series_found": int(found["series_id"].nunique()),
        "series_recovered": _recovered(planted, found),
        "incidents_in_planted_series": int(planted["incident_id"].nunique()),
        "incidents_in_found_series": len(found),
        **clustering,
    }


def _recovered(planted: pd.DataFrame, found: pd.DataFrame) -> int:
    both = planted.merge(found, on="incident_id", suffixes=("_truth", ""))
    shared = both.groupby(["series_id_truth", "series_id"]).size().rename("shared").reset_index()
    shared["planted"] = shared["series_id_truth"].map(planted.groupby("series_id").size())
    shared["found"] = shared["series_id"].map(found.groupby("series_id").size())
    mutual = shared[(2 * shared["shared"] >= shared["planted"]) & (2 * shared["shared"] >= shared["found"])]
    return int(mutual["series_id_truth"].nunique())


def rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "measure": "planted series recovered",
            "found": f"{s['series_recovered']:,}",
            "truth": f"{s['planted_series']:,}",
            "quality": f"{s['series_found']:,} series found; B-cubed precision "
            f"{s['bcubed_precision']:.3f}, recall {s['bcubed_recall']:.3f}",
        }
    ]


def evaluate_folder(data: Path, settings: Settings, linked_by: str = "auto", all_pairs: bool = False) -> dict:
    """DIR/incidents.csv (with DIR/mapping.yaml if present) in a scratch store, scored by the held-out
    protocol against DIR/incident_truth.csv (and DIR/splits.csv if present)."""
    with scratch_store(settings) as (store, s, work):
        mapping = data / "mapping.yaml"
        import_records(
            store,
            s,
            work,
            lambda st, ss: ingest.run(
                st,
                ss,
                data / "incidents.csv",
                table="incidents",
                mapping=mapping if mapping.exists() else None,
                agency=None if mapping.exists() else "eval",
            ),
        )
        truth = read_truth(data, linked_by=linked_by, seed=s.linkage.random_state)
        return {**held_out(store, s, truth, all_pairs=all_pairs), "engine": store.engine}
