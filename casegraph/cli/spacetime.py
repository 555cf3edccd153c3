"""`casegraph trends local-knox | modified-knox | jacquez | mantel`: space-time interaction tests on any CSV of
points (pointpats' statistics, vectorised); `casegraph eval near-repeat`: the near-repeat risk alerts tested
prospectively on a CSV (train on one period, test on the next) beside a 28-day hot-spot map."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from casegraph.cli.common import LazyModule, ctx_of, emit, fail, in_process, out, set_json, table_of
from casegraph.cli.trends import DISTANCE, JSON, NO_HEADER, WHERE, _days, _points

if TYPE_CHECKING:
    import pandas as pd

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
    """Read the points, run the test on (xy, (days, rows, dates)), emit its result (a bad option is a clear
    error)."""
    set_json(ctx, as_json)
    started = time.perf_counter()
    xy, days, rows = _points(ctx, *source)
    try:
        result = test(xy, (_days(days), rows, days))
    except ValueError as exc:
        fail(str(exc))
    result["total_seconds"] = round(time.perf_counter() - started, 3)
    result["engine"] = in_process(ctx)
    emit(ctx, result, render)


def _option(name: str, default: Any, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


SOURCE = [_option("file", FILE, Path), _option("x", X, str), _option("y", Y, str), _option("date", DATE, str)]
PERMUTED = [
    _option("perms", PERMS, int),
    _option("seed", SEED, int),
    _option("distance", DISTANCE, str),
    _option("workers", WORKERS, int),
]
FILTERS = [
    _option("where", WHERE, list[str]),
    _option("since", SINCE, str),
    _option("until", UNTIL, str),
    _option("no_header", NO_HEADER, bool),
    _option("as_json", JSON, bool),
]
CLOSE = [_option("space", SPACE, float), _option("time_", TIME, float)]


def _verb(
    doc: str,
    own: list[inspect.Parameter],
    test: Callable[..., dict[str, Any]],
    render: Callable[[dict[str, Any]], None],
) -> Callable[..., None]:
    """A test on a CSV of points: the options every such verb takes (the file and its columns, permutations,
    filters) and its own; test(options, permutation keywords, xy, days, rows, dates) gives the result."""

    def command(ctx: typer.Context, **o: Any) -> None:
        source = (o["file"], (o["x"], o["y"], o["date"]), o["where"], o["since"], o["until"], o["no_header"])
        permuted = {
            "permutations": o["perms"],
            "seed": o["seed"],
            "metric": o["distance"] or "euclidean",
            "workers": o["workers"],
        }
        _run(ctx, o["as_json"], source, lambda xy, ev: test(o, permuted, xy, *ev), render)

    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    command.__signature__ = inspect.Signature([context, *SOURCE, *own, *PERMUTED, *FILTERS])  # type: ignore[attr-defined]
    command.__doc__ = doc
    return command


def _summary(title: str, d: dict[str, Any], keys: list[str]) -> None:
    out.print(table_of(title, [{"measure": k, "value": d.get(k)} for k in keys]))


def _local_knox(
    o: dict[str, Any], permuted: dict[str, Any], xy: Any, t: Any, rows: Any, dates: Any
) -> dict[str, Any]:
    result = spacetime.local_knox(xy, t, delta=o["space"], tau=o["time_"], **permuted)
    d = result.as_dict(o["alpha"], o["inference"])
    for e in d["chain_events"]:
        e["row"], e["date"] = int(rows[e["event"]]), dates.iloc[e["event"]].date().isoformat()
    import pandas as pd

    d["chain_summary"] = _chain_summary(pd.DataFrame(d["chain_events"]))
    return d


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


local_knox_cmd = _verb(
    "Local Knox: which events drive the space-time clustering, and the near-repeat chains they form.",
    [
        *CLOSE,
        _option(
            "alpha", typer.Option(0.05, "--alpha", help="An event drives a chain when its p <= alpha."), float
        ),
        _option(
            "inference",
            typer.Option("permutation", "--inference", help="permutation or analytic p-values."),
            str,
        ),
    ],
    _local_knox,
    _render_local,
)

modified_knox_cmd = _verb(
    "Baker's modified Knox test: space-time pairs beyond what each event's own neighbours predict.",
    CLOSE,
    lambda o, permuted, xy, t, *_: spacetime.modified_knox(
        xy, t, delta=o["space"], tau=o["time_"], **permuted
    ),
    lambda d: _summary(
        f"modified Knox: {d['n']} events, <= {d['delta']} m, <= {d['tau']} days, {d['permutations']} permutations",
        d,
        ["stat", "nst", "expected_from_neighbours", "p_sim", "seconds"],
    ),
)

jacquez_cmd = _verb(
    "Jacquez's k-nearest-neighbour test: events that are among each other's k nearest in space and time.",
    [_option("k", typer.Option(3, "--k", help="Nearest neighbours in space and in time."), int)],
    lambda o, permuted, xy, t, *_: spacetime.jacquez(xy, t, k=o["k"], **permuted),
    lambda d: _summary(
        f"Jacquez k-NN: {d['n']} events, k = {d['k']}, {d['permutations']} permutations",
        d,
        ["stat", "expected", "p_sim", "seconds"],
    ),
)

mantel_cmd = _verb(
    "Standardised Mantel test: correlation over all pairs of transformed distance and days apart.",
    [
        _option("scon", typer.Option(1.0, "--scon", help="Constant added to distances."), float),
        _option("spow", typer.Option(-1.0, "--spow", help="Power of (distance + scon)."), float),
        _option("tcon", typer.Option(1.0, "--tcon", help="Constant added to days apart."), float),
        _option("tpow", typer.Option(-1.0, "--tpow", help="Power of (days apart + tcon)."), float),
    ],
    lambda o, permuted, xy, t, *_: spacetime.mantel(
        xy, t, scon=o["scon"], spow=o["spow"], tcon=o["tcon"], tpow=o["tpow"], **permuted
    ),
    lambda d: _summary(
        f"Mantel: {d['n']} events, (distance + {d['scon']})^{d['spow']} against (days + {d['tcon']})^{d['tpow']}, "
        f"{d['permutations']} permutations",
        d,
        ["stat", "p_sim", "seconds"],
    ),
)


def eval_near_repeat(
    ctx: typer.Context,
    file: Path = FILE,
    x: str = X,
    y: str = Y,
    date: str = DATE,
    train_from: str = typer.Option(..., "--train-from", help="First day of the training period."),
    train_to: str = typer.Option(..., "--train-to", help="Last day of the training period."),
    test_from: str = typer.Option(..., "--test-from", help="First day of the test period."),
    test_to: str = typer.Option(..., "--test-to", help="Last day of the test period."),
    min_ratio: str = typer.Option(
        None, "--min-ratio", help="Minimum observed / expected of an alerted cell; several: 1.2,1.5,2."
    ),
    grid: float = typer.Option(25.0, "--grid", help="Cell size (metres) of the area computation."),
    hotspot_cell: float = typer.Option(250.0, "--hotspot-cell", help="Cell size of the hot-spot baseline."),
    lookback: int = typer.Option(28, "--lookback", help="Days of history the hot-spot baseline counts."),
    where: list[str] = WHERE,
    no_header: bool = NO_HEADER,
    as_json: bool = JSON,
) -> None:
    """Near-repeat risk alerts tested prospectively: hit rate, area-time share and PAI beside a 28-day hot-spot map
    of the same area (the table's bands, permutations and significance come from the trends settings)."""
    cfg = ctx_of(ctx).settings().trends
    try:
        import pandas as pd

        periods = [pd.Timestamp(v) for v in (train_from, train_to, test_from, test_to)]
        ratios = [float(v) for v in min_ratio.split(",")] if min_ratio else [cfg.risk_min_ratio]
    except ValueError as exc:
        fail(f"bad date or ratio: {exc}")
    if not periods[0] <= periods[1] < periods[2] <= periods[3]:
        fail("the periods must be in order: train-from <= train-to < test-from <= test-to")
    options = {
        "space": cfg.knox_space_bands,
        "time_bands": cfg.knox_time_bands,
        "permutations": cfg.knox_permutations,
        "seed": cfg.seed,
        "closed": cfg.knox_closed,
        "metric": cfg.knox_distance,
        "workers": cfg.workers,
    }

    def test(xy: Any, events: Any) -> dict[str, Any]:
        return LazyModule("casegraph.trends.risk").prospective(
            xy,
            events[2],
            train=(periods[0], periods[1]),
            test=(periods[2], periods[3]),
            table_options=options,
            alpha=cfg.risk_alpha,
            min_ratios=ratios,
            grid=grid,
            hotspot_cell=hotspot_cell,
            lookback=lookback,
        )

    _run(ctx, as_json, (file, (x, y, date), where, train_from, test_to, no_header), test, _render_eval)


def _render_eval(d: dict[str, Any]) -> None:
    table = d["table"]
    ratios: dict[str, dict[str, str]] = {}
    for c in table["bands"]:
        value = f"{c['nst'] / c['expected']:.2f} (p {c['p']:.2g})" if c["expected"] else "-"
        ratios.setdefault(c["space_band"], {"distance": c["space_band"]})[c["time_band"]] = value
    out.print(
        table_of(
            f"near-repeat table trained on {d['train'][0]} .. {d['train'][1]} ({d['train_incidents']} incidents, "
            f"{table['permutations']} permutations): observed / expected (p)",
            list(ratios.values()),
        )
    )
    rows = []
    for run in d["runs"]:
        window = "; ".join(run.get("describe") or ["no band alerted"])
        for m in run["methods"]:
            rows.append(
                {
                    "min ratio": run["min_ratio"],
                    "method": "near-repeat alerts"
                    if m["method"] == "alerts"
                    else f"{run['lookback_days']}-day hot spots",
                    "hit rate": f"{m['hit_rate']:.3f}",
                    "area-time share": f"{m['area_time_share']:.4f}",
                    "PAI": "n/a (no area)" if m["pai"] is None else f"{m['pai']:.2f}",
                    "hits / incidents": f"{m['hits']} / {m['test_incidents']}",
                    "mean area km2": f"{m['mean_area_km2']:.1f}",
                    "window": window
                    if m["method"] == "alerts"
                    else f"top cells of {run['hotspot_cell_m']:g} m, same area",
                }
            )
    out.print(
        table_of(
            f"tested on {d['test'][0]} .. {d['test'][1]}, study area {d['region_km2']} km2 (hull of the training "
            f"incidents), {d['total_seconds']} s",
            rows,
        )
    )


def register(trends_app: typer.Typer, eval_app: typer.Typer) -> None:
    eval_app.command("near-repeat")(eval_near_repeat)
    trends_app.command("local-knox")(local_knox_cmd)
    trends_app.command("modified-knox")(modified_knox_cmd)
    trends_app.command("jacquez")(jacquez_cmd)
    trends_app.command("mantel")(mantel_cmd)
