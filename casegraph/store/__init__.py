"""The store: one object that owns the engine. `open_store(settings)` picks the engine from one setting."""

from __future__ import annotations

from casegraph.errors import EngineError
from casegraph.settings import Settings
from casegraph.store.base import Store
from casegraph.store.ddl import quote


def open_store(settings: Settings, path: str | None = None) -> Store:
    """Open (creating if needed) the store named by settings.store (or `path`)."""
    if settings.store.engine == "duckdb":
        from casegraph.store.duckdb import DuckDBStore

        return DuckDBStore(settings.store, path)
    raise EngineError(
        "the spark engine is not available yet in this build (store.engine = 'spark'); use 'duckdb'"
    )


__all__ = ["Store", "open_store", "quote"]
