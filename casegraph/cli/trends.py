"""`casegraph trends`: group growth and spread, alerts, charts; Knox / near-repeat and emerging hot spots on any
CSV of points; `casegraph eval trends` on a synthetic city."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from casegraph.cli.common import (
    IN_PROCESS,
    LazyModule,
    ctx_of,
    emit,
    fail,
    in_process,
    opened,
    out,
    run_and_emit,
    set_json,
    table_of,
)
from casegraph.cli.groups import command_group

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

stage = LazyModule("casegraph.trends")
hotspots = LazyModule("casegraph.trends.hotspots")
knox = LazyModule("casegraph.trends.knox")

trends_app = command_group(
    help="Growth and spread of groups, alerts, near repeats and hot spots. With no sub-command: run the stage.",
    invoke_without_command=True,
)
JSON = typer.Option(False, "--json", help="Print machine-readable JSON.")


@trends_app.callback()
def trends(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Compute group activity, growth, spread, hot spots and near repeats; write them and the alerts."""
    set_json(ctx, as_json)
    if ctx.invoked_subcommand is None:
        run_and_emit(ctx, stage, _render_run)


def _render_run(d: dict[str, Any]) -> None:
    out.print(
        f"{d['groups']} groups, {d['linked_incidents']} linked incidents "
        f"(identities: {d['built_from']['person_identities']}, series: {d['built_from']['series']}); "
        f"{d['alerts']} alerts in {d['seconds']} s"
    )
    out.print(table_of("rows written", [{"table": t, "rows": n} for t, n in d["rows"].items()]))


# -- points from the store or any CSV ------------------------------------------------------------------------
def _points(
    ctx: typer.Context,
    file: Path | None,
    cols: tuple[str, str, str],
    where: list[str],
    since: str | None = None,
    until: str | None = None,
    no_header: bool = False,
) -> tuple[np.ndarray, pd.Series, pd.Index]:
    """x, y (metres), the dates (whole days) and the rows (of a CSV: 1 = its first data row) of the points with
    coordinates and a date, from a CSV or (no file) the store's incidents, filtered by COL=V1,V2 and dates.
    Without a header, the CSV's columns are x, y, date (the Near Repeat Calculator's input)."""
    if file:
        in_process(ctx)  # a file's statistics run here: with the spark engine, say so rather than run them
    frame = _csv_frame(file, no_header) if file else _store_frame(ctx)
    try:
        xy, days = points_of(
            frame, ("x", "y", "date") if no_header else cols, where, since, until, one_agency=file is None
        )
    except ValueError as exc:
        fail(f"{file or 'the store' + chr(39) + 's incidents'}: {exc}")
    return xy, days, days.index


def points_of(
    frame: pd.DataFrame,
    cols: tuple[str, str, str],
    where: list[str],
    since: str | None = None,
    until: str | None = None,
    *,
    one_agency: bool = False,
) -> tuple[np.ndarray, pd.Series]:
    """x, y and day of the rows kept by COL=V1,V2 filters and dates (the days keep the frame's index);
    `one_agency`: refuse rows of several agencies (their x/y may be in different projections)."""
    import pandas as pd

    x, y, date = cols
    missing = [c for c in (x, y, date) if c not in frame.columns]
    if missing:
        raise ValueError(f"no column {', '.join(missing)} (columns: {', '.join(map(str, frame.columns))})")
    for cond in where:
        col, _, values = cond.partition("=")
        if col not in frame.columns:
            raise ValueError(f"--where: no column {col!r} (columns: {', '.join(map(str, frame.columns))})")
        frame = frame[frame[col].astype(str).isin(values.split(","))]
    if one_agency and frame["agency"].nunique() > 1:
        agencies = ", ".join(sorted(frame["agency"].unique()))
        raise ValueError(
            f"incidents of {agencies}, whose x/y may be in different projections: choose one agency with "
            "--where agency=NAME"
        )
    days = pd.to_datetime(frame[date], errors="coerce").dt.normalize()
    keep = days.notna() & frame[x].notna() & frame[y].notna()
    if since:
        keep &= days >= pd.Timestamp(since)
    if until:
        keep &= days <= pd.Timestamp(until)
    frame, days = frame[keep], days[keep]
    if frame.empty:
        raise ValueError("no rows left with coordinates and a date")
    return frame[[x, y]].to_numpy(float), days


