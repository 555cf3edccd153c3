"""`casegraph resolve`: identity resolution, explanation, review and decisions; `casegraph eval resolve`."""

from __future__ import annotations

import csv
import importlib
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import typer
import yaml

from casegraph import ingest
from casegraph.cli.common import (
    LazyModule,
    RichProgress,
    console,
    ctx_of,
    emit,
    fail,
    opened,
    out,
    set_json,
    table_of,
)
from casegraph.errors import CasegraphError
from casegraph.settings import Settings
from casegraph.store import open_store

stage = LazyModule("casegraph.resolve")

resolve_app = typer.Typer(
    help="Identity resolution of person records (Splink). With no sub-command: run it.",
    invoke_without_command=True,
)
ENGINE_HELP = "duckdb (default: the store's own connection) or spark (local mode; needs pyspark and Java 17)."
JSON_HELP = "Print machine-readable JSON."


def spark_db_api(settings: Settings) -> Any:
    """A Splink SparkAPI on a local Spark session (pyspark is an optional extra)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        fail(
            "the spark engine needs pyspark (pip install 'casegraph[spark]') and Java 17; or use --engine duckdb"
        )
    from splink.backends.spark import SparkAPI, similarity_jar_location

    checkpoints = tempfile.mkdtemp(prefix="casegraph-spark-")
    spark = (
        SparkSession.builder.master(f"local[{settings.store.threads}]")
        .appName("casegraph-resolve")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(4 * settings.store.threads))
        .config("spark.default.parallelism", str(4 * settings.store.threads))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", settings.store.memory_limit.lower().replace("gb", "g"))
        .getOrCreate()
    )
    spark.sparkContext.setCheckpointDir(checkpoints)
    spark.sparkContext.setLogLevel("ERROR")
    return SparkAPI(spark_session=spark, break_lineage_method="persist")


def _db_api(settings: Settings, engine: str | None) -> Any:
    if engine:
        settings.resolve.engine = engine  # validated by the settings model
    return spark_db_api(settings) if settings.resolve.engine == "spark" else None


def _run(ctx: typer.Context, engine: str | None) -> None:
    from casegraph.pipeline import run_computing

    with opened(ctx) as (store, settings):
        module = importlib.import_module("casegraph.resolve")
        api = _db_api(settings, engine)
        summary = run_computing(
            store, module, lambda s: module.run(s, settings, progress=RichProgress(), db_api=api)
        )
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


# -- eval ------------------------------------------------------------------------------------------------
def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _mapping_for(data: Path, work: Path) -> tuple[Path | None, bool]:
    """The mapping beside the data, or one that takes a `source` column as the agency. Returns (mapping, link)."""
    header = _header(data / "person_records.csv")
    link = "source" in header
    if (data / "mapping.yaml").exists():
        return data / "mapping.yaml", link
    if not link:
        return None, False
    fields = {h: h for h in header if h not in {"source", "agency"}}
    fields["agency"] = "source"
    path = work / "mapping.yaml"
    path.write_text(yaml.safe_dump({"table": "person_records", "fields": fields}))
    return path, True


def _truth(data: Path) -> pd.DataFrame:
    truth = pd.read_csv(data / "person_truth.csv", dtype=str)
    if not {"record_id", "person_id"} <= set(truth.columns):
        fail(f"{data / 'person_truth.csv'} needs the columns record_id,person_id")
    return truth


def _scores(store: Any, truth: pd.DataFrame, link: bool) -> dict[str, Any]:
    found = stage.identities(store)
    on = ["agency", "record_id"] if "agency" in truth.columns else ["record_id"]
    joined = found.merge(truth, on=on, how="inner")
    source = joined["agency"] if link else None
    scores = stage.score(joined["person_id"], joined["person_id_truth"], source)
    scores["records_without_truth"] = len(found) - len(joined)
    return scores


def evaluate(data: Path, settings: Settings, engine: str | None = None) -> dict[str, Any]:
    """Ingest DIR/person_records.csv into a temporary store, resolve it, score it against person_truth.csv."""
    truth = _truth(data).rename(columns={"person_id": "person_id_truth", "source": "agency"})
    with tempfile.TemporaryDirectory(prefix="casegraph-eval-") as work:
        settings.store.path = str(Path(work) / "eval.duckdb")
        mapping, link = _mapping_for(data, Path(work))
        settings.resolve.cross_agency_only = settings.resolve.cross_agency_only or link
        store = open_store(settings)
        try:
            started = time.perf_counter()
            report = ingest.run(
                store,
                settings,
                data / "person_records.csv",
                table="person_records",
                mapping=mapping,
                agency="eval",
            )
            ingest_seconds = time.perf_counter() - started
            summary = stage.run(store, settings, progress=RichProgress(), db_api=_db_api(settings, engine))
            result = _scores(store, truth, link)
        finally:
            store.close()
    return {
        **result,
        "mode": "link" if link else "dedupe",
        "engine": settings.resolve.engine,
        "seconds": summary["seconds"],
        "ingest_seconds": round(ingest_seconds, 3),
        "records_per_second": round(summary["n_records"] / max(summary["seconds"], 1e-9), 1),
        "n_persons": summary["n_persons"],
        "n_pairs_scored": summary["n_pairs_scored"],
        "rows_rejected": report.rejected,
        "match_threshold": settings.resolve.match_threshold,
    }


def eval_resolve(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="Folder with person_records.csv and person_truth.csv."),
    engine: str = typer.Option(None, "--engine", help=ENGINE_HELP),
    threshold: float = typer.Option(None, "--threshold", help="Match probability that joins two records."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Pairwise precision / recall / F1 and B-cubed F1 of resolve against ground truth, with wall time."""
    set_json(ctx, as_json)
    if not (data / "person_records.csv").exists() or not (data / "person_truth.csv").exists():
        fail(f"{data} needs person_records.csv and person_truth.csv")
    settings = ctx_of(ctx).settings()
    if threshold is not None:
        settings.resolve.match_threshold = threshold
    try:
        result = evaluate(data, settings, engine)
    except CasegraphError as exc:
        fail(str(exc))
    emit(ctx, result, _render_eval)


def _render_eval(d: dict[str, Any]) -> None:
    keys = [
        "n_records",
        "precision",
        "recall",
        "f1",
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
    if d["rows_rejected"]:
        console.print(f"{d['rows_rejected']} input rows were rejected at ingest and not scored")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(resolve_app, name="resolve")
    eval_app.command("resolve")(eval_resolve)
