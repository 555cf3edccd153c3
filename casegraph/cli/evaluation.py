"""`casegraph eval ...`: each stage against ground truth, through casegraph.evaluation (the demo and the
benchmarks use the same scorers). On a synthetic city, every verb prints the same found-vs-truth table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from casegraph.cli.common import (
    LazyModule,
    RichProgress,
    console,
    ctx_of,
    emit,
    fail,
    in_process,
    out,
    set_json,
    table_of,
)
from casegraph.errors import CasegraphError
from casegraph.pipeline import STAGE_NAMES

evaluation = LazyModule("casegraph.evaluation")
JSON = typer.Option(False, "--json", help="Print machine-readable JSON.")
TRUTH_COLUMNS = ["stage", "measure", "found", "truth", "quality"]
CITY_HELP = (
    "Synthetic city folder (`casegraph synth` or the demo's demo-out/city: record CSVs and truth files)."
)


def render_truth_table(rows: list[dict[str, Any]], title: str = "found vs truth") -> None:
    out.print(table_of(title, rows, TRUTH_COLUMNS))


def _city(ctx: typer.Context, data: Path, stages: tuple[str, ...]) -> None:
    """Evaluate stages on a city in a scratch store and print the found-vs-truth table."""
    try:
        result = evaluation.evaluate_city(data, ctx_of(ctx).settings(), stages, progress=RichProgress())
    except CasegraphError as exc:
        fail(str(exc))
    emit(ctx, result, _render_city)


def _render_city(d: dict[str, Any]) -> None:
    for name, status in d["stages"].items():
        if not status.startswith("ok"):
            console.print(f"{name}: {status}", highlight=False)
    render_truth_table(d["table"], f"found vs truth on {d['data']} ({d['seconds']} s)")


def eval_city(
    ctx: typer.Context, data: Path = typer.Option(..., "--data", help=CITY_HELP), as_json: bool = JSON
):
    """Every stage on a synthetic city: what each found against the planted truth (the demo's table)."""
    set_json(ctx, as_json)
    _city(ctx, data, STAGE_NAMES)


def eval_trends(
    ctx: typer.Context, data: Path = typer.Option(..., "--data", help=CITY_HELP), as_json: bool = JSON
):
    """Spread alerts against the planted spread (runs resolve, linkage and trends on the city)."""
    set_json(ctx, as_json)
    _city(ctx, data, ("trends",))


def eval_network(
    ctx: typer.Context,
    data: Path = typer.Option(
        ...,
        "--data",
        help="A network folder (nodes.csv, edges.csv or affiliation.csv) or a synthetic city folder.",
    ),
    group_column: str = typer.Option(
        None, "--group-column", help="Group column of nodes.csv (default: the README's, else `group`)."
    ),
    as_json: bool = JSON,
) -> None:
    """Communities against recorded groups (NMI, ARI), group ties, key players; on a city, the planted tie."""
    set_json(ctx, as_json)
    if (data / "group_tie_truth.csv").exists():
        _city(ctx, data, ("network",))
        return
    if not ((data / "edges.csv").exists() or (data / "affiliation.csv").exists()):
        fail(f"{data}: expected edges.csv / affiliation.csv, or a synthetic city with group_tie_truth.csv")
    engine = in_process(ctx)
    try:
        result = evaluation.network.evaluate_folder(data, ctx_of(ctx).settings(), group_column)
    except (CasegraphError, OSError, KeyError, ValueError) as exc:
        fail(f"{type(exc).__name__}: {exc}")
    result["engine"] = engine
    emit(ctx, result, _render_network_folder)


def _render_network_folder(d: dict[str, Any]) -> None:
    from casegraph.cli.network import TIE_VIEW

    keys = ["data", "n_nodes", "n_edges", "n_groups", "nmi", "ari", "significant_group_ties", "seconds"]
    out.print(table_of("network evaluation", [{"measure": k, "value": d[k]} for k in keys if k in d]))
    if d.get("group_ties"):
        out.print(table_of("group ties", d["group_ties"], TIE_VIEW))
    if d.get("key_players"):
        out.print(table_of("key players (betweenness)", d["key_players"]))


def eval_property(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help=CITY_HELP),
    sample: int = typer.Option(
        300, "--sample", help="Unsolved series incidents attributed, with and without."
    ),
    as_json: bool = JSON,
) -> None:
    """Stolen property on a synthetic city: the planted fence among key players, attribution recall of unsolved
    incidents with and without item evidence, near-match candidates, the group_item_city alert against the
    planted onset of resales in a new city (runs resolve, link, network and trends)."""
    set_json(ctx, as_json)
    try:
        result = evaluation.evaluate_property(data, ctx_of(ctx).settings(), sample, progress=RichProgress())
    except CasegraphError as exc:
        fail(str(exc))
    emit(ctx, result, _render_property)


