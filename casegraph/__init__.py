"""casegraph: crime series, identities, networks and the growth of groups, from an agency's own records.

The public Python API is small on purpose; everything else is reached through the stages' `run()`.
"""

from __future__ import annotations

from casegraph.errors import CasegraphError
from casegraph.settings import Settings, load_settings
from casegraph.store import Store, open_store

__version__ = "0.1.0"


def import_file(store: Store, settings: Settings, path: str, **options: object):  # type: ignore[no-untyped-def]
    """Import one file (see casegraph.ingest.run for the options); returns an IngestReport."""
    from casegraph.pipeline import import_file as _import_file

    return _import_file(store, settings, path, **options)


def run_all(store: Store, settings: Settings, progress: object = None) -> dict[str, dict[str, object]]:
    """Run every built stage after ingest, in order."""
    from casegraph.pipeline import run_all as _run_all

    return _run_all(store, settings, progress)  # type: ignore[arg-type]


def read_table(store: Store, name: str, *, as_pandas: bool = False):  # type: ignore[no-untyped-def]
    """A whole table as Arrow (default) or pandas."""
    from casegraph.store import quote

    sql = f"SELECT * FROM {quote(name)}"
    return store.df(sql) if as_pandas else store.arrow(sql)


__all__ = [
    "CasegraphError",
    "Settings",
    "Store",
    "__version__",
    "import_file",
    "load_settings",
    "open_store",
    "read_table",
    "run_all",
]
