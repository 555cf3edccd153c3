"""The store: one object that owns the engine. `open_store(settings)` picks it from one setting: a DuckDB file
(embedded, the default) or a PostgreSQL server URL (several agencies; the user signs in)."""

from __future__ import annotations

from casegraph.errors import EngineError
from casegraph.settings import Settings
from casegraph.store.base import Store
from casegraph.store.ddl import quote


def is_server(location: str | None) -> bool:
    return bool(location) and str(location).startswith(("postgresql://", "postgres://"))


def open_store(settings: Settings, path: str | None = None) -> Store:
    """Open the store named by settings.store (or `path`): a server store signs in (see store.server)."""
    location = str(path or settings.store.path)
    if is_server(location):
        from casegraph.store.server import ServerStore, credentials_for

        return ServerStore(settings.store, location, credentials_for(location))
    if settings.store.engine == "duckdb":
        from casegraph.store.duckdb import DuckDBStore

        return DuckDBStore(settings.store, path)
    raise EngineError(
        "the spark engine is not available yet in this build (store.engine = 'spark'); use 'duckdb'"
    )


__all__ = ["Store", "is_server", "open_store", "quote"]
