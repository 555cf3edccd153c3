"""`update`: resolve the person records stored since the last full `resolve` run without retraining.

The last run's Splink model (resolve_models) scores the new records against every record (the stored ones and
each other) over the model's own blocking rules (Splink's predict_between: only pairs with a new record), with
the last run's term frequencies; the pairs kept join resolve_pairs, and persons are
formed again from all stored pairs with the analysts' decisions, as `recluster` does, so a new record joins a
person, founds one, or bridges two (a merge the id lineage records). What stays the whole run's: the model
is not retrained (`casegraph check --full` measures the difference). A full run is made instead when there
is no model, the resolve settings changed, records were removed, or the new records outgrow
resolve.update_max_share of the stored ones.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from splink import Linker

from casegraph.progress import NoProgress, Progress
from casegraph.resolve import sql
from casegraph.resolve.assign import PAIR_COLUMNS, recluster_run
from casegraph.resolve.prepare import prepare
from casegraph.resolve.stage import TF_COLUMNS, pairs_with_keys, quiet_splink, read_records
from casegraph.resolve.stage import run as full_run
from casegraph.settings import ResolveSettings, Settings
from casegraph.store import Store

UNRESOLVED = (
    "SELECT count(*) FROM person_records r WHERE NOT EXISTS (SELECT 1 FROM person_identities i "
    "WHERE i.agency = r.agency AND i.record_id = r.record_id)"
)
GONE = (
    "SELECT count(*) FROM person_identities i WHERE NOT EXISTS (SELECT 1 FROM person_records r "
    "WHERE i.agency = r.agency AND i.record_id = r.record_id)"
)
NOT_COMPARED = ("update_max_share",)  # settings that say when to make a full run, not what it finds


def update(store: Store, settings: Settings, *, progress: Progress | None = None) -> dict[str, Any]:
    """Resolve the new records into the last run's persons (or make a full run when one is needed)."""
    rs = settings.resolve
    why_full = full_run_needed(store, rs)
    if why_full:
        return {**full_run(store, settings, progress=progress), "incremental": False, "why_full": why_full}
    started = time.perf_counter()
    run_id = store.new_run("resolve", {**rs.model_dump(), "incremental": True})
    try:
        with quiet_splink():
            scored = _score_new(store, rs, progress or NoProgress())
        with store.transaction():
            store.write(sql.PAIRS, scored["pairs"].assign(run_id=run_id))
            summary = recluster_run(store, settings, run_id)
    except BaseException as exc:
        store.finish_run(run_id, "failed", {"error": str(exc)[:2000]})
        raise
    summary = {
        **summary,
        "run_id": run_id,
        "incremental": True,
        "model_run": scored["model_run"],
        "new_records": scored["new_records"],
        "new_pairs": len(scored["pairs"]),
        "seconds": round(time.perf_counter() - started, 3),
    }
    store.finish_run(run_id, "ok", summary)
    return summary


def full_run_needed(store: Store, rs: ResolveSettings) -> str | None:
    """Why the new records cannot be resolved with the last model (None when they can)."""
    model = store.rows(sql.latest_model_sql())
    if not model:
        return "no resolve model to update with"
    used = store.scalar("SELECT settings_json FROM runs WHERE run_id = ?", [model[0][0]])
    if _compared(json.loads(used or "{}")) != _compared(rs.model_dump(mode="json")):
        return "the resolve settings changed since the model was trained"
    if store.engine == "spark":
        return "updates score new records in DuckDB; on the spark engine resolve runs whole"
    gone = store.scalar(GONE)
    if gone:
        return f"{gone} resolved record(s) were removed"
    new, resolved = store.scalar(UNRESOLVED), store.count(sql.IDENTITIES)
    if new > rs.update_max_share * max(resolved, 1):
        return f"{new} new records are more than {rs.update_max_share:.0%} of the {resolved} resolved"
    return None


def _compared(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in NOT_COMPARED}


def _score_new(store: Store, rs: ResolveSettings, bar: Progress) -> dict[str, Any]:
    """The new records against the stored ones and each other, with the last model; pairs with keys."""
    model_run, model_json = store.rows(sql.latest_model_sql())[0]
    raw = read_records(store)
    keys = raw[["agency", "record_id"]]
    resolved = store.df(f"SELECT agency, record_id, true AS resolved FROM {sql.IDENTITIES}")
    is_new = keys.merge(resolved, on=["agency", "record_id"], how="left")["resolved"].isna().to_numpy()
    pairs = pd.DataFrame(columns=PAIR_COLUMNS)
    if is_new.any():
        bar.start(1, "resolve: scoring new records")
        prepared = prepare(raw)
        pairs = _predict(store, rs, prepared, is_new, json.loads(model_json), model_run)
        bar.advance()
    return {
        "pairs": pairs_with_keys(pairs, keys, ""),
        "model_run": model_run,
        "new_records": int(is_new.sum()),
    }


def _predict(
    store: Store, rs: ResolveSettings, prepared: pa.Table, is_new: Any, model: dict[str, Any], model_run: str
) -> pd.DataFrame:
    """One blocked pass of every record against the new ones (Splink's predict_between), so a new record
    meets the stored records and the other new ones; each pair once, no record with itself."""
    api = store.splink_db_api()
    all_sdf = api.register(prepared)
    new_sdf = api.register(prepared.filter(pa.array(is_new)))
    try:
        linker = Linker(all_sdf, model, log_level=None)
        for column, lookup in _term_frequencies(store, model_run).items():
            linker.table_management.register_term_frequency_lookup(api.register(lookup), column)
        pairs = linker.inference.predict_between(
            all_sdf, new_sdf, threshold_match_probability=rs.keep_threshold, warning_mode="never"
        ).as_pandas_dataframe()[PAIR_COLUMNS]
    finally:
        api.delete_tables_created_by_splink_from_db()
        for sdf in (all_sdf, new_sdf):
            sdf.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    pairs = pairs[pairs["uid_l"] != pairs["uid_r"]]
    lo, hi = np.minimum(pairs["uid_l"], pairs["uid_r"]), np.maximum(pairs["uid_l"], pairs["uid_r"])
    return pairs.assign(uid_l=lo, uid_r=hi).drop_duplicates(["uid_l", "uid_r"]).reset_index(drop=True)


def _term_frequencies(store: Store, model_run: str) -> dict[str, pd.DataFrame]:
    """The last full run's term frequencies, as Splink's lookups (column value, tf_column)."""
    stored = store.df(
        f"SELECT column_name, value, frequency FROM {sql.TERM_FREQUENCIES} WHERE run_id = ?", [model_run]
    )
    return {
        column: pd.DataFrame({column: part["value"], f"tf_{column}": part["frequency"]})
        for column, part in stored.groupby("column_name")
        if column in TF_COLUMNS
    }
