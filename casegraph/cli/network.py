"""`casegraph network`: person and group networks (ties tested against chance, with their evidence), key
players, alerts, exports for analysts' tools; `casegraph eval network` on real network data or a city."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from casegraph.cli.common import (
    LazyModule,
    emit,
    fail,
    opened,
    out,
    run_and_emit,
    set_json,
    table_of,
)
from casegraph.cli.groups import command_group
from casegraph.errors import CasegraphError

stage = LazyModule("casegraph.network")
graph_export = LazyModule("casegraph.network.export")
exports = LazyModule("casegraph.export")

network_app = command_group(
    help="Who works with whom, who connects groups, which groups are starting to work together. "
    "With no sub-command: run the stage.",
    invoke_without_command=True,
)
JSON = typer.Option(False, "--json", help="Print machine-readable JSON.")
TIE_VIEW = [
    "group_a",
    "group_b",
    "person_ties",
    "persons_a",
    "persons_b",
    "joint_events",
    "expected",
    "ratio",
    "p_value",
    "q_value",
    "significant",
    "first_at",
    "last_at",
    "detected_at",
    "onset",
]
FORMATS = {"graphml": ".graphml", "gexf": ".gexf", "i2": ".csv", "json": ".json"}


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))


@network_app.callback()
def network(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Build the person graph, test every pair of groups, rank key players; write the tables and alerts."""
    set_json(ctx, as_json)
    if ctx.invoked_subcommand is None:
        run_and_emit(ctx, stage, _render_run)


def _render_run(d: dict[str, Any]) -> None:
    for note in d["notes"]:
        out.print(f"note: {note}")
    fit = d["communities_vs_groups"]
    out.print(
        f"{d['n_nodes']} people, {d['n_edges']} ties, {d['n_groups']} groups; "
        f"{d['significant_group_ties']} significant group ties {d['ties']}; communities vs groups "
        f"NMI {fit['nmi']} ARI {fit['ari']}; {d['rows']['alerts']} alerts in {d['seconds']} s"
    )


@network_app.command("ties")
def ties(
    ctx: typer.Context,
    since: str = typer.Option(None, "--since", help="Only ties with evidence on or after this date."),
    all_pairs: bool = typer.Option(False, "--all", help="Every pair with a cross tie, not only significant."),
    as_json: bool = JSON,
) -> None:
    """Ties between groups: strength, ratio to chance, p and q values, first/latest evidence, onset."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        try:
            frame = stage.ties(store, since, significant_only=not all_pairs)
        except (CasegraphError, ValueError) as exc:
            fail(str(exc))
    emit(ctx, _records(frame), lambda d: out.print(table_of("group ties", d, TIE_VIEW)))


@network_app.command("tie")
def tie(
    ctx: typer.Context,
    group_a: str = typer.Argument(...),
    group_b: str = typer.Argument(...),
    as_json: bool = JSON,
) -> None:
    """One pair of groups: the test and its evidence month by month."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        data = stage.tie(store, group_a, group_b)
    emit(ctx, json.loads(json.dumps(data, default=str)), _render_tie)


def _cut(ids: list[str]) -> str:
    return ", ".join(ids[:6]) + (" ..." if len(ids) > 6 else "")


def _render_tie(d: dict[str, Any]) -> None:
    if d["tie"] is None:
        out.print(f"no cross-group ties between {d['group_a']} and {d['group_b']}")
    else:
        out.print(d["tie"]["explanation"])
        rows = [{**m, "evidence": _cut(m["evidence"])} for m in d["months"]]
        out.print(table_of(f"{d['group_a']}-{d['group_b']} month by month", rows))
    if d.get("receivers"):
        rows = [{**r, "evidence": _cut(r["evidence"])} for r in d["receivers"]]
        title = "receivers of both groups' stolen items (a tie of its own kind, not in the test)"
        out.print(table_of(title, rows))


