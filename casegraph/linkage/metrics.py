"""Linkage quality against ground truth: pairwise AUC / AP over all held-out pairs, Patternizr-style top-k
recall, and series clustering quality (adjusted Rand, extended B-cubed F1 for overlapping truth).

Truth is an incidence matrix (incident x offender or series): two incidents are linked when they share a
column. Only candidate pairs are scored; every other pair counts with probability 0, so the metrics cover
all pairs of the held-out incidents exactly (the unscored pairs enter as two weighted tied points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix, triu
from sklearn.metrics import adjusted_rand_score, average_precision_score, roc_auc_score


def linked_pairs(truth: csr_matrix) -> csr_matrix:
    """Upper-triangular matrix of pairs sharing a truth column; the value is how many they share."""
    shared = (truth @ truth.T).tocsr()
    return triu(shared, k=1).tocsr()


def pairwise_scores(i: np.ndarray, j: np.ndarray, p: np.ndarray, truth: csr_matrix) -> dict[str, float]:
    """ROC AUC and average precision over all n(n-1)/2 pairs (unscored pairs have p = 0)."""
    n = truth.shape[0]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    y = np.asarray(truth[lo].multiply(truth[hi]).sum(axis=1)).ravel() > 0
    n_linked = linked_pairs(truth).nnz
    n_pairs = n * (n - 1) // 2
    missed_linked = n_linked - int(y.sum())
    missed_unlinked = n_pairs - len(y) - missed_linked
    scores = np.concatenate([p, [0.0, 0.0]])
    labels = np.concatenate([y, [True, False]])
    weights = np.concatenate([np.ones(len(p)), [missed_linked, missed_unlinked]])
    return {
        "auc": float(roc_auc_score(labels, scores, sample_weight=weights)),
        "average_precision": float(average_precision_score(labels, scores, sample_weight=weights)),
        "blocking_recall": float(y.sum() / n_linked) if n_linked else float("nan"),
        "n_pairs": n_pairs,
        "n_linked_pairs": n_linked,
        "n_scored_pairs": len(p),
    }


def series_members(truth: csr_matrix, min_size: int = 2) -> list[np.ndarray]:
    """Distinct member sets (rows) of the truth columns with at least min_size members."""
    columns = truth.tocsc()
    seen: set[bytes] = set()
    out = []
    for k in range(columns.shape[1]):
        rows = np.sort(columns.indices[columns.indptr[k] : columns.indptr[k + 1]])
        key = rows.tobytes()
        if len(rows) >= min_size and key not in seen:
            seen.add(key)
            out.append(rows)
    return out


def top_k_recall(
    i: np.ndarray,
    j: np.ndarray,
    p: np.ndarray,
    truth: csr_matrix,
    first: np.ndarray,
    *,
    ks: tuple[int, ...] = (10, 25),
) -> dict[str, float]:
    """Share of series whose first incident (seed) ranks at least one / all other members in the top k.

    A member's rank is 1 + the number of other incidents scored at least as high (ties count against,
    so an unscored member, p = 0, ranks last).
    """
    n = truth.shape[0]
    pairs = pd.DataFrame(
        {"a": np.concatenate([i, j]), "b": np.concatenate([j, i]), "p": np.concatenate([p, p])}
    )
    by_seed = dict(iter(pairs.groupby("a")))
    hits = {f"top{k}_{mode}": 0 for k in ks for mode in ("any", "all")}
    series = series_members(truth)
    for members in series:
        seed = members[np.argmin(first[members])]
        others = members[members != seed]
        frame = by_seed.get(seed)
        scores = np.zeros(n)
        if frame is not None:
            scores[frame["b"].to_numpy()] = frame["p"].to_numpy()
        scores[seed] = -np.inf
        ordered = np.sort(scores)[::-1]
        ranks = np.array([np.searchsorted(-ordered, -scores[m], side="right") for m in others])
        for k in ks:
            hits[f"top{k}_any"] += int((ranks <= k).any())
            hits[f"top{k}_all"] += int((ranks <= k).all())
    return {name: count / len(series) if series else float("nan") for name, count in hits.items()} | {
        "n_series": len(series)
    }


def components_of(truth: csr_matrix) -> np.ndarray:
    """Connected component of each incident through shared truth columns (singletons are their own)."""
    from scipy.sparse.csgraph import connected_components

    return connected_components(truth @ truth.T, directed=False)[1]


def clustering_scores(predicted: np.ndarray, truth: csr_matrix) -> dict[str, float]:
    """Adjusted Rand vs the truth components and extended B-cubed (Amigo et al. 2009) vs overlapping truth."""
    ari = float(adjusted_rand_score(components_of(truth), predicted))
    precision, recall = _bcubed(predicted, truth)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"adjusted_rand": ari, "bcubed_precision": precision, "bcubed_recall": recall, "bcubed_f1": f1}


def _bcubed(predicted: np.ndarray, truth: csr_matrix) -> tuple[float, float]:
    n = len(predicted)
    shared = (truth @ truth.T).tocoo()
    off = shared.row != shared.col
    a, b, s = shared.row[off], shared.col[off], shared.data[off].astype(float)
    own = np.maximum(np.asarray(truth.sum(axis=1)).ravel(), 1.0)
    together = predicted[a] == predicted[b]
    sizes = np.bincount(predicted)[predicted]
    linked_together = np.bincount(a[together], minlength=n)
    precision = (1.0 + linked_together) / sizes
    n_linked = np.bincount(a, minlength=n)
    credit = np.bincount(a[together], 1.0 / s[together], minlength=n)
    recall = (1.0 / own + credit) / (1.0 + n_linked)
    return float(precision.mean()), float(recall.mean())
