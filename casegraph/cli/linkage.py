"""Crime linkage verbs: `link`, `similar`, `attribute`."""

from __future__ import annotations

import json
from collections.abc import Callable
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

stage = LazyModule("casegraph.linkage")
query = LazyModule("casegraph.linkage.query")
attribution = LazyModule("casegraph.linkage.attribute")

JSON_HELP = "Print machine-readable JSON."


link_app = typer.Typer(
    help="Score the candidate incident pairs into incident_links and cluster them into series "
    "(with no command: run it); `decide` and `model` below.",
    invoke_without_command=True,
)
decisions = LazyModule("casegraph.linkage.decisions")
item_decisions = LazyModule("casegraph.linkage.item_decisions")


@link_app.callback()
def link(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Score all candidate incident pairs into incident_links and cluster them into series."""
    if ctx.invoked_subcommand is not None:
        return
    set_json(ctx, as_json)
    run_and_emit(ctx, stage, _render_link)


@link_app.command("decide")
def decide(
    ctx: typer.Context,
    incident_a: str = typer.Argument(..., help="INCIDENT_ID or AGENCY:INCIDENT_ID"),
    incident_b: str = typer.Argument(..., help="INCIDENT_ID or AGENCY:INCIDENT_ID"),
    decision: str = typer.Argument(..., help="linked, not-linked or undo."),
    note: str = typer.Option(None, "--note", help="Why (kept with the decision)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """An analyst's decision on a pair (who, when and why are kept, audited): it overrides the score on every
    later `link` run and is a label for the next training."""
    set_json(ctx, as_json)
    _record_decision(
        ctx, decisions, decisions.incident_key, (incident_a, incident_b), decision, note, _decision_line
    )


def _record_decision(
    ctx: typer.Context,
    book: Any,
    key: Callable[[Any, str], Any],
    pair: tuple[str, str],
    decision: str,
    note: str | None,
    line: Callable[[dict[str, Any]], str],
) -> None:
    """An analyst's decision (or its undoing) on a pair, in `book` (incident pairs or item sightings)."""
    with opened(ctx) as (store, _settings):
        a, b = key(store, pair[0]), key(store, pair[1])
        user = store.user.user_id
        if decision == "undo":
            data: dict[str, Any] = {"undone": book.undo(store, a, b, user=user)}
        else:
            data = book.decide(store, a, b, decision, user=user, note=note)
    emit(ctx, data, lambda d: out.print(line(d)))


def _decision_line(d: dict[str, Any]) -> str:
    if "undone" in d:
        return (
            f"undid {d['undone']} decision(s); the model scores the pair again from the next `casegraph link`"
        )
    return (
        f"{d['decision']}: {d['agency_a']}:{d['incident_a']} ~ {d['agency_b']}:{d['incident_b']} by "
        f"{d['decided_by']} (model said {d['model_probability']}); applies from the next `casegraph link`"
    )


@link_app.command("items")
def item_candidates(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include near matches already decided."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Near matches of item identifiers (one character off, two swapped): candidates, never links, until an
    analyst decides them with `link item-decide`."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        data = item_decisions.candidates(store, undecided_only=not all_)
    emit(ctx, data, _render_item_candidates)


def _render_item_candidates(d: list[dict[str, Any]]) -> None:
    def side(c: dict[str, Any], s: str) -> str:
        return f"{c[f'identifier_{s}']} {c[f'agency_{s}']}:{c[f'sighting_{s}']} ({c[f'sighting_kind_{s}']})"

    rows = [{"match": c["match"], "a": side(c, "a"), "b": side(c, "b"), "decision": c["decision"]} for c in d]
    out.print(table_of("near matches of item identifiers (decide: link item-decide A B same-item)", rows))


@link_app.command("item-decide")
def item_decide(
    ctx: typer.Context,
    sighting_a: str = typer.Argument(..., help="Item or event id (ID or AGENCY:ID)."),
    sighting_b: str = typer.Argument(..., help="Item or event id (ID or AGENCY:ID)."),
    decision: str = typer.Argument(..., help="same-item, different or undo."),
    note: str = typer.Option(None, "--note", help="Why (kept with the decision)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Decide a near match of two item identifiers (who, when and why are kept, audited): same-item makes it
    an item link (score 1) from the next `link` run; different sets it aside."""
    set_json(ctx, as_json)
    sightings = (sighting_a, sighting_b)
    _record_decision(
        ctx, item_decisions, item_decisions.sighting_key, sightings, decision, note, _item_decision_line
    )


def _item_decision_line(d: dict[str, Any]) -> str:
    if "undone" in d:
        return (
            f"undid {d['undone']} decision(s); from the next `casegraph link` the pair is a near match again"
        )
    return (
        f"{d['decision']}: {d['agency_a']}:{d['sighting_a']} ~ {d['agency_b']}:{d['sighting_b']} by "
        f"{d['decided_by']}; applies from the next `casegraph link`"
    )


@link_app.command("decisions")
def list_decisions(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include undone decisions."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Analysts' decisions on incident pairs in force (with --all: also the undone ones)."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        data = decisions.listing(store, include_undone=all_)
    columns = [
        "decision",
        "agency_a",
        "incident_a",
        "agency_b",
        "incident_b",
        "decided_by",
        "decided_at",
        "note",
    ]
    emit(ctx, data, lambda d: out.print(table_of("linkage decisions", d, columns)))


@link_app.command("model")
def model_card(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """The model card of the model in use: what it learned from (decisions too), held-out scores, calibration."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        rows = store.records(
            "SELECT model_id, run_id, created_at, card FROM linkage_models WHERE selected "
            "ORDER BY created_at DESC LIMIT 1"
        )
    if not rows:
        fail("no linkage model yet: run `casegraph link` first")
    row = rows[0]
    card = row["card"] if isinstance(row["card"], dict) else json.loads(row["card"] or "{}")
    emit(
        ctx,
        {"model_id": row["model_id"], "run_id": row["run_id"], "created_at": row["created_at"], **card},
        _render_card,
    )


def _render_card(d: dict[str, Any]) -> None:
    out.print(f"{d['model_id']} ({d['created_at']}): {d.get('model')}")
    out.print(
        f"learned from {d.get('training_pairs')} pairs ({d.get('linked_training_pairs')} linked), "
        f"{d.get('analyst_decisions')} of them analysts' decisions; held-out: {d.get('held_out')}"
    )
    out.print(table_of("calibration (out of fold)", d.get("calibration") or []))


def _render_link(d: dict[str, Any]) -> None:
    b = d["blocking"]
    out.print(
        f"{d['n_incidents']} incidents, {d['n_candidates']} candidate pairs ({' + '.join(b['passes'])}, "
        f"{b['candidates_per_incident']} per incident) -> {d['n_links']} links, {d['n_series']} series "
        f"in {d['seconds']} s"
    )
    rows = [
        {
            "model": k,
            "cv AUC": round(v["auc"], 3),
            "cv AP": round(v["average_precision"], 3),
            "selected": "yes" if k == d["selected_model"] else "",
        }
        for k, v in d["models"].items()
    ]
    out.print(
        table_of(
            f"pair models ({d['training']['pairs']} training pairs, {d['training']['linked']} linked)", rows
        )
    )
    _render_model(d)


def _render_model(d: dict[str, Any]) -> None:
    """Which model answered, and what the data did not support."""
    out.print(f"model: {d.get('model')}")
    for note in d.get("notes") or []:
        out.print(f"note: {note}")


def similar(
    ctx: typer.Context,
    incident: str = typer.Argument(..., help="Seed incident id."),
    top: int = typer.Option(10, "--top", "-k", min=1, help="How many incidents to list."),
    agency: str = typer.Option(
        None, "--agency", "-a", help="Agency of the seed (when ids repeat across agencies)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The incidents most likely linked to a seed, each with its probability and the evidence for it."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, _settings):
        result = query.similar(store, incident, agency=agency, top=top)
    emit(ctx, result, _render_similar)


def _why(contributions: list[dict[str, Any]], n: int = 3) -> str:
    return ", ".join(f"{c['feature']} {c['contribution']:+.2f}" for c in contributions[:n])


def _render_similar(d: dict[str, Any]) -> None:
    rows = [
        {
            "rank": r["rank"],
            "incident": r["incident_id"],
            "agency": r["agency"],
            "offence": r.get("offence"),
            "occurred": r.get("occurred_from"),
            "p": r["probability"],
            "decided": r.get("decision") or "",
            "strongest evidence (log-odds)": _why(r["contributions"]),
            "item": ", ".join(i["identifier"] for i in r.get("items", [])),
        }
        for r in d["results"]
    ]
    out.print(
        table_of(f"incidents like {d['seed']['incident_id']} ({d['candidates']} candidates compared)", rows)
    )
    _render_items(d)
    _render_model(d)


def _render_items(d: dict[str, Any]) -> None:
    """The seed's items seen again: each is a hard link (score 1), the item its evidence."""
    if d.get("items"):
        rows = [
            {
                "item": i["item"],
                "identifier": i["identifier"],
                "seen": i["seen"],
                "at": i["at"],
                "place": i["place"],
                "incident": i["incident_id"],
                "person record": i["record_id"],
            }
            for i in d["items"]
        ]
        out.print(table_of("the seed's stolen items seen again (hard links, score 1)", rows))


def attribute(
    ctx: typer.Context,
    incident: str = typer.Argument(..., help="Incident id (typically unsolved)."),
    top: int = typer.Option(10, "--top", "-k", min=1, help="How many offenders, series and groups to list."),
    agency: str = typer.Option(None, "--agency", "-a", help="Agency of the incident."),
    min_probability: float = typer.Option(0.05, "--min-probability", help="Ignore links weaker than this."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The known offenders, series and groups an incident most likely belongs to, with evidence."""
    set_json(ctx, as_json)
    with opened(ctx) as (store, settings):
        result = attribution.attribute(
            store,
            incident,
            settings.linkage,
            agency=agency,
            top=top,
            min_probability=min_probability,
            claim_rules=settings.safeguards,
        )
    emit(ctx, result, _render_attribute)


def _render_attribute(d: dict[str, Any]) -> None:
    def evidence(item: dict[str, Any]) -> str:
        return ", ".join(f"{e['incident_id']} ({e['probability']})" for e in item["evidence"][:3])

    out.print(
        table_of(
            "offenders",
            [
                {
                    "offender": o["offender"],
                    "score": o["score"],
                    "records": ", ".join(o["records"]),
                    "linked incidents": evidence(o),
                    "items": ", ".join(f"{i['identifier']} ({i['seen']})" for i in o.get("items", [])[:3]),
                }
                for o in d["offenders"]
            ],
        )
    )
    _render_items(d)
    out.print(
        table_of(
            "series",
            [
                {
                    "series": s["series_id"],
                    "score": s["score"],
                    "size": s["size"],
                    "linked members": evidence(s),
                }
                for s in d["series"]
            ],
        )
    )
    out.print(
        table_of(
            "groups",
            [
                {
                    "group": g["group_id"],
                    "name": g["name"],
                    "score": g["score"],
                    "members": ", ".join(m["offender"] for m in g["members"][:3]),
                    "claims": ", ".join(c["claim_id"] for c in g["claims"][:3]),
                }
                for g in d["groups"]
            ],
        )
    )
    _render_model(d)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(link_app, name="link")
    app.command("similar")(similar)
    app.command("attribute")(attribute)
