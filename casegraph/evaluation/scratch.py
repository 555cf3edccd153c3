"""A scratch store for one evaluation: a copy of the settings pointing at a store in a temporary folder, removed
with everything in it when the evaluation ends (the caller's settings and store are left alone)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from casegraph.settings import Settings
from casegraph.store import Store, open_store


@contextmanager
def scratch_store(settings: Settings) -> Iterator[tuple[Store, Settings, Path]]:
    """(store, its settings, the temporary folder for other scratch files)."""
    with tempfile.TemporaryDirectory(prefix="casegraph-eval-") as work:
        scratch = settings.model_copy(deep=True)
        scratch.store.path = str(Path(work) / "eval.duckdb")
        scratch.safeguards.audit_anchor_file = None  # never the real store's anchor or key
        scratch.safeguards.audit_key_file = None
        store = open_store(scratch)
        try:
            yield store, scratch, Path(work)
        finally:
            store.close()
