"""casegraph: crime series, identities, networks and the growth of groups, from an agency's own records.

The public Python API is small on purpose; everything else is reached through the stages' `run()`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from casegraph.errors import CasegraphError

if TYPE_CHECKING:
    from casegraph.progress import Progress
    from casegraph.settings import Settings, load_settings
    from casegraph.store import Store, open_store

__version__ = "0.1.0"
# Imported on first use (PEP 562): `casegraph --help` and `import casegraph.errors` need not load pandas, pyarrow
# and pydantic, which the store and the settings bring.
_LAZY = {
    "Settings": "casegraph.settings",
    "load_settings": "casegraph.settings",
    "Store": "casegraph.store",
    "open_store": "casegraph.store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'casegraph' has no attribute {name!r}")


def import_file(store: Store, settings: Settings, path: str, **options: Any) -> Any:
    """Import one file (see casegraph.ingest.run for the options); returns an IngestReport."""
    from casegraph.pipeline import import_file as _import_file

    return _import_file(store, settings, path, **options)


def run_all(store: Store, settings: Settings, progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Run every built stage after ingest, in order."""
    from casegraph.pipeline import run_all as _run_all

    return _run_all(store, settings, progress)


def read_table(store: Store, name: str, *, as_pandas: bool = False) -> Any:
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
