"""Live monitoring (issue 19): on a store of the demo city with every stage run, the city's latest incidents arrive
as files of 100 (with the person records only they refer to, their involvements and arrests, and the contacts of
their days) in a drop folder; each file set is imported and `update` runs, as `casegraph serve --watch` does on
its writer lane. Measured per file set: from its landing to its alerts readable by the inbox's
/api/alerts?since= read. Beside it: the whole pipeline's time on the base store, and at the end `check --full`
(the equivalence of the updated store with a whole re-run, and that re-run's time).

    .venv/bin/python bench/live/run.py -n 100000 --files 10

The base store is built from the cached demo city (bench/results/demo-N/city, made once by `casegraph demo`) minus
the incidents that will arrive; it is kept in bench/results/live-N/base.duckdb for the next run (--rebuild to
make it again). What is not in the latency: the watch's look at the folder (serve --watch --interval, 5 s by
default) and the inbox's poll (every 3 s).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import RESULTS, demo_store, percentile, store_settings

TABLES = (
    "incidents",
    "person_records",
    "arrests",
    "involvements",
    "contacts",
    "contact_participants",
    "groups",
    "membership_claims",
)
REFERRING = ("involvements", "arrests", "contact_participants")
TARGET_MEDIAN_S, TARGET_P95_S = 5.0, 15.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "-n", type=int, default=100_000, help="Incidents in the demo city (its cached store's size)."
    )
    ap.add_argument("--files", type=int, default=10, help="File sets that arrive.")
    ap.add_argument("--per-file", type=int, default=100, help="Incidents per file set.")
    ap.add_argument(
        "--arrive", type=int, default=None, help="Only the first K file sets arrive (default: all of them)."
    )
    ap.add_argument("--rebuild", action="store_true", help="Build the base store again.")
    ap.add_argument("--no-check", action="store_true", help="Skip the final check --full.")
    args = ap.parse_args()
    work = RESULTS / f"live-{args.n}"
    city = demo_store(args.n).parent / "city"
    held_n = args.files * args.per_file
    base, batches = prepare(city, work, held_n, args.per_file, rebuild=args.rebuild)
    result = run_live(work, base, batches[: args.arrive])
    if not args.no_check:
        result["check"] = final_check(work / "live.duckdb")
    result.update(n=args.n, files=len(batches[: args.arrive]), per_file=args.per_file)
    (work / "result.json").write_text(json.dumps(result, indent=2, default=str))
    print_table(result)


def prepare(
    city: Path, work: Path, held_n: int, per_file: int, *, rebuild: bool
) -> tuple[dict[str, Any], list[Path]]:
    """The base store (the city without its latest held_n incidents, every stage run) and the file sets."""
    marker = work / "base.json"
    if marker.exists() and not rebuild and json.loads(marker.read_text())["held"] == held_n:
        return json.loads(marker.read_text()), sorted(p for p in (work / "arrivals").iterdir() if p.is_dir())
    shutil.rmtree(work, ignore_errors=True)
    (work / "before").mkdir(parents=True)
    batches = split(city, work, held_n, per_file)
    base = build_base(work)
    marker.write_text(json.dumps({**base, "held": held_n}))
    return base, batches


def split(city: Path, work: Path, held_n: int, per_file: int) -> list[Path]:
    """before/<table>.csv, and arrivals/NNN/<table>-NNN.csv per set of per_file incidents (in time order)."""
    t = {name: pd.read_csv(city / f"{name}.csv", dtype=str) for name in TABLES}
    inc = t["incidents"].sort_values(["occurred_from", "incident_id"], kind="stable")
    held = inc.tail(held_n).reset_index(drop=True)
    held["batch"] = held.index // per_file
    batch_of_incident = dict(zip(held["agency"] + "/" + held["incident_id"], held["batch"], strict=True))
    starts = held.groupby("batch")["occurred_from"].min()
    batch = {
        "incidents": (t["incidents"]["agency"] + "/" + t["incidents"]["incident_id"]).map(batch_of_incident),
        "involvements": (t["involvements"]["agency"] + "/" + t["involvements"]["incident_id"]).map(
            batch_of_incident
        ),
        "arrests": (t["arrests"]["agency"] + "/" + t["arrests"]["incident_id"]).map(batch_of_incident),
        "contacts": _batch_by_time(t["contacts"]["occurred_at"], starts),
    }
    contact_batch = dict(
        zip(t["contacts"]["agency"] + "/" + t["contacts"]["contact_id"], batch["contacts"], strict=True)
    )
    cp = t["contact_participants"]
    batch["contact_participants"] = (cp["agency"] + "/" + cp["contact_id"]).map(contact_batch)
    batch["person_records"] = _first_batch_of_records(t, batch)
    for name, frame in t.items():
        b = batch.get(name, pd.Series(float("nan"), index=frame.index))
        frame[b.isna()].to_csv(work / "before" / f"{name}.csv", index=False)
        for k, part in frame[b.notna()].groupby(b[b.notna()].astype(int)):
            folder = work / "arrivals" / f"{k:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            part.to_csv(folder / f"{name}-{k:03d}.csv", index=False)
    return sorted(p for p in (work / "arrivals").iterdir() if p.is_dir())


def _batch_by_time(stamps: pd.Series, starts: pd.Series) -> pd.Series:
    """The file set whose time span holds each stamp (ISO text orders as time); NaN before the first."""
    k = np.searchsorted(starts.to_numpy(dtype=str), stamps.fillna("").to_numpy(dtype=str), side="right") - 1
    return pd.Series(np.where(k >= 0, starts.index.to_numpy()[np.maximum(k, 0)], np.nan), index=stamps.index)


def _first_batch_of_records(t: dict[str, pd.DataFrame], batch: dict[str, pd.Series]) -> pd.Series:
    """A person record arrives with the first file set that refers to it, when nothing before refers to it."""
    refs = pd.concat(
        [pd.DataFrame({"record_id": t[name]["record_id"], "b": batch[name]}) for name in REFERRING]
    )
    refs = pd.concat(
        [refs, pd.DataFrame({"record_id": t["membership_claims"]["record_id"], "b": float("nan")})]
    )
    earliest = refs.fillna({"b": -1.0}).groupby("record_id")["b"].min()
    arrives = earliest[earliest >= 0]
    return t["person_records"]["record_id"].map(arrives)


def build_base(work: Path) -> dict[str, Any]:
    from casegraph import ingest, pipeline
    from casegraph.store import open_store

    settings = store_settings(work / "base.duckdb")
    store = open_store(settings)
    try:
        started = time.perf_counter()
        ingest.run_folder(store, settings, work / "before")
        ingested = time.perf_counter() - started
        stages = {}
        for name in pipeline.STAGE_NAMES:
            t0 = time.perf_counter()
            pipeline.run_stage(store, settings, name)
            stages[name] = round(time.perf_counter() - t0, 1)
            print(f"base: {name} {stages[name]} s", file=sys.stderr, flush=True)
        incidents = store.count("incidents")
    finally:
        store.close()
    return {"ingest_s": round(ingested, 1), "stages_s": stages, "incidents": incidents}


def run_live(work: Path, base: dict[str, Any], batches: list[Path]) -> dict[str, Any]:
    from casegraph import dropfolder
    from casegraph.store import open_store

    live = work / "live.duckdb"
    for f in work.glob("live.duckdb*"):
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    shutil.copy(work / "base.duckdb", live)
    drop = work / "drop"
    shutil.rmtree(drop, ignore_errors=True)
    drop.mkdir()
    settings = store_settings(live)
    store = open_store(settings)
    rows = []
    try:
        latest = store.scalar("SELECT max(created_at) FROM alerts")
        for folder in batches:
            landed = land(folder, drop)
            done = dropfolder.import_and_update(store, settings, dropfolder.ready_now(drop, 0.0), table=None)
            new, latest = inbox_since(store, latest)
            seconds = time.perf_counter() - landed
            rows.append(row_of(folder.name, seconds, done, new))
            print(
                f"file set {folder.name}: {seconds:.1f} s ({_per_stage(rows[-1])}), {len(new)} new alerts",
                file=sys.stderr,
                flush=True,
            )
    finally:
        store.close()
    return {"base": base, "arrivals": rows}


def _per_stage(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}{'*' if row['incremental'].get(k) else ''} {v}" for k, v in row["stage_s"].items())


def land(folder: Path, drop: Path) -> float:
    """Move a file set into the drop folder (written elsewhere, renamed in); when it landed."""
    for f in sorted(folder.iterdir()):
        shutil.copy(f, drop / f"{f.name}.part")
    landed = time.perf_counter()
    for f in sorted(folder.iterdir()):
        (drop / f"{f.name}.part").rename(drop / f.name)
    return landed


def inbox_since(store: Any, latest: Any) -> tuple[list[str], Any]:
    """What the inbox's poll reads: the alerts first raised after the newest it had (activity.alerts since)."""
    where, params = ("created_at > ?", [latest]) if latest is not None else ("true", [])
    new = [r[0] for r in store.rows(f"SELECT alert_id FROM alerts WHERE {where}", params)]
    return new, store.scalar("SELECT max(created_at) FROM alerts") or latest


