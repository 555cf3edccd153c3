"""run(): read the records (and the linkage series, person identities when present), compute the group
activity, growth, spread, hot spots and near-repeat tables and the alerts, write them in one transaction."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from casegraph.progress import NoProgress, Progress
from casegraph.safeguards import valid_claims_sql
from casegraph.settings import Settings, TrendsSettings
from casegraph.store import require_engine
from casegraph.store.base import Store
from casegraph.trends import sql
from casegraph.trends.activity import SpreadRule, activity_rows, baselines, grid_area, spreads
from casegraph.trends.alerts import (
    growth_alert,
    item_city_alert,
    near_repeat_alert,
    now_utc,
    spread_alert,
    write_alerts,
)
from casegraph.trends.growth import Growth, trend_rows
from casegraph.trends.hotspots import emerging_hotspots, hotspot_steps
from casegraph.trends.items import item_flows, new_cities
from casegraph.trends.knox import near_repeat
from casegraph.trends.risk import live_alerts, risk_window

DERIVED = ("group_incidents", "group_activity", "group_trends", "hotspots", "near_repeat")


def valid_claims(settings: Settings) -> str:
    """Only claims that pass their rules (criteria, evidence, review date, approval) place anyone in a group."""
    return f"({valid_claims_sql('membership_claims', settings.safeguards)})"


def _has_rows(store: Store, table: str, columns: tuple[str, ...] = ()) -> bool:
    if table not in store.table_names() or not set(columns) <= set(store.columns(table)):
        return False
    return bool(store.scalar(f"SELECT count(*) > 0 FROM (SELECT 1 FROM {sql.quote(table)} LIMIT 1)"))


def load_links(store: Store, settings: Settings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """group x incident links, and what they were built from (identities used, series used)."""
    use_ids = _has_rows(store, "person_identities", ("record_id", "agency", "person_id"))
    use_series = _has_rows(store, "series", ("series_id", "incident_id"))
    series_agency = use_series and "agency" in store.columns("series")
    query = sql.group_incidents_sql(
        use_identities=use_ids,
        use_series=use_series,
        claims=valid_claims(settings),
        series_agency=series_agency,
    )
    params: list[Any] = [settings.safeguards.min_criteria, list(settings.trends.offender_roles)]
    if use_series:
        params.append(settings.trends.series_max_size)
    links = store.df(query, params)
    if settings.trends.area_source == "grid":
        links["area"] = grid_area(links["x"], links["y"], settings.trends.area_grid_m)
    links["occurred_on"] = pd.to_datetime(links["occurred_on"]).dt.date
    return links, {"person_identities": use_ids, "series": use_series}


def load_contacts(store: Store, settings: Settings, uses_identities: bool) -> pd.DataFrame | None:
    if not settings.trends.baseline_contacts or settings.trends.area_source != "area":
        return None
    if not _has_rows(store, "contacts"):
        return None
    return store.df(
        sql.member_contacts_sql(use_identities=uses_identities, claims=valid_claims(settings)),
        [settings.safeguards.min_criteria],
    )


def hotspot_rows(points: pd.DataFrame, cfg: TrendsSettings) -> pd.DataFrame:
    """One row per occupied cell with its emerging hot spot class."""
    if len(points) < 2:
        return pd.DataFrame()
    steps = hotspot_steps(points["occurred_on"], cfg.hotspot_step)
    ehs = emerging_hotspots(
        points["x"],
        points["y"],
        steps,
        cell=cfg.hotspot_cell_m,
        distance=cfg.hotspot_distance_m,
        time_lag=cfg.hotspot_time_lag,
        alpha=cfg.alpha,
        fdr=cfg.hotspot_fdr,
    )
    centres, hot = ehs.cube.centres, ehs.significant & (ehs.z > 0)
    return pd.DataFrame(
        {
            "cell_id": [f"{c}_{r}" for c, r in zip(ehs.cube.col, ehs.cube.row, strict=True)],
            "x": centres[:, 0],
            "y": centres[:, 1],
            "cell_m": cfg.hotspot_cell_m,
            "incidents": ehs.cube.counts.sum(axis=1).astype(int),
            "class": ehs.class_names(),
            "hot_steps": hot.sum(axis=1),
            "cold_steps": (ehs.significant & (ehs.z < 0)).sum(axis=1),
            "last_z": ehs.z[:, -1],
            "trend_tau": ehs.trend_tau,
            "trend_p": ehs.trend_p,
        }
    )


def near_repeat_rows(points: pd.DataFrame, cfg: TrendsSettings) -> pd.DataFrame:
    """A near-repeat table per offence with enough incidents."""
    parts = []
    for offence, rows in points.groupby("offence", sort=True):
        if len(rows) < cfg.knox_min_events:
            continue
        days = (pd.to_datetime(rows["occurred_on"]) - pd.Timestamp(min(rows["occurred_on"]))).dt.days
        table = near_repeat(
            rows[["x", "y"]].to_numpy(float),
            days.to_numpy(),
            space=cfg.knox_space_bands,
            time_bands=cfg.knox_time_bands,
            permutations=cfg.knox_permutations,
            seed=cfg.seed,
            closed=cfg.knox_closed,
            workers=cfg.workers,
            metric=cfg.knox_distance,
        )
        cells = pd.DataFrame(table.cells()).assign(
            offence=offence, permutations=cfg.knox_permutations, distance=cfg.knox_distance
        )
        parts.append(cells)
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["band_id"] = out["offence"] + "|" + out["space_band"] + "|" + out["time_band"]
    return out.drop(columns=["perm_median", "perm_mean", "perm_sd"])


def risk_alerts(
    points: pd.DataFrame, tables: pd.DataFrame, cfg: TrendsSettings, run_id: str, now: Any
) -> list[dict[str, Any]]:
    """A near-repeat alert for each incident whose alert still runs on the as-of day (the setting, else the
    newest incident's day), for the offences whose own table shows a window of elevated risk."""
    if not cfg.risk_alerts or tables.empty or points.empty:
        return []
    as_of = pd.Timestamp(cfg.risk_as_of or max(points["occurred_on"])).date()
    alerts = []
    for offence, cells in tables.groupby("offence", sort=True):
        window = risk_window(cells.to_dict("records"), alpha=cfg.risk_alpha, min_ratio=cfg.risk_min_ratio)
        if window is None:
            continue
        live = live_alerts(window, points[points["offence"] == offence], pd.Timestamp(as_of))
        alerts += [near_repeat_alert(row, window, as_of, run_id, now) for row in live.to_dict("records")]
    return alerts


def _window(store: Store) -> tuple[date, date] | None:
    first, last = store.rows(sql.data_window_sql())[0]
    return (first, last) if first is not None else None


def _group_names(store: Store) -> dict[str, str]:
    return {str(g): str(n) for _a, g, n in store.rows(sql.groups_sql())}


def _write(store: Store, frames: dict[str, pd.DataFrame], run_id: str) -> dict[str, int]:
    counts = {}
    with store.transaction():
        for table, frame in frames.items():
            store.execute(sql.delete_run_rows_sql(table))
            if len(frame):
                store.write(table, frame.assign(run_id=run_id))
            counts[table] = len(frame)
    return counts


def _group_tables(
    store: Store, settings: Settings, run_id: str
) -> tuple[dict[str, pd.DataFrame], list, dict]:
    cfg = settings.trends
    links, sources = load_links(store, settings)
    contacts = load_contacts(store, settings, sources["person_identities"])
    window = _window(store)
    names = _group_names(store)
    groups = sorted(set(names) | set(links["group_id"]))
    rule = SpreadRule(
        cfg.spread_min_incidents, cfg.spread_window_days, cfg.spread_corroborate, cfg.spread_member_incidents
    )
    # Home needs repetition (two incidents in a window, or a member's own), not the two-series corroboration
    # an alarm needs: one incident, often a wrong series link, never makes an area home.
    bases = baselines(links, contacts, cfg.baseline_days, replace(rule, corroborate=False))
    found = spreads(links, bases, rule)
    trends_df = pd.DataFrame()
    growth: list[Growth] = []
    if window is not None and groups:
        options = {
            "penalty": cfg.changepoint_penalty,
            "min_ratio": cfg.growth_min_ratio,
            "min_incidents": cfg.growth_min_incidents,
            "alpha": cfg.alpha,
            "recent_months": cfg.growth_recent_months,
            "reference_months": cfg.growth_reference_months,
        }
        trends_df, growth = trend_rows(links, groups, window, bases=bases, spread_list=found, options=options)
    now = now_utc()
    alerts = [spread_alert(s, names, run_id, now) for s in found] + [
        growth_alert(g, names, run_id, now) for g in growth
    ]
    cities = new_cities(item_flows(store, links), cfg.baseline_days, cfg.item_city_min_items)
    alerts += [item_city_alert(c, names, run_id, now) for c in cities]
    links_out = links.assign(link_id=links["group_id"] + "|" + links["agency"] + "|" + links["incident_id"])
    frames = {
        "group_incidents": links_out,
        "group_activity": activity_rows(links, bases),
        "group_trends": trends_df,
    }
    summary = {
        "groups": len(groups),
        "linked_incidents": len(links),
        "built_from": sources,
        "spreads": [s.as_dict() for s in found],
        "growth_events": len(growth),
        "item_cities": [
            {"group": c["group_id"], "city": c["city"], "items": len(c["items"])} for c in cities
        ],
    }
    return frames, alerts, summary


ENGINES = ("duckdb", "spark")  # the engines this stage runs on (the store's engine decides)


def run(store: Store, settings: Settings, *, progress: Progress | None = None) -> dict[str, Any]:
    """Compute and write group_incidents, group_activity, group_trends, hotspots, near_repeat and alerts."""
    require_engine(store, "trends", ENGINES)
    progress = progress or NoProgress()
    started = time.perf_counter()
    run_id = store.new_run("trends", settings.trends.model_dump())
    try:
        progress.start(3, "trends: groups")
        frames, alerts, summary = _group_tables(store, settings, run_id)
        progress.advance()
        points = store.df(sql.points_sql())
        frames["hotspots"] = hotspot_rows(points, settings.trends)
        progress.advance()
        frames["near_repeat"] = near_repeat_rows(points, settings.trends)
        progress.advance()
        risk = risk_alerts(points, frames["near_repeat"], settings.trends, run_id, now_utc())
        alerts += risk
        summary["near_repeat_alerts"] = len(risk)
        counts = _write(store, frames, run_id)
        counts["alerts"] = write_alerts(store, alerts)
    except BaseException as exc:  # a run that stops for any reason is rolled back
        store.finish_run(run_id, "failed", {"error": str(exc)})
        raise
    finally:
        progress.finish()
    summary.update(
        run_id=run_id, rows=counts, alerts=len(alerts), seconds=round(time.perf_counter() - started, 3)
    )
    store.finish_run(run_id, "ok", summary)
    return summary
