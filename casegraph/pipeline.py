"""The ordered stages after ingest. Each stage module exposes READS, WRITES and
`run(store, settings, *, progress=None) -> dict` (a JSON-able summary)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from casegraph.progress import Progress
from casegraph.settings import Settings
from casegraph.store import Store

T = TypeVar("T")
# Stages are listed by name and imported lazily: a stage not built yet is reported, never faked.
STAGE_NAMES = ("resolve", "linkage", "network", "trends")


def stage_module(name: str) -> ModuleType | None:
    module = importlib.import_module(f"casegraph.{name}")
    return module if callable(getattr(module, "run", None)) else None


def available_stages() -> list[str]:
    return [name for name in STAGE_NAMES if stage_module(name) is not None]


def run_stage(
    store: Store, settings: Settings, name: str, progress: Progress | None = None
) -> dict[str, Any]:
    module = stage_module(name)
    if module is None:
        return {"stage": name, "status": "not built yet"}
    runner: Callable[..., dict[str, Any]] = module.run
    return run_computing(store, module, lambda s: runner(s, settings, progress=progress))


def run_computing(store: Store, module: ModuleType, run: Callable[[Any], T]) -> T:
    """run(store) where a stage computes: a session's computing() (a server store's snapshot of what the run's
    scope may read, written back when it ends), or the store itself."""
    return computing_with(store, tuple(module.READS), tuple(module.WRITES), run)


def computing_with(
    store: Store, reads: tuple[str, ...], writes: tuple[str, ...], run: Callable[[Any], T]
) -> T:
    opener = getattr(store, "computing", None)
    if opener is None:
        return run(store)
    with opener(reads, writes) as computing:
        return run(computing)


def import_file(store: Store, settings: Settings, path: str | Path, **options: Any) -> Any:
    """Import one file (see casegraph.ingest.run) where it computes: on a server store, checked against the
    stored rows the importer may see and added under row-level security."""
    from casegraph import ingest

    return computing_with(
        store, ingest.IMPORT_READS, ingest.WRITES, lambda s: ingest.run(s, settings, path, **options)
    )


def import_folder(store: Store, settings: Settings, folder: str | Path, **options: Any) -> list[Any]:
    """Every record file of a folder (see casegraph.ingest.folder_files), each imported as import_file does."""
    from casegraph import ingest

    return [
        import_file(store, settings, path, table=table, **options)
        for table, path in ingest.folder_files(folder)
    ]


def run_all(store: Store, settings: Settings, progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Every built stage in order; each reads the tables the ones before it wrote."""
    return {name: run_stage(store, settings, name, progress) for name in STAGE_NAMES}


def run_upstream(
    store: Store, settings: Settings, names: tuple[str, ...] = ("resolve", "linkage")
) -> dict[str, str]:
    """Run the stages an evaluation reads from; each one's status, a failure reported rather than raised (a
    failing upstream stage degrades an evaluation, it does not stop it)."""
    ran = {}
    for name in names:
        try:
            summary = run_stage(store, settings, name)
            ran[name] = summary.get("status", "ok") if isinstance(summary, dict) else "ok"
        except Exception as exc:
            ran[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
    return ran
