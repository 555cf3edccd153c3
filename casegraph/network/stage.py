"""run(): records -> person ties -> person graph -> group ties (tested, dated) -> key players -> alerts."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from casegraph.errors import EngineError
from casegraph.network import build, sql
from casegraph.network.alerts import tie_alerts, write_alerts
from casegraph.network.roles import (
    RoleParams,
    agreement,
    communities,
    communities_in_background,
    key_players,
)
from casegraph.network.ties import TieParams
from casegraph.network.tietable import COLUMNS, day_to_date, tie_table
from casegraph.progress import NoProgress, Progress
from casegraph.schema import model
from casegraph.settings import NetworkSettings, Settings
from casegraph.store import require_engine
from casegraph.store.base import Store

STEPS = ("evidence", "graph", "group ties", "key players", "write")
WRITTEN = ("person_ties", "group_tie_evidence", "group_ties", "key_players", "group_receiver_ties")
PLAYER_COLUMNS = (
    "person_id",
    "node",
    "group_id",
    "n_groups",
    "community",
    "degree",
    "strength",
    "betweenness",
    "betweenness_method",
    "coordinator",
    "itinerant",
    "representative",
    "liaison",
    "brokerage",
    "cross_ties",
    "groups_reached",
)


def tie_params(net: NetworkSettings) -> TieParams:
    return TieParams(
        null_model=net.null_model,
        n_permutations=net.n_permutations,
        fdr=net.fdr,
        min_persons_per_side=net.min_persons_per_side,
        associate_min_ties=net.associate_min_ties,
        count_associates=net.count_associates,
        seed=net.seed,
    )


def role_params(net: NetworkSettings) -> RoleParams:
    return RoleParams(
        exact_betweenness_max_nodes=net.exact_betweenness_max_nodes,
        betweenness_samples=net.betweenness_samples,
        leiden_resolution=net.leiden_resolution,
        leidenalg_max_edges=net.leidenalg_max_edges,
        max_triangles=net.max_triangles,
        seed=net.seed,
    )


ENGINES = ("duckdb", "spark")  # the engines this stage runs on (the store's engine decides)


def run(store: Store, settings: Settings, *, progress: Progress | None = None) -> dict[str, Any]:
    """Build the person graph, test every pair of groups, rank key players; write the derived tables."""
    require_engine(store, "network", ENGINES)
    progress, started = progress or NoProgress(), time.perf_counter()
    timings: dict[str, float] = {}
    run_id = store.new_run("network", settings.network.model_dump())
    progress.start(len(STEPS), "network")
    try:
        summary = _run(store, settings, run_id, progress, timings)
    except BaseException as exc:
        build.drop_scratch(store)
        store.finish_run(run_id, "failed", {"error": str(exc)})
        raise
    finally:
        progress.finish()
    summary.update(run_id=run_id, seconds=round(time.perf_counter() - started, 2), step_seconds=timings)
    store.finish_run(run_id, "ok", summary)
    return summary


def check_driver_graph(store: Store, settings: Settings) -> None:
    """Leiden, betweenness and the null model need the whole person graph in one process (on Spark, the
    driver): past the stated size it is refused, saying so, rather than run the driver out of memory."""
    if store.engine != "spark":
        return
    edges, limit = build.edge_count(store), settings.engine.driver_graph_max_edges
    if edges > limit:
        raise EngineError(
            f"the person graph has {edges:,} edges: network's graph algorithms (Leiden, betweenness, the tie "
            f"null model) run on the Spark driver, which takes at most engine.driver_graph_max_edges = {limit:,}"
        )


def _timed(timings: dict[str, float], name: str, progress: Progress, started: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - started, 2)
    progress.advance()
    return now


def _run(store: Store, settings: Settings, run_id: str, progress: Progress, timings: dict) -> dict[str, Any]:
    net, t = settings.network, time.perf_counter()
    src = build.sources_of(store, settings)
    build.make_scratch(store, settings, src)
    build.set_aside_item_ties(store)
    t = _timed(timings, "evidence", progress, t)
    check_driver_graph(store, settings)
    pg, nodes = build.load_graph(store)
    params = tie_params(net)
    build.make_sides(store, pg, nodes["pidx"].to_numpy(), params.sides(pg))
    window = build.evidence_window(store)
    roles = role_params(net)
    big = pg.graph.ecount() >= net.background_min_edges
    pending = communities_in_background(pg.graph, roles) if big else None
    t = _timed(timings, "graph", progress, t)
    evidence = build.pair_evidence(store, net.evidence_per_tie)
    days_of: dict = {}

    def days_for(pairs: list[tuple[str, str]]) -> dict:
        days_of.update(build.event_days(store, pairs))
        return days_of

    ties, test = tie_table(pg, params, evidence, days_for, net.onset_gap_days)
    receivers = build.receiver_ties(store, net.evidence_per_tie)
    ties = build.with_receivers(ties, receivers)
    t = _timed(timings, "group ties", progress, t)
    build.restore_item_ties(store)
    pg_all, nodes_all = build.load_graph(store)  # key players see who sold or held stolen items (fences)
    computed = pending() if pending is not None else communities(pg.graph, roles)
    players, methods = key_players(pg_all, roles, build.communities_onto(pg_all, pg, computed))
    players["n_groups"] = nodes_all["n_groups"].to_numpy()
    players["node"] = players["person_id"].map(build.node_kind)
    fit = agreement(players["community"].to_numpy(), players["group_id"].to_numpy(object))
    t = _timed(timings, "key players", progress, t)
    start, end = window
    alerts = (
        tie_alerts(ties, days_of, (start, end), net, run_id) if start is not None and end is not None else []
    )
    rows = _write(store, run_id, ties, players, receivers, alerts, net)
    build.drop_scratch(store)
    _timed(timings, "write", progress, t)
    return _summary(src, pg, ties, test, methods, fit, rows, window)


def _write(
    store: Store,
    run_id: str,
    ties: pd.DataFrame,
    players: pd.DataFrame,
    receivers: pd.DataFrame,
    alerts: list,
    net: NetworkSettings,
) -> dict:
    tie_rows = f"SELECT *, CAST(? AS VARCHAR) AS run_id FROM ({sql.person_ties_sql(net.evidence_per_tie)})"
    cols = [f.name for f in _fields("person_ties")]
    ev_cols = [f.name for f in _fields("group_tie_evidence")]
    ev_rows = f"SELECT *, CAST(? AS VARCHAR) AS run_id FROM ({sql.group_tie_evidence_sql()})"
    with store.transaction():
        for table in WRITTEN:
            store.execute(sql.delete_sql(table))
        store.execute(sql.insert_select_sql("person_ties", cols, tie_rows), [run_id])
        store.execute(sql.insert_select_sql("group_tie_evidence", ev_cols, ev_rows), [run_id])
        store.write("group_ties", ties[[*COLUMNS, "shared_receivers"]].assign(run_id=run_id))
        store.write("key_players", players[list(PLAYER_COLUMNS)].assign(run_id=run_id))
        store.write("group_receiver_ties", receivers.assign(run_id=run_id))
    n_alerts = write_alerts(store, alerts)
    return {
        "person_ties": int(store.scalar(sql.count_sql("person_ties"))),
        "group_ties": len(ties),
        "key_players": len(players),
        "group_receiver_ties": len(receivers),
        "alerts": n_alerts,
    }


def _fields(table: str) -> list:
    return model.table(table).stage_fields


def _summary(src, pg, ties, test, methods, fit, rows, window) -> dict[str, Any]:
    significant = ties[ties["significant"]]
    return {
        "built_from": {"person_identities": src.identities, "series": src.series, "addresses": src.addresses},
        "notes": src.notes,
        "n_nodes": pg.graph.vcount(),
        "n_edges": pg.graph.ecount(),
        "n_groups": pg.n_groups,
        "labelled_persons": int((pg.label >= 0).sum()),
        "significant_group_ties": len(significant),
        "ties": [f"{a}-{b}" for a, b in zip(significant["group_a"], significant["group_b"], strict=True)],
        "test": test,
        "methods": methods,
        "communities_vs_groups": fit,
        "rows": rows,
        "evidence_from": str(day_to_date(window[0]))[:10] if window[0] is not None else None,
        "as_of": str(day_to_date(window[1]))[:10] if window[1] is not None else None,
    }
