"""`similar`: the incidents most likely linked to a seed, each with its probability and its explanation.

The seed is compared with its blocking candidates in the linkage index (not only stored links), chosen by
the plan `link` used (every incident of a small store; else its nearest incidents in space and time and its
window), with the model and encoder `link` saved, so the answer matches the stored links and covers pairs
below the link threshold. An incident ingested after `link` is encoded on the fly. Analysts' decisions in
force apply as in `link`: a pair decided not linked is not offered, one decided linked is listed (compared
even where blocking would not have) with probability 1 and the decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from casegraph.errors import CasegraphError
from casegraph.linkage import decisions
from casegraph.linkage.comparisons import fields_read
from casegraph.linkage.encode import Encoded
from casegraph.linkage.features import pair_features
from casegraph.linkage.index import INDEX, Artefact, families, incidents_sql, load_artefact
from casegraph.linkage.neighbours import FALLBACK, NeighbourIndex, embed
from casegraph.linkage.property import describe_sighting, item_evidence
from casegraph.linkage.training import has_identities
from casegraph.store import Store


@dataclass
class Seed:
    agency: str
    incident_id: str
    family: str
    encoded: Encoded  # one row


@dataclass
class Scores:
    """A seed against its candidates: ids, features and log-odds, in candidate order."""

    seed: Seed
    artefact: Artefact
    agency: np.ndarray
    incident_id: np.ndarray
    X: np.ndarray
    log_odds: np.ndarray
    decided: np.ndarray  # the decision in force on each pair ("" for none)

    @property
    def probability(self) -> np.ndarray:
        return np.where(self.decided == "linked", 1.0, expit(self.log_odds))


def find_seed(store: Store, artefact: Artefact, incident_id: str, agency: str | None) -> Seed:
    run = run_rows(store, artefact)
    rows = [r for r in run.rows_of.get(incident_id, []) if not agency or run.agency[r] == agency]
    if len(rows) > 1:
        raise CasegraphError(
            f"incident {incident_id} exists in agencies {', '.join(run.agency[r] for r in rows)}: "
            "say which with --agency"
        )
    if rows:
        encoded = run.encoded.take(np.array(rows[:1]))
        return Seed(str(run.agency[rows[0]]), incident_id, str(run.family[rows[0]]), encoded)
    return _encode_new(store, artefact, incident_id, agency)


def _encode_new(store: Store, artefact: Artefact, incident_id: str, agency: str | None) -> Seed:
    """An incident stored after the last `link` run: encoded now with the saved encoder."""
    where, params = " WHERE incident_id = ?", [incident_id]
    if agency:
        where, params = where + " AND agency = ?", [*params, agency]
    frame = store.df(incidents_sql(fields_read(artefact.comparisons), where), params)
    if frame.empty:
        raise CasegraphError(f"no incident {incident_id}" + (f" in agency {agency}" if agency else ""))
    if len(frame) > 1:
        raise CasegraphError(f"incident {incident_id} exists in several agencies: say which with --agency")
    encoded = artefact.encoder.transform(frame)
    return Seed(str(frame["agency"][0]), incident_id, str(families(frame["offence"])[0]), encoded)


def score_seed(
    store: Store, incident_id: str, *, agency: str | None = None, run_id: str | None = None
) -> Scores:
    """The seed against every blocking candidate in the index, with the features and log-odds of each pair."""
    artefact = load_artefact(store, run_id)
    seed = find_seed(store, artefact, incident_id, agency)
    decided = decisions.on_incident(store, (seed.agency, seed.incident_id))
    run = run_rows(store, artefact)
    rows = _candidate_rows(run, artefact, seed, decided)
    agencies, incidents = run.agency[rows].astype(object), run.incident_id[rows].astype(object)
    marks = np.array([decided.get(pair, "") for pair in zip(agencies, incidents, strict=True)], dtype=object)
    keep = ((agencies != seed.agency) | (incidents != seed.incident_id)) & (marks != "not-linked")
    rows, agencies, incidents, marks = rows[keep], agencies[keep], incidents[keep], marks[keep]
    n = len(rows)
    candidates = run.encoded.take(rows)  # a few rows: the whole text column is never widened to float32
    X = pair_features(seed.encoded, np.zeros(n, np.int64), candidates, np.arange(n), artefact.comparisons)
    z = artefact.model.decision_function(X) if n else np.zeros(0)
    return Scores(seed, artefact, agencies, incidents, X, z, marks)


def _candidate_rows(
    run: RunRows, artefact: Artefact, seed: Seed, decided: dict[tuple[str, str], str]
) -> np.ndarray:
    """Index rows the seed is compared with, in row order: its blocking candidates and the incidents decided
    linked to it (the seed itself may be among them)."""
    plan = artefact.plan
    if plan.all_pairs:
        return np.arange(len(run.agency))
    wanted = [np.zeros(0, np.int64), run.rows_decided_linked(decided)]
    if plan.neighbours:
        point, placed = embed(seed.encoded, plan.scales)
        wanted.append(run.neighbours.query(point[0], bool(placed[0]), seed.family, plan.neighbours))
    if plan.window is not None:
        wanted.append(run.window(seed, plan.window))
    return np.unique(np.concatenate(wanted))


@dataclass
class RunRows:
    """What `similar` needs of every index row of a run, kept in memory: ids, blocking keys, k-d trees and
    the encoded incidents (read from the store once, so a query reads no index row)."""

    agency: np.ndarray
    incident_id: np.ndarray
    family: np.ndarray
    columns: dict[str, np.ndarray]
    rows_of: dict[str, list[int]]
    family_rows: dict[str, np.ndarray]
    neighbours: NeighbourIndex
    encoded: Encoded

    def rows_decided_linked(self, decided: dict[tuple[str, str], str]) -> np.ndarray:
        """Index rows of the incidents an analyst decided are linked to the seed."""
        linked = [key for key, decision in decided.items() if decision == "linked"]
        rows = [
            r
            for agency, incident in linked
            for r in self.rows_of.get(incident, [])
            if self.agency[r] == agency
        ]
        return np.array(rows, np.int64)

    def window(self, seed: Seed, window: Any) -> np.ndarray:
        """Rows inside the seed's window (same family, gap and distance), as the window pass joins them."""
        enc = seed.encoded
        rows = self.family_rows.get(seed.family, np.zeros(0, np.int64)) if window.same_family else None
        c = {k: v if rows is None else v[rows] for k, v in self.columns.items()}
        keep = np.ones(len(c["t_lo"]), bool)
        if window.gap_hours:
            keep &= (c["t_lo"] <= enc["t_hi"][0] + window.gap_hours) & (
                c["t_hi"] >= enc["t_lo"][0] - window.gap_hours
            )
        if window.distance_m:
            x, y = _finite(enc.columns.get("x")), _finite(enc.columns.get("y"))
            if x is None or y is None:
                return np.zeros(0, np.int64)  # no place, no window candidates under a distance limit
            with np.errstate(invalid="ignore"):
                keep &= (c["x"] - x) ** 2 + (c["y"] - y) ** 2 <= window.distance_m**2
        return np.flatnonzero(keep) if rows is None else rows[keep]


