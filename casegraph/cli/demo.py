"""`synth` (make a synthetic city) and `demo` (make one, ingest it, run every stage, compare with the truth)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from casegraph.cli.common import RichProgress, console, ctx_of, emit, fail, opened, out, table_of
from casegraph.cli.evaluation import render_truth_table
from casegraph.errors import CasegraphError
from casegraph.pipeline import STAGE_NAMES, import_folder, run_stage


def synth(
    ctx: typer.Context,
    incidents: int = typer.Option(4000, "--incidents", "-n", help="Number of incidents to generate."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same city)."),
    out_dir: Path = typer.Option(
        Path("city"), "--out", "-o", help="Folder for the CSV files and truth files."
    ),
) -> None:
    """Generate a synthetic city with known ground truth (offenders, groups, series, ties, spread)."""
    from casegraph.demo import make_city

    try:
        summary = make_city(out_dir, n_incidents=incidents, seed=seed, progress=RichProgress())
    except ValueError as exc:
        fail(str(exc))
    emit(ctx, summary, lambda d: out.print(f"synthetic city written to {out_dir}: {d}"))


def demo(
    ctx: typer.Context,
    incidents: int = typer.Option(4000, "--incidents", "-n", help="Number of incidents in the demo city."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
    out_dir: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Folder for the city and the store."),
    serve: bool = typer.Option(False, "--serve", help="Open the analyst workspace on the results when done."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port for --serve (a free one if busy)."),
) -> None:
    """Make a synthetic city, ingest it, run every stage, and print what was found next to the truth."""
    from casegraph.cli.storefiles import replace_demo_store
    from casegraph.demo import CityConfig, make_city
    from casegraph.evaluation import score_city, truth_table

    root = ctx_of(ctx)
    if not root.store_path:
        root.store_path = str(out_dir / "casegraph.duckdb")
    city = out_dir / "city"
    try:
        config = CityConfig(n_incidents=incidents, seed=seed)  # checked before the old store goes
        replace_demo_store(root.settings(), city)  # the demo always starts from an empty store
    except (CasegraphError, ValueError) as exc:
        fail(str(exc))
    started = time.perf_counter()
    console.print(f"[bold]1/3[/] making a synthetic city of {incidents} incidents in {city}")
    make_city(city, progress=RichProgress(), config=config)
    with opened(ctx, purpose="demo on synthetic data") as (store, settings):
        console.print("[bold]2/3[/] ingesting its records")
        try:
            reports = import_folder(store, settings, city, progress=RichProgress())
        except CasegraphError as exc:
            fail(str(exc))
        console.print(f"[bold]3/3[/] running the stages over the records of {', '.join(config.agencies)}")
        summaries = {name: _run(store, settings, name) for name in STAGE_NAMES}
        scores = score_city(store, city)
    data = {
        "store": root.store_path,
        "city": str(city),
        "ingested": ingested_by_table(reports),
        "stages": summaries,
        "vs_truth": scores,
        "table": truth_table(scores),
        "seconds": round(time.perf_counter() - started, 1),
    }
    emit(ctx, data, _render)
    if serve:
        from casegraph.cli.serve import serve as serve_workspace

        serve_workspace(ctx, port=port, open_browser=True)


def _run(store: Any, settings: Any, name: str) -> dict[str, Any]:
    started = time.perf_counter()
    summary = run_stage(store, settings, name, RichProgress())
    console.print(f"  {name}: done in {time.perf_counter() - started:.1f} s")
    return summary


def ingested_by_table(reports: list[Any]) -> dict[str, dict[str, int]]:
    """Rows loaded and rejected per table, over every file that fed it (a pawn export feeds two tables)."""
    out: dict[str, dict[str, int]] = {}
    for r in reports:
        counts = out.setdefault(r.table, {"loaded": 0, "rejected": 0})
        counts["loaded"] += r.loaded
        counts["rejected"] += r.rejected
    return out


def _render(d: dict[str, Any]) -> None:
    rows = [{"table": t, **v} for t, v in d["ingested"].items()]
    out.print(table_of("ingested", rows))
    render_truth_table(
        d["table"], f"what the stages found against the city's planted truth ({d['seconds']} s)"
    )
    out.print(f"store: {d['store']}  —  next: casegraph --store {d['store']} status")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command()(synth)
    app.command()(demo)
