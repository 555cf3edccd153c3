"""Name search without scanning every name: the distinct names a caller may see, matched in memory.

`ILIKE '%text%'` over the given, family and alias names of a million person records costs 30-50 ms of CPU per
search (every string of three columns is decompressed and lower-cased). A city holds far fewer distinct names
than records (11,622 for 892,313 records in the benchmark's city), so the workspace keeps each name column's
distinct values per visibility (read once through the guard, so that read is audited like any other), matches
the pattern against them with Arrow's `match_like` (SQL LIKE semantics, case-insensitive), and reads the
records with `column IN (?, ...)` on the columns that matched: an equality filter DuckDB checks against the
column's dictionary and statistics instead of lower-casing every row. The list is exact: it is remembered
only until the next change (see cache.py). When a column has too many distinct names, or the text matches too
many of them, that column falls back to ILIKE.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from casegraph.api import cache
from casegraph.safeguards import GuardedStore

NAME_COLUMNS = ("family_name", "given_name", "alias")
MAX_KNOWN = 500_000  # distinct names kept per column and visibility; a larger column is searched with ILIKE
MAX_MATCHES = 300  # names bound as parameters per column; more and the column is searched with ILIKE


def distinct_names_sql(column: str) -> str:
    if column not in NAME_COLUMNS:
        raise ValueError(f"not a name column: {column}")
    return f"SELECT DISTINCT {column} AS name FROM person_records WHERE {column} IS NOT NULL LIMIT ?"


def known_names(g: GuardedStore, column: str) -> pa.Array | None:
    """The column's distinct names visible to the caller, or None when there are too many to keep."""
    sql = distinct_names_sql(column)

    def read() -> pa.Array | None:
        names = g.arrow(sql, [MAX_KNOWN + 1]).column("name").combine_chunks()
        return names if len(names) <= MAX_KNOWN else None

    return cache.remembered(g, "names", sql, [MAX_KNOWN + 1], read)  # type: ignore[no-any-return]


def like_pattern(pattern: str) -> str:
    """A DuckDB ILIKE pattern for Arrow's match_like: DuckDB has no escape character unless one is given,
    Arrow treats a backslash as one, so a backslash in the pattern must stand for itself."""
    return pattern.replace("\\", "\\\\")


def matching_names(g: GuardedStore, column: str, pattern: str) -> list[str] | None:
    """The caller's names in `column` that `pattern` (an ILIKE pattern) matches; None: search with ILIKE."""
    names = known_names(g, column)
    if names is None:
        return None
    found = names.filter(pc.match_like(names, like_pattern(pattern), ignore_case=True))
    return None if len(found) > MAX_MATCHES else found.to_pylist()


def name_filters(g: GuardedStore, pattern: str, alias: str = "p") -> list[tuple[str, list[Any]]]:
    """WHERE fragments (fixed SQL, names as parameters), one per name column, whose union is "any name column
    ILIKE pattern"; empty when no visible name matches."""
    out: list[tuple[str, list[Any]]] = []
    for column in NAME_COLUMNS:
        names = matching_names(g, column, pattern)
        if names is None:
            out.append((f"{alias}.{column} ILIKE ?", [pattern]))
        elif names:
            out.append((f"{alias}.{column} IN ({', '.join('?' * len(names))})", names))
    return out
