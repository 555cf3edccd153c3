"""`casegraph resolve`: identity resolution, explanation, review and decisions."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from casegraph.cli.common import (
    LazyModule,
    RichProgress,
    ctx_of,
    emit,
    opened,
    out,
    set_json,
    table_of,
)
from casegraph.cli.groups import command_group

if TYPE_CHECKING:
    from casegraph.settings import Settings

stage = LazyModule("casegraph.resolve")

resolve_app = command_group(
    help="Identity resolution of person records (Splink). With no sub-command: run it.",
    invoke_without_command=True,
)
ENGINE_HELP = (
    "duckdb or spark: the same as the global --engine ([engine] name; Splink runs on the store's engine)."
)
JSON_HELP = "Print machine-readable JSON."


def use_engine(ctx: typer.Context, engine: str | None) -> None:
    """A verb's --engine: the global setting for this command (the store and every stage use it)."""
    if engine:
        ctx_of(ctx).engine = engine


def _run(ctx: typer.Context, engine: str | None) -> None:
    from casegraph.pipeline import run_computing

    use_engine(ctx, engine)
    with opened(ctx) as (store, settings):
        module = importlib.import_module("casegraph.resolve")
        summary = run_computing(store, module, lambda s: module.run(s, settings, progress=RichProgress()))
    emit(ctx, summary, _render_summary)


def _render_summary(d: dict[str, Any]) -> None:
    out.print(
        f"{d['n_records']} person records -> {d['n_persons']} persons ({d['n_links']} links from "
        f"{d['n_pairs_scored']} scored pairs; largest person {d['largest_person']} records; "
        f"{d['decisions_applied']} analyst decisions applied) in {d.get('seconds', 0)} s [{d.get('engine', '')}]"
    )


@resolve_app.callback()
def resolve(
    ctx: typer.Context,
    engine: str = typer.Option(None, "--engine", help=ENGINE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Resolve person records to persons (Splink, Fellegi-Sunter): writes person_identities."""
    set_json(ctx, as_json)
    if ctx.invoked_subcommand is None:
        _run(ctx, engine)


@resolve_app.command("explain")
def explain(
    ctx: typer.Context,
    record_a: str = typer.Argument(..., help="RECORD_ID or AGENCY:RECORD_ID"),
    record_b: str = typer.Argument(..., help="RECORD_ID or AGENCY:RECORD_ID"),
    html: Path = typer.Option(None, "--html", help="Also write Splink's waterfall chart to this HTML file."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The match-weight waterfall of two records: the prior, then what each comparison added."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        a, b = stage.record_key(store, record_a), stage.record_key(store, record_b)
        data = stage.explain(store, a, b, html=html is not None)
    if html is not None:
        html.write_text(data.pop("html"), encoding="utf-8")
    emit(ctx, data, _render_explain)


def _render_explain(d: dict[str, Any]) -> None:
    rows = [
        {
            "comparison": s["comparison"],
            "level": s["level"],
            "left": s["value_l"],
            "right": s["value_r"],
            "weight": f"{s['match_weight']:+.2f}",
        }
        for s in d["waterfall"]
        if not s["term_frequency_adjustment"] or s["match_weight"]
    ]
    a, b = d["record_a"], d["record_b"]
    out.print(table_of(f"{a['agency']}:{a['record_id']} vs {b['agency']}:{b['record_id']}", rows))
    decided = f"; analyst decision: {d['decision']['decision']}" if d["decision"] else ""
    out.print(
        f"match weight {d['match_weight']:+.2f}, probability {d['match_probability']:.4f}; "
        f"same person now: {d['same_person']}{decided}"
    )


@resolve_app.command("review")
def review(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", help="Pairs to show."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Uncertain, undecided pairs (resolve.review_low..review_high), most uncertain first."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, settings):
        data = stage.review_queue(store, settings.resolve, limit)
    emit(ctx, data, _render_review)


def _render_review(pairs: list[dict[str, Any]]) -> None:
    if not pairs:
        out.print("review queue empty: no undecided pair in the uncertain band")
        return
    for p in pairs:
        fa, fb = p["record_a_fields"], p["record_b_fields"]
        rows = [{"field": k, "A": fa.get(k), "B": fb.get(k)} for k in fa if k not in {"agency", "record_id"}]
        title = (
            f"{p['agency_a']}:{p['record_a']} vs {p['agency_b']}:{p['record_b']}  "
            f"p={p['match_probability']:.3f}  same person now: {p['same_person']}"
        )
        out.print(table_of(title, rows))


@resolve_app.command("decide")
def decide(
    ctx: typer.Context,
    record_a: str = typer.Argument(..., help="RECORD_ID or AGENCY:RECORD_ID"),
    record_b: str = typer.Argument(..., help="RECORD_ID or AGENCY:RECORD_ID"),
    decision: str = typer.Argument(..., help="accept (same person), reject (different persons) or undo."),
    note: str = typer.Option(None, "--note", help="Why (kept with the decision)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Record an analyst's decision on a pair (who and when are kept); it overrides the model from now on."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, settings):
        a, b = stage.record_key(store, record_a), stage.record_key(store, record_b)
        if decision == "undo":
            data: dict[str, Any] = {"undone": stage.undo(store, a, b, user=store.user.user_id)}
        else:
            data = stage.decide(store, a, b, decision, user=store.user.user_id, note=note)
        data["applied"] = _recluster(store, settings)
    emit(ctx, data, lambda d: out.print(_decision_line(d)))


def _recluster(store: Any, settings: Settings) -> dict[str, Any] | None:
    """Apply the decision to person_identities at once when a resolution exists."""
    if not store.count("person_identities"):
        return None
    return stage.recluster(store, settings)


def _decision_line(d: dict[str, Any]) -> str:
    done = (
        f"undid {d['undone']} decision(s)"
        if "undone" in d
        else f"{d['decision']}: {d['agency_a']}:{d['record_a']} ~ {d['agency_b']}:{d['record_b']} "
        f"by {d['decided_by']}"
    )
    applied = d.get("applied")
    tail = f"; persons now {applied['n_persons']}" if applied else "; applies on the next `casegraph resolve`"
    return done + tail


@resolve_app.command("decisions")
def decisions(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include undone decisions."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Analyst decisions in force (with --all: also the undone ones, with who undid them)."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        data = stage.decisions(store, include_undone=all_)
    columns = [
        "decision",
        "agency_a",
        "record_a",
        "agency_b",
        "record_b",
        "decided_by",
        "decided_at",
        "undone_at",
    ]
    emit(ctx, data, lambda d: out.print(table_of("resolve decisions", d, columns)))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(resolve_app, name="resolve")
