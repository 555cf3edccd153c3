"""The resolve run: person records -> Splink model -> scored pairs -> persons (person_identities).

Analyst decisions override the model at clustering time on every run; `recluster` applies a new decision at
once from the stored pairs, without retraining.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from splink import Linker

from casegraph.progress import NoProgress, Progress
from casegraph.resolve import sql
from casegraph.resolve.assign import PAIR_COLUMNS, accepted_uid_pairs, assign
from casegraph.resolve.model import splink_settings, train
from casegraph.resolve.prepare import prepare, records_sql
from casegraph.settings import ResolveSettings, Settings
from casegraph.store import Store, require_engine

TF_COLUMNS = ("family", "address")


@contextmanager
def quiet_splink(level: int = logging.ERROR) -> Iterator[None]:
    """Splink logs every training step; keep the CLI readable (errors still show)."""
    logger = logging.getLogger("splink")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


# The engines this stage runs on (the store's engine decides): Splink's DuckDB and Spark backends.
ENGINES = ("duckdb", "spark")


def run(
    store: Store, settings: Settings, *, progress: Progress | None = None, db_api: Any = None
) -> dict[str, Any]:
    """Resolve every person record to a person. `db_api`: a Splink database API (default: the store's)."""
    require_engine(store, "resolve", ENGINES)
    rs, bar = settings.resolve, progress or NoProgress()
    run_id = store.new_run("resolve", rs.model_dump())
    started = time.perf_counter()
    try:
        with quiet_splink():
            summary = _resolve(store, rs, run_id, bar, db_api)
    except BaseException as exc:
        store.finish_run(run_id, "failed", {"error": str(exc)[:2000]})
        raise
    finally:
        bar.finish()
    summary["seconds"] = round(time.perf_counter() - started, 3)
    store.finish_run(run_id, "ok", summary)
    return summary


def read_records(store: Store) -> pd.DataFrame:
    """Person records (matchable fields only) in key order: a record's uid is its position here."""
    return store.df(records_sql())


def _resolve(store: Store, rs: ResolveSettings, run_id: str, bar: Progress, db_api: Any) -> dict[str, Any]:
    bar.start(4, "resolve: preparing records")
    raw = read_records(store)
    keys = raw[["agency", "record_id"]]
    decisions = store.df(sql.active_decisions_sql())
    scored: dict[str, Any] = {"pairs": pd.DataFrame(columns=PAIR_COLUMNS), "model": None, "training": {}}
    if len(raw) >= 2:
        prepared = prepare(raw)
        labels = accepted_uid_pairs(keys, decisions)
        use_labels = labels if len(labels) >= rs.min_labels else None
        bar.advance()
        scored = score(db_api or store.splink_db_api(), prepared, rs, use_labels, bar)
    with store.transaction():
        store.write(sql.PAIRS, pairs_with_keys(scored["pairs"], keys, run_id), mode="replace")
        store.write(
            sql.TERM_FREQUENCIES, scored.get("tf", _empty_tf(run_id)).assign(run_id=run_id), mode="replace"
        )
        if scored["model"] is not None:
            store.write(sql.MODELS, _model_row(run_id, store.engine, len(raw), scored), mode="append")
        summary = assign(store, keys, scored["pairs"], decisions, threshold=rs.match_threshold, run_id=run_id)
    bar.advance()
    return {"run_id": run_id, "engine": store.engine, **summary, **scored["training"]}


def score(
    api: Any, prepared: pa.Table, rs: ResolveSettings, labels: pd.DataFrame | None, bar: Progress
) -> dict[str, Any]:
    """Train the Splink model on the prepared records and score the blocked pairs."""
    sdf = api.register(prepared)
    try:
        linker = Linker(sdf, splink_settings(rs), log_level=None)
        label_sdf = api.register(labels) if labels is not None else None
        training = train(linker, rs, label_sdf)
        bar.advance()
        predictions = linker.inference.predict(threshold_match_probability=rs.keep_threshold)
        pairs = predictions.as_pandas_dataframe()[PAIR_COLUMNS]
        tf = _term_frequencies(linker)
        model = linker.misc.save_model_to_json()
        bar.advance()
    finally:
        api.delete_tables_created_by_splink_from_db()
        sdf.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    training["n_labels"] = 0 if labels is None else len(labels)
    training["prior_match_probability"] = model.get("probability_two_random_records_match")
    return {"pairs": pairs, "tf": tf, "model": model, "training": training}


def _term_frequencies(linker: Any) -> pd.DataFrame:
    frames = []
    for column in TF_COLUMNS:
        tf = linker.table_management.compute_tf_table(column).as_pandas_dataframe()
        frames.append(
            pd.DataFrame(
                {
                    "column_name": column,
                    "value": tf[column].astype(str),
                    "frequency": tf[f"tf_{column}"].astype(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _empty_tf(run_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "column_name": pd.Series(dtype=str),
            "value": pd.Series(dtype=str),
            "frequency": pd.Series(dtype=float),
        }
    )


def _model_row(run_id: str, engine: str, n: int, scored: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run_id": run_id,
                "created_at": datetime.now(UTC).replace(tzinfo=None),
                "engine": engine,
                "n_records": n,
                "n_labels": scored["training"]["n_labels"],
                "model_json": json.dumps(scored["model"]),
            }
        ]
    )


def pairs_with_keys(pairs: pd.DataFrame, keys: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """uid pairs -> record keys, the lesser (agency, record_id) first, as decisions store them."""
    agency, record = keys["agency"].to_numpy(dtype=object), keys["record_id"].to_numpy(dtype=object)
    left, right = pairs["uid_l"].to_numpy(dtype=np.int64), pairs["uid_r"].to_numpy(dtype=np.int64)
    al, ar, rl, rr = agency[left], agency[right], record[left], record[right]
    swap = (al > ar) | ((al == ar) & (rl > rr))
    out = pd.DataFrame(
        {
            "agency_a": np.where(swap, ar, al),
            "record_a": np.where(swap, rr, rl),
            "agency_b": np.where(swap, al, ar),
            "record_b": np.where(swap, rl, rr),
        }
    )
    out.insert(
        0, "pair_id", out["agency_a"] + "/" + out["record_a"] + "|" + out["agency_b"] + "/" + out["record_b"]
    )
    out["match_weight"] = pairs["match_weight"].to_numpy(dtype=float)
    out["match_probability"] = pairs["match_probability"].to_numpy(dtype=float)
    out["run_id"] = run_id
    return out
