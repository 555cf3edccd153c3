"""The spark engine's suite: one small synthetic city run by DuckDB and by Spark (local mode), compared.

Spark starts once per test session (a JVM); every test here is in one xdist group, so one worker runs them
all (pyproject: --dist loadgroup). The suite skips, saying why, only where pyspark or Java is absent;
scripts/setup installs both, so CI runs it.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from casegraph import ingest, linkage, network, resolve, trends
from casegraph.settings import Settings, load_settings
from casegraph.store import Store, copy_tables, open_store

# Small enough for CI's time (Spark's many small jobs dominate, not the rows), large enough for every table.
SPARK_CITY_INCIDENTS, SPARK_CITY_SEED = 1200, 11


def spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (scripts/setup installs it: pip install -e '.[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime on PATH (scripts/setup installs Debian's default-jre-headless)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session", autouse=True)
def _needs_spark() -> None:
    why = spark_missing()
    if why:
        pytest.skip(f"spark engine tests skipped: {why}")


def engine_settings(path: Path, engine: str) -> Settings:
    s = load_settings()
    s.engine.name = engine  # type: ignore[assignment]
    s.engine.spark_shuffle_partitions = 2  # a small city: few partitions, few tasks
    # Splink on Spark spends its time in many small jobs (one per blocking rule, per EM iteration): CI's time
    # allows fewer rules than the defaults, the same on both engines (bench/spark measures the defaults)
    s.resolve.blocking_rules = s.resolve.blocking_rules[:5]
    s.resolve.training_rules = s.resolve.training_rules[:1]
    s.store.path = str(path)
    return s


@dataclass
class Pair:
    """The same city's stores, one per engine, after the same stages."""

    duckdb: Store
    spark: Store
    settings: dict[str, Settings]
    summaries: dict[str, dict[str, Any]]
    city: Path


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from casegraph.demo import make_city

    base = tmp_path_factory.mktemp("spark-city")
    make_city(base / "city", n_incidents=SPARK_CITY_INCIDENTS, seed=SPARK_CITY_SEED)
    sd, ss = engine_settings(base / "d.duckdb", "duckdb"), engine_settings(base / "tables", "spark")
    duck = open_store(sd)
    ingest.run_folder(duck, sd, base / "city")
    spark = open_store(ss)
    # ingest runs on DuckDB only: its validated record tables are what the Spark stages read
    copy_tables(duck, spark, tuple(ingest.WRITES))
    summaries = {"resolve_duckdb": resolve.run(duck, sd), "resolve_spark": resolve.run(spark, ss)}
    linkage.run(duck, sd)
    # linkage runs on DuckDB only: trends and network read its series and item links on both engines
    copy_tables(duck, spark, ("series", "property_links"))
    summaries |= {"trends_duckdb": trends.run(duck, sd), "trends_spark": trends.run(spark, ss)}
    summaries |= {"network_duckdb": network.run(duck, sd), "network_spark": network.run(spark, ss)}
    yield Pair(duck, spark, {"duckdb": sd, "spark": ss}, summaries, base / "city")
    duck.close()
    spark.close()
