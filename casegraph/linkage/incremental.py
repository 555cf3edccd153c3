"""`update`: link the incidents stored since the last full `link` run without re-running it.

The last full run's artefact (encoder, pair model, blocking plan) and index stay; each new incident is encoded
with the saved encoder and appended to the index, then scored against its blocking candidates exactly as
`similar` scores a seed (so only pairs touching a new incident are compared), and the pairs at or above the
link threshold join incident_links. Series change only where the link graph changed: the connected parts of
the graph of links at or above the series threshold that hold a new link are clustered again (Leiden's CPM
objective is a sum over connected parts, so the rest of the partition stands), and keep their ids by lineage.

What stays the whole run's: the model is not retrained and the blocking plan is not re-chosen (a whole re-run
would learn from the new solved incidents too: `casegraph check --full` measures the difference); item links
are recomputed whole (they are a join on identifiers). A full run is made instead when there is no previous
run, the linkage settings changed, incidents of the run were removed, or the new incidents outgrow
linkage.update_max_share of the stored ones.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from casegraph.errors import StageNotRun
from casegraph.lineage import LINEAGE, id_changes, lineage_rows
from casegraph.linkage import query
from casegraph.linkage.comparisons import fields_read
from casegraph.linkage.encode import Encoded
from casegraph.linkage.index import (
    INDEX,
    Artefact,
    IncidentIndex,
    RunContext,
    append_to_index,
    families,
    incidents_sql,
    load_artefact,
)
from casegraph.linkage.score import EXPLAIN_CHUNK, Scored, links_table
from casegraph.linkage.series import cluster_links, series_frame
from casegraph.linkage.stage import run as full_run
from casegraph.linkage.stage import write_property_links
from casegraph.progress import NoProgress, Progress
from casegraph.settings import LinkageSettings, Settings
from casegraph.store import Store

NEW_INCIDENTS_WHERE = (
    " WHERE NOT EXISTS (SELECT 1 FROM linkage_index x WHERE x.run_id = ? "
    "AND x.agency = incidents.agency AND x.incident_id = incidents.incident_id)"
)


def update(store: Store, settings: Settings, *, progress: Progress | None = None) -> dict[str, Any]:
    """Link the new incidents into the last run (or make a full run when one is needed: said in the summary)."""
    why_full = full_run_needed(store, settings.linkage)
    if why_full:
        return {**full_run(store, settings, progress=progress), "incremental": False, "why_full": why_full}
    run_id = store.new_run("linkage", {**settings.linkage.model_dump(), "incremental": True})
    try:
        summary = _update(store, settings.linkage, run_id, progress or NoProgress())
    except BaseException as exc:
        store.finish_run(run_id, "failed", {"error": str(exc)})
        raise
    store.finish_run(run_id, "ok", summary)
    return summary


def full_run_needed(store: Store, s: LinkageSettings) -> str | None:
    """Why the new incidents cannot be linked into the last run (None when they can)."""
    try:
        artefact = load_artefact(store)
    except StageNotRun:
        return "no linkage run to update"
    used = store.scalar("SELECT settings_json FROM linkage_models WHERE model_id = ?", [artefact.model_id])
    if _what_links(json.loads(used or "{}")) != _what_links(s.model_dump(mode="json")):
        return "the linkage settings changed since the last run"
    indexed = store.scalar(f"SELECT count(*) FROM {INDEX} WHERE run_id = ?", [artefact.run_id]) or 0
    present = store.scalar(
        f"SELECT count(*) FROM {INDEX} x JOIN incidents i USING (agency, incident_id) WHERE x.run_id = ?",
        [artefact.run_id],
    )
    if present < indexed:
        return f"{indexed - present} incident(s) of the last run were removed"
    new = store.scalar(f"SELECT count(*) FROM incidents{NEW_INCIDENTS_WHERE}", [artefact.run_id])
    if artefact.plan.all_pairs and indexed + new > s.all_pairs_up_to:
        return "the store outgrew comparing every pair of incidents"
    if new > s.update_max_share * max(indexed, 1):
        return f"{new} new incidents are more than {s.update_max_share:.0%} of the {indexed} linked"
    return None


def _what_links(values: dict[str, Any]) -> dict[str, Any]:
    """The settings that change links and series (not when to make a full run)."""
    return {k: v for k, v in values.items() if k != "update_max_share"}


def _update(store: Store, s: LinkageSettings, run_id: str, progress: Progress) -> dict[str, Any]:
    started = time.perf_counter()
    artefact = load_artefact(store)
    base = artefact.run_id
    new = _new_incidents(store, artefact)
    if new.empty:
        return {"run_id": run_id, "incremental": True, "base_run": base, "new_incidents": 0, "new_links": 0}
    append_to_index(store, base, new, artefact.encoder)
    query.forget_run_rows()
    scored, index = _score_new(store, artefact, new, s.link_threshold, progress)
    ctx = RunContext(store, base, index, artefact.plan, artefact.comparisons, s)
    n_links = _write_links(ctx, artefact, scored)
    store.execute("DELETE FROM property_links WHERE run_id = ?", [base])
    items = write_property_links(store, base)
    events, touched = _recluster(store, s, base, new)
    at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    store.write(LINEAGE, lineage_rows(events, run_id=run_id, stage="linkage", at=at))
    return {
        "run_id": run_id,
        "incremental": True,
        "base_run": base,
        "new_incidents": len(new),
        "pairs_compared": scored.n_candidates,
        "new_links": n_links,
        "property_links": items,
        "incidents_reclustered": touched,
        "series_ids": id_changes(events),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _write_links(ctx: RunContext, artefact: Artefact, scored: Scored) -> int:
    """The kept pairs as incident_links rows of the run, numbered after its links."""
    first = ctx.store.scalar("SELECT count(*) FROM incident_links WHERE run_id = ?", [ctx.run_id]) or 0
    written = 0
    for start in range(0, len(scored.i), EXPLAIN_CHUNK):
        table = links_table(
            ctx, artefact.model_id, scored, artefact.model, slice(start, start + EXPLAIN_CHUNK)
        )
        ids = [f"{ctx.run_id}:{first + start + k}" for k in range(len(table))]
        written += ctx.store.write("incident_links", table.set_column(0, "link_id", pa.array(ids)))
    return written


def _new_incidents(store: Store, artefact: Artefact) -> pd.DataFrame:
    frame = store.df(incidents_sql(fields_read(artefact.comparisons), NEW_INCIDENTS_WHERE), [artefact.run_id])
    frame["family"] = families(frame["offence"])
    return frame


def _score_new(
    store: Store, artefact: Artefact, new: pd.DataFrame, threshold: float, progress: Progress
) -> tuple[Scored, IncidentIndex]:
    """Each new incident against its blocking candidates (stored and new); each pair once; the kept pairs as
    Scored over a small index of the incidents they join."""
    keys: dict[tuple[str, str], int] = {}
    encoded: list[Encoded] = []
    pairs: dict[tuple[int, int], tuple[np.ndarray, float, str]] = {}
    compared = 0
    progress.start(len(new), "linking new incidents")
    for agency, incident in zip(new["agency"].astype(str), new["incident_id"].astype(str), strict=True):
        scores = query.score_seed(store, incident, agency=agency, run_id=artefact.run_id)
        compared += len(scores.log_odds)
        keep = (scores.probability >= threshold) | (scores.decided == "linked")
        a = _row_of(keys, encoded, (agency, incident), scores.seed.encoded)
        for k in np.flatnonzero(keep):
            other = (str(scores.agency[k]), str(scores.incident_id[k]))
            if other not in keys:
                _row_of(keys, encoded, other, _encoded_of(store, artefact, other))
            pair = (min(a, keys[other]), max(a, keys[other]))
            if pair not in pairs:
                pairs[pair] = (scores.X[k], float(scores.log_odds[k]), str(scores.decided[k]))
        progress.advance(1)
    progress.finish()
    return _scored(pairs, compared, len(artefact.comparisons)), _small_index(keys, encoded)


def _row_of(
    keys: dict[tuple[str, str], int], encoded: list[Encoded], key: tuple[str, str], enc: Encoded
) -> int:
    if key not in keys:
        keys[key] = len(keys)
        encoded.append(enc)
    return keys[key]


def _encoded_of(store: Store, artefact: Artefact, key: tuple[str, str]) -> Encoded:
    packed = store.scalar(
        f"SELECT encoded FROM {INDEX} WHERE run_id = ? AND agency = ? AND incident_id = ?",
        [artefact.run_id, *key],
    )
    return Encoded.unpack([packed], artefact.layout)


def _scored(pairs: dict[tuple[int, int], tuple[np.ndarray, float, str]], compared: int, width: int) -> Scored:
    ordered = sorted(pairs)
    i = np.array([p[0] for p in ordered], np.int64)
    j = np.array([p[1] for p in ordered], np.int64)
    X = np.vstack([pairs[p][0] for p in ordered]) if ordered else np.zeros((0, width), np.float32)
    z = np.array([pairs[p][1] for p in ordered], float)
    decided = np.array([pairs[p][2] for p in ordered], dtype=object)
    return Scored(i, j, X, z, compared, decided)


def _small_index(keys: dict[tuple[str, str], int], encoded: list[Encoded]) -> IncidentIndex:
    names = list(keys)
    merged = Encoded({k: np.concatenate([e[k] for e in encoded]) for k in encoded[0].columns})
    return IncidentIndex(
        np.array([a for a, _ in names], dtype=object),
        np.array([i for _, i in names], dtype=object),
        merged,
        np.zeros(len(names), dtype=str),
    )


def _recluster(store: Store, s: LinkageSettings, base: str, new: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Cluster again the connected parts of the strong link graph that hold a new incident; write their series
    (the others' rows stay); returns the lineage events and how many incidents were clustered again."""
    links = _strong_links(store, base, s.series_threshold)
    nodes, edges = np.unique(links[["a", "b"]].to_numpy().ravel(), return_inverse=True)
    edges = edges.reshape(-1, 2)
    new_keys = set(new["agency"].astype(str) + "/" + new["incident_id"].astype(str))
    if not len(nodes):
        return _empty_events(), 0
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(nodes), len(nodes)))
    _, part = connected_components(graph, directed=False)
    touched_parts = np.unique(part[np.isin(nodes, list(new_keys))])
    in_touched = np.isin(part, touched_parts)
    members = nodes[in_touched]
    keep = in_touched[edges[:, 0]]
    local = np.searchsorted(members, nodes[edges[keep].ravel()]).reshape(-1, 2)
    result = cluster_links(
        local[:, 0],
        local[:, 1],
        links["p"].to_numpy()[keep],
        threshold=s.series_threshold,
        resolution=s.series_resolution,
        seed=s.random_state,
    )
    index = _times_of(store, base, members)
    previous = store.df(
        "SELECT agency || '/' || incident_id AS key, series_id AS id FROM series WHERE run_id = ?", [base]
    )
    mine = previous[previous["key"].isin(set(members))]
    rows, events = series_frame(result, base, index, mine, numbered_after=previous["id"])
    with store.transaction():
        with store.registered("_reclustered", pd.DataFrame({"key": members})):
            store.execute(
                "DELETE FROM series WHERE run_id = ? AND agency || '/' || incident_id IN "
                "(SELECT key FROM _reclustered)",
                [base],
            )
        store.write("series", rows)
    return events, len(members)