def _render_property(d: dict[str, Any]) -> None:
    last = (
        "fence_betweenness_rank",
        "fence_betweenness_rank_among_people",
        "item_city_items",
        "item_city_alert_delay_days",
        "item_city_alert_delay_from_first_item_days",
        "item_city_false_alerts",
    )
    rows = [{"measure": k, "value": v} for k, v in d.items() if k not in last]
    rows += [{"measure": k, "value": d[k]} for k in last]
    out.print(table_of(f"stolen property on {d['data']}", rows))


def eval_resolve(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="Folder with person_records.csv and person_truth.csv."),
    engine: str = typer.Option(None, "--engine", help="duckdb or spark: the same as the global --engine."),
    threshold: float = typer.Option(None, "--threshold", help="Match probability that joins two records."),
    as_json: bool = JSON,
) -> None:
    """Pairwise precision / recall / F1 and B-cubed F1 of resolve against ground truth, with wall time."""
    from casegraph.cli.resolve import use_engine

    set_json(ctx, as_json)
    use_engine(ctx, engine)
    if not (data / "person_records.csv").exists() or not (data / "person_truth.csv").exists():
        fail(f"{data} needs person_records.csv and person_truth.csv")
    settings = ctx_of(ctx).settings()
    if threshold is not None:
        settings.resolve.match_threshold = threshold
    try:
        result = evaluation.resolve.evaluate_folder(data, settings, progress=RichProgress())
    except CasegraphError as exc:
        fail(str(exc))
    emit(ctx, result, _render_resolve)


def _render_resolve(d: dict[str, Any]) -> None:
    keys = ["n_records", "persons_found", "persons_true", "precision", "recall", "f1"]
    keys += [
        "bcubed_precision",
        "bcubed_recall",
        "bcubed_f1",
        "seconds",
        "records_per_second",
        "mode",
        "engine",
    ]
    rows = [{"measure": k, "value": f"{d[k]:.4f}" if isinstance(d[k], float) else d[k]} for k in keys]
    out.print(table_of("resolve against ground truth", rows))
    if d["values_dropped"]:
        console.print(
            f"{d['values_dropped']} bad values (e.g. a date of birth in the future) were dropped at ingest; "
            "their records were loaded and scored"
        )
    if d["truth_records_not_resolved"]:
        console.print(
            f"{d['truth_records_not_resolved']} records of the truth were not scored "
            f"({d['rows_rejected']} input rows rejected at ingest)"
        )


def eval_linkage(
    ctx: typer.Context,
    data: Path = typer.Option(
        ..., "--data", exists=True, file_okay=False, help="Evaluation folder (see docs)."
    ),
    linked_by: str = typer.Option(
        "auto", "--linked-by", help="auto (series_id if present), series or offender."
    ),
    all_pairs: bool = typer.Option(
        False,
        "--all-pairs",
        help="Diagnostic: no blocking, score every pair (the default figures are what `link` gets).",
    ),
    as_json: bool = JSON,
) -> None:
    """Pairwise AUC / AP, top-k recall and series quality on held-out series (train/test by component)."""
    set_json(ctx, as_json)
    try:
        result = evaluation.linkage.evaluate_folder(data, ctx_of(ctx).settings(), linked_by, all_pairs)
    except CasegraphError as exc:
        fail(str(exc))
    emit(ctx, result, _render_linkage)


def _render_linkage(d: dict[str, Any]) -> None:
    out.print(
        table_of(
            f"linkage on {d['n_incidents']} incidents, {d['n_series']} held-out series per split "
            f"(linked by {d['linked_by']}) in {d['seconds']} s",
            [{k: round(d[k], 3) for k in evaluation.linkage.LINKAGE_METRICS}],
        )
    )


def eval_linkage_data(
    source: Path = typer.Argument(..., exists=True, file_okay=False, help="../shared/data/crime_series"),
    target: Path = typer.Argument(
        ..., help="Folder to write the porter/ and israel/ evaluation folders into."
    ),
) -> None:
    """Convert the crime_series data (Porter's simulated set, Israeli burglaries) into evaluation folders."""
    from casegraph.linkage.datasets import convert_crime_series

    for folder in convert_crime_series(source, target):
        out.print(f"wrote {folder}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    eval_app.command("city")(eval_city)
    eval_app.command("resolve")(eval_resolve)
    eval_app.command("linkage")(eval_linkage)
    eval_app.command("linkage-data")(eval_linkage_data)
    eval_app.command("network")(eval_network)
    eval_app.command("trends")(eval_trends)
    eval_app.command("property")(eval_property)
