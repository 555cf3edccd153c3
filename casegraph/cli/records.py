"""Verbs over the records themselves: init, ingest, status, schema, rejects, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from casegraph.cli.common import LazyModule, RichProgress, console, ctx_of, emit, fail, opened, out, table_of
from casegraph.errors import CasegraphError

pipeline = LazyModule("casegraph.pipeline")
exports = LazyModule("casegraph.export")
safeguards = LazyModule("casegraph.safeguards")
schemas = LazyModule("casegraph.schema")
stores = LazyModule("casegraph.store")


def init(ctx: typer.Context) -> None:
    """Create the store (every table of the schema) if it does not exist; on a server URL (as its superuser),
    the schema, row-level security and the platform admin named by CASEGRAPH_USER / CASEGRAPH_PASSWORD."""
    from casegraph.store import is_server

    if is_server(ctx_of(ctx).settings().store.path):
        from casegraph.cli.server import init_server

        init_server(ctx)
        return
    with opened(ctx) as (store, _settings):
        emit(
            ctx,
            {"store": store.path, "tables": store.table_names()},
            lambda d: out.print(f"store ready: {d['store']} ({len(d['tables'])} tables)"),
        )


def ingest(
    ctx: typer.Context,
    table: str = typer.Argument(
        ..., help="Record table: incidents, person_records, arrests, involvements, ..."
    ),
    file: Path = typer.Argument(..., help="CSV, JSON lines / JSON array, or Parquet file."),
    mapping: str = typer.Option(
        None, "--mapping", "-m", help="Mapping YAML (or a shipped name: toronto_mci, chicago_burglary)."
    ),
    agency: str = typer.Option(
        None, "--agency", "-a", help="Owning agency when the file has no agency column."
    ),
    fmt: str = typer.Option(
        None, "--format", help="csv, jsonl, json or parquet (default: from the extension)."
    ),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of a CSV / JSON file."),
    then_update: bool = typer.Option(
        False, "--update", help="When rows were loaded, run `casegraph update` after the import."
    ),
) -> None:
    """Import a file. Exit 0: every row loaded whole (or already stored); 3: some rows rejected or some bad
    values dropped (the rest loaded; see `casegraph rejects`); 2: every row rejected, or the file refused."""
    with opened(ctx) as (store, settings):
        try:
            report = pipeline.import_file(
                store,
                settings,
                file,
                table=table,
                mapping=mapping,
                agency=agency or _default_agency(mapping, settings),
                fmt=fmt,
                encoding=encoding,
                progress=RichProgress(),
            )
        except CasegraphError as exc:
            fail(str(exc))
    if then_update and report.loaded:
        from casegraph.cli.update import run_update

        updated = run_update(ctx)
        emit(ctx, {"import": report.as_dict(), "update": updated}, _render_import_and_update)
    else:
        emit(ctx, report.as_dict(), _render_report)
    if report.every_row_rejected:
        every = "the one row was" if report.rejected == 1 else f"all {report.rejected:,} rows were"
        console.print(f"[bold red]error:[/] nothing loaded: {every} rejected (see `casegraph rejects`)")
    elif report.exit_code == 3:
        console.print(f"[yellow]warning:[/] {_partly(report)} (see `casegraph rejects`)")
    raise typer.Exit(report.exit_code)


def _partly(report: Any) -> str:
    said = []
    if report.rejected:
        said.append(f"{report.rejected:,} row{'s' if report.rejected != 1 else ''} rejected")
    if report.values_dropped:
        said.append(
            f"{report.values_dropped:,} bad value{'s' if report.values_dropped != 1 else ''} dropped from "
            f"{report.rows_with_dropped_values:,} loaded row{'s' if report.rows_with_dropped_values != 1 else ''}"
        )
    return " and ".join(said)


def _render_import_and_update(d: dict[str, Any]) -> None:
    from casegraph.cli.update import render_update

    _render_report(d["import"])
    render_update(d["update"])


def _default_agency(mapping: str | None, settings: Any) -> str | None:
    """A mapping names its agency; otherwise the file's agency column, or [ingest] agency."""
    return None if mapping else settings.ingest.agency


