"""Spark engine: the store's tables as Parquet folders (casegraph.store.tables), the stages' SQL run as Spark SQL.

Stages hand the same DuckDB-dialect statements they give the DuckDB store; casegraph.store.dialect binds their
parameters and translates them. Queries run on Spark's executors (local mode here, a cluster elsewhere).
Parquet files have no UPDATE or DELETE, so those statements rewrite the table (copy on write) into a fresh
folder that is swapped in. A Spark store's writes are not one transaction: each statement is applied when it
runs, and a run that fails is marked failed in `runs` (see docs/scale.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from casegraph.errors import EngineError
from casegraph.schema import model
from casegraph.settings import EngineSettings, StoreSettings
from casegraph.store import tables
from casegraph.store.base import (
    FINISH_RUN_SQL,
    NEW_RUN_SQL,
    Frame,
    Params,
    new_run_row,
    run_id_for,
    utc_now,
)
from casegraph.store.dialect import render, statement

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from sqlglot import exp

_SHARED: dict[str, SparkSession] = {}  # one Spark application per process; each store has its own session


def spark_session(store: StoreSettings, engine: EngineSettings) -> SparkSession:
    """A session of the process's Spark application (started on first use with the engine settings)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(
            "the spark engine needs pyspark and Java 17+ (scripts/setup installs both: pip install "
            "'casegraph[spark]', Debian's default-jre-headless); or use engine duckdb"
        ) from exc
    if "app" not in _SHARED:
        from splink.backends.spark import similarity_jar_location

        partitions = str(engine.spark_shuffle_partitions)
        builder = (
            SparkSession.builder.master(engine.spark_master or f"local[{store.threads}]")
            .appName("casegraph")
            .config("spark.jars", similarity_jar_location())  # Splink's string similarity functions
            .config("spark.driver.memory", engine.spark_driver_memory)
            .config("spark.sql.shuffle.partitions", partitions)
            .config("spark.default.parallelism", partitions)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # DuckDB's TIMESTAMP has no time zone: so has Spark's, and nothing is shifted by the machine's zone
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        )
        _SHARED["app"] = builder.getOrCreate()
        _SHARED["app"].sparkContext.setLogLevel("OFF")  # its errors reach the caller as EngineError
    return _SHARED["app"].newSession()


def _spark_errors() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JJavaError)