_RUNS: dict[tuple[int, str, str], RunRows] = {}


def forget_run_rows() -> None:
    """Rows were added to a run's index: read them again at the next seed."""
    _RUNS.clear()


def run_rows(store: Store, artefact: Artefact) -> RunRows:
    """The run's index rows in memory (read once per store session and run; the encoded incidents take
    about 250 bytes an incident, the ids, keys and trees about 150)."""
    key = (id(store), store.path, artefact.run_id)
    if key not in _RUNS:
        _RUNS.clear()  # one run at a time: a new run replaces the old one's rows
        frame, encoded = _read_index(store, artefact)
        columns = {c: frame[c].to_numpy(dtype=float, na_value=np.nan) for c in ("t_lo", "t_hi", "x", "y")}
        family = frame["family"].fillna("").to_numpy(dtype=str)
        points, placed = embed(Encoded(columns), artefact.plan.scales or FALLBACK)
        rows_of = frame.groupby("incident_id", sort=False).indices
        _RUNS[key] = RunRows(
            frame["agency"].to_numpy(dtype=str),
            frame["incident_id"].to_numpy(dtype=str),
            family,
            columns,
            {k: v.tolist() for k, v in rows_of.items()},
            pd.Series(family).groupby(family, sort=False).indices,
            NeighbourIndex.build(points, placed, family),
            encoded,
        )
    return _RUNS[key]


def _read_index(store: Store, artefact: Artefact) -> tuple[pd.DataFrame, Encoded]:
    """The run's index rows in row order: ids and blocking keys, and the encoded incidents (decoded in
    batches, so the text of all rows is never held at once)."""
    sql = (
        f"SELECT agency, incident_id, family, t_lo, t_hi, x, y, encoded FROM {INDEX} WHERE run_id = ? "
        "ORDER BY row_no"
    )
    frames, parts = [], [Encoded.unpack([], artefact.layout)]
    for batch in store.batches(sql, [artefact.run_id]):
        frames.append(batch.drop_columns(["encoded"]).to_pandas())
        parts.append(Encoded.unpack(batch.column("encoded").to_pylist(), artefact.layout))
    return pd.concat(frames, ignore_index=True), Encoded.concat(parts)


