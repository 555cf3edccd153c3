"""The ordered stages after ingest. Each stage module exposes READS, WRITES and
`run(store, settings, *, progress=None) -> dict` (a JSON-able summary)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from casegraph.progress import Progress
    from casegraph.settings import Settings
    from casegraph.store import Store

T = TypeVar("T")
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
    module = stage_module(name)
    runner: Callable[..., dict[str, Any]] = module.run
    return run_computing(store, module, lambda s: runner(s, settings, progress=progress))


def update_stage(
    store: Store, settings: Settings, name: str, progress: Progress | None = None
) -> dict[str, Any]:
    """The stage's `update` (only what new records change) where it has one, else its whole run."""
    module = stage_module(name)
    runner: Callable[..., dict[str, Any]] = getattr(module, "update", module.run)
    return run_computing(store, module, lambda s: runner(s, settings, progress=progress))


def can_update(name: str, changed: set[str]) -> bool:
    """Whether the stage can take these changed input tables by `update` (it has one, and none of them is a
    table whose change needs its whole run)."""
    module = stage_module(name)
    return hasattr(module, "update") and not changed & set(getattr(module, "FULL_RUN_ON", ()))


def run_computing(store: Store, module: ModuleType, run: Callable[[Any], T]) -> T:
    """run(store) where a stage computes: a session's computing() (a server store's snapshot of what the run's
    scope may read, written back when it ends), or the store itself."""
    return computing_with(store, tuple(module.READS), tuple(module.WRITES), run)


def computing_with(
    store: Store,
    reads: tuple[str, ...],
    writes: tuple[str, ...],
    run: Callable[[Any], T],
    *,
    all_records: bool = False,
) -> T:
    opener = getattr(store, "computing", None)
    if opener is None:
        return run(store)
    with opener(reads, writes, all_records=all_records) as computing:
        return run(computing)


def import_file(store: Store, settings: Settings, path: str | Path, **options: Any) -> Any:
    """Import one file (see casegraph.ingest.run) where it computes: on a server store, checked against every
    stored row the importer may read (whatever the working scope) and added under row-level security."""
    from casegraph import ingest

    return computing_with(
        store,
        ingest.IMPORT_READS,
        ingest.WRITES,
        lambda s: ingest.run(s, settings, path, **options),
        all_records=True,
    )


def import_folder(store: Store, settings: Settings, folder: str | Path, **options: Any) -> list[Any]:
    """Every record file of a folder (see casegraph.ingest.folder_files), each imported as import_file does."""
    from casegraph import ingest

    return [
        import_file(store, settings, path, table=table, mapping=mapping, **options)
        for table, path, mapping in ingest.folder_files(folder)
    ]


def run_all(store: Store, settings: Settings, progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Every stage in order; each reads the tables the ones before it wrote."""
    return {name: run_stage(store, settings, name, progress) for name in STAGE_NAMES}
