"""The stages that run on Spark, beside DuckDB on the same synthetic city, in one command:

    .venv/bin/python bench/spark/run.py [--incidents 20000] [--seed 7]

Each (engine, stage) runs in its own process (bench/spark/measure.py): wall time of the stage (store opening
and Spark's start apart), and peak resident memory of the process with its children (Spark's JVM). Spark runs
in local mode on this machine's cores. Ingest and linkage run on DuckDB only (casegraph.store.require_engine):
the Spark store receives the DuckDB store's validated records and its linkage series (copy rows), then runs
resolve, trends and the Knox pair counts itself. Prints a table with each stage's time and peak memory on
both engines, Spark / DuckDB ratios and per-core throughput; writes bench/results/spark-<n>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = ROOT / "bench" / "results"
# (stage, engines it is measured on); the copies feed the Spark store what only DuckDB computes
PLAN = [
    ("ingest", ("duckdb",)),
    ("copy_records", ("spark",)),
    ("resolve", ("duckdb", "spark")),
    ("linkage", ("duckdb",)),
    ("copy_series", ("spark",)),
    ("trends", ("duckdb", "spark")),
    ("knox_counts", ("duckdb", "spark")),
]


def city(n: int, seed: int) -> Path:
    folder = RESULTS / f"spark-city-{n}-{seed}"
    if not (folder / "city.json").exists():
        from casegraph.demo import make_city

        print(f"generating a city of {n} incidents in {folder} ...", file=sys.stderr, flush=True)
        make_city(folder, n_incidents=n, seed=seed)
    return folder


def measure(engine: str, stage: str, stores: dict[str, Path], folder: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "measure.py"), "--engine", engine, "--stage", stage]
    cmd += ["--store", str(stores[engine]), "--source", str(stores["duckdb"]), "--city", str(folder)]
    print(f"{engine:6} {stage} ...", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{engine} {stage} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows_of(results: dict[str, dict[str, Any]], cores: int) -> list[dict[str, Any]]:
    table = []
    for stage, _ in PLAN:
        d, s = results.get(f"duckdb/{stage}"), results.get(f"spark/{stage}")
        row: dict[str, Any] = {"stage": stage}
        for name, m in (("duckdb", d), ("spark", s)):
            row[f"{name} s"] = m["seconds"] if m else "-"
            row[f"{name} MB"] = m["peak_mb"] if m else "-"
            row[f"{name} rows/s/core"] = round(m["rows"] / max(m["seconds"], 1e-9) / cores) if m else "-"
        row["spark/duckdb time"] = round(s["seconds"] / max(d["seconds"], 1e-9), 1) if d and s else "-"
        table.append(row)
    return table


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description="Stages on Spark (local mode) beside DuckDB, one table.")
    parser.add_argument("--incidents", type=int, default=20_000, help="Incidents in the synthetic city.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = city(args.incidents, args.seed)
    work = RESULTS / f"spark-{args.incidents}-{args.seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    stores = {"duckdb": work / "duckdb.duckdb", "spark": work / "tables"}
    results: dict[str, dict[str, Any]] = {}
    for stage, engines in PLAN:
        for engine in engines:
            results[f"{engine}/{stage}"] = measure(engine, stage, stores, folder)
    cores = os.cpu_count() or 1
    rows = rows_of(results, cores)
    load = os.getloadavg()[0]
    print(
        f"{args.incidents} incidents (seed {args.seed}), {cores} cores, load average {load:.1f}; Spark local[{cores}]"
    )
    print(f"spark store open (JVM start included): {results['spark/resolve']['open_seconds']} s")
    print_table(rows)
    out = RESULTS / f"spark-{args.incidents}.json"
    out.write_text(
        json.dumps({"incidents": args.incidents, "cores": cores, "load": load, "results": results}, indent=1)
    )


if __name__ == "__main__":
    main()