def _csv_frame(file: Path, no_header: bool = False) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = (
            pd.read_csv(file, header=None, names=["x", "y", "date"], usecols=[0, 1, 2])
            if no_header
            else pd.read_csv(file, low_memory=False)
        )
    except (OSError, ValueError) as exc:
        fail(f"cannot read {file}: {exc}")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame


def _store_frame(ctx: typer.Context) -> pd.DataFrame:
    """The incidents with coordinates (agency, incident_id, offence, x, y, date), read as the user."""
    with opened(ctx) as (store, _settings):
        frame: pd.DataFrame = stage.points(store).rename(columns={"occurred_on": "date"})
    return frame


def _edges(text: str | None, single: float) -> list[float]:
    try:
        return [float(v) for v in text.split(",")] if text else [single]
    except ValueError:
        fail(f"band edges must be numbers separated by commas, got {text!r}")


def _days(days: pd.Series) -> np.ndarray:
    return (days - days.min()).dt.days.to_numpy()


POINTS = typer.Argument(
    None,
    help="CSV of points with projected x/y in metres and a date. Without it: the store's incidents (columns "
    "agency, incident_id, offence, x, y, date), one agency's at a time.",
)
WHERE = typer.Option([], "--where", help="Keep rows where COL is one of the values: COL=V1,V2 (repeatable).")
NO_HEADER = typer.Option(
    False, "--no-header", help="The CSV has no header: its columns are x, y, date (the NRC's input)."
)
DISTANCE = typer.Option(
    None, "--distance", help="euclidean (default) or manhattan (city blocks, as the NRC)."
)


@trends_app.command("knox")
def knox_cmd(
    ctx: typer.Context,
    file: Path = POINTS,
    x: str = typer.Option("x", "--x"),
    y: str = typer.Option("y", "--y"),
    date: str = typer.Option("date", "--date"),
    space: float = typer.Option(200.0, "--space", help="Close in space: distance <= this (metres)."),
    time_: float = typer.Option(7.0, "--time", help="Close in time: |days apart| <= this."),
    perms: int = typer.Option(99, "--perms", help="Permutations of the dates (the NRC's iterations - 1)."),
    bands_space: str = typer.Option(
        None, "--bands-space", help="Distance band edges, e.g. 0.1,100,200,300,400 (0 = same place)."
    ),
    bands_time: str = typer.Option(None, "--bands-time", help="Time band edges in days, e.g. 7,14,21."),
    closed: str = typer.Option(
        None, "--closed", help="right (default): [0,a], (a,b] (pointpats, Davies); left: [0,a), [a,b) (NRC)."
    ),
    distance: str = DISTANCE,
    nrc: bool = typer.Option(
        False,
        "--nrc",
        help="The Near Repeat Calculator's table: Manhattan distance in single precision, a 'same location' "
        "band, bands closed on the left, 'more than' bands, the ratio to the mean.",
    ),
    ratio: str = typer.Option(
        None, "--ratio", help="Ratio shown: observed / mean or / median of the permutations (both in --json)."
    ),
    seed: int = typer.Option(12345, "--seed"),
    workers: int = typer.Option(2, "--workers"),
    where: list[str] = WHERE,
    since: str = typer.Option(None, "--from"),
    until: str = typer.Option(None, "--to"),
    no_header: bool = NO_HEADER,
    chart: Path = typer.Option(None, "--chart", help="Also draw the table as a heat map (PNG)."),
    as_json: bool = JSON,
) -> None:
    """Knox test (one band) or near-repeat table (--bands-*) with a permutation test of each cell."""
    set_json(ctx, as_json)
    started = time.perf_counter()
    if nrc and (closed not in (None, "left") or distance not in (None, "manhattan")):
        fail("--nrc measures Manhattan distance with bands closed on the left: drop --closed / --distance")
    if ratio not in (None, "mean", "median"):
        fail("--ratio must be mean or median")
    xy, days, _ = _points(ctx, file, (x, y, date), where, since, until, no_header)
    s_edges, t_edges = _edges(bands_space, space), _edges(bands_time, time_)
    try:
        if nrc:
            table = LazyModule("casegraph.trends.nrc").nrc_table(
                xy, _days(days), distance_edges=s_edges, time_edges=t_edges, permutations=perms, seed=seed
            )
        else:
            table = knox.near_repeat(
                xy,
                _days(days),
                space=s_edges,
                time_bands=t_edges,
                permutations=perms,
                seed=seed,
                closed=closed or "right",
                workers=workers,
                metric=distance or "euclidean",
            )
    except ValueError as exc:
        fail(str(exc))
    result = knox.overall(table)
    result["ratio_shown"] = ratio or ("mean" if nrc else "median")
    if nrc:
        result["bands"] = LazyModule("casegraph.trends.nrc").nrc_cells(table)
    elif bands_space or bands_time:
        result["bands"] = table.cells()
    if chart:
        from casegraph.trends.charts import near_repeat_chart

        result["chart"] = str(near_repeat_chart(table.cells(), chart))
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["engine"] = IN_PROCESS if file else ctx_of(ctx).settings().engine.name
    emit(ctx, result, _render_knox)


