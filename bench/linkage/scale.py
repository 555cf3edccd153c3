"""Helpers for the large-city part of the linkage bench (run by run.py).

python scale.py link STORE         the whole linkage stage on a store (summary as JSON)
python scale.py similar STORE K    `similar` latency on K random seeds, after one warm-up call (JSON)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from casegraph import linkage
from casegraph.linkage.query import similar
from casegraph.settings import load_settings
from casegraph.store import open_store


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
    similar(store, ids[0], top=10)  # loads the model once per process
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
    }


if __name__ == "__main__":
    if sys.argv[1] == "link":
        print(json.dumps(link(Path(sys.argv[2])), default=str))
    else:
        print(json.dumps(latency(Path(sys.argv[2]), int(sys.argv[3]))))
