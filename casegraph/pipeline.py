"""The ordered stages after ingest. Each stage module exposes READS, WRITES and
`run(store, settings, *, progress=None) -> dict` (a JSON-able summary)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from casegraph.progress import Progress
from casegraph.settings import Settings
from casegraph.store import Store

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
    return runner(store, settings, progress=progress)


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
