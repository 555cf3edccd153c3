"""Key players against hand-computed cases: Gould-Fernandez roles, sampled betweenness, cross-group ties,
communities against recorded groups."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pandas as pd
import pytest

from casegraph.network.graphs import build_graph, edges_from_pairs
from casegraph.network.roles import (
    ROLES,
    RoleParams,
    agreement,
    betweenness,
    brokerage,
    communities,
    communities_in_background,
    crossing,
    key_players,
)


def graph(pairs, groups):
    names = sorted(groups)
    frame = pd.DataFrame(pairs, columns=["s", "t"])
    edges = edges_from_pairs(names, frame["s"], frame["t"])
    return build_graph(
        np.array(names, dtype=object), np.array([groups[n] for n in names], dtype=object), edges
    )


def roles_of(pg, name):
    frame, _ = brokerage(pg, RoleParams())
    return frame.iloc[list(pg.names).index(name)][list(ROLES)].to_dict()


def test_gould_fernandez_roles_by_hand():
    # b (group A) sits between a1, a2 (A), c1 (C), d1 (D); a1-a2 are tied, so a1-b-a2 is closed.
    groups = {"b": "A", "a1": "A", "a2": "A", "c1": "C", "c2": "C", "d1": "D"}
    pairs = [("b", "a1"), ("b", "a2"), ("a1", "a2"), ("b", "c1"), ("b", "d1"), ("c2", "b")]
    got = roles_of(graph(pairs, groups), "b")
    # Open paths through b: a-b-c (2x2 = 4) and a-b-d (2): representative; c1-b-c2: itinerant;
    # c-b-d (2): liaison; a1-b-a2 is closed: no coordinator.
    assert got == {"coordinator": 0, "itinerant": 1, "representative": 6, "liaison": 2}


def test_a_person_without_a_group_brokers_as_itinerant_or_liaison():
    groups = {"x": None, "a1": "A", "a2": "A", "c1": "C"}
    got = roles_of(graph([("x", "a1"), ("x", "a2"), ("x", "c1")], groups), "x")
    assert got == {"coordinator": 0, "itinerant": 1, "representative": 0, "liaison": 2}


def test_brokerage_matches_brute_force_on_a_random_graph():
    rng = np.random.default_rng(5)
    g = ig.Graph.Erdos_Renyi(n=60, m=200, loops=False)
    groups = {f"v{i:02d}": rng.choice(["A", "B", "C", None]) for i in range(60)}
    pg = graph([(f"v{a:02d}", f"v{b:02d}") for a, b in g.get_edgelist()], groups)
    frame, method = brokerage(pg, RoleParams())
    adj = [set(pg.graph.neighbors(i)) for i in range(60)]
    lab = [groups[n] for n in pg.names]
    total = {r: 0 for r in ROLES}
    for b in range(60):
        for x in adj[b]:
            for y in adj[b]:
                if x < y and y not in adj[x] and lab[x] and lab[y]:
                    same_b = (lab[x] == lab[b], lab[y] == lab[b])
                    role = (
                        "coordinator"
                        if lab[x] == lab[y] == lab[b]
                        else "itinerant"
                        if lab[x] == lab[y]
                        else "representative"
                        if any(same_b)
                        else "liaison"
                    )
                    total[role] += 1
    assert method == "open two-paths"
    assert {r: int(frame[r].sum()) for r in ROLES} == total


def test_sampled_betweenness_is_unbiased():
    g = ig.Graph.Barabasi(n=600, m=3)
    exact = np.asarray(g.betweenness(directed=False))
    params = RoleParams(exact_betweenness_max_nodes=10, betweenness_samples=300)
    estimate, method = betweenness(g, params)
    assert method == "sampled:300"
    assert estimate.sum() == pytest.approx(exact.sum(), rel=0.1)
    top = set(np.argsort(-exact)[:5])
    assert len(top & set(np.argsort(-estimate)[:10])) >= 4


def test_crossing_counts_ties_to_other_groups():
    groups = {"a": "A", "b": "B", "c": "C", "x": None}
    pg = graph([("a", "b"), ("a", "c"), ("a", "x"), ("x", "b")], groups)
    frame = crossing(pg).assign(name=pg.names).set_index("name")
    assert frame.loc["a"].tolist() == [2, 2]
    assert frame.loc["x"].tolist() == [2, 2]  # a person with no group: every tie to a group member crosses


def test_communities_recover_two_cliques_and_agreement_scores():
    groups = {**{f"a{i}": "A" for i in range(6)}, **{f"b{i}": "B" for i in range(6)}}
    pairs = [(f"a{i}", f"a{j}") for i in range(6) for j in range(i + 1, 6)]
    pairs += [(f"b{i}", f"b{j}") for i in range(6) for j in range(i + 1, 6)] + [("a0", "b0")]
    frame, methods = key_players(graph(pairs, groups), RoleParams())
    fit = agreement(frame["community"].to_numpy(), frame["group_id"].to_numpy(object))
    assert fit == {"nmi": 1.0, "ari": 1.0, "compared": 12}
    assert methods["communities"].startswith("leidenalg")
    assert agreement(np.zeros(12, int), frame["group_id"].to_numpy(object))["nmi"] == 0.0
    assert frame.set_index("person_id").loc["a0", "representative"] == 5


def test_communities_in_a_forked_process_are_the_same():
    g = ig.Graph.Barabasi(n=300, m=3)
    g.es["weight"] = 1.0
    params = RoleParams(leidenalg_max_edges=0)  # igraph's Leiden, seeded
    here, method = communities(g, params)
    there, same_method = communities_in_background(g, params)()
    assert method == same_method and np.array_equal(here, there) and len(np.unique(here)) > 1
