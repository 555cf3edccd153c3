"""`casegraph trends local-knox | modified-knox | jacquez | mantel`: space-time interaction tests on any CSV of
points (pointpats' statistics, vectorised)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from casegraph.cli.common import LazyModule, emit, fail, out, set_json, table_of
from casegraph.cli.trends import DISTANCE, JSON, NO_HEADER, WHERE, _days, _rows

spacetime = LazyModule("casegraph.trends.spacetime")

FILE = typer.Argument(..., help="CSV of points with projected x/y in metres and a date.")
X, Y, DATE = typer.Option("x", "--x"), typer.Option("y", "--y"), typer.Option("date", "--date")
SPACE = typer.Option(200.0, "--space", help="Close in space: distance <= this (metres).")
TIME = typer.Option(7.0, "--time", help="Close in time: |days apart| <= this.")
PERMS = typer.Option(99, "--perms", help="Permutations of the dates.")
SEED = typer.Option(12345, "--seed")
WORKERS = typer.Option(2, "--workers")
SINCE, UNTIL = typer.Option(None, "--from"), typer.Option(None, "--to")


def _run(
    ctx: typer.Context,
    as_json: bool,
    source: tuple[Path, tuple[str, str, str], list[str], str | None, str | None, bool],
    test: Callable[[Any, Any], Any],
    render: Callable[[dict[str, Any]], None],
) -> None:
    """Read the points, run the test on (xy, days), emit its result (a bad option is a clear error)."""
    set_json(ctx, as_json)
    started = time.perf_counter()
    frame, days = _rows(*source)
    x, y, _ = ("x", "y", "date") if source[5] else source[1]
    try:
        result = test(frame[[x, y]].to_numpy(float), (_days(days), frame.index, days))
    except ValueError as exc:
        fail(str(exc))
    result["total_seconds"] = round(time.perf_counter() - started, 3)
    emit(ctx, result, render)


def _summary(title: str, d: dict[str, Any], keys: list[str]) -> None:
    out.print(table_of(title, [{"measure": k, "value": d.get(k)} for k in keys]))


def local_knox_cmd(
    ctx: typer.Context,
    file: Path = FILE,
    x: str = X,
    y: str = Y,
    date: str = DATE,
    space: float = SPACE,
    time_: float = TIME,
    perms: int = PERMS,
    alpha: float = typer.Option(0.05, "--alpha", help="An event drives a chain when its p <= alpha."),
    inference: str = typer.Option("permutation", "--inference", help="permutation or analytic p-values."),
    seed: int = SEED,
    distance: str = DISTANCE,
    workers: int = WORKERS,
    where: list[str] = WHERE,
    since: str = SINCE,
    until: str = UNTIL,
    no_header: bool = NO_HEADER,
    as_json: bool = JSON,
) -> None:
    """Local Knox: which events drive the space-time clustering, and the near-repeat chains they form."""

    def test(xy: Any, events: Any) -> dict[str, Any]:
        t, rows, days = events
        result = spacetime.local_knox(
            xy,
            t,
            delta=space,
            tau=time_,
            permutations=perms,
            seed=seed,
            metric=distance or "euclidean",
            workers=workers,
        )
        d = result.as_dict(alpha, inference)
        for e in d["chain_events"]:
            e["row"], e["date"] = int(rows[e["event"]]), days.iloc[e["event"]].date().isoformat()
        d["chain_summary"] = _chain_summary(pd.DataFrame(d["chain_events"]))
        return d

    _run(ctx, as_json, (file, (x, y, date), where, since, until, no_header), test, _render_local)


def _chain_summary(events: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per chain: its size, drivers (rows in the file), first and last date."""
    if events.empty:
        return []
    rows = []
    for chain, part in events.groupby("chain", sort=True):
        drivers = part.loc[part["driver"], "row"].tolist()
        rows.append(
            {
                "chain": int(chain),
                "events": len(part),
                "drivers": len(drivers),
                "first": part["date"].min(),
                "last": part["date"].max(),
                "first_row": int(part.sort_values(["time", "row"])["row"].iloc[0]),
                "driver_rows": ", ".join(map(str, drivers[:8])) + (" ..." if len(drivers) > 8 else ""),
            }
        )
    return rows


def _render_local(d: dict[str, Any]) -> None:
    _summary(
        f"local Knox: {d['n']} events, close = <= {d['delta']} m and <= {d['tau']} days, "
        f"{d['permutations']} permutations ({d['inference']} p-values), {d['total_seconds']} s",
        d,
        ["nst", "expected", "p_sim", "p_poisson", "events_in_pairs", "drivers", "chains"],
    )
    if d["chain_summary"]:
        shown = sorted(d["chain_summary"], key=lambda c: (-c["events"], c["chain"]))[:20]
        out.print(table_of(f"largest chains (rows = lines of the file; alpha {d['alpha']})", shown))