def _render_report(d: dict[str, Any]) -> None:
    if d["already_imported"]:
        out.print(f"{d['file']}: already imported (source {d['source_id']}); nothing to do")
        return
    out.print(f"{d['summary']} in {d['seconds']} s", highlight=False)
    if d["ignored_columns"]:
        out.print(f"columns not imported: {', '.join(d['ignored_columns'])}")
    for p in d["problems"]:
        cost = " (value dropped, row loaded)" if p["outcome"] == "value dropped" else ""
        console.print(
            f"{Path(d['file']).name}: row {p['row']}: {p['field'] or '(row)'}: {p['reason']}{cost}",
            highlight=False,
        )


def status(ctx: typer.Context) -> None:
    """What the store holds: rows per table and agency, rejects, last runs."""
    with opened(ctx) as (store, _settings):
        data = _status(store)
    emit(ctx, data, _render_status)


def _status(store: Any) -> dict[str, Any]:
    counts = {}
    for t in schemas.model.tables.values():
        if t.kind == "record" and store.count(t.name):
            rows = store.rows(f"SELECT agency, count(*) FROM {stores.quote(t.name)} GROUP BY 1 ORDER BY 1")
            counts[t.name] = {a: n for a, n in rows}
    derived = {t.name: store.count(t.name) for t in schemas.model.tables.values() if t.kind == "derived"}
    runs = store.df(
        "SELECT stage, run_id, status, started_at, finished_at FROM runs ORDER BY started_at DESC LIMIT 10"
    )
    return {
        "store": store.path,
        "records": counts,
        "derived": derived,
        "rejects": store.count("rejects"),
        "sources": store.count("sources"),
        "runs": runs.to_dict("records"),
    }


def _render_status(d: dict[str, Any]) -> None:
    rows = [{"table": t, "agency": a, "rows": n} for t, per in d["records"].items() for a, n in per.items()]
    out.print(table_of(f"records in {d['store']}", rows))
    out.print(f"sources: {d['sources']}   rejects: {d['rejects']}")
    if any(d["derived"].values()):
        out.print(table_of("derived tables", [{"table": t, "rows": n} for t, n in d["derived"].items()]))
    if d["runs"]:
        out.print(table_of("last runs", d["runs"]))


def schema(
    ctx: typer.Context, table: str = typer.Argument(None, help="One table (default: list them).")
) -> None:
    """The declared schema: tables, or one table's fields with types and flags."""
    if table is None:
        data: Any = [
            {"table": t.name, "kind": t.kind, "description": t.description}
            for t in schemas.model.tables.values()
        ]
        emit(ctx, data, lambda d: out.print(table_of("tables", d)))
        return
    t = schemas.model.table(table)
    data = [
        {
            "field": f.name,
            "type": f.type,
            "required": f.required,
            "vocabulary": f.vocabulary,
            "protected": f.protected,
            **({"on_bad": f.on_bad} if t.kind == "record" else {}),
            "description": f.description,
        }
        for f in t.fields
    ]
    emit(ctx, data, lambda d: out.print(table_of(f"{t.name}: {t.description}", d)))


def rejects(ctx: typer.Context, limit: int = typer.Option(50, help="Rows to show.")) -> None:
    """Rejected rows and dropped values with file, row, field, reason and outcome (the raw row is kept in the
    store until the review date shown; `casegraph purge` removes it after)."""
    with opened(ctx) as (store, _settings):
        data = store.df(
            "SELECT file_name, source_row, field, reason, outcome, review_date FROM rejects "
            "ORDER BY file_name, source_row LIMIT ?",
            [limit],
        ).to_dict("records")
    emit(ctx, data, _render_rejects)