def _finite(values: np.ndarray | None) -> float | None:
    if values is None or not np.isfinite(values[0]):
        return None
    return float(values[0])


def similar(
    store: Store, incident_id: str, *, agency: str | None = None, top: int = 10, run_id: str | None = None
) -> dict[str, Any]:
    """The `top` incidents most likely linked to the seed, best first, each explained feature by feature."""
    scores = score_seed(store, incident_id, agency=agency, run_id=run_id)
    best = np.lexsort((-scores.log_odds, scores.decided != "linked"))[:top]
    explained = scores.artefact.model.explain(scores.X[best]) if len(best) else None
    details = incident_details(store, scores, scores.agency[best], scores.incident_id[best])
    items = item_evidence(
        store, scores.artefact.run_id, scores.seed.agency, scores.seed.incident_id, has_identities(store)
    )
    results = []
    for rank, k in enumerate(best):
        assert explained is not None
        other = (scores.agency[k], scores.incident_id[k])
        results.append(
            {
                "rank": rank + 1,
                "agency": other[0],
                "incident_id": other[1],
                "probability": round(float(scores.probability[k]), 4),
                "log_odds": round(float(scores.log_odds[k]), 3),
                "decision": scores.decided[k] or None,
                "base": round(float(explained.base[rank]), 3),
                **details.get(other, {}).get("summary", {}),
                "contributions": contributions(
                    scores, explained.contributions[rank], scores.X[k], details, other
                ),
                **_items_between(items, other),
            }
        )
    return {
        "seed": {
            "agency": scores.seed.agency,
            "incident_id": scores.seed.incident_id,
            **details.get((scores.seed.agency, scores.seed.incident_id), {}).get("summary", {}),
        },
        "run_id": scores.artefact.run_id,
        **scores.artefact.about(),
        "candidates": len(scores.log_odds),
        "results": results,
        "items": [describe_sighting(r) for _, r in items.iterrows()],
    }


def _items_between(items: pd.DataFrame, other: tuple[str, str]) -> dict[str, Any]:
    """`items`: the item links (score 1) between the seed and another incident, when there are any."""
    if items.empty:
        return {}
    mine = items[(items["agency"] == other[0]) & (items["incident_id"] == other[1])]
    return {"items": [describe_sighting(r) for _, r in mine.iterrows()]} if len(mine) else {}


def contributions(
    scores: Scores, row: np.ndarray, values: np.ndarray, details: dict[Any, Any], other: tuple[str, str]
) -> list[dict[str, Any]]:
    """Per-feature evidence, strongest first: contribution (log-odds), compared value and both raw values."""
    seed_raw = details.get((scores.seed.agency, scores.seed.incident_id), {}).get("raw", {})
    other_raw = details.get(other, {}).get("raw", {})
    out = []
    for comparison, c, v in zip(scores.artefact.comparisons, row, values, strict=True):
        if abs(c) < 0.005:
            continue
        out.append(
            {
                "feature": comparison.name,
                "contribution": round(float(c), 3),
                "value": None if math.isnan(v) else round(float(v), 3),
                "unit": comparison.unit,
                "meaning": comparison.description,
                "seed": {f: seed_raw.get(f) for f in comparison.fields},
                "other": {f: other_raw.get(f) for f in comparison.fields},
            }
        )
    return sorted(out, key=lambda d: -abs(d["contribution"]))


SUMMARY = ("offence", "occurred_from", "occurred_to", "area")


def incident_details(store: Store, scores: Scores, agencies: np.ndarray, ids: np.ndarray) -> dict[Any, Any]:
    """Raw feature values (and a short summary) of the seed and the listed incidents, keyed by (agency, id)."""
    seed = scores.seed
    fields = list(dict.fromkeys([*SUMMARY, *fields_read(scores.artefact.comparisons)]))
    wanted = {(seed.agency, seed.incident_id), *zip(map(str, agencies), map(str, ids), strict=True)}
    # One list parameter: DuckDB joins it to the scan and reads a fifth of what an IN list of parameters
    # makes it read (19 against 101 ms of CPU for 11 incidents among a million).
    names = sorted({i for _, i in wanted})
    frame = store.df(incidents_sql(fields, " WHERE incident_id = ANY(?)"), [names])
    frame = frame[[(a, i) in wanted for a, i in zip(frame["agency"], frame["incident_id"], strict=True)]]
    out = {}
    for record in frame.to_dict("records"):
        raw = {k: _plain(v) for k, v in record.items()}
        out[(record["agency"], record["incident_id"])] = {
            "raw": raw,
            "summary": {k: raw.get(k) for k in SUMMARY},
        }
    return out


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value