@network_app.command("players")
def players(
    ctx: typer.Context,
    by: str = typer.Option(
        "betweenness",
        "--by",
        help="betweenness, brokerage, degree, strength, cross_ties, liaison or groups_reached.",
    ),
    group: str = typer.Option(None, "--group", help="Only members of this group."),
    node: str = typer.Option(
        None, "--node", help="Only people (person) or dealers and places that took in stolen items (dealer)."
    ),
    limit: int = typer.Option(20, "--limit", help="Rows to show."),
    as_json: bool = JSON,
) -> None:
    """Key players: who is central, who brokers between groups, whose ties cross groups the most (dealers that
    took in stolen items are ranked too)."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        try:
            frame = stage.players(store, by, limit, group, node)
        except (CasegraphError, ValueError) as exc:
            fail(str(exc))
    cols = [
        "person_id",
        "node",
        "group_id",
        "community",
        "degree",
        "betweenness",
        "brokerage",
        "coordinator",
        "itinerant",
        "representative",
        "liaison",
        "cross_ties",
        "groups_reached",
    ]
    emit(ctx, _records(frame), lambda d: out.print(table_of(f"key players by {by}", d, cols)))


@network_app.command("person")
def person(ctx: typer.Context, person_id: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """One person's measures and typed ties, each with its evidence."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        data = stage.person(store, person_id)
    data = json.loads(json.dumps(data, default=str))
    emit(
        ctx,
        data,
        lambda d: out.print(
            table_of(
                f"ties of {person_id}",
                d["ties"],
                ["person_a", "person_b", "kind", "weight", "n_events", "first_at", "last_at", "evidence"],
            )
        ),
    )


@network_app.command("alerts")
def alerts(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status", help="open, acknowledged, dismissed."),
    as_json: bool = JSON,
) -> None:
    """New and growing group ties, each with its onset and evidence."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        frame = stage.alerts(store, status)
    emit(
        ctx,
        _records(frame),
        lambda d: out.print(
            table_of("network alerts", d, ["alert_id", "kind", "onset", "severity", "status", "title"])
        ),
    )


@network_app.command("ack")
def ack(
    ctx: typer.Context,
    alert_id: str = typer.Argument(...),
    status: str = typer.Option("acknowledged", "--status", help="acknowledged, dismissed or open."),
    note: str = typer.Option(None, "--note", help="Analyst's note."),
) -> None:
    """Acknowledge (or dismiss, or re-open) a network alert; a re-run keeps it."""
    with opened(ctx) as (store, _settings):
        try:
            done = stage.acknowledge(store, alert_id, store.user.user_id, status=status, note=note)
        except ValueError as exc:
            fail(str(exc))
    if not done:
        fail(f"no network alert {alert_id}")
    emit(
        ctx, {"alert_id": alert_id, "status": status}, lambda d: out.print(f"{d['alert_id']}: {d['status']}")
    )


@network_app.command("export")
def export(
    ctx: typer.Context,
    out_file: Path = typer.Option(..., "--out", "-o", help="Output file."),
    fmt: str = typer.Option(
        None,
        "--format",
        "-f",
        help="graphml, gexf, i2 (CSV link table) or json (default: from the file extension).",
    ),
    group: list[str] = typer.Option(
        None, "--group", help="Only these groups' members and the people tied to them (repeatable)."
    ),
) -> None:
    """Export the person graph for Gephi, yEd, i2 Analyst's Notebook or a web view (formulas made inert)."""
    fmt = fmt or next((f for f, ext in FORMATS.items() if out_file.suffix == ext and f != "i2"), "")
    if fmt not in FORMATS:
        fail(f"say the format: --format {' | '.join(FORMATS)}")
    with opened(ctx) as (store, _settings):
        nodes, edges = stage.graph_frames(store, group or None)
    _write_graph(fmt, nodes, edges, out_file)
    emit(
        ctx,
        {"format": fmt, "people": len(nodes), "ties": len(edges), "file": str(out_file)},
        lambda d: out.print(f"{d['people']} people, {d['ties']} ties -> {d['file']} ({d['format']})"),
    )


def _write_graph(fmt: str, nodes: Any, edges: Any, path: Path) -> None:
    if fmt == "i2":
        exports.write_csv(graph_export.i2_rows(nodes, edges), path, graph_export.I2_COLUMNS)
    elif fmt == "json":
        path.write_text(
            json.dumps(graph_export.web_json(nodes, edges, exports.inert), default=str), encoding="utf-8"
        )
    else:
        writer = graph_export.graphml if fmt == "graphml" else graph_export.gexf
        path.write_text(writer(nodes, edges, exports.inert), encoding="utf-8")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(network_app, name="network")
