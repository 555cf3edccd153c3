"""`casegraph update` (run the stages whose inputs changed, say what changed) and `casegraph watch FOLDER`
(a drop folder for nightly files: import each new file, then update)."""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from casegraph.cli.common import RichProgress, ctx_of, emit, fail, opened, out, set_json

JSON_HELP = "Print machine-readable JSON."
EVENTS_SHOWN = 10
EVIDENCE_SHOWN = 4
ALERTS_SHOWN = 5
# Most telling first: what happened to ids an analyst may have written down, then growth, then new ids.
EVENT_ORDER = ("merged", "split", "retired", "grew", "shrank", "changed", "founded")
ID_KIND = {"resolve": "person", "linkage": "series"}


def update(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Run the stages whose inputs changed since their last successful run (new imports, a stage before it
    re-run, an analyst's decisions), in order; report persons and series founded, grown, merged, split or
    retired, and the alerts that are new. Each stage re-runs over all records."""
    set_json(ctx, as_json)
    emit(ctx, run_update(ctx), render_update)


def run_update(ctx: typer.Context) -> dict[str, Any]:
    from casegraph.update import run_update as update_store

    with opened(ctx) as (store, settings):
        return update_store(store, settings, RichProgress()).as_dict()


def render_update(d: dict[str, Any]) -> None:
    if not d["ran"]:
        out.print("update: nothing changed since the last runs; no stage ran")
        return
    out.print(f"update: ran {', '.join(d['ran'])} in {d['seconds']} s")
    for stage in d["stages"]:
        _render_stage(stage)
    _render_alerts(d["new_alerts"])


def _render_stage(s: dict[str, Any]) -> None:
    out.print(f"{s['stage']} ({s['seconds']} s): {'; '.join(s['reasons'])}", highlight=False)
    how = s["summary"]
    if how.get("incremental"):
        out.print(f"  incremental: {_incremental_line(how)}", highlight=False)
    elif how.get("why_full"):
        out.print(f"  whole run: {how['why_full']}", highlight=False)
    if s["stage"] not in ID_KIND:
        return
    events = sorted(
        s["lineage"], key=lambda e: EVENT_ORDER.index(e["event"]) if e["event"] in EVENT_ORDER else 9
    )
    if not events:
        out.print(f"  {ID_KIND[s['stage']]} ids: no change")
        return
    counts = Counter(e["event"] for e in events)
    out.print(
        f"  {ID_KIND[s['stage']]} ids: " + ", ".join(f"{counts[e]} {e}" for e in EVENT_ORDER if counts[e])
    )
    for e in events[:EVENTS_SHOWN]:
        out.print(f"    {_event_line(e)}", highlight=False)
    if len(events) > EVENTS_SHOWN:
        out.print(f"    ... and {len(events) - EVENTS_SHOWN} more (--json lists them all)")


def _incremental_line(how: dict[str, Any]) -> str:
    if "new_records" in how:  # resolve
        return (
            f"{how['new_records']:,} new records scored with the last model, {how['new_pairs']:,} pairs kept"
        )
    return (
        f"{how['new_incidents']:,} new incidents, {how.get('pairs_compared', 0):,} pairs compared, "
        f"{how['new_links']:,} links added, {how.get('incidents_reclustered', 0):,} incidents clustered again"
    )


def _event_line(e: dict[str, Any]) -> str:
    sizes = f"{e['previous_members'] or 0} -> {e['members'] or 0} members"
    if e["event"] == "merged":
        return f"{e['id']} merged with {', '.join(e['from_ids'])} ({sizes})"
    if e["event"] == "split":
        return f"{e['id']} split from {', '.join(e['from_ids'])} ({e['members']} members)"
    if e["event"] == "retired":
        return f"{e['id']} retired; its members went to {', '.join(e['from_ids']) or '(none: gone)'}"
    return f"{e['id']} {e['event']} ({sizes})"


def _render_alerts(alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        out.print("new alerts: none")
        return
    kinds = Counter(a["kind"] for a in alerts)
    out.print(f"new alerts: {len(alerts)} (" + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + ")")
    for kind in kinds:
        of_kind = [a for a in alerts if a["kind"] == kind]
        for a in of_kind[:ALERTS_SHOWN]:
            out.print(f"  [{a['severity'] or '-'}] {a['title']} ({a['alert_id']})", highlight=False)
            shown = ", ".join(a["evidence"][:EVIDENCE_SHOWN])
            more = (
                f" and {len(a['evidence']) - EVIDENCE_SHOWN} more"
                if len(a["evidence"]) > EVIDENCE_SHOWN
                else ""
            )
            out.print(f"    evidence: {shown}{more}", highlight=False)
        if len(of_kind) > ALERTS_SHOWN:
            out.print(
                f"  ... and {len(of_kind) - ALERTS_SHOWN} more {kind} "
                f"(`casegraph {of_kind[0]['stage']} alerts`, or --json)"
            )


def check(
    ctx: typer.Context,
    full: bool = typer.Option(
        False, "--full", help="Recompute every stage from scratch beside the store and compare."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Is the store up to date? Without --full: which stages' inputs changed since their last run (exit 1
    when some did). With --full: re-run every stage from scratch in a temporary copy of the store's records
    and compare persons (adjusted Rand), links (Jaccard), significant group ties and alerts with the store;
    print the differences; exit 0 within the tolerance of [check] settings, 1 when not."""
    set_json(ctx, as_json)
    if full:
        report = _check_full(ctx)
        emit(ctx, report, render_check)
    else:
        report = _check_stale(ctx)
        emit(ctx, report, render_stale)
    if not report["ok"]:
        raise typer.Exit(1)


def _check_full(ctx: typer.Context) -> dict[str, Any]:
    from casegraph.check import check_full

    with opened(ctx) as (store, settings):
        return check_full(store, settings, RichProgress()).as_dict()


def _check_stale(ctx: typer.Context) -> dict[str, Any]:
    from casegraph.update import stale_stages

    with opened(ctx) as (store, _settings):
        stale = stale_stages(store)
    return {"ok": not stale, "stale": stale}


def render_stale(d: dict[str, Any]) -> None:
    if d["ok"]:
        out.print("check: every stage is up to date with the records")
        return
    for stage, reasons in d["stale"].items():
        out.print(f"{stage}: stale ({'; '.join(reasons)})", highlight=False)
    out.print("run `casegraph update` to bring them up to date")


def render_check(d: dict[str, Any]) -> None:
    for m in d["measures"]:
        out.print(_measure_line(m), highlight=False)
        for key in m["only_store"][:EVENTS_SHOWN]:
            out.print(f"    only in the store: {key}", highlight=False)
        for key in m["only_rerun"][:EVENTS_SHOWN]:
            out.print(f"    only in the re-run: {key}", highlight=False)
    seconds = ", ".join(f"{k} {v} s" for k, v in d["rerun_seconds"].items())
    verdict = "equivalent to a whole re-run" if d["ok"] else "NOT equivalent to a whole re-run"
    out.print(f"check --full: {verdict} (re-run: {seconds}; {d['seconds']} s in all)")


def _measure_line(m: dict[str, Any]) -> str:
    mark = "ok  " if m["ok"] else "DIFF"
    sizes = f"store {m['n_store']:,}, re-run {m['n_rerun']:,}"
    if m["value"] is not None:
        measure = "adjusted Rand" if m["name"] == "persons" else "Jaccard"
        head = f"{m['name']}: {measure} {m['value']:.4f} (at least {m['required']})"
    else:
        head = f"{m['name']}: {'the same' if m['ok'] else 'differ'}"
    diff = (
        f"; {m['n_only_store']:,} only in the store, {m['n_only_rerun']:,} only in the re-run"
        if m["n_only_store"] or m["n_only_rerun"]
        else ""
    )
    return f"{mark} {head} ({sizes}{diff})"


class StopBetweenFiles:
    """Ctrl-C asks the watch to stop after the file in hand; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.asked = False
        self._previous = signal.signal(signal.SIGINT, self._ask)

    def _ask(self, signum: int, frame: FrameType | None) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        print("stopping after the file in hand (Ctrl-C again to interrupt now)", file=sys.stderr, flush=True)

    def __call__(self) -> bool:
        return self.asked

    def restore(self) -> None:
        signal.signal(signal.SIGINT, self._previous)


def watch(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="The drop folder (new files appear here)."),
    mapping: str = typer.Option(None, "--mapping", "-m", help="Mapping YAML or shipped name for every file."),
    table: str = typer.Option(
        None,
        "--table",
        "-t",
        help="Record table of every file (default: from each file's name, e.g. incidents-2026-11.csv).",
    ),
    agency: str = typer.Option(
        None, "--agency", "-a", help="Owning agency when a file has no agency column."
    ),
    interval: float = typer.Option(30.0, "--interval", help="Seconds between looks at the folder."),
    settle: float = typer.Option(
        2.0,
        "--settle",
        help="Seconds a file must stay unchanged before it is read (it may still be written).",
    ),
    once: bool = typer.Option(False, "--once", help="Process the files there now, update, and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per batch of files."),
) -> None:
    """Import each new file that appears in FOLDER, then run `update`. A loaded file moves to FOLDER/done/;
    a bad one (the import failed, or every row was rejected) to FOLDER/quarantine/ with a .reason.txt naming
    file, row, field and reason, and watching goes on. Files ending .part or .tmp, or starting with a dot, are
    left alone (write under such a name, then rename). Ctrl-C stops between files."""
    set_json(ctx, as_json)
    if not folder.is_dir():
        fail(f"{folder}: not a folder")
    stop = StopBetweenFiles()
    options = {"mapping": mapping, "agency": agency}
    try:
        while not stop():
            batch = _ready_files(folder, settle, wait=once)
            if batch:
                emit(ctx, _process(ctx, batch, table, stop, options), _render_batch)
            elif once:
                emit(ctx, {"files": [], "update": None}, _render_batch)
            if once:
                break
            _sleep(interval, stop)
    finally:
        stop.restore()


def _ready_files(folder: Path, settle: float, *, wait: bool) -> list[Path]:
    from casegraph import dropfolder

    if not wait:
        return dropfolder.ready_now(folder, settle)
    files = dropfolder.candidates(folder)  # --once: let files still being written settle, then take them all
    for path in files:
        dropfolder.wait_until_settled(path, settle)
    return [p for p in files if p.exists()]


def _process(
    ctx: typer.Context, files: list[Path], table: str | None, stop: StopBetweenFiles, options: dict[str, Any]
) -> dict[str, Any]:
    from casegraph import dropfolder

    with opened(ctx) as (store, settings):
        agency = options["agency"] or (None if options["mapping"] else settings.ingest.agency)
        return dropfolder.import_and_update(
            store,
            settings,
            files,
            table=table,
            stop=stop,
            report=_say_file if not _json(ctx) else lambda _o: None,
            progress=RichProgress(),
            mapping=options["mapping"],
            agency=agency,
        )


def _json(ctx: typer.Context) -> bool:
    return ctx_of(ctx).as_json


def _say_file(o: Any) -> None:
    if o.status == "quarantined":
        out.print(f"{o.file}: quarantined ({o.reason}); see {o.moved_to}.reason.txt", highlight=False)
    elif o.status == "already imported":
        out.print(f"{o.file}: already imported; moved to done/", highlight=False)
    else:
        rejected = f", {o.rejected} rejected (see `casegraph rejects`)" if o.rejected else ""
        out.print(f"{o.file} -> {o.table}: {o.loaded} loaded{rejected}; moved to done/", highlight=False)
    sys.stdout.flush()


def _render_batch(d: dict[str, Any]) -> None:
    if not d["files"]:
        out.print("watch: no new files")
        return
    if d["update"] is None:
        out.print("watch: nothing new loaded; no update")
        return
    render_update(d["update"])


def _sleep(seconds: float, stop: StopBetweenFiles) -> None:
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        time.sleep(min(0.5, deadline - time.monotonic()))


def register(app: typer.Typer, _eval_app: typer.Typer) -> None:
    app.command()(update)
    app.command()(watch)
    app.command()(check)
