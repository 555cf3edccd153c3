"""Scored pairs + analyst decisions -> persons (clusters of records), with a weight and confidence per record.

Links at or above the threshold join records (connected components, as Splink clusters); an accepted pair is
a link whatever its score, a rejected pair never is. A component that would hold a rejected pair is rebuilt
by adding its links strongest first and skipping any that would join the two sides of a rejection.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from casegraph.lineage import CarriedIds, carry_ids


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _find(parent: dict[int, int], x: int) -> int:
    while parent.setdefault(x, x) != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _constrained(edges: pd.DataFrame, cannot: list[tuple[int, int]]) -> dict[int, int]:
    """Union strongest links first, refusing any union that would join two records of a rejected pair."""
    parent: dict[int, int] = {}
    apart: dict[int, set[int]] = {}
    for a, b in cannot:
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    members: dict[int, set[int]] = {}
    for a, b in edges.sort_values("match_weight", ascending=False)[["uid_l", "uid_r"]].itertuples(
        index=False
    ):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        ma, mb = members.setdefault(ra, {ra}), members.setdefault(rb, {rb})
        if any(apart.get(x, set()) & mb for x in ma):
            continue
        parent[rb] = ra
        members[ra] = ma | mb
        del members[rb]
    return {x: _find(parent, x) for x in list(parent)}


def cluster_labels(n: int, links: pd.DataFrame, cannot: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Cluster label per uid 0..n-1 from `links` (uid_l, uid_r, match_weight), honouring cannot-links."""
    left, right = links["uid_l"].to_numpy(), links["uid_r"].to_numpy()
    labels = _components(n, left, right)
    if not cannot:
        return labels
    split = {int(labels[a]) for a, b in cannot if labels[a] == labels[b]}
    if not split:
        return labels
    inside = links[np.isin(labels[left], list(split))]
    next_label = int(labels.max()) + 1
    for uid, root in _constrained(inside, cannot).items():
        labels[uid] = next_label + root  # fresh labels, distinct from every untouched component
    return labels


def person_ids(labels: np.ndarray, keys: np.ndarray, previous: pd.DataFrame | None = None) -> CarriedIds:
    """A person id per cluster: the previous run's id it shares most records with (see casegraph.lineage), else
    a hash of its least record key (agency/record_id). previous: columns key (agency/record_id) and id."""
    before = previous if previous is not None else pd.DataFrame({"key": [], "id": []})
    return carry_ids(before, keys, labels, fresh=lambda first: first.map(new_person_id))


def new_person_id(first_key: str) -> str:
    return "P" + hashlib.sha256(first_key.encode()).hexdigest()[:15]


def _best_links(pairs: pd.DataFrame, labels: np.ndarray, same: bool) -> pd.DataFrame:
    """Per uid, its strongest scored pair inside (same=True) or leaving (False) its cluster."""
    inside = labels[pairs["uid_l"].to_numpy()] == labels[pairs["uid_r"].to_numpy()]
    chosen = pairs[inside == same]
    both = pd.concat(
        [
            chosen[["uid_l", "match_weight", "match_probability"]].rename(columns={"uid_l": "uid"}),
            chosen[["uid_r", "match_weight", "match_probability"]].rename(columns={"uid_r": "uid"}),
        ]
    )
    return both.groupby("uid").max()


def membership(n: int, pairs: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per uid: match_weight / match_probability of its strongest in-cluster link, cluster size, confidence."""
    out = pd.DataFrame({"uid": np.arange(n), "label": labels})
    out = out.join(_best_links(pairs, labels, same=True).astype(float), on="uid")
    leaving = _best_links(pairs, labels, same=False)["match_probability"].astype(float).rename("leaving")
    out = out.join(leaving, on="uid")
    out["cluster_size"] = out.groupby("label")["uid"].transform("size")
    weakest = out.groupby("label")["match_probability"].transform("min").fillna(1.0)
    strongest_out = out.groupby("label")["leaving"].transform("max").fillna(0.0)
    out["cluster_confidence"] = np.minimum(weakest, 1.0 - strongest_out)
    return out.drop(columns=["leaving"])
