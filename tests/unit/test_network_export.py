"""Graph exports: readable by the tools (igraph reads GraphML; GEXF and JSON parse), spreadsheet formulas
made inert in every format, the i2 link table's columns."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from datetime import date

import igraph as ig
import pandas as pd

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
            "n_events": [1, 2],
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
