"""Graph exports analysts' tools read: GraphML (yEd, Gephi, igraph), GEXF 1.3 (Gephi), an i2 Analyst's
Notebook link table (CSV, one row per link with both entities) and JSON for a web view (nodes and links).

Every text value passes through `cell`, which the caller supplies (the CLI passes casegraph.export.inert, so
a value that a spreadsheet would run as a formula is made inert); this module writes no files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

Cell = Callable[[Any], Any]
NODE_ATTRS = {
    "group_id": "string",
    "community": "int",
    "degree": "int",
    "strength": "double",
    "betweenness": "double",
    "brokerage": "double",
    "liaison": "double",
    "cross_ties": "int",
}
EDGE_ATTRS = {
    "weight": "double",
    "n_events": "int",
    "kinds": "string",
    "first_at": "string",
    "last_at": "string",
    "evidence": "string",
}
I2_COLUMNS = [
    "Entity1_ID",
    "Entity1_Type",
    "Entity1_Label",
    "Entity1_Group",
    "Entity2_ID",
    "Entity2_Type",
    "Entity2_Label",
    "Entity2_Group",
    "Link_Type",
    "Link_Label",
    "Link_Strength",
    "Link_Date",
    "Link_End_Date",
    "Link_Evidence",
]


def plain(value: Any) -> Any:
    """A JSON/XML-friendly scalar: lists joined with ';', missing values empty, dates as ISO text."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value.isoformat() if hasattr(value, "isoformat") else value


def typed(value: Any, kind: str | None) -> Any:
    """A value as its declared attribute type: a count summed by the database arrives as 12.0, and readers
    that trust the declaration (networkx) refuse "12.0" for an integer."""
    value = plain(value)
    if value == "" or kind not in ("int", "double"):
        return value
    return int(value) if kind == "int" else float(value)


def _text(value: Any, cell: Cell, kind: str | None = None) -> str:
    value = typed(value, kind)
    return str(cell(value) if isinstance(value, str) else value)


def graphml(nodes: pd.DataFrame, edges: pd.DataFrame, cell: Cell) -> str:
    root = ET.Element("graphml", xmlns="http://graphml.graphdrawing.org/xmlns")
    for scope, attrs in (("node", NODE_ATTRS), ("edge", EDGE_ATTRS)):
        for name, kind in attrs.items():
            ET.SubElement(
                root, "key", {"id": f"{scope[0]}_{name}", "for": scope, "attr.name": name, "attr.type": kind}
            )
    graph = ET.SubElement(root, "graph", id="casegraph", edgedefault="undirected")
    for row in nodes.to_dict("records"):
        node = ET.SubElement(graph, "node", id=_text(row["person_id"], cell))
        _data(node, row, NODE_ATTRS, "n", cell)
    for i, row in enumerate(edges.to_dict("records")):
        edge = ET.SubElement(
            graph, "edge", id=f"e{i}", source=_text(row["source"], cell), target=_text(row["target"], cell)
        )
        _data(edge, row, EDGE_ATTRS, "e", cell)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _data(parent: ET.Element, row: dict[str, Any], attrs: dict[str, str], prefix: str, cell: Cell) -> None:
    for name, kind in attrs.items():
        if name in row and plain(row[name]) != "":
            ET.SubElement(parent, "data", key=f"{prefix}_{name}").text = _text(row[name], cell, kind)


def gexf(nodes: pd.DataFrame, edges: pd.DataFrame, cell: Cell) -> str:
    root = ET.Element("gexf", {"xmlns": "http://gexf.net/1.3", "version": "1.3"})
    graph = ET.SubElement(root, "graph", mode="static", defaultedgetype="undirected")
    for scope, attrs in (("node", NODE_ATTRS), ("edge", EDGE_ATTRS)):
        block = ET.SubElement(graph, "attributes", {"class": scope})
        for i, (name, kind) in enumerate(attrs.items()):
            ET.SubElement(block, "attribute", id=str(i), title=name, type=kind.replace("int", "integer"))
    node_block = ET.SubElement(graph, "nodes")
    for row in nodes.to_dict("records"):
        label = _text(row["person_id"], cell)
        node = ET.SubElement(node_block, "node", id=label, label=label)
        _values(node, row, NODE_ATTRS, cell)
    edge_block = ET.SubElement(graph, "edges")
    for i, row in enumerate(edges.to_dict("records")):
        edge = ET.SubElement(
            edge_block,
            "edge",
            id=str(i),
            source=_text(row["source"], cell),
            target=_text(row["target"], cell),
            weight=str(float(row["weight"])),
        )
        _values(edge, row, EDGE_ATTRS, cell)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _values(parent: ET.Element, row: dict[str, Any], attrs: dict[str, str], cell: Cell) -> None:
    block = ET.SubElement(parent, "attvalues")
    for i, (name, kind) in enumerate(attrs.items()):
        if name in row and plain(row[name]) != "":
            ET.SubElement(block, "attvalue", {"for": str(i), "value": _text(row[name], cell, kind)})


def i2_rows(nodes: pd.DataFrame, edges: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per link, both entities on the row: the layout i2 Analyst's Notebook's import wizard maps
    (entity type Person, identity = person id, link type = the tie's kinds, strength, first/last date)."""
    group = dict(zip(nodes["person_id"], nodes["group_id"], strict=True))
    rows = []
    for e in edges.to_dict("records"):
        kinds = plain(e["kinds"])
        rows.append(
            {
                "Entity1_ID": e["source"],
                "Entity1_Type": "Person",
                "Entity1_Label": e["source"],
                "Entity1_Group": plain(group.get(e["source"])),
                "Entity2_ID": e["target"],
                "Entity2_Type": "Person",
                "Entity2_Label": e["target"],
                "Entity2_Group": plain(group.get(e["target"])),
                "Link_Type": kinds,
                "Link_Label": f"{kinds} x{int(e['n_events'])}",
                "Link_Strength": round(float(e["weight"]), 4),
                "Link_Date": plain(e["first_at"]),
                "Link_End_Date": plain(e["last_at"]),
                "Link_Evidence": plain(e["evidence"]),
            }
        )
    return rows


def web_json(nodes: pd.DataFrame, edges: pd.DataFrame, cell: Cell) -> dict[str, Any]:
    """{"nodes": [{id, group, ...}], "links": [{source, target, weight, ...}]} (d3-force / vis-network)."""

    kinds = {**NODE_ATTRS, **EDGE_ATTRS}

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        values = ((k, typed(v, kinds.get(k))) for k, v in row.items())
        return {k: (cell(v) if isinstance(v, str) else v) for k, v in values}

    node_cols = ["person_id", *[c for c in NODE_ATTRS if c in nodes.columns]]
    return {
        "nodes": [clean({"id": r.pop("person_id"), **r}) for r in nodes[node_cols].to_dict("records")],
        "links": [clean(r) for r in edges.to_dict("records")],
    }
