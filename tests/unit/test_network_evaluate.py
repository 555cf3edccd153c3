"""Evaluation on a folder of network files: the layout of ../shared/data/networks, two-mode or one-mode,
the README's group column, phases, the truth scoring of a synthetic city."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from casegraph.evaluation.network import score_ties
from casegraph.network.evaluate import evaluate_folder, group_column_of, load_folder


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text.strip() + "\n")


def two_cliques(folder: Path, bridge_phase: int = 3) -> None:
    """Groups A (a0-a4) and B (b0-b4), each a clique from phase 1; three a-b ties in `bridge_phase`."""
    write(folder, "README.md", "Ground truth: **`crew`** is the recorded group.")
    nodes = ["id,crew,other"] + [f"a{i},A,x" for i in range(5)] + [f"b{i},B,y" for i in range(5)]
    nodes += [f"n{i}," for i in range(30)]
    write(folder, "nodes.csv", "\n".join(nodes))
    edges = ["source,target,weight,type,time"]
    edges += [f"{g}{i},{g}{j},1,co,1" for g in "ab" for i in range(5) for j in range(i + 1, 5)]
    edges += [f"n{i},n{i + 1},1,co,1" for i in range(0, 30, 2)]
    edges += [f"a{i},b{i},1,co,{bridge_phase}" for i in range(3)]
    edges += ["a0,b0,2,co,4"]  # the same pair again later: one tie, two events
    write(folder, "edges.csv", "\n".join(edges))


def test_readme_names_the_group_column(tmp_path):
    two_cliques(tmp_path)
    assert group_column_of(tmp_path, ["id", "crew", "other"]) == "crew"
    assert group_column_of(tmp_path, ["id", "group"]) == "group"
    data = load_folder(tmp_path)
    assert data.periodic and data.group_column == "crew"
    assert len(data.pairs) == 20 + 15 + 4


def test_folder_evaluation_finds_the_bridge_and_the_groups(tmp_path):
    two_cliques(tmp_path)
    result = evaluate_folder(tmp_path)
    assert (result["n_nodes"], result["n_edges"], result["n_groups"]) == (40, 38, 2)
    assert result["nmi"] == 1.0 and result["ari"] == 1.0
    tie = result["group_ties"][0]
    assert (tie["group_a"], tie["group_b"], tie["person_ties"], tie["joint_events"]) == ("A", "B", 3, 4)
    assert tie["significant"] and tie["first_at"] == 3 and tie["onset"] == 3
    growth = pd.DataFrame(result["growth"]).set_index("period")
    assert growth.loc[3.0, "new_ties"] == 3 and growth.loc[4.0, "new_ties"] == 0
    assert growth.loc[1.0, "people"] == 40


def test_two_mode_folder_projects_events(tmp_path):
    write(tmp_path, "nodes.csv", "id,group\np1,A\np2,A\np3,B\np4,B")
    write(
        tmp_path,
        "affiliation.csv",
        "person,event,time\np1,E1,2020-01-01\np2,E1,2020-01-01\n"
        "p3,E1,2020-01-01\np3,E2,2020-03-01\np4,E2,2020-03-01",
    )
    data = load_folder(tmp_path)
    assert not data.periodic
    result = evaluate_folder(tmp_path)
    assert result["n_edges"] == 4  # E1: three pairs (weight 1/2), E2: one pair
    tie = result["group_ties"][0]
    assert (tie["person_ties"], tie["joint_events"], str(tie["first_at"])[:10]) == (2, 1, "2020-01-01")


def test_city_scoring_of_found_and_false_ties():
    planted = pd.DataFrame({"group_a": ["G01"], "group_b": ["G02"], "onset": [pd.Timestamp("2024-01-10")]})
    ties = pd.DataFrame(
        {
            "group_a": ["G01", "G03", "G02"],
            "group_b": ["G02", "G04", "G05"],
            "significant": [True, True, False],
            "onset": [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-01-01"), None],
            "detected_at": [pd.Timestamp("2024-03-01"), None, None],
        }
    )
    got = score_ties(ties, planted)
    assert (got["planted_ties_found"], got["onset_error_days"], got["false_group_ties"]) == (1, 22, 1)
    assert got["false_ties"] == ["G03-G04"]


def test_disruption_removes_the_top_broker():
    import numpy as np

    from casegraph.network.evaluate import disruption
    from casegraph.network.graphs import build_graph

    # Two triangles joined only through the broker h (vertex 6).
    edges = pd.DataFrame({"a": [0, 0, 1, 3, 3, 4, 2, 5], "b": [1, 2, 2, 4, 5, 5, 6, 6]})
    pg = build_graph(
        np.array([f"p{i}" for i in range(7)], dtype=object),
        np.array([None] * 7, dtype=object),
        edges.assign(weight=1.0, n_events=1, first_day=np.nan),
    )
    score = np.array([0, 0, 1, 0, 0, 1, 9.0])
    assert disruption(pg, score, share=0.1) == {
        "removed": 1,
        "largest_before": 7,
        "largest_after": 3,
        "reduction": round(1 - 3 / 7, 3),
    }
