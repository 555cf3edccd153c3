"""Evaluation: what the stages found against ground truth, in one place for `casegraph eval ...`, the demo and
the benchmarks.

One scorer per stage reads the stage's tables in a store and the truth files beside the records
(`resolve.score`, `linkage.score`, `network.score`, `trends.score`: each `(store, city) -> dict`);
`property.evaluate_property` scores stolen-property evidence (fences, attribution with and
without it, near matches). `score_city` runs them on a store that holds a synthetic city's results and `truth_table` lays them out as
found against truth. `evaluate_city` fills a scratch store from a city first; `*.evaluate_folder` evaluate a
stage on a folder of real data (FEBRL person records, solved crime series, network files). Evaluations run as
the store's owner on scratch stores: they never touch the analyst's store.
"""

from __future__ import annotations

from casegraph.evaluation import linkage, network, property, resolve, trends
from casegraph.evaluation.harness import evaluate_city, score_city, truth_table
from casegraph.evaluation.property import evaluate_property

__all__ = [
    "evaluate_city",
    "evaluate_property",
    "linkage",
    "network",
    "property",
    "resolve",
    "score_city",
    "trends",
    "truth_table",
]
