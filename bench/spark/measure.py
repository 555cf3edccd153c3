"""One stage on one engine, in its own process: prints {"seconds", "peak_mb", "rows"} as JSON.

    .venv/bin/python bench/spark/measure.py --engine spark --stage resolve --store PATH [--source DUCKDB]

Peak memory is the largest resident size of this process and its children together (Spark's JVM), sampled
every 0.2 s; seconds are the stage's wall time, the Spark session's start excluded (it is measured apart).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
STAGES = ("open", "ingest", "copy_records", "resolve", "linkage", "copy_series", "trends", "knox_counts")


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    try:
        total = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        children = [
            int(c)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()
        ]
    except (OSError, ValueError):
        return 0
    return total + sum(tree_rss(c) for c in children)


class Peak:
    def __init__(self) -> None:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss(os.getpid()))

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(os.getpid()))


def settings_for(engine: str, store: str) -> Any:
    from casegraph.settings import load_settings

    s = load_settings()
    s.engine.name = engine
    s.store.path = store
    return s


def run_stage(stage: str, store: Any, s: Any, args: argparse.Namespace) -> int:
    """The stage's work; returns the rows it produced (or read)."""
    from casegraph import ingest, linkage, resolve, trends
    from casegraph.store import copy_tables, open_store

    if stage == "ingest":
        return sum(r.loaded for r in ingest.run_folder(store, s, args.city))
    if stage in ("copy_records", "copy_series"):
        source = open_store(settings_for("duckdb", args.source))
        names = tuple(ingest.WRITES) if stage == "copy_records" else ("series",)
        copied = copy_tables(source, store, names)
        source.close()
        return sum(copied.values())
    if stage == "resolve":
        return int(resolve.run(store, s)["n_records"])
    if stage == "linkage":
        linkage.run(store, s)
        return store.count("incident_links")
    if stage == "trends":
        return int(sum(trends.run(store, s)["rows"].values()))
    if stage == "knox_counts":
        return int(trends.knox_counts(store, s.trends)["pairs"].sum())
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure one stage on one engine (see bench/spark/run.py).")
    parser.add_argument("--engine", choices=("duckdb", "spark"), required=True)
    parser.add_argument("--stage", choices=STAGES, required=True)
    parser.add_argument("--store", required=True, help="The engine's store (a DuckDB file or a folder).")
    parser.add_argument("--source", help="The DuckDB store the copy stages read.")
    parser.add_argument("--city", type=Path, help="The synthetic city folder (ingest).")
    args = parser.parse_args()
    from casegraph.store import open_store

    s = settings_for(args.engine, args.store)
    with Peak() as peak:
        started = time.perf_counter()
        store = open_store(s)
        opened = time.perf_counter() - started
        started = time.perf_counter()
        rows = run_stage(args.stage, store, s, args)
        seconds = time.perf_counter() - started
        store.close()
    out = {"seconds": round(seconds, 2), "open_seconds": round(opened, 2), "peak_mb": peak.peak >> 20}
    print(json.dumps({**out, "rows": rows}))


if __name__ == "__main__":
    main()
