"""Pairwise and B-cubed scores against hand-computed values."""

from __future__ import annotations

import pandas as pd
import pytest

from casegraph.evaluation.resolve import cluster_scores


def test_pairwise_and_bcubed_on_a_hand_worked_example() -> None:
    # truth: {a,b,c} {d}; predicted: {a,b} {c,d}
    truth = pd.Series(["T1", "T1", "T1", "T2"])
    predicted = pd.Series(["P1", "P1", "P2", "P2"])
    s = cluster_scores(predicted, truth)
    # true pairs ab ac bc (3); predicted ab cd (2); tp ab (1)
    assert (s["true_pairs"], s["predicted_pairs"], s["true_positive_pairs"]) == (3, 2, 1)
    assert s["precision"] == pytest.approx(0.5)
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(0.4)
    # B-cubed precision per record: a 1, b 1, c 1/2, d 1/2 -> 0.75; recall: a 2/3, b 2/3, c 1/3, d 1 -> 2/3
    assert s["bcubed_precision"] == pytest.approx(0.75)
    assert s["bcubed_recall"] == pytest.approx(2 / 3)
    assert s["bcubed_f1"] == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))


def test_cross_source_pairs_only_when_linking() -> None:
    # truth {a1, b1, b2}: b1 and b2 are a within-source duplicate that linking must not count.
    truth = pd.Series(["T", "T", "T"])
    predicted = pd.Series(["P", "P", "Q"])
    source = pd.Series(["A", "B", "B"])
    s = cluster_scores(predicted, truth, source)
    assert s["true_pairs"] == 2  # a1-b1, a1-b2
    assert s["predicted_pairs"] == 1  # a1-b1
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(0.5)


def test_perfect_resolution_scores_one() -> None:
    truth = pd.Series(["x", "x", "y", "z", "z"])
    s = cluster_scores(truth.map({"x": 1, "y": 2, "z": 3}), truth)
    assert s["f1"] == 1.0 and s["bcubed_f1"] == 1.0 and s["n_records"] == 5
