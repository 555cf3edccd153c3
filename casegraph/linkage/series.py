"""Series: clusters of the incident link graph, with how firmly each member belongs.

Connected components chain look-alikes together (one weak bridge merges two series), so the graph of
links at or above the series threshold is partitioned with Leiden under the Constant Potts Model: a set of
incidents stays one series only while its link density (probability mass per member pair) beats the
resolution. Each member's confidence is its mean link probability to the other members.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np
import pandas as pd

from casegraph.lineage import carry_ids
from casegraph.linkage.index import IncidentIndex


@dataclass
class SeriesResult:
    """Series membership for incidents (row numbers) in at least one series of two or more."""

    rows: np.ndarray
    series: np.ndarray  # 0..k-1 per row
    confidence: np.ndarray
    strongest: np.ndarray
    size: np.ndarray
    cohesion: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def cluster_links(
    i: np.ndarray, j: np.ndarray, p: np.ndarray, *, threshold: float, resolution: float, seed: int = 0
) -> SeriesResult:
    """Leiden (CPM) communities of the graph of links with p >= threshold; singletons are dropped."""
    strong = p >= threshold
    i, j, p = i[strong], j[strong], p[strong]
    nodes, inverse = np.unique(np.concatenate([i, j]), return_inverse=True)
    if len(nodes) == 0:
        return _empty()
    a, b = inverse[: len(i)], inverse[len(i) :]
    graph = ig.Graph(n=len(nodes), edges=np.column_stack([a, b]).tolist(), directed=False)
    graph.es["weight"] = p.tolist()
    partition = leidenalg.find_partition(
        graph, leidenalg.CPMVertexPartition, weights="weight", resolution_parameter=resolution, seed=seed
    )
    membership = np.asarray(partition.membership)
    return _members(nodes, membership, a, b, p)


def _members(
    nodes: np.ndarray, membership: np.ndarray, a: np.ndarray, b: np.ndarray, p: np.ndarray
) -> SeriesResult:
    sizes = np.bincount(membership)
    inside = membership[a] == membership[b]
    n = len(nodes)
    strength = np.bincount(a[inside], p[inside], n) + np.bincount(b[inside], p[inside], n)
    strongest = np.zeros(n)
    np.maximum.at(strongest, a[inside], p[inside])
    np.maximum.at(strongest, b[inside], p[inside])
    size = sizes[membership]
    mass = np.bincount(membership[a[inside]], p[inside], len(sizes))
    pairs = np.maximum(sizes * (sizes - 1) / 2.0, 1.0)
    keep = size >= 2
    _, series = np.unique(membership[keep], return_inverse=True)
    return SeriesResult(
        rows=nodes[keep],
        series=series,
        confidence=(strength / np.maximum(size - 1, 1))[keep],
        strongest=strongest[keep],
        size=size[keep],
        cohesion=(mass / pairs)[membership][keep],
    )


def _empty() -> SeriesResult:
    zero_i, zero_f = np.zeros(0, np.int64), np.zeros(0)
    return SeriesResult(zero_i, zero_i, zero_f, zero_f, zero_i, zero_f)


def series_frame(
    result: SeriesResult,
    run_id: str,
    index: IncidentIndex,
    previous: pd.DataFrame | None = None,
    *,
    numbered_after: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the `series` table, and the id lineage events. A series keeps the id of the previous run's series
    it shares most incidents with (casegraph.lineage); new series are numbered after the highest id yet, by
    first occurrence so they read in time order. previous: columns key (agency/incident_id) and id;
    numbered_after: every id in use, when `previous` holds only the series clustered again."""
    agency, incident_id = index.agency, index.incident_id
    t_lo, t_hi = index.encoded["t_lo"], index.encoded["t_hi"]
    frame = pd.DataFrame(
        {"row": result.rows, "k": result.series, "t_lo": t_lo[result.rows], "t_hi": t_hi[result.rows]}
    )
    first = frame.groupby("k")["t_lo"].transform("min")
    last = frame.groupby("k")["t_hi"].transform("max")
    order = {k: n for n, k in enumerate(frame.assign(first=first).sort_values(["first", "k"])["k"].unique())}
    before = previous if previous is not None else pd.DataFrame({"key": [], "id": []})
    start = _highest_number(before["id"] if numbered_after is None else numbered_after)
    keys = pd.Series(agency[result.rows]).astype(str) + "/" + pd.Series(incident_id[result.rows]).astype(str)

    def numbered(unnamed: pd.Series) -> pd.Series:
        ranked = sorted(unnamed.index, key=order.__getitem__)
        return pd.Series({k: f"S{start + n + 1:06d}" for n, k in enumerate(ranked)}, dtype=object)

    carried = carry_ids(before, keys.to_numpy(), np.asarray(result.series), fresh=numbered)
    rows = pd.DataFrame(
        {
            "series_id": carried.ids,
            "run_id": run_id,
            "agency": agency[result.rows].astype(str),
            "incident_id": incident_id[result.rows].astype(str),
            "confidence": result.confidence,
            "strongest": result.strongest,
            "size": result.size,
            "cohesion": result.cohesion,
            "first_from": _stamp(first.to_numpy()),
            "last_to": _stamp(last.to_numpy()),
        }
    )
    return rows, carried.events


def _highest_number(ids: pd.Series) -> int:
    numbers = pd.to_numeric(ids.astype(str).str.extract(r"^S(\d+)$")[0], errors="coerce")
    return int(numbers.max()) if numbers.notna().any() else 0


def _stamp(hours: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.round(hours * 3600.0).astype("int64"), unit="s"))
