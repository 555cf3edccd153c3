"""Explain and review: the match-weight waterfall of a pair, the queue of uncertain pairs, analyst decisions.

A decision is stored with who and when and never deleted: undoing it stamps who undid it and when.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
from splink import Linker

from casegraph.errors import CasegraphError, StageNotRun
from casegraph.resolve import sql
from casegraph.resolve.prepare import prepare
from casegraph.resolve.stage import TF_COLUMNS, quiet_splink
from casegraph.settings import ResolveSettings
from casegraph.store import Store

DECISIONS = ("accept", "reject")
RecordKey = tuple[str, str]


def record_key(store: Store, ref: str) -> RecordKey:
    """'agency:record_id' or a bare record_id (when one agency holds it) -> (agency, record_id)."""
    agencies = [a for (a,) in store.rows(sql.agencies_of_record_sql(), [ref])]
    if len(agencies) == 1:
        return agencies[0], ref
    if len(agencies) > 1:
        raise CasegraphError(
            f"record {ref!r} exists in several agencies ({', '.join(agencies)}): write AGENCY:{ref}"
        )
    agency, sep, record = ref.partition(":")
    if sep and store.rows(sql.record_sql(), [agency, record]):
        return agency, record
    raise CasegraphError(f"no person record {ref!r} (write RECORD_ID or AGENCY:RECORD_ID)")


def ordered_pair(a: RecordKey, b: RecordKey) -> tuple[RecordKey, RecordKey]:
    if a == b:
        raise CasegraphError(f"a record cannot be decided against itself: {a[0]}:{a[1]}")
    return (a, b) if a < b else (b, a)


def decide(
    store: Store, a: RecordKey, b: RecordKey, decision: str, *, user: str, note: str | None = None
) -> dict[str, Any]:
    """Store an accept (same person) or reject (different persons) decision; it replaces an earlier one."""
    if decision not in DECISIONS:
        raise CasegraphError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    (aa, ra), (ab, rb) = ordered_pair(a, b)
    scored = store.rows(sql.pair_probability_sql(), [aa, ra, ab, rb])
    now = datetime.now(UTC).replace(tzinfo=None)
    decision_id = f"D{uuid.uuid4().hex[:16]}"
    probability = scored[0][1] if scored else None
    with store.transaction():
        store.execute(sql.undo_decisions_sql(), [user, now, aa, ra, ab, rb])
        store.execute(
            sql.insert_decision_sql(), [decision_id, aa, ra, ab, rb, decision, note, user, now, probability]
        )
    return {
        "decision_id": decision_id,
        "agency_a": aa,
        "record_a": ra,
        "agency_b": ab,
        "record_b": rb,
        "decision": decision,
        "decided_by": user,
        "decided_at": now.isoformat(),
        "model_probability": probability,
    }


def undo(store: Store, a: RecordKey, b: RecordKey, *, user: str) -> int:
    """Undo the decision in force on a pair (the model decides again). Returns how many were undone."""
    (aa, ra), (ab, rb) = ordered_pair(a, b)
    active = store.scalar(sql.count_active_decisions_sql(), [aa, ra, ab, rb])
    store.execute(sql.undo_decisions_sql(), [user, datetime.now(UTC).replace(tzinfo=None), aa, ra, ab, rb])
    return int(active)


def decisions(store: Store, include_undone: bool = False) -> list[dict[str, Any]]:
    return store.df(sql.decisions_sql(include_undone)).to_dict("records")


def review_queue(store: Store, rs: ResolveSettings, limit: int = 20) -> list[dict[str, Any]]:
    """Undecided pairs whose probability lies in the review band, most uncertain first, with both records."""
    pairs = store.df(sql.review_sql(), [rs.review_low, rs.review_high, limit]).to_dict("records")
    for pair in pairs:
        pair["record_a_fields"] = _fields(store, (pair["agency_a"], pair["record_a"]))
        pair["record_b_fields"] = _fields(store, (pair["agency_b"], pair["record_b"]))
    return pairs


def _fields(store: Store, key: RecordKey) -> dict[str, Any]:
    """One record's matchable fields as plain values (dates as ISO text, missing as None)."""
    frame = store.df(sql.record_sql(), list(key))
    if frame.empty:
        raise CasegraphError(f"no person record {key[0]}:{key[1]}")
    return {k: _plain(v) for k, v in frame.iloc[0].to_dict().items()}


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp | date):
        return value.date().isoformat() if isinstance(value, pd.Timestamp) else value.isoformat()
    return value


