"""Clustering of scored pairs with analyst decisions, checked against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from casegraph.resolve.cluster import cluster_labels, membership, person_ids


def links(*edges: tuple[int, int, float]) -> pd.DataFrame:
    frame = pd.DataFrame(edges, columns=["uid_l", "uid_r", "match_weight"])
    frame["match_probability"] = 2 ** frame["match_weight"] / (1 + 2 ** frame["match_weight"])
    return frame


def same(labels: np.ndarray, a: int, b: int) -> bool:
    return bool(labels[a] == labels[b])


def test_connected_components_join_chains_and_leave_singletons() -> None:
    labels = cluster_labels(6, links((0, 1, 5.0), (1, 2, 4.0), (3, 4, 9.0)))
    assert same(labels, 0, 2) and same(labels, 3, 4)
    assert not same(labels, 0, 3)
    assert len(set(labels.tolist())) == 3  # {0,1,2}, {3,4}, {5}


def test_a_rejected_pair_splits_its_chain_at_the_weakest_link() -> None:
    # 0-1 (strong), 1-2 (weak), 2-3 (strong); rejecting 0~3 must cut the weak 1-2 link, nothing else.
    labels = cluster_labels(4, links((0, 1, 10.0), (1, 2, 3.0), (2, 3, 8.0)), cannot=[(0, 3)])
    assert same(labels, 0, 1) and same(labels, 2, 3)
    assert not same(labels, 0, 3) and not same(labels, 1, 2)


def test_rejection_leaves_other_components_untouched() -> None:
    labels = cluster_labels(7, links((0, 1, 5.0), (1, 2, 5.0), (4, 5, 5.0)), cannot=[(0, 2)])
    assert same(labels, 4, 5) and not same(labels, 0, 2)
    assert len({labels[i] for i in (3, 6)}) == 2 and labels[3] not in {labels[0], labels[2], labels[4]}


def test_membership_weight_size_and_confidence() -> None:
    pairs = links((0, 1, 10.0), (1, 2, 1.0))  # 1-2 scored but below a 0.9 threshold
    labels = cluster_labels(3, pairs[pairs["match_probability"] >= 0.9])
    member = membership(3, pairs, labels)
    assert member["cluster_size"].tolist() == [2, 2, 1]
    assert member.loc[0, "match_weight"] == pytest.approx(10.0)
    assert np.isnan(member.loc[2, "match_weight"])  # a person of one record has no link
    p_weak = 2 / 3  # probability of weight 1.0
    # cluster {0,1}: weakest member link 0.999..., strongest link leaving it p_weak -> confidence 1 - p_weak
    assert member.loc[0, "cluster_confidence"] == pytest.approx(1 - p_weak)
    assert member.loc[2, "cluster_confidence"] == pytest.approx(1 - p_weak)


def test_person_ids_are_stable_and_shared_within_a_cluster() -> None:
    keys = np.array(["a/1", "a/2", "b/1"])
    first = person_ids(np.array([5, 5, 9]), keys).ids
    again = person_ids(np.array([0, 0, 1]), keys).ids  # other labels, same grouping -> same ids
    assert first[0] == first[1] != first[2]
    assert first.tolist() == again.tolist()