def modified_knox_cmd(
    ctx: typer.Context,
    file: Path = FILE,
    x: str = X,
    y: str = Y,
    date: str = DATE,
    space: float = SPACE,
    time_: float = TIME,
    perms: int = PERMS,
    seed: int = SEED,
    distance: str = DISTANCE,
    workers: int = WORKERS,
    where: list[str] = WHERE,
    since: str = SINCE,
    until: str = UNTIL,
    no_header: bool = NO_HEADER,
    as_json: bool = JSON,
) -> None:
    """Baker's modified Knox test: space-time pairs beyond what each event's own neighbours predict."""

    def test(xy: Any, events: Any) -> dict[str, Any]:
        return spacetime.modified_knox(
            xy,
            events[0],
            delta=space,
            tau=time_,
            permutations=perms,
            seed=seed,
            metric=distance or "euclidean",
            workers=workers,
        )

    _run(
        ctx,
        as_json,
        (file, (x, y, date), where, since, until, no_header),
        test,
        lambda d: _summary(
            f"modified Knox: {d['n']} events, <= {d['delta']} m, <= {d['tau']} days, {d['permutations']} "
            f"permutations",
            d,
            ["stat", "nst", "expected_from_neighbours", "p_sim", "seconds"],
        ),
    )


def jacquez_cmd(
    ctx: typer.Context,
    file: Path = FILE,
    x: str = X,
    y: str = Y,
    date: str = DATE,
    k: int = typer.Option(3, "--k", help="Nearest neighbours in space and in time."),
    perms: int = PERMS,
    seed: int = SEED,
    distance: str = DISTANCE,
    workers: int = WORKERS,
    where: list[str] = WHERE,
    since: str = SINCE,
    until: str = UNTIL,
    no_header: bool = NO_HEADER,
    as_json: bool = JSON,
) -> None:
    """Jacquez's k-nearest-neighbour test: events that are among each other's k nearest in space and time."""

    def test(xy: Any, events: Any) -> dict[str, Any]:
        return spacetime.jacquez(
            xy, events[0], k=k, permutations=perms, seed=seed, metric=distance or "euclidean", workers=workers
        )

    _run(
        ctx,
        as_json,
        (file, (x, y, date), where, since, until, no_header),
        test,
        lambda d: _summary(
            f"Jacquez k-NN: {d['n']} events, k = {d['k']}, {d['permutations']} permutations",
            d,
            ["stat", "expected", "p_sim", "seconds"],
        ),
    )


def mantel_cmd(
    ctx: typer.Context,
    file: Path = FILE,
    x: str = X,
    y: str = Y,
    date: str = DATE,
    perms: int = PERMS,
    scon: float = typer.Option(1.0, "--scon", help="Constant added to distances."),
    spow: float = typer.Option(-1.0, "--spow", help="Power of (distance + scon)."),
    tcon: float = typer.Option(1.0, "--tcon", help="Constant added to days apart."),
    tpow: float = typer.Option(-1.0, "--tpow", help="Power of (days apart + tcon)."),
    seed: int = SEED,
    distance: str = DISTANCE,
    workers: int = WORKERS,
    where: list[str] = WHERE,
    since: str = SINCE,
    until: str = UNTIL,
    no_header: bool = NO_HEADER,
    as_json: bool = JSON,
) -> None:
    """Standardised Mantel test: correlation over all pairs of transformed distance and days apart."""

    def test(xy: Any, events: Any) -> dict[str, Any]:
        return spacetime.mantel(
            xy,
            events[0],
            permutations=perms,
            seed=seed,
            scon=scon,
            spow=spow,
            tcon=tcon,
            tpow=tpow,
            metric=distance or "euclidean",
            workers=workers,
        )

    _run(
        ctx,
        as_json,
        (file, (x, y, date), where, since, until, no_header),
        test,
        lambda d: _summary(
            f"Mantel: {d['n']} events, (distance + {d['scon']})^{d['spow']} against (days + {d['tcon']})^{d['tpow']}, "
            f"{d['permutations']} permutations",
            d,
            ["stat", "p_sim", "seconds"],
        ),
    )


def register(trends_app: typer.Typer, eval_app: typer.Typer) -> None:
    trends_app.command("local-knox")(local_knox_cmd)
    trends_app.command("modified-knox")(modified_knox_cmd)
    trends_app.command("jacquez")(jacquez_cmd)
    trends_app.command("mantel")(mantel_cmd)
