"""Evaluation on a folder of network files (../shared/data/networks layout) and on a synthetic city's truth.

Folder layout: nodes.csv (`id` and a group column, named in the README as **`col`**, or `group`),
edges.csv (`source,target[,weight,type,time]`) and/or affiliation.csv (`person,event[,time]`, two-mode,
preferred when present: each event's people are tied with weight 1/(k-1)). `time` is a phase or year
(integers) or a date.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from casegraph.network.graphs import PersonGraph, build_graph, edges_from_pairs, project_affiliation
from casegraph.network.roles import RoleParams, agreement, key_players
from casegraph.network.ties import TieParams
from casegraph.network.tietable import day_to_date, tie_table

TIE_COLUMNS = [
    "group_a",
    "group_b",
    "person_ties",
    "persons_a",
    "persons_b",
    "joint_events",
    "expected",
    "ratio",
    "p_value",
    "p_permutation",
    "q_value",
    "significant",
    "first_at",
    "last_at",
    "detected_at",
    "onset",
]
PLAYER_COLUMNS = [
    "person_id",
    "group_id",
    "degree",
    "betweenness",
    "brokerage",
    "liaison",
    "representative",
    "cross_ties",
    "groups_reached",
    "community",
]


@dataclass
class Folder:
    name: str
    nodes: pd.DataFrame  # id, group
    pairs: pd.DataFrame  # source, target, weight, day, event (one row per tie event)
    periodic: bool  # time is a phase / year number, not a date
    group_column: str | None


def group_column_of(folder: Path, columns: list[str]) -> str | None:
    """The README's bold column name (**`group`**) if nodes.csv has it, else `group` if present."""
    readme = folder / "README.md"
    named = re.findall(r"\*\*`([A-Za-z_][A-Za-z0-9_]*)`\*\*", readme.read_text()) if readme.exists() else []
    for name in [*named, "group"]:
        if name in columns:
            return name
    return None


def _days(values: pd.Series) -> tuple[pd.Series, bool]:
    """Numbers of a phase/year column as they are, or dates as days since 1970."""
    numeric = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and numeric.notna().sum() == values.notna().sum():
        return numeric.astype(float), True
    dates = pd.to_datetime(values, errors="coerce")
    return (dates - pd.Timestamp(0)).dt.days.astype(float), False


def load_folder(folder: str | Path, group_column: str | None = None) -> Folder:
    folder = Path(folder)
    nodes = pd.read_csv(folder / "nodes.csv", dtype=str) if (folder / "nodes.csv").exists() else None
    column = group_column or (group_column_of(folder, list(nodes.columns)) if nodes is not None else None)
    if (folder / "affiliation.csv").exists():
        aff = pd.read_csv(folder / "affiliation.csv", dtype=str)
        day, periodic = _days(aff["time"]) if "time" in aff else (pd.Series(np.nan, index=aff.index), False)
        pairs = project_affiliation(aff["person"], aff["event"], day).rename(columns={"first_day": "day"})
    else:
        edges = pd.read_csv(folder / "edges.csv", dtype=str)
        day, periodic = (
            _days(edges["time"]) if "time" in edges else (pd.Series(np.nan, index=edges.index), False)
        )
        weight = pd.to_numeric(
            edges.get("weight", pd.Series(1.0, index=edges.index)), errors="coerce"
        ).fillna(1.0)
        pairs = pd.DataFrame(
            {
                "source": edges["source"],
                "target": edges["target"],
                "weight": weight,
                "day": day,
                "event": edges.index.astype(str),
            }
        )
    ids = pd.unique(pd.concat([pairs["source"], pairs["target"]]).astype(str))
    if nodes is None:
        nodes = pd.DataFrame({"id": ids})
    nodes = nodes.drop_duplicates("id")
    extra = pd.DataFrame({"id": [i for i in ids if i not in set(nodes["id"])]})
    nodes = pd.concat([nodes, extra], ignore_index=True)
    nodes["group"] = nodes[column] if column else None
    return Folder(folder.name, nodes[["id", "group"]], pairs, periodic, column)


def folder_graph(data: Folder) -> PersonGraph:
    names = data.nodes["id"].astype(str).to_numpy(object)
    edges = edges_from_pairs(
        names, data.pairs["source"], data.pairs["target"], data.pairs["weight"], data.pairs["day"]
    )
    return build_graph(names, data.nodes["group"].to_numpy(object), edges)


def pair_event_days(pg: PersonGraph, data: Folder) -> tuple[pd.DataFrame, dict]:
    """Per pair of groups: joint events, first/last day and evidence (event ids); and each pair's event days."""
    group = dict(zip(pg.names, [pg.groups[g] if g >= 0 else None for g in pg.label], strict=True))
    p = data.pairs.assign(
        ga=data.pairs["source"].astype(str).map(group), gb=data.pairs["target"].astype(str).map(group)
    )
    p = p[p["ga"].notna() & p["gb"].notna() & (p["ga"] != p["gb"])]
    p = p.assign(group_a=np.minimum(p["ga"], p["gb"]), group_b=np.maximum(p["ga"], p["gb"]))
    grouped = p.groupby(["group_a", "group_b"])
    evidence = grouped.agg(
        joint_events=("event", "nunique"),
        first_at=("day", "min"),
        last_at=("day", "max"),
        evidence=("event", lambda s: sorted(set(s))[:50]),
    ).reset_index()
    evidence["kinds"] = [[] for _ in range(len(evidence))]
    if not data.periodic:
        for col in ("first_at", "last_at"):
            evidence[col] = [day_to_date(d) for d in evidence[col]]
    days = {key: g.drop_duplicates("event")["day"].to_numpy(float) for key, g in grouped}
    return evidence, days