def _render_knox(d: dict[str, Any]) -> None:
    shown = d["ratio_shown"]
    title = (
        f"Knox: {d['n']} events, {d['distance']} distance ({d['precision']} precision), bands closed "
        f"{d['closed']}, {d['permutations']} permutations, {d['seconds']} s"
    )
    if not d.get("bands"):
        keys = ["space_band", "time_band", "ns", "nt", "nst", "expected", f"ratio_{shown}", "p"]
        out.print(table_of(f"{title}; ratio = observed / {shown} of the permutations", [_shown(d, keys)]))
        return
    cells = d["bands"]
    nrc = "nrc_space_band" in cells[0]
    space, when = ("nrc_space_band", "nrc_time_band") if nrc else ("space_band", "time_band")
    columns = list(dict.fromkeys(c[when] for c in cells))
    matrix: dict[str, dict[str, Any]] = {}
    for c in cells:
        ratio = "" if c[f"ratio_{shown}"] is None else f"{c[f'ratio_{shown}']:.2f}"
        p = "" if c["p"] is None else f" p {c['p']:.2g}"
        matrix.setdefault(c[space], {space: c[space]})[c[when]] = f"{c['nst']}  {ratio}{p}"
    out.print(
        table_of(
            f"{title}\neach cell: observed pairs, ratio = observed / {shown} of the permutations, p",
            list(matrix.values()),
            [space, *columns],
        )
    )
    overall = _shown(d, ["space_band", "time_band", "nst", "expected", f"ratio_{shown}", "p"])
    out.print("all within the last edges: " + ", ".join(f"{k} {v}" for k, v in overall.items()))


def _shown(row: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: (f"{row[k]:.3f}" if isinstance(row[k], float) else row[k]) for k in keys}


@trends_app.command("hotspots")
def hotspots_cmd(
    ctx: typer.Context,
    file: Path = POINTS,
    x: str = typer.Option("x", "--x"),
    y: str = typer.Option("y", "--y"),
    date: str = typer.Option("date", "--date"),
    cell: float = typer.Option(250.0, "--cell", help="Cell size of the space-time cube (metres)."),
    step: str = typer.Option("month", "--step", help="Time step: week, month or a number of days."),
    distance: float = typer.Option(
        None, "--distance", help="Gi* neighbourhood between cell centres (default 1.5 cells)."
    ),
    time_lag: int = typer.Option(1, "--time-lag", help="Previous time steps in the neighbourhood."),
    alpha: float = typer.Option(0.05, "--alpha"),
    no_fdr: bool = typer.Option(False, "--no-fdr"),
    map_png: Path = typer.Option(None, "--map", help="Also draw the classes on a map (PNG)."),
    where: list[str] = WHERE,
    since: str = typer.Option(None, "--from"),
    until: str = typer.Option(None, "--to"),
    as_json: bool = JSON,
) -> None:
    """Emerging hot spot analysis: locations per class (new, consecutive, intensifying, persistent, ...)."""
    set_json(ctx, as_json)
    started = time.perf_counter()
    xy, days, _ = _points(ctx, file, (x, y, date), where, since, until)
    try:
        ehs = hotspots.emerging_hotspots(
            xy[:, 0],
            xy[:, 1],
            hotspots.hotspot_steps(days, step),
            cell=cell,
            distance=distance,
            time_lag=time_lag,
            alpha=alpha,
            fdr=not no_fdr,
        )
    except ValueError as exc:
        fail(str(exc))
    result = {
        "n": len(xy),
        "locations": len(ehs.classes),
        "steps": int(ehs.z.shape[1]),
        "cell": cell,
        "classes": ehs.class_counts(),
        "analysis_seconds": round(ehs.seconds, 3),
    }
    if map_png:
        import pandas as pd

        from casegraph.trends.charts import hotspot_map

        cells = pd.DataFrame(
            {"x": ehs.cube.centres[:, 0], "y": ehs.cube.centres[:, 1], "class": ehs.class_names()}
        )
        result["map"] = str(hotspot_map(xy, cells, map_png, cell=cell))
    result["seconds"] = round(time.perf_counter() - started, 3)
    emit(
        ctx,
        result,
        lambda d: out.print(
            table_of(
                f"emerging hot spots: {d['n']} events, {d['locations']} cells x {d['steps']} steps, {d['seconds']} s",
                [{"class": k, "locations": v} for k, v in d["classes"].items() if v],
            )
        ),
    )