def _strong_links(store: Store, base: str, threshold: float) -> pd.DataFrame:
    """Every link and item link of the run at or above the series threshold: keys a < b and probability."""
    model = store.df(
        "SELECT agency_a || '/' || incident_a AS a, agency_b || '/' || incident_b AS b, probability AS p "
        "FROM incident_links WHERE run_id = ? AND probability >= ?",
        [base, threshold],
    )
    items = store.df(
        "SELECT DISTINCT agency_a || '/' || incident_a AS a, agency_b || '/' || incident_b AS b, 1.0 AS p "
        "FROM property_links WHERE run_id = ? AND kind = 'item' AND incident_a IS NOT NULL "
        "AND incident_b IS NOT NULL AND (agency_a, incident_a) <> (agency_b, incident_b)",
        [base],
    )
    both = pd.concat([model, items], ignore_index=True)
    lo, hi = np.minimum(both["a"], both["b"]), np.maximum(both["a"], both["b"])
    return both.assign(a=lo, b=hi).groupby(["a", "b"], as_index=False, sort=True)["p"].max()


def _times_of(store: Store, base: str, members: np.ndarray) -> IncidentIndex:
    """The members' ids and time bounds from the index, in the members' (sorted key) order."""
    with store.registered("_members", pd.DataFrame({"key": members, "n": np.arange(len(members))})):
        frame = store.df(
            f"SELECT m.n, x.agency, x.incident_id, x.t_lo, x.t_hi FROM _members m JOIN {INDEX} x "
            "ON x.agency || '/' || x.incident_id = m.key WHERE x.run_id = ? ORDER BY m.n",
            [base],
        )
    times = Encoded({"t_lo": frame["t_lo"].to_numpy(float), "t_hi": frame["t_hi"].to_numpy(float)})
    return IncidentIndex(
        frame["agency"].to_numpy(dtype=object),
        frame["incident_id"].to_numpy(dtype=object),
        times,
        np.zeros(len(frame), dtype=str),
    )


def _empty_events() -> pd.DataFrame:
    from casegraph.lineage import EVENT_COLUMNS

    return pd.DataFrame(columns=EVENT_COLUMNS)
