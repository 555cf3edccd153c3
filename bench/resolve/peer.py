"""The peer: recordlinkage's classic pipeline (blocking + comparison + unsupervised ECM classifier) on an eval
folder, scored with casegraph's own scorer after connected components, so both sides meet one metric.

Usage: python bench/resolve/peer.py DIR   -> one JSON line (precision, recall, f1, bcubed_f1, seconds, ...)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import recordlinkage as rl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from casegraph.evaluation.resolve import cluster_scores

BLOCKS = ("given_name", "family_name", "dob", "postcode")


def candidate_pairs(a: pd.DataFrame, b: pd.DataFrame | None) -> pd.MultiIndex:
    """The union of standard blocks, one per key (recordlinkage's Index)."""
    indexer = rl.Index()
    for key in BLOCKS:
        indexer.block(key)
    return indexer.index(a) if b is None else indexer.index(a, b)


def features(pairs: pd.MultiIndex, a: pd.DataFrame, b: pd.DataFrame | None) -> pd.DataFrame:
    compare = rl.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given")
    compare.string("family_name", "family_name", method="jarowinkler", threshold=0.85, label="family")
    compare.exact("dob", "dob", label="dob")
    compare.string("address", "address", method="jarowinkler", threshold=0.85, label="address")
    compare.exact("postcode", "postcode", label="postcode")
    compare.exact("id_number", "id_number", label="id_number")
    return compare.compute(pairs, a) if b is None else compare.compute(pairs, a, b)


def clusters(index: pd.Index, matches: pd.MultiIndex) -> np.ndarray:
    position = pd.Series(np.arange(len(index)), index=index)
    left = position.loc[matches.get_level_values(0)].to_numpy()
    right = position.loc[matches.get_level_values(1)].to_numpy()
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(index), len(index)))
    return connected_components(graph, directed=False)[1]


def run(folder: Path) -> dict[str, object]:
    records = pd.read_csv(folder / "person_records.csv", dtype=str).set_index("record_id")
    truth = pd.read_csv(folder / "person_truth.csv", dtype=str).set_index("record_id")["person_id"]
    started = time.perf_counter()
    link = "source" in records.columns
    a, b = (
        (records[records["source"] == s] for s in sorted(records["source"].unique()))
        if link
        else (records, None)
    )
    pairs = candidate_pairs(a, b)
    found = features(pairs, a, b)
    matches = rl.ECMClassifier(binarize=0.5).fit_predict(found)
    labels = clusters(records.index, matches)
    seconds = time.perf_counter() - started
    source = records["source"].reset_index(drop=True) if link else None
    result = cluster_scores(pd.Series(labels), truth.loc[records.index].reset_index(drop=True), source)
    return {
        **result,
        "seconds": round(seconds, 3),
        "candidate_pairs": len(pairs),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]))))