def _latest_model(store: Store) -> tuple[str, dict[str, Any]]:
    rows = store.rows(sql.latest_model_sql())
    if not rows:
        raise StageNotRun("no trained identity model yet: run `casegraph resolve` first")
    run_id, model_json = rows[0]
    return run_id, json.loads(model_json)


def _with_term_frequencies(store: Store, run_id: str, prepared: pa.Table) -> pa.Table:
    """The record with the run's frequency of each term-frequency-adjusted value (tf_family, tf_address)."""
    for column in TF_COLUMNS:
        value = prepared.column(column)[0].as_py()
        found = (
            store.rows(sql.term_frequencies_sql(), [run_id, column, str(value)]) if value is not None else []
        )
        prepared = prepared.append_column(
            f"tf_{column}", pa.array([found[0][0] if found else None], pa.float64())
        )
    return prepared


WATERFALL_KEYS = (
    "column_name",
    "label_for_charts",
    "value_l",
    "value_r",
    "m_probability",
    "u_probability",
    "bayes_factor",
    "log2_bayes_factor",
    "bayes_factor_description",
    "term_frequency_adjustment",
)


def _step(row: dict[str, Any]) -> dict[str, Any]:
    step = {k: row.get(k) for k in WATERFALL_KEYS}
    step["comparison"] = step.pop("column_name")
    step["level"] = step.pop("label_for_charts")
    step["match_weight"] = step.pop("log2_bayes_factor")
    return step


def explain(
    store: Store, a: RecordKey, b: RecordKey, *, db_api: Any = None, html: bool = False
) -> dict[str, Any]:
    """The match-weight waterfall of two records under the latest model: prior, then each comparison's weight."""
    run_id, model = _latest_model(store)
    raw = pd.DataFrame([_fields(store, a), _fields(store, b)])
    prepared = prepare(raw)
    model.update(retain_matching_columns=True, retain_intermediate_calculation_columns=True)
    api = db_api or store.splink_db_api()
    sdf = api.register(prepared)
    left, right = (api.register(_with_term_frequencies(store, run_id, prepared.slice(i, 1))) for i in (0, 1))
    try:
        with quiet_splink():
            linker = Linker(sdf, model, log_level=None)
            scored = linker.inference.score_pair(left, right).as_record_list()[0]
            chart = linker.visualisations.waterfall_chart([scored], filter_nulls=False)
            page = chart.to_html() if html else None
    finally:
        api.delete_tables_created_by_splink_from_db()
        for frame in (sdf, left, right):
            frame.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    result = {
        "record_a": {"agency": a[0], "record_id": a[1]},
        "record_b": {"agency": b[0], "record_id": b[1]},
        "model_run_id": run_id,
        "match_weight": float(scored["match_weight"]),
        "match_probability": float(scored["match_probability"]),
        "waterfall": [_step(r) for r in chart.chart_data],
        **_standing(store, a, b),
    }
    if page is not None:
        result["html"] = page
    return result


def _standing(store: Store, a: RecordKey, b: RecordKey) -> dict[str, Any]:
    """Where the pair stands now: the persons the records belong to and any decision in force."""
    person_a = store.rows(sql.person_of_sql(), list(a))
    person_b = store.rows(sql.person_of_sql(), list(b))
    (aa, ra), (ab, rb) = ordered_pair(a, b)
    active = store.df(sql.pair_decision_sql(), [aa, ra, ab, rb]).to_dict("records")
    same = bool(person_a and person_b and person_a[0][0] == person_b[0][0])
    return {"same_person": same, "decision": active[0] if active else None}
