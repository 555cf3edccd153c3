"""Name search over the person records a caller may see, held in memory as dictionary codes.

`ILIKE '%text%'` over the given, family and alias names of a million person records, then a join with
person_identities for their persons, cost 60-80 ms of CPU per search at 1,000,000 incidents. A city holds far
fewer distinct names than records, so the workspace reads the caller's records once (through the guard: that
read is audited like any other), keeps each name column as its distinct names plus one code per record, and
answers a search by matching the pattern against the distinct names only (Arrow's `match_like`: SQL LIKE
semantics, case-insensitive) and picking the records whose codes matched. Every search is audited as a read
of person_records with the number of records it matched. The index is exact: it is kept only until the next
change (see cache.py). Its memory is about 60 bytes per visible record; a caller who sees more than
MAX_INDEXED records, and every caller of a server store, is searched with ILIKE in SQL instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from casegraph.api import cache
from casegraph.api.reads.common import person_of
from casegraph.safeguards import Session

NAME_COLUMNS = ("family_name", "given_name", "alias")
MAX_INDEXED = 3_000_000


@dataclass(frozen=True)
class NameIndex:
    """The caller's person records (person_id, agency, given_name, family_name, dob), in (agency, record_id)
    order, and for each name column its distinct names and each record's code into them (-1: no name)."""

    records: pa.Table
    codes: dict[str, tuple[pa.Array, np.ndarray]]


def index_sql(resolved: bool) -> str:
    join = "LEFT JOIN person_identities pi USING (agency, record_id)" if resolved else ""
    return (
        f"SELECT {person_of('p', resolved)} AS person_id, p.agency, p.given_name, p.family_name, p.alias, p.dob "
        f"FROM person_records p {join} ORDER BY p.agency, p.record_id"
    )


def name_index(g: Session, resolved: bool) -> NameIndex | None:
    """The caller's index (read once per visibility until the next change), or None when too large to hold, or
    on a server store, where nothing is kept between requests (other processes write at any time): rebuilding
    it from every visible record on each search took ~1 s at 100,000 incidents; the ILIKE search in SQL scans
    the records once instead (ILIKE is not leakproof, so under row-level security PostgreSQL uses no index
    for it, trigram or other)."""
    if g.engine == "postgres":
        return None
    if int(cache.scalar(g, "SELECT count(*) FROM person_records")) > MAX_INDEXED:
        return None
    sql = index_sql(resolved)
    return cache.remembered(g, "names", sql, None, lambda: _build(g.arrow(sql)))


def _build(table: pa.Table) -> NameIndex:
    codes = {}
    for column in NAME_COLUMNS:
        encoded = table.column(column).combine_chunks().dictionary_encode()
        codes[column] = (encoded.dictionary, pc.fill_null(encoded.indices, -1).to_numpy())
    return NameIndex(table.drop_columns(["alias"]), codes)


def like_pattern(pattern: str) -> str:
    """A DuckDB ILIKE pattern for Arrow's match_like: DuckDB has no escape character unless one is given,
    Arrow treats a backslash as one, so a backslash in the pattern must stand for itself."""
    return pattern.replace("\\", "\\\\")


def matches(index: NameIndex, pattern: str, limit: int) -> pa.Table:
    """The first `limit` records (in index order) with any name matching `pattern`, an ILIKE pattern."""
    hit = np.zeros(index.records.num_rows, dtype=bool)
    for names, codes in index.codes.values():
        matched = pc.match_like(names, like_pattern(pattern), ignore_case=True)
        lookup = np.append(matched.to_numpy(zero_copy_only=False), False)  # code -1 reads the last slot
        hit |= lookup[codes]
    return index.records.take(np.flatnonzero(hit)[:limit])


def persons_of(hits: pa.Table, *, limit: int, offset: int) -> list[dict[str, object]]:
    """Records grouped by person: how many matched, their names and agencies, the earliest date of birth;
    the persons with most records first (as persons_sql orders them)."""
    named = hits.append_column(
        "name", pc.binary_join_element_wise(hits["given_name"], hits["family_name"], " ")
    )
    grouped = named.group_by("person_id").aggregate(
        [("person_id", "count"), ("name", "distinct"), ("agency", "distinct"), ("dob", "min")]
    )
    ordered = grouped.sort_by([("person_id_count", "descending"), ("person_id", "ascending")])
    return [
        {
            "person_id": r["person_id"],
            "records": r["person_id_count"],
            "names": sorted(n for n in r["name_distinct"] if n is not None),
            "agencies": sorted(a for a in r["agency_distinct"] if a is not None),
            "dob": r["dob_min"],
        }
        for r in ordered.slice(offset, limit).to_pylist()
    ]