def evaluate_folder(
    folder: str | Path,
    group_column: str | None = None,
    *,
    tie_params: TieParams | None = None,
    role_params: RoleParams | None = None,
    gap_days: int = 365,
) -> dict[str, Any]:
    """Group ties, communities against the recorded groups, key players and growth over time periods."""
    started = time.perf_counter()
    data = load_folder(folder, group_column)
    pg = folder_graph(data)
    evidence, days = pair_event_days(pg, data)
    # Days of a phase-numbered network are phase numbers; a gap of one phase must not split a run.
    gap = 1 if data.periodic else gap_days
    ties, test = tie_table(pg, tie_params or TieParams(n_permutations=999), evidence, lambda _: days, gap)
    players, methods = key_players(pg, role_params or RoleParams())
    fit = agreement(players["community"].to_numpy(), players["group_id"].to_numpy(object))
    return {
        "data": data.name,
        "group_column": data.group_column,
        "n_nodes": pg.graph.vcount(),
        "n_edges": pg.graph.ecount(),
        "n_groups": pg.n_groups,
        "labelled_nodes": int((pg.label >= 0).sum()),
        "nmi": fit["nmi"],
        "ari": fit["ari"],
        "n_communities": methods["n_communities"],
        "significant_group_ties": int(ties["significant"].sum()),
        "test": test,
        "methods": methods,
        "group_ties": _period_dates(ties[TIE_COLUMNS].head(20), data.periodic).to_dict("records"),
        "key_players": players.sort_values("betweenness", ascending=False)[PLAYER_COLUMNS]
        .head(10)
        .to_dict("records"),
        "growth": growth_table(data.pairs, data.periodic).to_dict("records"),
        "disruption": disruption(pg, players["betweenness"].to_numpy()),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _period_dates(frame: pd.DataFrame, periodic: bool) -> pd.DataFrame:
    """Phase numbers went through the date columns as 'days': give them back as numbers."""
    if not periodic:
        return frame
    out = frame.copy()
    for col in ("detected_at", "onset"):
        out[col] = [(v - pd.Timestamp(0)).days if isinstance(v, pd.Timestamp) else v for v in out[col]]
    return out


def _period(day: pd.Series, periodic: bool) -> pd.Series:
    if periodic:
        return day
    return pd.to_datetime(day, unit="D").dt.to_period("Q").astype(str)


def growth_table(pairs: pd.DataFrame, periodic: bool) -> pd.DataFrame:
    """Per time period (phase, year or quarter): people and ties active, new and cumulative; density and
    largest component of that period's graph; its most central person (degree centrality)."""
    dated = pairs[pairs["day"].notna()]
    if dated.empty:
        return pd.DataFrame()
    lo = np.minimum(dated["source"].astype(str), dated["target"].astype(str))
    hi = np.maximum(dated["source"].astype(str), dated["target"].astype(str))
    frame = pd.DataFrame({"a": lo, "b": hi, "period": _period(dated["day"], periodic)}).drop_duplicates()
    seen_nodes: set[str] = set()
    seen_pairs: set[tuple[str, str]] = set()
    rows = []
    for period, part in frame.groupby("period", sort=True):
        pairs_now = set(zip(part["a"], part["b"], strict=True))
        nodes_now = set(part["a"]) | set(part["b"])
        rows.append(
            {
                "period": period,
                "people": len(nodes_now),
                "ties": len(pairs_now),
                "new_people": len(nodes_now - seen_nodes),
                "new_ties": len(pairs_now - seen_pairs),
                **_period_graph(part),
            }
        )
        seen_nodes |= nodes_now
        seen_pairs |= pairs_now
        rows[-1].update(people_so_far=len(seen_nodes), ties_so_far=len(seen_pairs))
    return pd.DataFrame(rows)


def _period_graph(part: pd.DataFrame) -> dict[str, Any]:
    import igraph as ig

    g = ig.Graph.TupleList(part[["a", "b"]].itertuples(index=False), directed=False).simplify()
    n = g.vcount()
    degree = np.asarray(g.degree())
    top = int(degree.argmax())
    return {
        "density": round(g.density(), 4),
        "largest_component": round(max(g.connected_components().sizes()) / n, 3),
        "most_central": g.vs[top]["name"],
        "centrality": round(degree[top] / max(n - 1, 1), 3),
    }


def disruption(pg: PersonGraph, score: np.ndarray, share: float = 0.05) -> dict[str, Any]:
    """Largest connected component before and after removing the top `share` of people by `score` (the
    measure Cavallaro et al. 2020 report for betweenness on the Montagna networks)."""
    g = pg.graph
    if not g.vcount():
        return {}
    k = max(1, round(share * g.vcount()))
    before = max(g.connected_components().sizes())
    rest = g.copy()
    rest.delete_vertices(np.argsort(-score)[:k].tolist())
    after = max(rest.connected_components().sizes()) if rest.vcount() else 0
    return {
        "removed": k,
        "largest_before": before,
        "largest_after": after,
        "reduction": round(1 - after / before, 3),
    }
