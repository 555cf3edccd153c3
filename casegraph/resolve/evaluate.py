"""Quality of a resolution against ground truth: pairwise precision / recall / F1 and B-cubed F1.

Pairwise counts come from cluster co-membership (the pairs a person table implies), counted from the
contingency table in closed form, so a million records cost one group-by. With `cross_source_only`, only
pairs from two sources count (linking sources that hold no duplicates, as FEBRL4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


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


def score(predicted: pd.Series, truth: pd.Series, source: pd.Series | None = None) -> dict[str, Any]:
    """Scores of a predicted person per record against the true person (aligned Series)."""
    frame = pd.DataFrame({"predicted": predicted.to_numpy(), "truth": truth.to_numpy()})
    if source is not None:
        frame["source"] = source.to_numpy()
    result = pairwise_scores(frame, cross_source_only=source is not None)
    return {**result, **bcubed_scores(frame), "n_records": len(frame)}
