"""The held-out protocol behind `casegraph eval linkage` (casegraph.evaluation.linkage runs it on a folder):
train on the training series, score the held-out ones, measure.

The incidents are encoded once; for each split (train / test by co-offending component, so no series is
on both sides) the blocking runs over the whole store as `link` would (its scales learned from the training
labels only), the pair model is trained from truth labels on training incidents only and then scores every
candidate pair among the test incidents. Metrics cover all pairs of test incidents (metrics.py): a pair the
blocking dropped counts as unlinked (score 0), so the figures are those of the default pipeline, and the
blocking recall is reported with them. `--all-pairs` (a diagnostic) compares every pair instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix

from casegraph.linkage import default
from casegraph.linkage.blocking import Candidates
from casegraph.linkage.index import INDEX, IncidentIndex, RunContext
from casegraph.linkage.metrics import clustering_scores, pairwise_scores, top_k_recall
from casegraph.linkage.model import LinkModel
from casegraph.linkage.score import Scored, score_candidates
from casegraph.linkage.series import cluster_links
from casegraph.linkage.stage import ENGINES, blocked, blocking_summary, encode_incidents, scales_of
from casegraph.linkage.training import fit_models, training_set
from casegraph.settings import LinkageSettings, Settings
from casegraph.store import Store, quote, require_engine

HEADLINE = (
    "auc",
    "average_precision",
    "top10_any",
    "top10_all",
    "top25_any",
    "top25_all",
    "bcubed_f1",
    "adjusted_rand",
    "blocking_recall",
)


@dataclass
class Truth:
    """Ground truth: incident id -> key (offender or series); splits: incident id -> 'train' / 'test' per seed."""

    keys: pd.DataFrame  # incident_id, key
    splits: pd.DataFrame  # incident_id, one column per split seed
    linked_by: str


def evaluate(store: Store, settings: Settings, truth: Truth, *, all_pairs: bool = False) -> dict[str, Any]:
    """Mean metrics over the split seeds, with each split's own numbers under `splits`."""
    require_engine(store, "linkage", ENGINES)
    started = time.perf_counter()
    s = settings.linkage.model_copy(update={"all_pairs_up_to": 2**62}) if all_pairs else settings.linkage
    run_id = store.new_run("linkage_eval", s.model_dump())
    try:
        index, _, comparisons = encode_incidents(store, run_id, s)
        rows = _row_keys(index, truth.keys)
        results = [
            _split(store, run_id, (index, comparisons, s), rows, truth.splits, seed)
            for seed in truth.splits.columns
            if seed != "incident_id"
        ]
    except BaseException as exc:  # a run that stops for any reason is rolled back
        store.finish_run(run_id, "failed", {"error": str(exc)})
        raise
    finally:
        store.execute(f"DELETE FROM {quote(INDEX)} WHERE run_id = ?", [run_id])  # evaluation leaves no index
    summary = {k: float(np.nanmean([r[k] for r in results])) for k in HEADLINE}
    store.finish_run(run_id, "ok", summary)
    return {
        **summary,
        "seconds": round(time.perf_counter() - started, 3),
        "n_incidents": len(index),
        "n_series": round(float(np.mean([r["n_series"] for r in results]))),
        "linked_by": truth.linked_by,
        "blocking": results[0]["blocking"] if results else {},
        "selected_models": [r["selected_model"] for r in results],
        "splits": results,
    }


def _row_keys(index: IncidentIndex, keys: pd.DataFrame) -> pd.DataFrame:
    rows = pd.DataFrame({"incident_id": index.incident_id.astype(str), "row_no": np.arange(len(index))})
    return rows.merge(keys.astype({"incident_id": str}), on="incident_id")[["row_no", "key", "incident_id"]]


def _truth_matrix(keys: pd.DataFrame, rows: np.ndarray) -> csr_matrix:
    """Incidence of the given rows (in that order) against their truth keys."""
    position = pd.Series(np.arange(len(rows)), index=rows)
    part = keys[keys["row_no"].isin(rows)]
    codes, _ = pd.factorize(part["key"])
    shape = (len(rows), max(1, codes.max() + 1 if len(codes) else 1))
    return coo_matrix((np.ones(len(part)), (position[part["row_no"]].to_numpy(), codes)), shape=shape).tocsr()


def _split(
    store: Store, run_id: str, run: tuple[Any, ...], keys: pd.DataFrame, splits: pd.DataFrame, seed: str
) -> dict[str, Any]:
    """Train on the split's training incidents (truth labels), score every candidate pair of its test ones."""
    started = time.perf_counter()
    index, comparisons, s = run
    role = splits.set_index(splits["incident_id"].astype(str))[seed]
    side = role.reindex(index.incident_id.astype(str)).to_numpy()
    train_keys = keys[side[keys["row_no"].to_numpy()] == "train"].rename(columns={"key": "offender"})
    ctx, cands = blocked(
        store, run_id, index, comparisons, s, scales_of(index, train_keys, default.scales(), s)
    )
    data = training_set(ctx, train_keys, cands)
    best, fitted = fit_models(data, ctx.comparisons, ctx.settings)
    test_rows = np.flatnonzero(side == "test")
    test_pairs: Candidates = cands.within(test_rows)
    scored = score_candidates(ctx, fitted[best], 0.0, test_pairs)
    fitted[best].adapt_prior(scored.X)  # the test candidates' linked share, estimated without their labels
    result = _measure(ctx, scored, fitted[best], test_rows, _truth_matrix(keys, test_rows))
    return {
        "seed": seed,
        "selected_model": best,
        "n_train_pairs": len(data.y),
        "n_test_incidents": len(test_rows),
        "blocking": blocking_summary(ctx, cands),
        "cv": {k: m.cv_scores_ for k, m in fitted.items()},
        **result,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _measure(
    ctx: RunContext, scored: Scored, model: LinkModel, test_rows: np.ndarray, truth: csr_matrix
) -> dict[str, Any]:
    local = pd.Series(np.arange(len(test_rows)), index=test_rows)
    i, j = local[scored.i].to_numpy(), local[scored.j].to_numpy()
    p = model.predict_proba(scored.X)[:, 1] if len(scored.X) else np.zeros(0)
    clusters = _partition(i, j, p, len(test_rows), ctx.settings)
    first = ctx.index.encoded["t_lo"][test_rows]
    return {
        "linked_share": {
            "training": model.training_prior_,
            "estimated": model.prior_,
            "actual": _share_linked(i, j, truth),
        },
        **pairwise_scores(i, j, p, truth),
        **top_k_recall(i, j, p, truth, first),
        **clustering_scores(clusters, truth),
    }


def _partition(i: np.ndarray, j: np.ndarray, p: np.ndarray, n: int, s: LinkageSettings) -> np.ndarray:
    """Series labels for n incidents: Leiden series, every other incident on its own."""
    result = cluster_links(
        i, j, p, threshold=s.series_threshold, resolution=s.series_resolution, seed=s.random_state
    )
    labels = np.arange(n) + (result.series.max() + 1 if len(result) else 0)
    labels[result.rows] = result.series
    return np.unique(labels, return_inverse=True)[1]


def _share_linked(i: np.ndarray, j: np.ndarray, truth: csr_matrix) -> float:
    if len(i) == 0:
        return float("nan")
    return float((np.asarray(truth[i].multiply(truth[j]).sum(axis=1)).ravel() > 0).mean())
