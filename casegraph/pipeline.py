"""The ordered stages after ingest. Each stage module exposes READS, WRITES and
`run(store, settings, *, progress=None) -> dict` (a JSON-able summary)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casegraph.progress import Progress
    from casegraph.settings import Settings
    from casegraph.store import Store

# Listed by name and imported when first needed: Splink, scikit-learn and igraph take seconds to import.
STAGE_NAMES = ("resolve", "linkage", "network", "trends")


def stage_module(name: str) -> ModuleType:
    if name not in STAGE_NAMES:
        raise ValueError(f"no stage {name!r}: the stages are {', '.join(STAGE_NAMES)}")
    return importlib.import_module(f"casegraph.{name}")


def available_stages() -> list[str]:
    """Every stage, imported (the workspace does this once before its first request)."""
    return [stage_module(name).__name__.rpartition(".")[2] for name in STAGE_NAMES]


def producer_of(table: str) -> str:
    """The stage that writes a table ('ingest' for the record tables); the first of several."""
    return next((name for name in STAGE_NAMES if table in stage_module(name).WRITES), "ingest")


def run_stage(
    store: Store, settings: Settings, name: str, progress: Progress | None = None
) -> dict[str, Any]:
    runner: Callable[..., dict[str, Any]] = stage_module(name).run
    return runner(store, settings, progress=progress)


def run_all(store: Store, settings: Settings, progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Every stage in order; each reads the tables the ones before it wrote."""
    return {name: run_stage(store, settings, name, progress) for name in STAGE_NAMES}
