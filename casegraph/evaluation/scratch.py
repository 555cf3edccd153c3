"""A scratch store for one evaluation: a copy of the settings pointing at a store in a temporary folder, removed
with everything in it when the evaluation ends (the caller's settings and store are left alone)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from casegraph import ingest
from casegraph.settings import Settings
from casegraph.store import Store, copy_tables, open_store

T = TypeVar("T")


@contextmanager
def scratch_store(settings: Settings) -> Iterator[tuple[Store, Settings, Path]]:
    """(store, its settings, the temporary folder for other scratch files)."""
    with tempfile.TemporaryDirectory(prefix="casegraph-eval-") as work:
        scratch = settings.model_copy(deep=True)
        # the spark engine's store is a folder of Parquet tables
        scratch.store.path = str(Path(work) / ("eval.duckdb" if settings.engine.name == "duckdb" else "eval"))
        scratch.safeguards.audit_anchor_file = None  # never the real store's anchor or key
        scratch.safeguards.audit_key_file = None
        store = open_store(scratch)
        try:
            yield store, scratch, Path(work)
        finally:
            store.close()


def import_records(store: Store, settings: Settings, work: Path, load: Callable[[Store, Settings], T]) -> T:
    """`load(store, settings)` imports files into the scratch store. Ingest runs on DuckDB only: on another
    engine the files are imported into a DuckDB store beside it and the record tables copied over, and the
    evaluation says so (`ingest_engine`)."""
    if store.engine in ingest.ENGINES:
        return load(store, settings)
    on_duckdb = settings.model_copy(deep=True)
    on_duckdb.engine.name = "duckdb"
    on_duckdb.store.path = str(work / "ingest.duckdb")
    loaded = open_store(on_duckdb)
    try:
        result = load(loaded, on_duckdb)
        copy_tables(loaded, store, tuple(ingest.WRITES))
    finally:
        loaded.close()
    return result


def ingest_engine(store: Store) -> str:
    """The engine the evaluation's records were imported on (see import_records)."""
    return store.engine if store.engine in ingest.ENGINES else "duckdb"
