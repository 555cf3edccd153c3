"""DuckDB engine: one file, one writer, Arrow in and out, optional AES-GCM encryption at rest."""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from casegraph.errors import EngineError
from casegraph.schema import model
from casegraph.settings import StoreSettings
from casegraph.store.base import (
    FINISH_RUN_SQL,
    NEW_RUN_SQL,
    Frame,
    Params,
    new_run_row,
    run_id_for,
    utc_now,
)
from casegraph.store.ddl import add_missing_columns_sql, create_table_sql, quote

ALIAS = "cg"


def _httpfs_path() -> Path:
    """The signed httpfs extension shipped by the duckdb-ext-httpfs package (OpenSSL for encryption)."""
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("duckdb-ext-httpfs is not installed; it is needed for an encrypted store")
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
    found = sorted(root.glob("*/httpfs.duckdb_extension"))
    if not found:
        raise EngineError(f"no httpfs extension for DuckDB {duckdb.__version__} under {root}")
    return found[0]


def read_key(settings: StoreSettings) -> str | None:
    """The encryption key from the key file or the environment; never from the settings file itself."""
    if settings.key_file:
        try:
            return Path(settings.key_file).read_text().strip() or None
        except OSError as exc:
            raise EngineError(f"cannot read the store key file {settings.key_file}: {exc}") from exc
    return os.environ.get(settings.key_env) or None


def _connect(path: str, key: str | None, settings: StoreSettings) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "threads": str(settings.threads),
        "memory_limit": settings.memory_limit,
    }
    if path != ":memory:":
        # Spill beside the store, not in the working directory's .tmp: an encrypted store refuses to start
        # while another process's unencrypted spill files sit in its temp directory.
        config["temp_directory"] = f"{path}.tmp"
    con = duckdb.connect(":memory:", config=config)
    if key:
        con.execute(f"LOAD '{_httpfs_path()}'")
        con.execute("SET temp_file_encryption = true")
    # ATTACH takes no prepared parameters: quote both literals.
    options = f" (ENCRYPTION_KEY {_literal(key)})" if key else ""
    try:
        con.execute(f"ATTACH {_literal(path)} AS {ALIAS}{options}")
    except duckdb.Error as exc:
        con.close()
        raise EngineError(_explain_attach_error(path, str(exc))) from exc
    con.execute(f"USE {ALIAS}")
    return con


PRIVATE = 0o600  # the store, its WAL, keys and anchors: the owning account's alone


@contextmanager
def private_files() -> Iterator[None]:
    """Files created meanwhile (the store, its WAL, spill files) are readable by their owner only."""
    before = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(before)


def refuse_foreign_file(path: Path) -> None:
    """An embedded store belongs to the account that runs casegraph: refuse another account's file, and take
    back group/other permissions an older version or a copy left on our own."""
    if not path.exists():
        return
    info = path.stat()
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise EngineError(
            f"the store {path} belongs to another account (uid {info.st_uid}): an embedded store is used only "
            "by the account that owns its file; several people share a server store (CASEGRAPH_STORE="
            "postgresql://...)"
        )
    if info.st_mode & 0o077:
        os.chmod(path, PRIVATE)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _explain_attach_error(path: str, message: str) -> str:
    if "without a key" in message:
        return f"the store {path} is encrypted: give its key in $CASEGRAPH_KEY or store.key_file"
    if "Wrong encryption key" in message or "wrong key" in message.lower():
        return f"wrong encryption key for the store {path}"
    if "lock" in message.lower():
        return f"the store {path} is open in another process (DuckDB allows one writer): {message}"
    return f"cannot open the store {path}: {message}"


