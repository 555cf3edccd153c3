"""Exports analysts' tools read. Every text cell is made inert for spreadsheets (CSV injection, OWASP):
a value starting with = + - @ or a tab/carriage return is prefixed with a single quote."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from casegraph.schema import model
from casegraph.store import Store, quote

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """A cell value safe to open in Excel / LibreOffice; numbers are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(rows: list[dict[str, Any]], path: str | Path, columns: list[str] | None = None) -> int:
    columns = columns or (list(rows[0]) if rows else [])
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([inert(_cell(row.get(c))) for c in columns])
    return len(rows)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else value


def table_frame(store: Store, table: str, where_agency: str | None = None) -> pd.DataFrame:
    """One declared table (optionally one agency's rows) as a DataFrame, ready to be written."""
    model.table(table)  # only declared tables can be exported
    sql, params = f"SELECT * FROM {quote(table)}", []
    if where_agency:
        sql, params = sql + " WHERE agency = ?", [where_agency]
    return store.df(sql, params)


def write_frame(frame: pd.DataFrame, path: str | Path, fmt: str = "csv") -> int:
    """CSV or JSON lines, every text cell made inert; returns the row count."""
    rows = frame.to_dict("records")
    if fmt == "csv":
        return write_csv(rows, path, list(frame.columns))
    with Path(path).open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({k: inert(v) for k, v in row.items()}, default=str) + "\n")
    return len(rows)


def export_table(
    store: Store, table: str, path: str | Path, fmt: str = "csv", where_agency: str | None = None
) -> int:
    """Write one table as CSV or JSON lines (no dissemination record: entry points add that)."""
    return write_frame(table_frame(store, table, where_agency), path, fmt)


__all__ = ["export_table", "inert", "table_frame", "write_csv", "write_frame"]
