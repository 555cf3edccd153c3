"""Key players: degree, betweenness, Gould-Fernandez brokerage between recorded groups, cross-group ties,
and Leiden communities set beside the recorded groups (NMI, adjusted Rand).

Brokerage (Gould & Fernandez 1989) counts, for each person b, the open two-paths a - b - c (a and c not
tied) by the groups of a, b and c. Ties here have no direction, so the representative and gatekeeper roles
are one (a in b's group, c in another); the consultant role is called itinerant. People without a recorded
group can broker (itinerant, liaison) but are not counted as ends of a path.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from casegraph.network import background
from casegraph.network.graphs import NO_GROUP, PersonGraph
from casegraph.network.ties import neighbour_groups

ROLES = ("coordinator", "itinerant", "representative", "liaison")


@dataclass
class RoleParams:
    exact_betweenness_max_nodes: int = 5_000
    betweenness_samples: int = 16
    leiden_resolution: float = 1.0
    leidenalg_max_edges: int = 250_000
    max_triangles: int = 20_000_000
    seed: int = 7


def betweenness(graph: ig.Graph, params: RoleParams) -> tuple[np.ndarray, str]:
    """Exact betweenness, or (above exact_betweenness_max_nodes) the Brandes-Pich estimate from k sampled
    sources: the dependencies of k sources scaled by n / k."""
    n = graph.vcount()
    if n <= params.exact_betweenness_max_nodes or n <= params.betweenness_samples:
        return np.asarray(graph.betweenness(directed=False), dtype=float), "exact"
    rng = np.random.default_rng(params.seed)
    k = params.betweenness_samples
    sources = rng.choice(n, size=k, replace=False).tolist()
    # With every vertex as a source igraph returns the exact (unordered-pair) value, so scale by n / k.
    partial = np.asarray(graph.betweenness(directed=False, sources=sources), dtype=float)
    return partial * n / k, f"sampled:{k}"


def brokerage(
    pg: PersonGraph, params: RoleParams, m: sparse.csr_matrix | None = None
) -> tuple[pd.DataFrame, str]:
    """Gould-Fernandez role counts per person from neighbour counts per group (`m`, see neighbour_groups),
    minus closed triads."""
    m = neighbour_groups(pg) if m is None else m
    rows = np.arange(pg.graph.vcount())
    own_label = pg.label
    own = np.where(own_label != NO_GROUP, np.asarray(m[rows, np.maximum(own_label, 0)]).ravel(), 0.0)
    s = np.asarray(m.sum(axis=1)).ravel()
    q = np.asarray(m.multiply(m).sum(axis=1)).ravel()
    other, other_q = s - own, q - own**2
    counts = {
        "coordinator": own * (own - 1) / 2,
        "itinerant": (other_q - other) / 2,
        "representative": own * other,
        "liaison": (other**2 - other_q) / 2,
    }
    method = "open two-paths"
    if _triangle_count(pg.graph) <= params.max_triangles:
        _subtract_closed(counts, pg)
    else:
        method = "all two-paths (too many triangles to close)"
    frame = pd.DataFrame(counts)
    frame["brokerage"] = frame[list(ROLES)].sum(axis=1)
    return frame, method


def _triangle_count(graph: ig.Graph) -> int:
    if not graph.ecount():
        return 0
    deg = np.asarray(graph.degree(), dtype=float)
    local = np.nan_to_num(np.asarray(graph.transitivity_local_undirected(mode="zero"), dtype=float))
    return round((local * deg * (deg - 1) / 2).sum() / 3)


def _subtract_closed(counts: dict[str, np.ndarray], pg: PersonGraph) -> None:
    """A two-path whose ends are tied is not brokerage: remove each triangle from its three brokers."""
    tri = np.asarray(pg.graph.list_triangles(), dtype=np.int64).reshape(-1, 3)
    n = pg.graph.vcount()
    for broker, end1, end2 in ((0, 1, 2), (1, 0, 2), (2, 0, 1)):
        b, x, y = pg.label[tri[:, broker]], pg.label[tri[:, end1]], pg.label[tri[:, end2]]
        ends = (x != NO_GROUP) & (y != NO_GROUP)
        role = np.select([(x == y) & (x == b), x == y, (x == b) | (y == b)], [0, 1, 2], 3)  # ROLES order
        for code, name in enumerate(ROLES):
            counts[name] -= np.bincount(tri[ends & (role == code), broker], minlength=n)


def crossing(pg: PersonGraph, m: sparse.csr_matrix | None = None) -> pd.DataFrame:
    """Ties to people of another group (any group, for a person with none) and distinct groups reached,
    from the neighbour counts per group (`m`, see neighbour_groups)."""
    m = neighbour_groups(pg) if m is None else m
    m = m.tocsr(copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    n = pg.graph.vcount()
    rows = np.arange(n)
    labelled = pg.label != NO_GROUP
    own = np.zeros(n)
    own[labelled] = np.asarray(m[rows[labelled], pg.label[labelled]]).ravel()
    total = np.asarray(m.sum(axis=1)).ravel()
    reached = np.diff(m.indptr) - (own > 0)
    return pd.DataFrame(
        {"cross_ties": (total - own).astype(np.int64), "groups_reached": reached.astype(np.int64)}
    )


def communities(graph: ig.Graph, params: RoleParams) -> tuple[np.ndarray, str]:
    """Leiden communities (modularity at resolution 1): leidenalg, or igraph's own Leiden on large graphs."""
    if not graph.ecount():
        return np.arange(graph.vcount()), "none (no ties)"
    weights = graph.es["weight"]
    if graph.ecount() <= params.leidenalg_max_edges:
        part = leidenalg.find_partition(
            graph,
            leidenalg.RBConfigurationVertexPartition,
            weights=weights,
            resolution_parameter=params.leiden_resolution,
            seed=params.seed,
            n_iterations=2,
        )
        return np.asarray(part.membership), "leidenalg (RB configuration, 2 iterations)"
    ig.set_random_number_generator(random.Random(params.seed))
    try:
        part = graph.community_leiden(
            objective_function="modularity",
            weights=weights,
            resolution=params.leiden_resolution,
            n_iterations=1,
        )
    finally:
        ig.set_random_number_generator(random)  # igraph's default generator
    return np.asarray(part.membership), "igraph community_leiden (modularity, 1 iteration)"


