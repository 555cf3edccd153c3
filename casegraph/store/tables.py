"""Tables as folders of Parquet files: the Spark store's on-disk format, which DuckDB and pyarrow read too.

One folder per table (`<root>/<table>/*.parquet`), typed from the schema (casegraph.schema), so an empty table
still has its columns. An append adds a file; a replacement is written beside the folder and swapped in, and
the old files are deleted (their bytes do not linger, as a purge needs). Why plain Parquet and not Delta Lake:
the delta-spark wheel carries no jars (it asks Spark to fetch them from Maven at start-up), so it cannot run
from the package index alone; see docs/scale.md.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from casegraph.schema import Table
from casegraph.schema.model import LOCAL_SCOPE

ARROW_TYPES = {
    "id": pa.string(),
    "string": pa.string(),
    "text": pa.string(),
    "code": pa.string(),
    "json": pa.string(),
    "list": pa.list_(pa.string()),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "bool": pa.bool_(),
}


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in table.fields])


def conform(table: Table, data: pa.Table) -> pa.Table:
    """The rows under the table's columns and types: a missing column is null (the scope: this store's own)."""
    columns = []
    for f in arrow_schema(table):
        if f.name in data.column_names:
            columns.append(data[f.name].cast(f.type))
        elif f.name == "scope":
            columns.append(pa.array([LOCAL_SCOPE] * len(data), f.type))
        else:
            columns.append(pa.nulls(len(data), f.type))
    return pa.Table.from_arrays(columns, schema=arrow_schema(table))


def folder(root: Path, table: str) -> Path:
    return root / table


def create(root: Path, table: Table) -> None:
    """An empty table: its folder with one empty file, so every reader sees its columns."""
    path = folder(root, table.name)
    if not path.exists():
        staged = staging(root, table.name)
        write_file(staged, arrow_schema(table).empty_table())
        os.replace(staged, path)


def write_file(path: Path, data: pa.Table) -> None:
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, path / f"part-{uuid.uuid4().hex}.parquet")


def append(root: Path, table: Table, data: pa.Table) -> None:
    write_file(folder(root, table.name), conform(table, data))


def swap_in(root: Path, name: str, staged: Path) -> None:
    """Put a fully written folder in the table's place and delete the old files."""
    path, old = folder(root, name), staging(root, name)
    if path.exists():
        os.replace(path, old)
    os.replace(staged, path)
    shutil.rmtree(old, ignore_errors=True)


def staging(root: Path, name: str) -> Path:
    """A fresh folder beside the tables, for a replacement being written (never read as a table)."""
    base = root / ".staging"
    base.mkdir(parents=True, exist_ok=True)
    return base / f"{name}-{uuid.uuid4().hex[:12]}"


def names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def files(root: Path, name: str) -> list[Path]:
    return sorted(folder(root, name).glob("*.parquet"))


def stored_columns(root: Path, name: str) -> set[str]:
    """The columns the table's files hold (its first file's; every file is written conformed)."""
    found = files(root, name)
    return set(pq.read_schema(found[0]).names) if found else set()


def read(root: Path, table: Table) -> pa.Table:
    """Every row of the table under its columns, on this machine (for a migration, not for a stage's work)."""
    parts = [conform(table, pq.read_table(f)) for f in files(root, table.name)]
    return pa.concat_tables(parts) if parts else arrow_schema(table).empty_table()