class SparkStore:
    """Store over a folder of Parquet tables, computed by Spark."""

    engine = "spark"

    def __init__(self, settings: StoreSettings, engine: EngineSettings, path: str | None = None) -> None:
        self.settings, self.engine_settings = settings, engine
        self.path = str(path or settings.path)
        self.root = Path(self.path)
        if self.root.is_file():
            raise EngineError(
                f"{self.path} is a file (a DuckDB store?): the spark engine keeps its tables as Parquet folders "
                "in a directory; set store.path (or --store) to a folder"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.spark = spark_session(settings, engine)
        self._temp: set[str] = set()
        self.ensure_tables()

    # -- schema ---------------------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        for table in model.tables.values():
            tables.create(self.root, table)
            if tables.stored_columns(self.root, table.name) != set(table.field_names):  # additive migration
                self.write(table.name, tables.read(self.root, table), mode="replace")
            self._refresh(table.name)

    def _refresh(self, name: str) -> None:
        """Point the table's view at its folder's files as they are now (typed from the schema: no job is
        spent inferring it)."""
        from pyspark.sql.pandas.types import from_arrow_schema

        schema = from_arrow_schema(tables.arrow_schema(model.table(name)))
        self.spark.read.schema(schema).parquet(str(tables.folder(self.root, name))).createOrReplaceTempView(
            name
        )

    def table_names(self) -> list[str]:
        return tables.names(self.root)

    def columns(self, table: str) -> list[str]:
        return list(self.spark.table(table).columns)

    def count(self, table: str) -> int:
        return int(self.spark.table(table).count())

    # -- queries ----------------------------------------------------------------------------------------
    def frame(self, sql: str, params: Params = None) -> DataFrame:
        """A query's result as a Spark DataFrame (lazy: computed where it is used)."""
        tree = statement(sql, params)
        handler = self._handler(tree)
        if handler is not None:
            raise EngineError(f"not a query: {sql[:200]}")
        return self._guarded(lambda: self.spark.sql(render(tree)), tree)

    def execute(self, sql: str, params: Params = None) -> None:
        tree = statement(sql, params)
        handler = self._handler(tree)
        if handler is None:
            self._guarded(lambda: self.spark.sql(render(tree)).collect(), tree)
        else:
            self._guarded(lambda: handler(tree), tree)

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        frame = self.frame(sql, params)
        return self._guarded(frame.toArrow, None)

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        # dates as datetime64, as DuckDB's fetchdf gives them (stages see the same frame on both engines)
        return self.arrow(sql, params).to_pandas(date_as_object=False)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        frame = self.frame(sql, params)
        return [tuple(r) for r in self._guarded(frame.collect, None)]

    def scalar(self, sql: str, params: Params = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def batches(self, sql: str, params: Params = None, size: int = 100_000) -> Iterator[pa.RecordBatch]:
        yield from self.arrow(sql, params).to_batches(size)

    def _guarded(self, call: Callable[[], Any], tree: exp.Expr | None) -> Any:
        try:
            return call()
        except _spark_errors() as exc:
            shown = f"\n  in: {render(tree)[:500]}" if tree is not None else ""
            said = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise EngineError(f"spark: {said[:800]}{shown}") from exc

    # -- statements that change tables (Parquet has no UPDATE or DELETE: copy on write) -----------------------
    def _handler(self, tree: exp.Expr) -> Callable[[Any], None] | None:
        from sqlglot import exp

        handlers: dict[type, Callable[[Any], None]] = {
            exp.Insert: self._insert,
            exp.Delete: self._delete,
            exp.Update: self._update,
            exp.Create: self._create_temp,
            exp.Drop: self._drop_temp,
        }
        return handlers.get(type(tree))

    def _insert(self, tree: exp.Insert) -> None:
        from sqlglot import exp

        target = tree.this
        name = (target.this if isinstance(target, exp.Schema) else target).name
        names = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
        if tree.args.get("by_name"):
            names = None
        source = self.spark.sql(render(tree.expression))
        self._append(name, source.toDF(*names) if names else source)

    def _delete(self, tree: exp.Delete) -> None:
        name, where = tree.this.name, tree.args.get("where")
        condition = render(where.this) if where is not None else "TRUE"
        self._replace(name, self.spark.sql(f"SELECT * FROM {name} WHERE NOT COALESCE(({condition}), FALSE)"))

    def _update(self, tree: exp.Update) -> None:
        if tree.args.get("from") or tree.args.get("from_"):
            raise EngineError("UPDATE ... FROM is not supported by the spark store")
        name, where = tree.this.name, tree.args.get("where")
        condition = render(where.this) if where is not None else "TRUE"
        changes = {eq.this.name: render(eq.expression) for eq in tree.expressions}
        select = ", ".join(
            f"CASE WHEN COALESCE(({condition}), FALSE) THEN {changes[c]} ELSE `{c}` END AS `{c}`"
            if c in changes
            else f"`{c}`"
            for c in self.columns(name)
        )
        self._replace(name, self.spark.sql(f"SELECT {select} FROM {name}"))

    def _create_temp(self, tree: exp.Create) -> None:
        """CREATE TEMP TABLE t AS SELECT ...: a session view over the computed rows (kept in Spark's memory)."""
        from sqlglot import exp

        properties = tree.args.get("properties")
        temporary = properties is not None and bool(properties.find(exp.TemporaryProperty))
        if not temporary or tree.expression is None:
            raise EngineError("the spark store creates its tables from the schema; only CREATE TEMP TABLE AS")
        self._set_temp(tree.this.name, self.spark.sql(render(tree.expression)))

    def _set_temp(self, name: str, frame: DataFrame) -> None:
        """A temporary table's rows, computed now (a later change to what it was made from leaves it alone)."""
        frame.localCheckpoint(eager=True).createOrReplaceTempView(name)
        self._temp.add(name)

    def _drop_temp(self, tree: exp.Drop) -> None:
        from sqlglot import exp

        table = tree.find(exp.Table)
        if table is None:
            raise EngineError(f"the spark store drops temporary tables only: {tree.sql()[:200]}")
        name = table.name
        if name in self.table_names():
            raise EngineError(f"the spark store does not drop its table {name}")
        self.spark.catalog.dropTempView(name)
        self._temp.discard(name)

    def _append(self, name: str, frame: DataFrame) -> None:
        if name in self._temp:
            self._set_temp(
                name, self.spark.table(name).unionByName(frame.select(*self._aligned(name, frame)))
            )
            return
        frame.select(*self._aligned(name, frame)).write.mode("append").parquet(
            str(tables.folder(self.root, name))
        )
        self._refresh(name)

    def _replace(self, name: str, frame: DataFrame) -> None:
        if name in self._temp:
            self._set_temp(name, frame)
            return
        staged = tables.staging(self.root, name)
        frame.select(*self._aligned(name, frame)).write.parquet(str(staged))
        tables.swap_in(self.root, name, staged)
        self._refresh(name)

    def _aligned(self, name: str, frame: DataFrame) -> list[Any]:
        """The table's columns in order and type; a column the rows lack is null (the scope: 'local')."""
        from pyspark.sql import functions as F

        from casegraph.schema.model import LOCAL_SCOPE

        have = set(frame.columns)
        out = []
        for field in self.spark.table(name).schema.fields:
            if field.name in have:
                column = F.col(f"`{field.name}`")
            else:
                column = F.lit(LOCAL_SCOPE if field.name == "scope" else None)
            out.append(column.cast(field.dataType).alias(field.name))
        return out

    # -- writes ----------------------------------------------------------------------------------------
    @contextmanager
    def registered(self, name: str, data: Frame) -> Iterator[str]:
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        self.spark.createDataFrame(table).createOrReplaceTempView(name)
        try:
            yield name
        finally:
            self.spark.catalog.dropTempView(name)

    def write(self, table: str, data: Frame, mode: str = "append") -> int:
        """Rows by column name (missing columns null); mode 'replace' swaps in a new folder."""
        if mode not in {"append", "replace"}:
            raise EngineError(f"write mode must be append or replace, not {mode!r}")
        arrow = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        conformed = tables.conform(model.table(table), arrow)
        if mode == "append":
            if len(conformed):
                tables.write_file(tables.folder(self.root, table), conformed)
        else:
            staged = tables.staging(self.root, table)
            tables.write_file(staged, conformed)
            tables.swap_in(self.root, table, staged)
        self._refresh(table)
        return len(arrow)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements apply as they run: Parquet folders have no transactions (see the module's note)."""
        yield

    # -- runs ----------------------------------------------------------------------------------------
    def new_run(self, stage: str, settings: dict[str, Any], user_id: str | None = None) -> str:
        run_id = run_id_for(stage)
        self.execute(NEW_RUN_SQL, new_run_row(run_id, stage, settings, user_id))
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        self.execute(FINISH_RUN_SQL, [utc_now(), status, json.dumps(summary, default=str), run_id])

    def splink_db_api(self) -> Any:
        from splink import SparkAPI

        return SparkAPI(spark_session=self.spark, break_lineage_method="persist")

    def reclaim_space(self) -> str:
        return f"{self.path}: a rewritten table's old Parquet files are deleted when it is rewritten"

    def close(self) -> None:
        for name in list(self._temp):
            self.spark.catalog.dropTempView(name)
        self._temp.clear()

    def __enter__(self) -> SparkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["SparkStore", "spark_session"]
