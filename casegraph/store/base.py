"""The Store protocol: the one object through which every stage reads and writes tables.

Stages build SQL as strings (pure functions) and hand them here; only casegraph.store imports an engine,
so the DuckDB engine can be swapped for Spark by one setting.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias

import pandas as pd
import pyarrow as pa

Params: TypeAlias = Sequence[Any] | dict[str, Any] | None
Frame: TypeAlias = pa.Table | pd.DataFrame


class Store(Protocol):
    engine: str
    path: str

    def execute(self, sql: str, params: Params = None) -> None: ...
    def arrow(self, sql: str, params: Params = None) -> pa.Table: ...
    def df(self, sql: str, params: Params = None) -> pd.DataFrame: ...
    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]: ...
    def scalar(self, sql: str, params: Params = None) -> Any: ...
    def batches(self, sql: str, params: Params = None, size: int = 100_000) -> Iterator[pa.RecordBatch]: ...
    def write(self, table: str, data: Frame, mode: str = "append") -> int: ...
    def registered(self, name: str, data: Frame) -> AbstractContextManager[str]: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def table_names(self) -> list[str]: ...
    def columns(self, table: str) -> list[str]: ...
    def count(self, table: str) -> int: ...
    def new_run(self, stage: str, settings: dict[str, Any], user_id: str | None = None) -> str: ...
    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None: ...
    def splink_db_api(self) -> Any: ...
    def reclaim_space(self) -> str: ...
    def close(self) -> None: ...


def process_owner() -> str:
    """Who runs a stage: host and process id (kept on its runs row)."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def utc_now() -> datetime:
    """The time a store keeps: UTC without a zone (every engine's TIMESTAMP column)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_row(run_id: str, stage: str, settings: dict[str, Any], user_id: str | None) -> list[Any]:
    """The values of NEW_RUN_SQL for a run that starts now in this process."""
    return [run_id, stage, utc_now(), "running", user_id, json.dumps(settings, default=str), process_owner()]


def run_id_for(stage: str) -> str:
    return f"{stage}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


# A run's row: written "running" when it starts, finished with its status and summary (every engine).
NEW_RUN_SQL = "INSERT INTO runs (run_id, stage, started_at, status, user_id, settings_json, owner) VALUES (?,?,?,?,?,?,?)"
FINISH_RUN_SQL = "UPDATE runs SET finished_at = ?, status = ?, summary_json = ? WHERE run_id = ?"