@trends_app.command("kde")
def kde_cmd(
    ctx: typer.Context,
    file: Path = POINTS,
    out_png: Path = typer.Option(..., "--out", help="PNG of the surface."),
    x: str = typer.Option("x", "--x"),
    y: str = typer.Option("y", "--y"),
    date: str = typer.Option("date", "--date"),
    cell: float = typer.Option(100.0, "--cell"),
    bandwidth: float = typer.Option(400.0, "--bandwidth"),
    where: list[str] = WHERE,
    as_json: bool = JSON,
) -> None:
    """Quartic kernel density surface (points per km²) as a PNG."""
    set_json(ctx, as_json)
    xy, _, _ = _points(ctx, file, (x, y, date), where)
    grid, extent = hotspots.kernel_density(xy[:, 0], xy[:, 1], cell=cell, bandwidth=bandwidth)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shown = ax.imshow(grid, origin="lower", extent=(extent[0], extent[2], extent[1], extent[3]), cmap="magma")
    fig.colorbar(shown, ax=ax, label="points per km²")
    fig.savefig(out_png, dpi=110)
    emit(ctx, {"out": str(out_png), "max_per_km2": float(grid.max()), "cells": list(grid.shape)})


@trends_app.command("groups")
def groups_cmd(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Growth of each group: trend, change points, last quarter against the one before, new areas."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        frame = store.df("SELECT * FROM group_trends ORDER BY group_id")
    rows = frame.drop(columns=["run_id"]).to_dict("records") if len(frame) else []
    cols = [
        "group_id",
        "incidents",
        "trend",
        "mk_p",
        "previous_quarter",
        "last_quarter",
        "baseline_areas",
        "new_areas",
    ]
    emit(ctx, rows, lambda r: out.print(table_of("group trends", r, cols)))


@trends_app.command("alerts")
def alerts_cmd(
    ctx: typer.Context,
    kind: str = typer.Option(None, "--kind", help="group_spread, group_growth or near_repeat."),
    as_json: bool = JSON,
) -> None:
    """The stage's alerts with their status."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        rows = stage.alerts(store, kind).to_dict("records")
    emit(
        ctx,
        rows,
        lambda r: out.print(
            table_of("alerts", r, ["alert_id", "kind", "onset", "expires", "status", "title"])
        ),
    )


@trends_app.command("ack")
def ack_cmd(
    ctx: typer.Context,
    alert_id: str = typer.Argument(...),
    dismiss: bool = typer.Option(False, "--dismiss", help="Dismiss instead of acknowledging."),
    note: str = typer.Option(None, "--note"),
    as_json: bool = JSON,
) -> None:
    """Acknowledge (or dismiss) an alert; the mark survives re-runs."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        ok = stage.acknowledge(
            store, alert_id, store.user.user_id, status="dismissed" if dismiss else "acknowledged", note=note
        )
    if not ok:
        fail(f"no alert {alert_id}")
    emit(ctx, {"alert_id": alert_id, "status": "dismissed" if dismiss else "acknowledged"})


@trends_app.command("chart")
def chart_cmd(
    ctx: typer.Context,
    group_id: str = typer.Argument(...),
    out_png: Path = typer.Option(..., "--out"),
    period: str = typer.Option("week", "--period", help="week or month"),
    as_json: bool = JSON,
) -> None:
    """PNG of a group's linked incidents over time with its alerts marked."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        try:
            path = stage.group_chart(store, group_id, out_png, period_kind=period)
        except ValueError as exc:
            fail(str(exc))
    emit(ctx, {"out": str(path)})


@trends_app.command("map")
def map_cmd(ctx: typer.Context, out_png: Path = typer.Option(..., "--out"), as_json: bool = JSON) -> None:
    """PNG map of incidents and emerging hot spot classes (from the last run)."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        path = stage.hotspot_chart(store, out_png)
    emit(ctx, {"out": str(path)})


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    from casegraph.cli import spacetime  # its verbs use the helpers above

    spacetime.register(trends_app, eval_app)
    app.add_typer(trends_app, name="trends")
