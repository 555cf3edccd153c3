"""`casegraph check --full`: are the derived tables what a whole re-run on the same records gives?

Updates change the derived tables a piece at a time; this recomputes every stage from scratch in a scratch store
beside the real one (a copy of the tables the stages read and no stage writes: records, decisions, reviews,
users) and compares the two on what an analyst relies on:
- persons: the adjusted Rand index of the two partitions of person records into persons (ids may differ: a
  scratch run founds every id afresh, the store's ids carry their lineage);
- links: the Jaccard index of the two sets of incident pairs kept in incident_links;
- group ties: the same significant pairs of groups;
- alerts: the same alert ids (deterministic: stage, kind, subject and what).
Within the tolerance of settings [check] the store is equivalent to a whole re-run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from sklearn.metrics import adjusted_rand_score

from casegraph import pipeline
from casegraph.errors import CasegraphError
from casegraph.evaluation.scratch import scratch_store
from casegraph.schema import model

if TYPE_CHECKING:
    from casegraph.progress import Progress
    from casegraph.settings import Settings
    from casegraph.store import Store

DIFFERENCES_KEPT = 20  # differing keys listed per measure (all are counted)
PERSON_KEY = "SELECT agency || '/' || record_id AS key, person_id FROM person_identities"
LINK_KEY = (
    "SELECT CASE WHEN a < b THEN a || '~' || b ELSE b || '~' || a END AS pair FROM "
    "(SELECT agency_a || '/' || incident_a AS a, agency_b || '/' || incident_b AS b FROM incident_links)"
)
TIES_KEY = "SELECT pair FROM group_ties WHERE significant"
ALERT_KEY = "SELECT alert_id FROM alerts"


@dataclass
class Measure:
    name: str
    value: float | None  # ARI or Jaccard; None for the set comparisons
    required: float | None
    ok: bool
    only_store: list[str] = field(default_factory=list)  # keys in the store and not in the re-run (first few)
    only_rerun: list[str] = field(default_factory=list)
    n_only_store: int = 0
    n_only_rerun: int = 0
    n_store: int = 0
    n_rerun: int = 0


@dataclass
class CheckReport:
    measures: list[Measure]
    seconds: float
    rerun_seconds: dict[str, float]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.measures)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def input_tables() -> list[str]:
    """What a whole re-run starts from: every table a stage reads that no stage writes, and every record
    table."""
    read = {t for name in pipeline.STAGE_NAMES for t in pipeline.stage_module(name).READS}
    records = {t.name for t in model.tables.values() if t.kind == "record"}
    return sorted(t for t in read | records if model.table(t).kind != "derived")


def check_full(store: Store, settings: Settings, progress: Progress | None = None) -> CheckReport:
    """Recompute every stage in a scratch store from the store's inputs; compare the derived tables."""
    if store.engine != "duckdb":
        raise CasegraphError(
            "check --full recomputes the stages in a scratch DuckDB store on this machine; on a server store, "
            "run it on a copy exported with the agency's own records"
        )
    started = time.perf_counter()
    with scratch_store(settings) as (scratch, scratch_settings, _work):
        copy_inputs(store, scratch)
        rerun_seconds = {}
        for name in pipeline.STAGE_NAMES:
            t0 = time.perf_counter()
            pipeline.run_stage(scratch, scratch_settings, name, progress)
            rerun_seconds[name] = round(time.perf_counter() - t0, 1)
        measures = compare(store, scratch, settings)
    return CheckReport(measures, round(time.perf_counter() - started, 1), rerun_seconds)


def copy_inputs(store: Store, scratch: Store) -> None:
    present = set(store.table_names())
    for table in input_tables():
        if table not in present:
            continue
        columns = ", ".join(c for c in store.columns(table) if c in set(scratch.columns(table)))
        for batch in store.batches(f"SELECT {columns} FROM {table}"):
            if batch.num_rows:
                scratch.write(table, pa.Table.from_batches([batch]))


def compare(store: Store, rerun: Store, settings: Settings) -> list[Measure]:
    tolerance = settings.check
    return [
        persons_measure(store.df(PERSON_KEY), rerun.df(PERSON_KEY), tolerance.min_person_ari),
        set_measure("links", _keys(store, LINK_KEY), _keys(rerun, LINK_KEY), tolerance.min_link_jaccard),
        set_measure("significant group ties", _keys(store, TIES_KEY), _keys(rerun, TIES_KEY), None),
        set_measure("alerts", _keys(store, ALERT_KEY), _keys(rerun, ALERT_KEY), None),
    ]


def _keys(store: Store, sql: str) -> set[str]:
    return {row[0] for row in store.rows(sql)}


def persons_measure(stored: pd.DataFrame, rerun: pd.DataFrame, required: float) -> Measure:
    """Adjusted Rand of the two record -> person partitions over the records both hold; a record only one of
    them resolved is a difference of its own."""
    both = stored.merge(rerun, on="key", suffixes=("_store", "_rerun"))
    ari = float(adjusted_rand_score(both["person_id_store"], both["person_id_rerun"])) if len(both) else 1.0
    only_store = sorted(set(stored["key"]) - set(both["key"]))
    only_rerun = sorted(set(rerun["key"]) - set(both["key"]))
    return Measure(
        name="persons",
        value=round(ari, 6),
        required=required,
        ok=ari >= required and not only_store and not only_rerun,
        only_store=[*only_store[:DIFFERENCES_KEPT], *_split_persons(both)],
        only_rerun=only_rerun[:DIFFERENCES_KEPT],
        n_only_store=len(only_store),
        n_only_rerun=len(only_rerun),
        n_store=int(stored["person_id"].nunique()),
        n_rerun=int(rerun["person_id"].nunique()),
    )


def _split_persons(both: pd.DataFrame) -> list[str]:
    """The store's persons whose records the re-run puts in more than one person (the first few)."""
    spread = both.groupby("person_id_store")["person_id_rerun"].nunique()
    return [f"person {p} is {n} persons in the re-run" for p, n in spread[spread > 1].head(5).items()]


def set_measure(name: str, stored: set[str], rerun: set[str], required: float | None) -> Measure:
    union = stored | rerun
    jaccard = len(stored & rerun) / len(union) if union else 1.0
    only_store, only_rerun = sorted(stored - rerun), sorted(rerun - stored)
    same = not only_store and not only_rerun
    return Measure(
        name=name,
        value=round(jaccard, 6) if required is not None else None,
        required=required,
        ok=jaccard >= required if required is not None else same,
        only_store=only_store[:DIFFERENCES_KEPT],
        only_rerun=only_rerun[:DIFFERENCES_KEPT],
        n_only_store=len(only_store),
        n_only_rerun=len(only_rerun),
        n_store=len(stored),
        n_rerun=len(rerun),
    )
