"""Resolve against ground truth: pairwise precision / recall / F1 and B-cubed F1 of a resolution, the persons
found against the true ones, and the evaluation of a folder of person records (`casegraph eval resolve`).

Pairwise counts come from cluster co-membership (the pairs a person table implies), counted from the
contingency table in closed form, so a million records cost one group-by. With `cross_source_only`, only
pairs from two sources count (linking sources that hold no duplicates, as FEBRL4).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from casegraph import ingest, resolve
from casegraph.evaluation.scratch import import_records, ingest_engine, scratch_store
from casegraph.evaluation.truth import truth_frame
from casegraph.progress import Progress
from casegraph.settings import Settings
from casegraph.store import Store


def _pairs(groups: pd.DataFrame, keys: list[str], cross_source_only: bool) -> int:
    """Number of record pairs sharing every key in `keys` (and, if asked, from different sources)."""
    sizes = groups.groupby(keys, observed=True).size().to_numpy(dtype=np.int64)
    total = int((sizes * (sizes - 1) // 2).sum())
    if not cross_source_only:
        return total
    per_source = groups.groupby([*keys, "source"], observed=True).size().to_numpy(dtype=np.int64)
    return total - int((per_source * (per_source - 1) // 2).sum())


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def pairwise_scores(frame: pd.DataFrame, cross_source_only: bool = False) -> dict[str, Any]:
    """frame: one row per record with `predicted`, `truth` (and `source`) labels."""
    tp = _pairs(frame, ["predicted", "truth"], cross_source_only)
    predicted = _pairs(frame, ["predicted"], cross_source_only)
    true = _pairs(frame, ["truth"], cross_source_only)
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "true_pairs": true,
        "predicted_pairs": predicted,
        "true_positive_pairs": tp,
    }


def bcubed_scores(frame: pd.DataFrame) -> dict[str, float]:
    """B-cubed: per record, the share of its cluster that is its person and of its person that is its cluster."""
    both = frame.groupby(["predicted", "truth"], observed=True)["predicted"].transform("size")
    cluster = frame.groupby("predicted", observed=True)["predicted"].transform("size")
    person = frame.groupby("truth", observed=True)["truth"].transform("size")
    precision = float((both / cluster).mean())
    recall = float((both / person).mean())
    return {"bcubed_precision": precision, "bcubed_recall": recall, "bcubed_f1": _f1(precision, recall)}


def cluster_scores(predicted: pd.Series, truth: pd.Series, source: pd.Series | None = None) -> dict[str, Any]:
    """Scores of a predicted person per record against the true person (aligned Series)."""
    frame = pd.DataFrame({"predicted": predicted.to_numpy(), "truth": truth.to_numpy()})
    if source is not None:
        frame["source"] = source.to_numpy()
    result = pairwise_scores(frame, cross_source_only=source is not None)
    return {**result, **bcubed_scores(frame), "n_records": len(frame)}


# -- the resolve stage's output against the truth --------------------------------------------------------------
TRUTH = ("person_truth",)


def score(store: Store, city: Path) -> dict[str, Any]:
    """person_identities of a store against a city's person_truth.csv."""
    truth = truth_frame(city, "person_truth", ("record_id", "person_id"))
    return score_identities(resolve.identities(store), truth)


def score_identities(found: pd.DataFrame, truth: pd.DataFrame, link: bool = False) -> dict[str, Any]:
    """Resolved records (record_id, agency, person_id) against truth (record_id, person_id[, agency or source]);
    with `link`, only pairs of records from two agencies count."""
    truth = truth.rename(columns={"person_id": "person_id_truth", "source": "agency"})
    on = ["agency", "record_id"] if "agency" in truth.columns else ["record_id"]
    joined = found.merge(truth, on=on, how="inner")
    result = cluster_scores(
        joined["person_id"], joined["person_id_truth"], joined["agency"] if link else None
    )
    return {
        **result,
        "persons_found": int(joined["person_id"].nunique()),
        "persons_true": int(joined["person_id_truth"].nunique()),
        "records_without_truth": len(found) - len(joined),
        "truth_records_not_resolved": len(truth) - len(joined),  # lost at ingest or by the stage
    }


def rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "measure": "persons",
            "found": f"{s['persons_found']:,}",
            "truth": f"{s['persons_true']:,}",
            "quality": f"pair precision {s['precision']:.3f}, recall {s['recall']:.3f} "
            f"over {s['n_records']:,} records",
        }
    ]


# -- a folder of person records with their truth (`casegraph eval resolve --data DIR`) -----------------------------
def evaluate_folder(data: Path, settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Ingest DIR/person_records.csv into a scratch store, resolve it, score it against person_truth.csv. A
    `source` column makes it a link between sources: only pairs from two sources count."""
    truth = truth_frame(data, "person_truth", ("record_id", "person_id"))
    with scratch_store(settings) as (store, s, work):
        mapping, link = _mapping_for(data, work)
        s.resolve.cross_agency_only = s.resolve.cross_agency_only or link
        started = time.perf_counter()
        report = import_records(
            store,
            s,
            work,
            lambda st, ss: ingest.run(
                st, ss, data / "person_records.csv", table="person_records", mapping=mapping, agency="eval"
            ),
        )
        ingest_seconds = time.perf_counter() - started
        summary = resolve.run(store, s, progress=progress)
        result = score_identities(resolve.identities(store), truth, link)
    return {
        **result,
        "mode": "link" if link else "dedupe",
        "engine": summary["engine"],
        "ingest_engine": ingest_engine(store),
        "seconds": summary["seconds"],
        "ingest_seconds": round(ingest_seconds, 3),
        "records_per_second": round(summary["n_records"] / max(summary["seconds"], 1e-9), 1),
        "n_persons": summary["n_persons"],
        "n_pairs_scored": summary["n_pairs_scored"],
        "rows_rejected": report.rejected,
        "values_dropped": report.values_dropped,
        "match_threshold": s.resolve.match_threshold,
    }


def _mapping_for(data: Path, work: Path) -> tuple[Path | None, bool]:
    """The mapping beside the data, or one that takes a `source` column as the agency. Returns (mapping, link)."""
    with (data / "person_records.csv").open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    link = "source" in header
    if (data / "mapping.yaml").exists():
        return data / "mapping.yaml", link
    if not link:
        return None, False
    fields = {h: h for h in header if h not in {"source", "agency"}}
    fields["agency"] = "source"
    path = work / "mapping.yaml"
    path.write_text(yaml.safe_dump({"table": "person_records", "fields": fields}))
    return path, True
