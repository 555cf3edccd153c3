"""Linkage on a large synthetic city against issue 16's targets; one command, prints one table.

    .venv/bin/python bench/linkage/scale.py [--incidents 1000000] [--queries 200] [--work DIR]

Copies the demo store of bench/common.py (built once and cached in bench/results/demo-N; link replaces a store's
linkage tables, so it works on a copy), runs the whole linkage stage on it in a child process (wall and CPU
seconds, peak resident memory, the load average before and after: on a shared machine wall time says how busy
it was as much as how fast the stage is), then `similar` on random seeds in another (median and p95 after one
warm-up call that reads the run's index into memory). run.py calls it for its last part.

The children, also usable alone:
    python scale.py link STORE         the whole linkage stage on a store (summary as JSON)
    python scale.py similar STORE K    `similar` latency on K random seeds, after one warm-up call (JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from bench.common import demo_store, measured  # noqa: E402
from casegraph import linkage  # noqa: E402
from casegraph.linkage.query import similar  # noqa: E402
from casegraph.settings import load_settings  # noqa: E402
from casegraph.store import open_store  # noqa: E402

# Issue 16: a whole `link` at 1,000,000 incidents under 5 minutes and 4 GB, `similar` median under 100 ms.
TARGETS = {"link_wall_s": 300.0, "link_peak_gb": 4.0, "similar_median_ms": 100.0}


def link(store_path: Path) -> dict[str, object]:
    settings = load_settings()
    settings.store.path = str(store_path)
    store = open_store(settings)
    summary = linkage.run(store, settings)
    store.close()
    return summary


def latency(store_path: Path, k: int) -> dict[str, float]:
    settings = load_settings()
    settings.store.path = str(store_path)
    store = open_store(settings)
    n = int(store.scalar("SELECT count(*) FROM linkage_index"))
    rows = np.random.default_rng(0).choice(n, min(n, k + 1), replace=False).tolist()
    ids = [store.scalar("SELECT incident_id FROM linkage_index WHERE row_no = ?", [r]) for r in rows]
    started = time.perf_counter()
    similar(store, ids[0], top=10)  # loads the model and the run's index once per process
    warm_up = time.perf_counter() - started
    times, candidates = [], []
    for incident in ids[1:]:
        started = time.perf_counter()
        result = similar(store, incident, top=10)
        times.append(time.perf_counter() - started)
        candidates.append(result["candidates"])
    store.close()
    ms = np.array(times) * 1000
    return {
        "similar_median_ms": float(np.median(ms)),
        "similar_p95_ms": float(np.percentile(ms, 95)),
        "similar_queries": len(ms),
        "similar_mean_candidates": float(np.mean(candidates)),
        "similar_first_call_s": warm_up,
    }


def copied(n: int, work: Path) -> Path:
    """A private copy of the cached demo store of n incidents (and its audit anchor)."""
    source = demo_store(n)
    store = work / f"demo{n}.duckdb"
    shutil.copyfile(source, store)
    anchor = source.with_name(source.name + ".audit-anchor")
    if anchor.exists():
        shutil.copyfile(anchor, store.with_name(store.name + ".audit-anchor"))
    return store


def load() -> float:
    return round(os.getloadavg()[0], 1)


def measure(n: int, work: Path, queries: int) -> dict[str, Any]:
    """Link a copy of the n-incident demo store, then time `similar` on it."""
    store = copied(n, work)
    load_before = load()
    child = measured([sys.executable, str(HERE / "scale.py"), "link", str(store)])
    load_after = load()
    summary = json.loads(child.stdout)
    latency = json.loads(
        subprocess.run(
            [sys.executable, str(HERE / "scale.py"), "similar", str(store), str(queries)],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout
    )
    return {
        "n_incidents": summary["n_incidents"],
        "n_candidates": summary["n_candidates"],
        "n_links": summary["n_links"],
        "n_series": summary["n_series"],
        "link_wall_s": child.wall_s,
        "link_cpu_s": child.cpu_s,
        "link_peak_gb": child.peak_gb,
        "load_1min_before_after": [load_before, load_after],
        "phases_wall_s": summary["phases"],
        "phases_cpu_s": summary.get("phases_cpu", {}),
        "blocking": summary["blocking"],
        **latency,
    }


def table(m: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per measure, the target beside it where issue 16 sets one."""

    def row(name: str, value: float, unit: str) -> dict[str, Any]:
        target = TARGETS.get(name)
        return {
            "measure": name,
            "value": round(value, 3),
            "unit": unit,
            "target": f"< {target:g}" if target else "",
            "met": ("yes" if value < target else "no") if target else "",
        }

    before, after = m["load_1min_before_after"]
    return [
        row("link_wall_s", m["link_wall_s"], "s"),
        row("link_cpu_s", m["link_cpu_s"], "s (all threads)"),
        row("link_peak_gb", m["link_peak_gb"], "GB resident"),
        row("similar_median_ms", m["similar_median_ms"], "ms"),
        row("similar_p95_ms", m["similar_p95_ms"], "ms"),
        row("similar_first_call_s", m["similar_first_call_s"], "s (reads the index)"),
        row("candidates_per_incident", m["blocking"]["candidates_per_incident"], "pairs"),
        {"measure": "load_1min", "value": f"{before} -> {after}", "unit": "before -> after link"},
    ]


def phases(m: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"phase": p, "wall_s": wall, "cpu_s": m["phases_cpu_s"].get(p)}
        for p, wall in m["phases_wall_s"].items()
    ]


def show(rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(pd.DataFrame(rows).fillna("").to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="`similar` calls timed")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "casegraph-bench-linkage")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    m = measure(args.incidents, args.work, args.queries)
    print(f"== {m['n_incidents']:,} synthetic incidents: whole `link`, then `similar` (issue 16 targets) ==")
    show(table(m))
    print(f"\n{m['n_candidates']:,} candidates, {m['n_links']:,} links, {m['n_series']:,} series; phases:")
    show(phases(m))
    out = ROOT / "bench" / "results" / f"linkage-scale-{args.incidents}.json"
    out.write_text(json.dumps(m, indent=1, default=float))
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "link":
        print(json.dumps(link(Path(sys.argv[2])), default=str))
    elif len(sys.argv) > 3 and sys.argv[1] == "similar":
        print(json.dumps(latency(Path(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
