"""Graph exports: every format read back by networkx and igraph (values of the declared types: a count the
database sums arrives as 12.0 and must be written 12), spreadsheet formulas made inert in every format, the i2
link table's columns."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import igraph as ig
import networkx as nx
import pandas as pd
import pytest

from casegraph.export import inert, write_csv
from casegraph.network import export

EVIL = '=HYPERLINK("http://x","y")'


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    nodes = pd.DataFrame(
        {
            "person_id": ["p1", EVIL, "p3"],
            "group_id": ["G1", "+G2", None],
            "community": [0, 1, 1],
            "degree": [2, 1, 1],
            "strength": [1.5, 1.0, 0.5],
            "betweenness": [1.0, 0.0, 0.0],
            "brokerage": [1.0, 0.0, 0.0],
            "liaison": [0.0] * 3,
            "cross_ties": [1, 1, 0],
        }
    )
    edges = pd.DataFrame(
        {
            "source": ["p1", "p1"],
            "target": [EVIL, "p3"],
            "weight": [1.0, 0.5],
            "n_events": [1.0, 12.0],  # as DuckDB's sum() gives them
            "kinds": [["call"], ["meeting", "co_offending"]],
            "first_at": [date(2024, 1, 2), date(2024, 2, 3)],
            "last_at": [date(2024, 1, 2), None],
            "evidence": [["contact:C1"], ["@SUM(A1)", "incident:I2"]],
        }
    )
    return nodes, edges


def test_graphml_is_read_by_igraph_with_formulas_inert(tmp_path):
    nodes, edges = frames()
    path = tmp_path / "g.graphml"
    path.write_text(export.graphml(nodes, edges, inert))
    g = ig.Graph.Read_GraphML(str(path))
    assert (g.vcount(), g.ecount()) == (3, 2)
    assert "'" + EVIL in g.vs["id"]
    assert "'+G2" in g.vs["group_id"]
    assert g.es["evidence"][1] == "'@SUM(A1);incident:I2"
    assert g.es["weight"] == [1.0, 0.5]


def test_gexf_parses_and_carries_attributes():
    nodes, edges = frames()
    root = ET.fromstring(export.gexf(nodes, edges, inert))
    ns = {"g": "http://gexf.net/1.3"}
    assert [n.get("id") for n in root.iterfind(".//g:node", ns)] == ["p1", "'" + EVIL, "p3"]
    assert [e.get("weight") for e in root.iterfind(".//g:edge", ns)] == ["1.0", "0.5"]
    titles = [a.get("title") for a in root.iterfind(".//g:attributes[@class='edge']/g:attribute", ns)]
    assert "evidence" in titles and "kinds" in titles


def test_i2_link_table_escapes_formulas(tmp_path):
    nodes, edges = frames()
    path = tmp_path / "i2.csv"
    write_csv(export.i2_rows(nodes, edges), path, export.I2_COLUMNS)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == export.I2_COLUMNS
    assert rows[0]["Entity2_ID"] == "'" + EVIL
    assert rows[1]["Link_Type"] == "meeting;co_offending" and rows[1]["Link_Date"] == "2024-02-03"
    assert rows[1]["Link_Evidence"] == "'@SUM(A1);incident:I2"
    assert rows[0]["Entity1_Group"] == "G1"


def test_web_json_nodes_and_links():
    nodes, edges = frames()
    data = json.loads(json.dumps(export.web_json(nodes, edges, inert)))
    assert [n["id"] for n in data["nodes"]] == ["p1", "'" + EVIL, "p3"]
    assert data["links"][0]["target"] == "'" + EVIL
    assert data["links"][1]["first_at"] == "2024-02-03" and data["links"][1]["last_at"] == ""


def read_back(fmt: str, path: Path) -> tuple[nx.Graph, ig.Graph]:
    """The file as networkx and igraph read it (igraph has no GEXF reader: it takes networkx's graph)."""
    if fmt == "graphml":
        return nx.read_graphml(path), ig.Graph.Read_GraphML(str(path))
    if fmt == "gexf":
        g = nx.read_gexf(path)
        return g, ig.Graph.from_networkx(g)
    if fmt == "json":
        data = json.loads(path.read_text())
        g = nx.node_link_graph(data, edges="links")
        return g, ig.Graph.DictList(data["nodes"], data["links"], vertex_name_attr="id")
    table = pd.read_csv(path, dtype=str)
    ends = table[["Entity1_ID", "Entity2_ID", "Link_Strength"]]
    return nx.from_pandas_edgelist(ends, "Entity1_ID", "Entity2_ID", "Link_Strength"), ig.Graph.DataFrame(
        ends, directed=False, use_vids=False
    )


WRITERS = {
    "graphml": lambda n, e: export.graphml(n, e, inert),
    "gexf": lambda n, e: export.gexf(n, e, inert),
    "json": lambda n, e: json.dumps(export.web_json(n, e, inert), default=str),
}


@pytest.mark.parametrize("fmt", [*WRITERS, "i2"])
def test_every_format_is_read_back_by_networkx_and_igraph_with_its_types(fmt, tmp_path):
    nodes, edges = frames()
    path = tmp_path / f"g.{fmt}"
    if fmt == "i2":
        write_csv(export.i2_rows(nodes, edges), path, export.I2_COLUMNS)
    else:
        path.write_text(WRITERS[fmt](nodes, edges))
    g, h = read_back(fmt, path)
    assert (g.number_of_nodes(), g.number_of_edges()) == (3, 2) == (h.vcount(), h.ecount())
    if fmt == "i2":
        return
    counts = sorted(d["n_events"] for _, _, d in g.edges(data=True))
    assert counts == [1, 12] and all(type(c) is int for c in counts)
    assert sorted(h.es["n_events"]) == [1, 12]
    assert {type(d["degree"]) for _, d in g.nodes(data=True)} == {int}
