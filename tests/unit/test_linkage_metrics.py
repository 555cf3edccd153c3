"""Evaluation metrics against brute force and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.metrics import average_precision_score, roc_auc_score

from casegraph.linkage.metrics import clustering_scores, pairwise_scores, top_k_recall


def _truth(keys: list[list[int]], n_keys: int) -> csr_matrix:
    rows = [r for r, ks in enumerate(keys) for _ in ks]
    cols = [k for ks in keys for k in ks]
    return csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(keys), n_keys))


def test_pairwise_scores_equal_scoring_every_pair():
    rng = np.random.default_rng(0)
    n = 60
    keys = [[int(k)] for k in rng.integers(0, 15, n)]
    keys[3].append(14)  # one co-offended incident
    truth = _truth(keys, 15)
    i, j = np.triu_indices(n, k=1)
    scored = rng.random(len(i)) < 0.3  # only some pairs are candidates; the rest count as p = 0
    p = np.where(scored, rng.random(len(i)), 0.0)
    linked = np.array([bool(set(keys[a]) & set(keys[b])) for a, b in zip(i, j, strict=True)])
    got = pairwise_scores(i[scored], j[scored], p[scored], truth)
    assert got["auc"] == pytest.approx(roc_auc_score(linked, p))
    assert got["average_precision"] == pytest.approx(average_precision_score(linked, p))
    assert got["n_linked_pairs"] == linked.sum()
    assert got["blocking_recall"] == pytest.approx(linked[scored].sum() / linked.sum())


def test_top_k_recall_hand_case():
    # series A = {0, 1, 2} (seed 0, the earliest), series B = {3, 4} (seed 4, the earliest); 12 incidents.
    keys = [[0], [0], [0], [1], [1]] + [[2 + k] for k in range(7)]
    truth = _truth(keys, 9)
    first = np.array([0.0, 1, 2, 5, 3, 0, 0, 0, 0, 0, 0, 0])
    # seed 0: member 1 ranks first, member 2 is unscored (ranks last); seed 4: member 3 ranks 2nd behind 6.
    i = np.array([0, 0, 4, 4])
    j = np.array([1, 5, 3, 6])
    p = np.array([0.9, 0.5, 0.4, 0.8])
    got = top_k_recall(i, j, p, truth, first, ks=(1, 2, 10, 25))
    assert got["n_series"] == 2
    assert got["top1_any"] == 0.5  # only series A has a member at rank 1
    assert got["top2_any"] == 1.0 and got["top2_all"] == 0.5
    # member 2 of A is unscored: ties count against it, so it ranks behind all 11 others' scores: rank 11
    assert got["top10_all"] == 0.5
    assert got["top25_all"] == 1.0


def test_clustering_scores_hand_case():
    # truth: {0,1,2} and {3,4}; predicted: {0,1}, {2,3,4}
    truth = _truth([[0], [0], [0], [1], [1]], 2)
    got = clustering_scores(np.array([0, 0, 1, 1, 1]), truth)
    # precision per item: 1, 1, 1/3, 2/3, 2/3 -> 11/15; recall: 2/3, 2/3, 1/3, 1, 1 -> 11/15
    assert got["bcubed_precision"] == pytest.approx(11 / 15)
    assert got["bcubed_recall"] == pytest.approx(11 / 15)
    assert got["bcubed_f1"] == pytest.approx(11 / 15)
    perfect = clustering_scores(np.array([0, 0, 0, 1, 1]), truth)
    assert perfect["bcubed_f1"] == 1.0 and perfect["adjusted_rand"] == 1.0
