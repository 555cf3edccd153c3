"""Bring the derived tables up to date after new records arrived: run the stages whose inputs changed since their
last successful run, in pipeline order, and say what changed (the id lineage events of each run, the new alerts).

A stage's inputs are its READS tables. One counts as changed since the stage's last successful run when
- another stage writes it and that stage finished a successful run since (or runs first in this update);
- it is a record table and a file was imported into it since (sources.received_at);
- it is an analyst's table (decisions, reviews, users) and one of its timestamps is later.
A stage with an `update` (linkage) takes new records into its last run, unless a changed input needs its whole
run (the stage's FULL_RUN_ON, e.g. an analyst's linkage decisions); the others re-run over all records.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from casegraph import pipeline
from casegraph.schema import model

if TYPE_CHECKING:
    from casegraph.progress import Progress
    from casegraph.settings import Settings
    from casegraph.store import Store

ALERT_COLUMNS = ("alert_id", "stage", "kind", "subject", "title", "severity", "onset", "evidence")


@dataclass
class StageUpdate:
    stage: str
    reasons: list[str]
    run_id: str | None = None
    seconds: float = 0.0
    lineage: list[dict[str, Any]] = field(default_factory=list)  # this run's id_lineage events
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class UpdateReport:
    stages: list[StageUpdate]
    new_alerts: list[dict[str, Any]]
    seconds: float

    @property
    def ran(self) -> list[str]:
        return [s.stage for s in self.stages]

    def as_dict(self) -> dict[str, Any]:
        return {"ran": self.ran, **asdict(self)}


def stale_stages(store: Store) -> dict[str, list[str]]:
    """The stages an update runs, in pipeline order, each with why (its inputs that changed)."""
    return {name: _reasons(changes) for name, changes in _planned(store).items()}


def _planned(store: Store) -> dict[str, dict[str, tuple[str, str, int]]]:
    """The stages an update runs, each with its changed input tables and how each changed."""
    planned: dict[str, dict[str, tuple[str, str, int]]] = {}
    for name in pipeline.STAGE_NAMES:
        changes = _changed_inputs(store, name, planned)
        if changes:
            planned[name] = changes
    return planned


def _changed_inputs(
    store: Store, stage: str, planned: dict[str, dict[str, tuple[str, str, int]]]
) -> dict[str, tuple[str, str, int]]:
    since = last_success(store, stage)
    if since is None:
        return {"": ("other", "never run successfully", 1)}
    changed = {
        table: _table_changed(store, stage, table, since, planned)
        for table in pipeline.stage_module(stage).READS
    }
    return {table: change for table, change in changed.items() if change}


def _reasons(changes: dict[str, tuple[str, str, int]]) -> list[str]:
    files = [f"{table} ({n})" for kind, table, n in changes.values() if kind == "files"]
    others = [reason for kind, reason, _n in changes.values() if kind != "files"]
    return ([f"new files in {', '.join(files)}"] if files else []) + list(dict.fromkeys(others))


def _table_changed(
    store: Store, stage: str, table: str, since: datetime, planned: dict[str, Any]
) -> tuple[str, str, int] | None:
    """How `table` changed since `since`: ("files", table, n) or ("other", why, n); None when it did not."""
    producer = pipeline.producer_of(table)
    if producer == stage:
        return None  # its own output (previous alerts, the previous run's series)
    if producer in planned:
        return ("other", f"{producer} runs first", 1)
    if producer != "ingest":
        done = last_success(store, producer)
        return (
            ("other", f"{producer} re-ran at {done:%Y-%m-%d %H:%M:%S} UTC", 1)
            if done and done > since
            else None
        )
    if model.table(table).kind == "record":
        files = store.scalar(
            "SELECT count(*) FROM sources WHERE table_name = ? AND received_at > ? AND rows_loaded > 0",
            [table, since],
        )
        return ("files", table, files) if files else None
    return _rows_changed(store, table, since)


def _rows_changed(store: Store, table: str, since: datetime) -> tuple[str, str, int] | None:
    """An analyst's table (decisions, reviews, users): rows whose timestamps are later than `since`."""
    stamps = [f.name for f in model.table(table).fields if f.type == "timestamp"]
    if not stamps or table not in store.table_names():
        return None
    where = " OR ".join(f"{s} > ?" for s in stamps)
    n = store.scalar(f"SELECT count(*) FROM {table} WHERE {where}", [since] * len(stamps))
    return ("other", f"{n} row(s) of {table} changed", n) if n else None


def last_success(store: Store, stage: str) -> datetime | None:
    found: datetime | None = store.scalar(
        "SELECT max(finished_at) FROM runs WHERE stage = ? AND status = 'ok'", [stage]
    )
    return found


def run_update(store: Store, settings: Settings, progress: Progress | None = None) -> UpdateReport:
    """Run the stale stages in order; report each one's lineage events and the alerts that are new."""
    started = time.perf_counter()
    alerts_before = _alert_ids(store)
    stages = [_run_one(store, settings, name, changes, progress) for name, changes in _planned(store).items()]
    return UpdateReport(
        stages=stages,
        new_alerts=_new_alerts(store, alerts_before),
        seconds=round(time.perf_counter() - started, 1),
    )


def _run_one(
    store: Store,
    settings: Settings,
    name: str,
    changes: dict[str, tuple[str, str, int]],
    progress: Progress | None,
) -> StageUpdate:
    latest_before = _latest_run(store, name)
    started = time.perf_counter()
    if pipeline.can_update(name, set(changes)):
        summary = pipeline.update_stage(store, settings, name, progress)
    else:
        summary = pipeline.run_stage(store, settings, name, progress)
    run_id = _latest_run(store, name)
    return StageUpdate(
        stage=name,
        reasons=_reasons(changes),
        run_id=run_id if run_id != latest_before else None,
        seconds=round(time.perf_counter() - started, 1),
        lineage=_lineage_of(store, run_id) if run_id and run_id != latest_before else [],
        summary=summary,
    )


def _latest_run(store: Store, stage: str) -> str | None:
    found: str | None = store.scalar(
        "SELECT run_id FROM runs WHERE stage = ? ORDER BY started_at DESC, run_id DESC LIMIT 1", [stage]
    )
    return found


def _lineage_of(store: Store, run_id: str) -> list[dict[str, Any]]:
    columns = ("id", "event", "from_ids", "members", "previous_members")
    rows = store.rows(
        f"SELECT {', '.join(columns)} FROM id_lineage WHERE run_id = ? ORDER BY event, id", [run_id]
    )
    return [{**dict(zip(columns, row, strict=True)), "from_ids": list(row[2] or [])} for row in rows]


def _alert_ids(store: Store) -> set[str]:
    return {row[0] for row in store.rows("SELECT alert_id FROM alerts")}


def _new_alerts(store: Store, before: set[str]) -> list[dict[str, Any]]:
    rows = store.rows(f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts ORDER BY stage, kind, onset, alert_id")
    alerts = [dict(zip(ALERT_COLUMNS, row, strict=True)) for row in rows if row[0] not in before]
    return [{**a, "onset": a["onset"] and str(a["onset"]), "evidence": list(a["evidence"])} for a in alerts]
