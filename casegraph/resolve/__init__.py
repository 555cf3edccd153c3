"""Stage `resolve`: which person records are the same person (Splink, Fellegi-Sunter).

Writes `person_identities` (record -> person with match weight and cluster confidence); source records are
never merged in place. Analysts review uncertain pairs and accept or reject them; a decision overrides the
model on every later run and can be undone. Later stages join records to persons through `identities()` or
the `person_identities` table, never through this package's internals.
"""

from __future__ import annotations

import pandas as pd

from casegraph.resolve import sql
from casegraph.resolve.assign import recluster
from casegraph.resolve.incremental import update
from casegraph.resolve.review import decide, decisions, explain, record_key, review_queue, undo
from casegraph.resolve.stage import ENGINES, run
from casegraph.store import Store

READS = ("person_records", "resolve_decisions")
# `update` resolves new records with the last model; a change in these tables needs a full run instead.
FULL_RUN_ON = ("resolve_decisions",)
WRITES = (
    "person_identities",
    "resolve_pairs",
    "resolve_models",
    "resolve_term_frequencies",
    "resolve_decisions",
    "id_lineage",
)


def identities(store: Store) -> pd.DataFrame:
    """record_id, agency, person_id, match_weight, match_probability, cluster_size, cluster_confidence, ..."""
    return store.df(sql.identities_sql())


def person_of(store: Store, agency: str, record_id: str) -> str | None:
    rows = store.rows(sql.person_of_sql(), [agency, record_id])
    return rows[0][0] if rows else None


def records_of(store: Store, person_id: str) -> pd.DataFrame:
    """The records resolved to one person, with the strength of each one's link."""
    return store.df(sql.person_records_sql(), [person_id])


__all__ = [
    "ENGINES",
    "FULL_RUN_ON",
    "READS",
    "WRITES",
    "decide",
    "decisions",
    "explain",
    "identities",
    "person_of",
    "recluster",
    "record_key",
    "records_of",
    "review_queue",
    "run",
    "undo",
    "update",
]