class DuckDBStore:
    """Store over one DuckDB file; creates the schema's tables on open (additive migrations only)."""

    engine = "duckdb"
    _open_run: str | None = None  # the run whose transaction is open (see new_run); also for ReaderStore

    def __init__(self, settings: StoreSettings, path: str | None = None) -> None:
        self.settings = settings
        self.path = str(path or settings.path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            refuse_foreign_file(Path(self.path))
        self.encrypted = bool(read_key(settings))
        with private_files():
            self.con = _connect(self.path, read_key(settings), settings)
        if self.path != ":memory:":
            os.chmod(self.path, PRIVATE)
        self._in_transaction = False
        self.ensure_tables()
        if self.path != ":memory:":
            self.mark_interrupted_runs()

    # -- schema ---------------------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        existing = set(self.table_names())
        for table in model.tables.values():
            if table.name not in existing:
                self.con.execute(create_table_sql(table))
                continue
            for stmt in add_missing_columns_sql(table, set(self.columns(table.name))):
                self.con.execute(stmt)

    def table_names(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? ORDER BY 1", [ALIAS]
        ).fetchall()
        return [r[0] for r in rows]

    def columns(self, table: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [ALIAS, table],
        ).fetchall()
        return [r[0] for r in rows]

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {quote(table)}"))

    # -- queries ----------------------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def _run(self, sql: str, params: Params) -> duckdb.DuckDBPyConnection:
        try:
            return self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        except duckdb.Error as exc:
            raise EngineError(f"{type(exc).__name__}: {exc}\n  in: {sql[:500]}") from exc

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        result = self._run(sql, params).fetch_arrow_table()
        return result if isinstance(result, pa.Table) else pa.Table.from_batches(result)

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        return self._run(sql, params).fetchdf()

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self._run(sql, params).fetchall()

    def scalar(self, sql: str, params: Params = None) -> Any:
        rows = self.rows(sql, params)  # fetchall, never fetchone: Splink needs no pending result
        return rows[0][0] if rows else None

    def batches(self, sql: str, params: Params = None, size: int = 100_000) -> Iterator[pa.RecordBatch]:
        reader = self._run(sql, params).fetch_record_batch(size)
        yield from reader

    # -- writes ----------------------------------------------------------------------------------------
    @contextmanager
    def registered(self, name: str, data: Frame) -> Iterator[str]:
        """Expose an Arrow table or DataFrame to SQL under a temporary name."""
        self.con.register(name, data)
        try:
            yield name
        finally:
            self.con.unregister(name)

    def write(self, table: str, data: Frame, mode: str = "append") -> int:
        """Insert rows by column name (missing columns become NULL); mode 'replace' empties the table first."""
        if mode not in {"append", "replace"}:
            raise EngineError(f"write mode must be append or replace, not {mode!r}")
        cols = list(data.column_names if isinstance(data, pa.Table) else data.columns)
        if not cols or len(data) == 0:
            if mode == "replace":
                self.execute(f"DELETE FROM {quote(table)}")
            return 0
        view = f"_tmp_write_{uuid.uuid4().hex[:8]}"
        collist = ", ".join(quote(c) for c in cols)
        with self.transaction(), self.registered(view, data):
            if mode == "replace":
                self.execute(f"DELETE FROM {quote(table)}")
            self.execute(f"INSERT INTO {quote(table)} ({collist}) SELECT {collist} FROM {view}")
        return len(data)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; nested calls join the outer transaction."""
        if self._in_transaction:
            yield
            return
        self._begin()
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._end("ROLLBACK")
            raise
        else:
            self._end("COMMIT")
        finally:
            self._in_transaction = False

    def _begin(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def _end(self, how: str) -> None:
        """COMMIT or ROLLBACK the transaction begun by _begin."""
        self.con.execute(how)

    # -- runs ----------------------------------------------------------------------------------------
    # A stage run is one transaction, between new_run and finish_run: its "running" row is committed first, its
    # writes only when it finishes ok. A run that fails is rolled back; one whose process dies (kill -9) leaves
    # its row "running" and nothing else, and the next open marks it interrupted.
    def new_run(self, stage: str, settings: dict[str, Any], user_id: str | None = None) -> str:
        run_id = run_id_for(stage)
        self.execute(NEW_RUN_SQL, new_run_row(run_id, stage, settings, user_id))
        if not self._in_transaction:  # else the caller's transaction holds the run (and its row)
            self._begin()
            self._in_transaction, self._open_run = True, run_id
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        if self._open_run == run_id:
            self._in_transaction, self._open_run = False, None
            self._end("COMMIT" if status == "ok" else "ROLLBACK")
        self.execute(FINISH_RUN_SQL, [utc_now(), status, json.dumps(summary, default=str), run_id])

    def reclaim_space(self) -> str:
        """Rewrite the file so deleted rows' bytes are gone: DuckDB reuses freed blocks but never wipes them. The
        database is copied into a new file (encrypted with the same key), which replaces the old one atomically;
        a crash leaves the old file or the new one, never half of either."""
        if self.path == ":memory:":
            return "in memory: nothing on disk"
        if self._in_transaction:
            raise EngineError("the store file cannot be rewritten inside a transaction")
        key = read_key(self.settings)
        options = f" (ENCRYPTION_KEY {_literal(key)})" if key else ""
        fresh = Path(f"{self.path}.rewrite")
        for stale in (fresh, Path(f"{fresh}.wal")):
            stale.unlink(missing_ok=True)  # an earlier rewrite that died before its swap
        with private_files():
            self.con.execute(f"ATTACH {_literal(str(fresh))} AS cg_rewrite{options}")
            try:
                self.con.execute(f"COPY FROM DATABASE {ALIAS} TO cg_rewrite")
            finally:
                self.con.execute("DETACH cg_rewrite")
        _fsync(fresh)
        os.chmod(fresh, PRIVATE)
        self.con.execute("USE memory")
        self.con.execute(f"DETACH {ALIAS}")  # checkpoints and closes the old file (and its WAL)
        try:
            os.replace(fresh, self.path)
            _fsync(Path(self.path).parent)  # the rename itself is durable
        finally:
            self.con.execute(f"ATTACH {_literal(self.path)} AS {ALIAS}{options}")
            self.con.execute(f"USE {ALIAS}")
        return f"rewrote {self.path}: freed space holds no deleted rows"

    def mark_interrupted_runs(self) -> int:
        """Runs left "running" by a process that died. DuckDB lets one process at a time open the file for
        writing, and this is the open, so no other process can still be running them; their writes were never
        committed."""
        found = self.rows("SELECT run_id, owner FROM runs WHERE status = 'running'")
        for run_id, owner in found:
            note = {
                "interrupted": f"the process ({owner or 'unknown'}) ended without finishing the run (killed or "
                "crashed); what it had written was rolled back"
            }
            self.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, summary_json = ? WHERE run_id = ?",
                [utc_now(), json.dumps(note), run_id],
            )
        return len(found)

    def splink_db_api(self) -> Any:
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self.con)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ReaderStore(DuckDBStore):
    """Another connection to a DuckDBStore's open database: the same tables, its own transactions and views."""

    def __init__(self, main: DuckDBStore) -> None:  # no super().__init__(): the database is open already
        self.settings, self.path, self.encrypted = main.settings, main.path, main.encrypted
        self.family = getattr(
            main, "family", id(main)
        )  # the store it reads: answers cached for one serve all
        self.con = main.con.cursor()
        self.con.execute(f"USE {ALIAS}")
        self._in_transaction = self._begun = False

    # A transaction's BEGIN waits for its first statement: a read answered from the workspace's caches alone
    # opens no DuckDB transaction (and its statements still share the snapshot of the first).
    def _begin(self) -> None:
        self._begun = False

    def _end(self, how: str) -> None:
        if self._begun:
            super()._end(how)
        self._begun = False

    def _run(self, sql: str, params: Params) -> Any:
        if self._in_transaction and not self._begun:
            super()._begin()
            self._begun = True
        return super()._run(sql, params)

    def records(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Rows as dicts without going through Arrow (see Session.records)."""
        cursor = self._run(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
