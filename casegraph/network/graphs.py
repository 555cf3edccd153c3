"""The person graph: igraph over integer vertex ids, with each person's recorded group and each tie's
first evidence date, built from edge arrays (the store's person ties, or a folder of CSV files)."""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import numpy as np
import pandas as pd

NO_GROUP = -1


@dataclass
class PersonGraph:
    """An undirected weighted graph of people. `label[v]` indexes `groups` (NO_GROUP = none recorded);
    `first_day[e]` is the first evidence of edge e in days since 1970 (NaN = undated)."""

    graph: ig.Graph
    names: np.ndarray
    label: np.ndarray
    groups: list[str]
    first_day: np.ndarray
    n_events: np.ndarray
    u: np.ndarray  # one end of every edge, in edge order (kept: igraph's edge list is slow to read back)
    v: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def weight(self) -> np.ndarray:
        return np.asarray(self.graph.es["weight"], dtype=float) if self.graph.ecount() else np.zeros(0)

    def endpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """Both ends of every edge, in edge order."""
        return self.u, self.v


def build_graph(
    names: np.ndarray,
    groups_of: np.ndarray,
    edges: pd.DataFrame,
) -> PersonGraph:
    """A PersonGraph from vertex names, each vertex's group id (None/NaN = none) and an edge frame with
    integer columns a, b and weight, n_events, first_day (one row per pair, a != b)."""
    label, groups = encode_groups(groups_of)
    graph = ig.Graph(n=len(names), directed=False)
    u = edges["a"].to_numpy(np.int64) if len(edges) else np.zeros(0, np.int64)
    v = edges["b"].to_numpy(np.int64) if len(edges) else np.zeros(0, np.int64)
    if len(edges):
        graph.add_edges(np.column_stack([u, v]))
        graph.es["weight"] = edges["weight"].to_numpy(float)
    first = edges["first_day"].to_numpy(float) if len(edges) else np.zeros(0)
    events = edges["n_events"].to_numpy(np.int64) if len(edges) else np.zeros(0, np.int64)
    return PersonGraph(graph, np.asarray(names, dtype=object), label, groups, first, events, u, v)


def encode_groups(groups_of: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Group ids -> (index per vertex with NO_GROUP for none, sorted distinct group ids)."""
    values = pd.Series(groups_of, dtype=object)
    present = values.notna() & (values.astype(str).str.strip() != "")
    groups = sorted(values[present].astype(str).unique().tolist())
    index = {g: i for i, g in enumerate(groups)}
    label = np.full(len(values), NO_GROUP, dtype=np.int32)
    label[present.to_numpy()] = [index[str(g)] for g in values[present]]
    return label, groups


def edges_from_pairs(
    names: list[str] | np.ndarray,
    source: pd.Series,
    target: pd.Series,
    weight: pd.Series | None = None,
    first_day: pd.Series | None = None,
) -> pd.DataFrame:
    """Collapse a list of (possibly repeated, directed) pairs onto one undirected edge per pair:
    weights summed, events counted, earliest date kept. Self-pairs are dropped."""
    index = {str(n): i for i, n in enumerate(names)}
    a = source.astype(str).map(index).to_numpy(np.int64)
    b = target.astype(str).map(index).to_numpy(np.int64)
    frame = pd.DataFrame(
        {
            "a": np.minimum(a, b),
            "b": np.maximum(a, b),
            "weight": weight.to_numpy(float) if weight is not None else 1.0,
            "first_day": first_day.to_numpy(float) if first_day is not None else np.nan,
        }
    )
    frame = frame[frame["a"] != frame["b"]]
    out = frame.groupby(["a", "b"], sort=True).agg(
        weight=("weight", "sum"), n_events=("weight", "size"), first_day=("first_day", "min")
    )
    return out.reset_index()


def project_affiliation(person: pd.Series, event: pd.Series, day: pd.Series | None = None) -> pd.DataFrame:
    """Two-mode (person x event) onto pairs: source, target, weight = 1/(k-1) per shared event (Newman), and
    the event's day. Events with one person make no pair."""
    frame = pd.DataFrame({"person": person.astype(str), "event": event.astype(str)})
    frame["day"] = day.to_numpy(float) if day is not None else np.nan
    frame = frame.drop_duplicates(["person", "event"])
    size = frame.groupby("event")["person"].transform("size")
    frame = frame[size >= 2].assign(w=1.0 / (size[size >= 2] - 1))
    pairs = frame.merge(frame[["event", "person"]], on="event", suffixes=("", "_2"))
    pairs = pairs[pairs["person"] < pairs["person_2"]]
    return pd.DataFrame(
        {
            "source": pairs["person"].to_numpy(),
            "target": pairs["person_2"].to_numpy(),
            "weight": pairs["w"].to_numpy(),
            "first_day": pairs["day"].to_numpy(),
            "event": pairs["event"].to_numpy(),
        }
    )
