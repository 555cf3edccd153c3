"""The group-tie table: test results, evidence, detection and onset dates, one sentence of explanation.
Pure pandas/numpy, shared by the stage (store) and the evaluation on folders of CSV files."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from casegraph.network.graphs import PersonGraph
from casegraph.network.ties import TieParams, group_ties
from casegraph.network.timeline import detection_day, onset_day, prepare_scan

COLUMNS = (
    "pair",
    "group_a",
    "group_b",
    "person_ties",
    "persons_a",
    "persons_b",
    "joint_events",
    "strength",
    "expected",
    "ratio",
    "p_value",
    "p_configuration",
    "p_permutation",
    "expected_permutation",
    "n_permutations",
    "q_value",
    "significant",
    "first_at",
    "last_at",
    "detected_at",
    "onset",
    "kinds",
    "evidence",
    "explanation",
)


def day_to_date(day: float | None) -> pd.Timestamp | None:
    if day is None or not np.isfinite(day):
        return None
    return pd.Timestamp(0) + pd.Timedelta(days=float(np.floor(day)))


DaysFor = Callable[[list[tuple[str, str]]], Mapping[tuple[str, str], np.ndarray]]


def tie_table(
    pg: PersonGraph, params: TieParams, evidence: pd.DataFrame, days_for: DaysFor, gap_days: int
) -> tuple[pd.DataFrame, dict]:
    """Group ties with their evidence (`evidence`: group_a, group_b, joint_events, kinds, first_at, last_at,
    evidence) and, for significant ones, detection and onset from the pair's event days (`days_for`, asked
    for the significant pairs only)."""
    frame, summary = group_ties(pg, params)
    if frame.empty:
        empty = {c: pd.Series(dtype=bool if c == "significant" else object) for c in COLUMNS}
        return pd.DataFrame(empty), summary
    frame = frame.merge(evidence, on=["group_a", "group_b"], how="left")
    frame["pair"] = frame["group_a"] + "|" + frame["group_b"]
    frame["detected_at"], frame["onset"] = None, None
    hits = frame.index[frame["significant"]]
    if len(hits):
        dates = _dates(pg, params, frame.loc[hits], summary["p_threshold"], days_for, gap_days)
        frame.loc[hits, ["detected_at", "onset"]] = dates
    frame["explanation"] = explanations(frame)
    return frame[list(COLUMNS)].reset_index(drop=True), summary


def _dates(
    pg: PersonGraph, params: TieParams, rows: pd.DataFrame, threshold: float, days_for: DaysFor, gap_days: int
) -> list[tuple]:
    """(detected, onset) of each significant pair."""
    scan = prepare_scan(pg, params.stubs(pg))
    days_of = days_for(list(zip(rows["group_a"], rows["group_b"], strict=True)))
    out = []
    for row in rows.itertuples():
        det = detection_day(scan, row.a, row.b, row.expected, threshold, params.min_persons_per_side)
        days = days_of.get((row.group_a, row.group_b))
        days = scan.pair(row.a, row.b)[0] if days is None or not len(days) else days
        if det is None:  # significant by permutation only: dated by its last evidence
            finite = days[np.isfinite(days)]
            det = float(finite.max()) if len(finite) else None
        out.append(
            (day_to_date(det), day_to_date(onset_day(days, det, gap_days)) if det is not None else None)
        )
    return out


def _text(col: pd.Series) -> pd.Series:
    """Values as text cut to 10 characters (dates), '?' where missing."""
    return col.astype(str).str[:10].where(col.notna(), "?")


def explanations(frame: pd.DataFrame) -> list[str]:
    """One sentence per group tie with the numbers behind it (vectorised: there can be 500,000 pairs)."""
    f = frame

    def num(col: str, spec: str) -> pd.Series:
        return f[col].map(spec.format)

    verdict = np.where(f["significant"].astype(bool), "significant", "not significant")
    events = _text(pd.to_numeric(f["joint_events"]).astype("Int64"))
    text = (
        f["group_a"]
        + "-"
        + f["group_b"]
        + ": "
        + f["person_ties"].astype(str)
        + " person ties ("
        + f["persons_a"].astype(str)
        + " people of "
        + f["group_a"]
        + ", "
        + f["persons_b"].astype(str)
        + " of "
        + f["group_b"]
        + ") in "
        + events
        + " joint events, "
        + num("ratio", "{:.1f}")
        + "x the "
        + num("expected", "{:.2f}")
        + " expected if ties leaving groups were matched at random (p = "
        + num("p_value", "{:.2g}")
        + ", q = "
        + num("q_value", "{:.2g}")
        + ": "
        + verdict
        + "); evidence "
        + _text(f["first_at"])
        + " to "
        + _text(f["last_at"])
    )
    dated = f["detected_at"].notna()
    since = "; significant since " + _text(f["detected_at"]) + ", onset " + _text(f["onset"])
    return (text + since.where(dated, "") + ".").tolist()
