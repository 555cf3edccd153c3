"""`synth` (make a synthetic city) and `demo` (make one, ingest it, run every stage, compare with the truth)."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import typer

from casegraph import ingest
from casegraph.cli.common import RichProgress, console, ctx_of, emit, fail, opened, out, table_of
from casegraph.cli.storefiles import replace_demo_store
from casegraph.errors import CasegraphError
from casegraph.pipeline import STAGE_NAMES, run_stage, stage_module


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

    summary = make_city(out_dir, n_incidents=incidents, seed=seed, progress=RichProgress())
    emit(ctx, summary, lambda d: out.print(f"synthetic city written to {out_dir}: {d}"))


def demo(
    ctx: typer.Context,
    incidents: int = typer.Option(4000, "--incidents", "-n", help="Number of incidents in the demo city."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
    out_dir: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Folder for the city and the store."),
    serve: bool = typer.Option(False, "--serve", help="Open the analyst workspace on the results when done."),
) -> None:
    """Make a synthetic city, ingest it, run every stage, and print what was found next to the truth."""
    from casegraph.demo import CityConfig, make_city

    root = ctx_of(ctx)
    if not root.store_path:
        root.store_path = str(out_dir / "casegraph.duckdb")
    city = out_dir / "city"
    try:
        replace_demo_store(root.settings(), city)  # the demo always starts from an empty store
    except CasegraphError as exc:
        fail(str(exc))
    started = time.perf_counter()
    console.print(f"[bold]1/3[/] making a synthetic city of {incidents} incidents in {city}")
    make_city(city, n_incidents=incidents, seed=seed, progress=RichProgress())
    with opened(ctx, purpose="demo on synthetic data") as (store, settings):
        console.print("[bold]2/3[/] ingesting its records")
        try:
            reports = ingest.run_folder(store, settings, city, progress=RichProgress())
        except CasegraphError as exc:
            fail(str(exc))
        agencies = ", ".join(CityConfig().agencies)
        console.print(f"[bold]3/3[/] running the stages over the records of {agencies}")
        results = {name: _run_and_compare(store, settings, name, city) for name in STAGE_NAMES}
    data = {
        "store": root.store_path,
        "city": str(city),
        "ingested": {r.table: {"loaded": r.loaded, "rejected": r.rejected} for r in reports},
        "stages": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    emit(ctx, data, _render)
    if serve:
        _serve(ctx)


def _run_and_compare(store: Any, settings: Any, name: str, city: Path) -> dict[str, Any]:
    """Run one stage; if it offers `evaluate_city`, score its output against the city's truth files."""
    if stage_module(name) is None:
        return {"status": "not built yet"}
    summary = run_stage(store, settings, name, RichProgress())
    try:
        evaluate = importlib.import_module(f"casegraph.{name}.evaluate").evaluate_city
    except (ImportError, AttributeError):
        return {"summary": summary}
    return {"summary": summary, "vs_truth": evaluate(store, city)}


def _render(d: dict[str, Any]) -> None:
    rows = [{"table": t, **v} for t, v in d["ingested"].items()]
    out.print(table_of("ingested", rows))
    for name, result in d["stages"].items():
        if "vs_truth" in result:
            truth = [{"measure": k, "value": v} for k, v in result["vs_truth"].items()]
            out.print(table_of(f"{name}: found vs truth", truth))
        else:
            out.print(f"[bold]{name}[/]: {result.get('status') or result.get('summary')}")
    out.print(f"store: {d['store']}  ({d['seconds']} s)  —  next: casegraph --store {d['store']} status")


def _serve(ctx: typer.Context) -> None:
    try:
        serve_module = importlib.import_module("casegraph.cli.serve")
    except ImportError:
        console.print("the analyst workspace (casegraph serve) is not built yet")
        return
    serve_module.serve(ctx)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command()(synth)
    app.command()(demo)