def _render_rejects(rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.print("no rejected rows or dropped values: every row imported so far was loaded whole")
        return
    out.print(table_of("rejects", rows))


FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".geojson": "geojson", ".gpkg": "gpkg"}


def export(
    ctx: typer.Context,
    what: str = typer.Argument(
        ...,
        help="A table (csv, jsonl), or a map layer (geojson, gpkg): incidents, series, hotspots, group-areas.",
    ),
    out_file: Path = typer.Option(..., "--out", "-o", help="Output file (.csv, .jsonl, .geojson or .gpkg)."),
    to: str = typer.Option(..., "--to", help="Who receives the file (recorded in the dissemination log)."),
    purpose: str = typer.Option(..., "--purpose", help="Why they receive it (28 CFR 23.20(g))."),
    fmt: str = typer.Option(
        None, "--format", "-f", help="csv, jsonl, geojson or gpkg (default: from the file's extension)."
    ),
    group: str = typer.Option(None, "--group", help="group-areas: the group."),
    period: str = typer.Option("quarter", "--period", help="group-areas: month, quarter or year."),
    crs: str = typer.Option(
        None, "--crs", help="hotspots, group-areas: the projection of the store's x/y (default: worked out)."
    ),
) -> None:
    """Export a table or a map layer to a recipient; the dissemination is logged and spreadsheet formulas are
    made inert."""
    fmt = fmt or FORMATS.get(out_file.suffix.lower(), "")
    if fmt not in set(FORMATS.values()):
        fail(f"say the format: --format {' | '.join(dict.fromkeys(FORMATS.values()))}")
    with opened(ctx, purpose=purpose) as (store, _settings):
        if fmt in ("geojson", "gpkg"):
            data = _export_map(store, what, out_file, fmt, to, purpose, group=group, period=period, crs=crs)
        else:
            frame = exports.table_frame(store, what)
            safeguards.record_dissemination(
                store, recipient=to, purpose=purpose, what=what, data=frame, file=str(out_file)
            )
            data = {"table": what, "rows": exports.write_frame(frame, out_file, fmt)}
    emit(ctx, {**data, "file": str(out_file), "to": to}, _render_export)


def _export_map(store: Any, name: str, path: Path, fmt: str, to: str, purpose: str, **options: Any) -> dict:
    from casegraph.export import maps
    from casegraph.ingest.geo import utm_crs

    layer = maps.layer(
        store, name, group=options["group"], period=options["period"], crs=options["crs"] or utm_crs
    )
    what = f"map {name}" + (f" of {options['group']}" if options["group"] else "")
    safeguards.record_dissemination(
        store, recipient=to, purpose=purpose, what=what, data=layer.rows, file=str(path)
    )
    features = maps.write(layer, path, fmt)
    return {"layer": name, "features": features, "placed": layer.placed, "left_out": layer.left_out}


def _render_export(d: dict[str, Any]) -> None:
    if "layer" in d:
        out.print(f"{d['features']} features -> {d['file']} (for {d['to']}; logged); geometry: {d['placed']}")
        if d["left_out"]:
            out.print(f"{d['left_out']} incidents without lat/lon left out")
        return
    out.print(f"{d['rows']} rows -> {d['file']} (for {d['to']}; logged)")


def docs(
    check: bool = typer.Option(False, "--check", help="Fail if the generated pages are out of date."),
    folder: Path = typer.Option(Path("docs"), help="Where the reference pages live."),
) -> None:
    """Regenerate docs/schema.md and docs/settings.md from the declarations."""
    from casegraph.schema.docs import schema_markdown, settings_markdown

    stale = []
    for name, text in (("schema.md", schema_markdown(schemas.model)), ("settings.md", settings_markdown())):
        path = folder / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        fail(f"out of date: {', '.join(stale)}; run `casegraph docs`", code=1)


def register(app: typer.Typer) -> None:
    for verb in (init, ingest, status, schema, rejects, export, docs):
        app.command()(verb)
