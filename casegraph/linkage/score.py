"""Scoring candidate pairs in batches and writing the kept links with their explanations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from joblib import Parallel, delayed
from scipy.special import expit

from casegraph.linkage.blocking import Candidates, threads_of
from casegraph.linkage.features import pair_features
from casegraph.linkage.index import RunContext
from casegraph.linkage.model import LinkModel
from casegraph.progress import NoProgress, Progress

EXPLAIN_CHUNK = 100_000
# Decimals kept in the stored explanation, per feature unit (metres need none, days two).
DECIMALS = {"m": 0, "days": 2, "h": 2, "years": 1, "cm": 0}


@dataclass
class Scored:
    """Candidate pairs kept at or above the threshold, with their features and log-odds; `decided` holds an
    analyst's decision in force on the pair ("" for none), which sets its probability to 1 or 0."""

    i: np.ndarray
    j: np.ndarray
    X: np.ndarray
    log_odds: np.ndarray
    n_candidates: int
    decided: np.ndarray | None = None

    @property
    def probability(self) -> np.ndarray:
        p = expit(self.log_odds)
        if self.decided is not None:
            p = np.where(self.decided == "linked", 1.0, np.where(self.decided == "not-linked", 0.0, p))
        return p


def with_decisions(ctx: RunContext, model: LinkModel, scored: Scored, decided: pd.DataFrame) -> Scored:
    """Decisions in force override the scores: a linked pair is kept (scored now if blocking missed it) with
    probability 1, a not-linked pair is dropped; both stay explained by the model's own view."""
    n = len(ctx.index)
    key = np.minimum(scored.i, scored.j) * n + np.maximum(scored.i, scored.j)
    wanted = (
        np.minimum(decided["i"], decided["j"]).to_numpy() * n
        + np.maximum(decided["i"], decided["j"]).to_numpy()
    )
    label = pd.Series(decided["decision"].to_numpy(), index=wanted)
    mark = label.reindex(key).fillna("").to_numpy(dtype=object)
    keep = mark != "not-linked"
    i, j, X, z, mark = scored.i[keep], scored.j[keep], scored.X[keep], scored.log_odds[keep], mark[keep]
    extra = decided[(decided["decision"] == "linked") & ~np.isin(wanted, key)]
    if len(extra):
        ei, ej = extra["i"].to_numpy(np.int64), extra["j"].to_numpy(np.int64)
        EX = pair_features(ctx.index.encoded, ei, ctx.index.encoded, ej, ctx.comparisons)
        i, j, X = np.concatenate([i, ei]), np.concatenate([j, ej]), np.vstack([X, EX])
        z = np.concatenate([z, model.decision_function(EX)])
        mark = np.concatenate([mark, np.full(len(ei), "linked", dtype=object)])
    return Scored(i, j, X, z, scored.n_candidates, mark)


def score_candidates(
    ctx: RunContext,
    model: LinkModel,
    threshold: float,
    candidates: Candidates,
    *,
    progress: Progress | None = None,
    batch: int = 500_000,
) -> Scored:
    """Score every candidate pair; keep those with probability >= threshold (all when threshold is 0).

    Batches are scored `threads` at a time (numpy releases the GIL in the gathers and lookups) and kept in
    candidate order."""
    progress = progress or NoProgress()
    cut = (
        -np.inf if threshold <= 0 else float(np.log(threshold / (1 - threshold))) if threshold < 1 else np.inf
    )
    kept: list[tuple[np.ndarray, ...]] = []
    total = 0
    progress.start(len(candidates), "scoring candidate pairs")
    tasks = (delayed(_scored_batch)(ctx, model, cut, i, j) for i, j in candidates.batches(batch))
    for part, n in Parallel(n_jobs=threads_of(ctx.settings), prefer="threads", return_as="generator")(tasks):
        kept.append(part)
        total += n
        progress.advance(n)
    progress.finish()
    if not kept:
        return Scored(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros((0, len(ctx.comparisons)), np.float32),
            np.zeros(0),
            0,
        )
    i, j, X, z = (np.concatenate([k[n] for k in kept]) for n in range(4))
    return Scored(i, j, X, z, total)


def _scored_batch(
    ctx: RunContext, model: LinkModel, cut: float, i: np.ndarray, j: np.ndarray
) -> tuple[tuple[np.ndarray, ...], int]:
    """One batch's pairs at or above the cut (i, j, features, log-odds), and how many pairs it scored."""
    X = pair_features(ctx.index.encoded, i, ctx.index.encoded, j, ctx.comparisons)
    z = model.decision_function(X)
    keep = z >= cut
    return (i[keep], j[keep], X[keep], z[keep]), len(i)


def _json_object(
    names: list[str], columns: list[np.ndarray], decimals: list[int], skip_below: float
) -> pa.Array:
    """{"name": value, ...} per row, built column-wise; NaN and |value| < skip_below are left out.
    Left-out entries are empty strings, never nulls: pyarrow 26's null_handling="skip" drops whole rows
    whose inputs are all null instead of joining them to an empty string."""
    parts = []
    for name, values, digits in zip(names, columns, decimals, strict=True):
        keep = np.isfinite(values) & (np.abs(values) >= skip_below)
        text = pc.cast(
            pc.round(pa.array(np.where(keep, values, 0.0).astype(np.float64)), ndigits=digits), pa.string()
        )
        parts.append(pc.if_else(pa.array(keep), pc.binary_join_element_wise(f'"{name}":', text, ",", ""), ""))
    body = pc.utf8_rtrim(pc.binary_join_element_wise(*parts, ""), characters=",")
    return pc.binary_join_element_wise("{", body, "}", "")


def links_table(ctx: RunContext, model_id: str, scored: Scored, model: LinkModel, rows: slice) -> pa.Table:
    """incident_links rows for scored[rows], with per-feature contributions and compared values as JSON."""
    i, j, X, z = scored.i[rows], scored.j[rows], scored.X[rows], scored.log_odds[rows]
    p = scored.probability[rows]
    decided = scored.decided[rows] if scored.decided is not None else np.full(len(i), "", dtype=object)
    index, comparisons, run_id = ctx.index, ctx.comparisons, ctx.run_id
    explained = model.explain(X)
    names = [c.name for c in comparisons] + ["interactions"]
    columns = [*explained.contributions.T, explained.rest]
    contributions = _json_object(names, columns, [2] * len(names), 0.005)
    digits = [DECIMALS.get(c.unit, 3) for c in comparisons]
    values = _json_object(names[:-1], list(X.T.astype(np.float64)), digits, 0)
    start = rows.start or 0
    return pa.table(
        {
            "link_id": pa.array([f"{run_id}:{k}" for k in range(start, start + len(i))]),
            "run_id": pa.array([run_id] * len(i)),
            "model_id": pa.array([model_id] * len(i)),
            "agency_a": pa.array(index.agency[i].astype(str)),
            "incident_a": pa.array(index.incident_id[i].astype(str)),
            "agency_b": pa.array(index.agency[j].astype(str)),
            "incident_b": pa.array(index.incident_id[j].astype(str)),
            "probability": pa.array(p),
            "log_odds": pa.array(z),
            "base": pa.array(explained.base),
            "contributions": contributions,
            "features": values,
            "decision": pa.array([d or None for d in decided], pa.string()),
        }
    )


def write_links(ctx: RunContext, model_id: str, scored: Scored, model: LinkModel) -> int:
    written = 0
    for start in range(0, len(scored.i), EXPLAIN_CHUNK):
        rows = slice(start, start + EXPLAIN_CHUNK)
        written += ctx.store.write("incident_links", links_table(ctx, model_id, scored, model, rows))
    return written