def communities_in_background(graph: ig.Graph, params: RoleParams) -> Callable[[], tuple[np.ndarray, str]]:
    """Start `communities` in a forked process (same seed, same result); call the returned function for it."""
    return background.start(communities, graph, params)


def agreement(community: np.ndarray, groups: np.ndarray) -> dict[str, float | int | None]:
    """NMI and adjusted Rand between communities and recorded groups, over people who have a group."""
    mask = pd.notna(groups) & (pd.Series(groups, dtype=object).astype(str) != "").to_numpy()
    if mask.sum() < 2:
        return {"nmi": None, "ari": None, "compared": int(mask.sum())}
    truth, found = np.asarray(groups, dtype=object)[mask].astype(str), community[mask]
    return {
        "nmi": round(float(normalized_mutual_info_score(truth, found)), 4),
        "ari": round(float(adjusted_rand_score(truth, found)), 4),
        "compared": int(mask.sum()),
    }


def key_players(
    pg: PersonGraph, params: RoleParams, pending: Callable[[], tuple[np.ndarray, str]] | None = None
) -> tuple[pd.DataFrame, dict]:
    """Every person's measures, and how they were computed. `pending` waits for communities already being
    computed (communities_in_background)."""
    g = pg.graph
    between, b_method = betweenness(g, params)
    m = neighbour_groups(pg)
    roles, r_method = brokerage(pg, params, m)
    community, c_method = pending() if pending is not None else communities(g, params)
    frame = pd.DataFrame(
        {
            "person_id": pg.names,
            "group_id": [pg.groups[i] if i != NO_GROUP else None for i in pg.label],
            "community": community,
            "degree": np.asarray(g.degree(), dtype=np.int64),
            "strength": np.asarray(g.strength(weights="weight"), dtype=float) if g.ecount() else 0.0,
            "betweenness": between,
            "betweenness_method": b_method,
        }
    )
    frame = pd.concat([frame, roles, crossing(pg, m)], axis=1)
    methods = {
        "betweenness": b_method,
        "brokerage": r_method,
        "communities": c_method,
        "n_communities": len(np.unique(community)),
    }
    return frame, methods
