"""The store: one object that owns the engine. `open_store(settings)` picks it from one setting: a DuckDB file
(embedded, the default), a PostgreSQL server URL (several agencies; the user signs in), or with the spark
engine a folder of Parquet tables computed by Spark."""

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
        if settings.engine.name != "duckdb":
            raise EngineError(
                "a server store computes its stage runs in DuckDB; the spark engine reads and writes a folder "
                "of Parquet tables (store.path), whose results the server then receives"
            )
        from casegraph.store.server import ServerStore, credentials_for

        return ServerStore(settings.store, location, credentials_for(location))
    if settings.engine.name == "spark":
        from casegraph.store.spark import SparkStore

        return SparkStore(settings.store, settings.engine, path)
    from casegraph.store.duckdb import DuckDBStore

    return DuckDBStore(settings.store, path)


def copy_tables(source: Store, target: Store, names: tuple[str, ...]) -> dict[str, int]:
    """Each named table's rows from one store into another (replacing what it held): rows that one engine
    wrote, for a stage that runs on another. Through Arrow, in batches of the source's engine."""
    copied = {}
    for name in names:
        data = source.arrow(f"SELECT * FROM {quote(name)}")
        copied[name] = target.write(name, data, mode="replace")
    return copied


def require_engine(store: Store, stage: str, engines: tuple[str, ...]) -> None:
    """A stage runs only on the engines it was built and tested for: on any other it stops and says so, rather
    than computing somewhere else. (A server store's stage runs compute in DuckDB.)"""
    if store.engine not in (*engines, "postgres"):
        raise EngineError(
            f"{stage} does not run on the {store.engine} engine yet (it runs on: {', '.join(engines)}); "
            "run it with engine duckdb (docs/scale.md lists what runs where)"
        )


__all__ = ["Store", "copy_tables", "is_server", "open_store", "quote", "require_engine"]