def row_of(name: str, seconds: float, done: dict[str, Any], new: list[str]) -> dict[str, Any]:
    update = done["update"] or {"stages": []}
    stages = {s["stage"]: s for s in update["stages"]}
    return {
        "file_set": name,
        "seconds": round(seconds, 2),
        "loaded": sum(f["loaded"] for f in done["files"]),
        "stage_s": {k: s["seconds"] for k, s in stages.items()},
        "incremental": {k: bool(s["summary"].get("incremental")) for k, s in stages.items()},
        "new_alerts": len(new),
    }


def final_check(live: Path) -> dict[str, Any]:
    from casegraph.check import check_full
    from casegraph.store import open_store

    settings = store_settings(live)
    store = open_store(settings)
    try:
        return check_full(store, settings).as_dict()
    finally:
        store.close()


def print_table(r: dict[str, Any]) -> None:
    times = [a["seconds"] for a in r["arrivals"]]
    print(
        f"\nlive monitoring on the demo city of {r['n']:,} incidents: {r['files']} file sets of {r['per_file']}"
    )
    print(
        f"base store: {r['base']['incidents']:,} incidents; whole pipeline {sum(r['base']['stages_s'].values()):.1f} s "
        f"({', '.join(f'{k} {v} s' for k, v in r['base']['stages_s'].items())})"
    )
    print(
        f"{'file set':>8} {'landing->inbox s':>16} {'rows':>6} {'new alerts':>10}  per stage (s, * = incremental)"
    )
    for a in r["arrivals"]:
        per = _per_stage(a)
        print(f"{a['file_set']:>8} {a['seconds']:>16.1f} {a['loaded']:>6} {a['new_alerts']:>10}  {per}")
    median, p95 = statistics.median(times), percentile(times, 95)
    print(
        f"landing -> alerts readable by the inbox: median {median:.1f} s (target {TARGET_MEDIAN_S} s), "
        f"p95 {p95:.1f} s (target {TARGET_P95_S} s)"
    )
    check = r.get("check")
    if check:
        rerun = sum(check["rerun_seconds"].values())
        print(
            f"whole re-run at the end: {rerun:.1f} s ({', '.join(f'{k} {v} s' for k, v in check['rerun_seconds'].items())})"
        )
        for m in check["measures"]:
            value = f" {m['value']:.4f}" if m["value"] is not None else ""
            print(
                f"  {'ok  ' if m['ok'] else 'DIFF'} {m['name']}{value} (store {m['n_store']:,}, re-run {m['n_rerun']:,})"
            )
        print(f"equivalent to a whole re-run: {'yes' if check['ok'] else 'NO'}")


if __name__ == "__main__":
    main()
