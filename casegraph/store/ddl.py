"""CREATE TABLE statements generated from the schema, and additive migrations (new columns only)."""

from __future__ import annotations

from casegraph.schema import Field, Table
from casegraph.schema.model import LOCAL_SCOPE

SQL_TYPES = {
    "id": "VARCHAR",
    "string": "VARCHAR",
    "text": "VARCHAR",
    "code": "VARCHAR",
    "json": "VARCHAR",
    "list": "VARCHAR[]",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "bool": "BOOLEAN",
}


def quote(name: str) -> str:
    """Quote an identifier; names come from the schema, never from user input, but quote them anyway."""
    return '"' + name.replace('"', '""') + '"'


def column_sql(f: Field) -> str:
    # an embedded store has one scope: rows written without one are its own
    default = f" DEFAULT '{LOCAL_SCOPE}'" if f.name == "scope" else ""
    return f"{quote(f.name)} {SQL_TYPES[f.type]}{default}"


def create_table_sql(table: Table) -> str:
    cols = ", ".join(column_sql(f) for f in table.fields)
    return f"CREATE TABLE IF NOT EXISTS {quote(table.name)} ({cols})"


def add_missing_columns_sql(table: Table, existing: set[str]) -> list[str]:
    return [
        f"ALTER TABLE {quote(table.name)} ADD COLUMN {column_sql(f)}"
        for f in table.fields
        if f.name not in existing
    ]
