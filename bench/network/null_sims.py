"""False alarms and power of group-tie detection on synthetic cities (issue 7's 100 null simulations).

For each seed: make a city, ingest it, and run the network stage twice: once with the planted G01-G02 tie
removed (its joint incidents' involvements and arrests and its joint contacts' participants deleted, so the
null city keeps only chance cross-group ties) and once as generated. A null city with any significant group
tie is a false alarm (at FDR 0.05, the family-wise rate under the complete null). Identities come from the
truth (`--identities truth`, isolating the tie test from resolution errors), from no resolution at all
(`none`: one person per record) or from the resolve stage (`resolve`, slow).

    .venv/bin/python bench/network/null_sims.py --sims 100 --incidents 3000 --identities truth
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from casegraph import ingest, network
from casegraph.demo import make_city
from casegraph.evaluation.network import planted_ties, score_ties
from casegraph.pipeline import run_stage
from casegraph.settings import load_settings
from casegraph.store import open_store


def truth_frames(city: Path) -> tuple[pd.DataFrame, set[str], set[str]]:
    """Record -> true person, and the incidents and contacts that join members of both planted groups."""
    persons = pd.read_csv(city / "person_truth.csv", dtype=str)
    groups = pd.read_csv(city / "group_truth.csv", dtype=str)
    tie = pd.read_csv(city / "group_tie_truth.csv", dtype=str).iloc[0]
    pair = {tie["group_a"], tie["group_b"]}
    offenders = pd.read_csv(city / "incident_truth.csv", dtype=str).merge(
        groups, left_on="offender_id", right_on="person_id"
    )
    joint_incidents = {i for i, g in offenders.groupby("incident_id")["group_id"] if pair <= set(g)}
    parts = (
        pd.read_csv(city / "contact_participants.csv", dtype=str)
        .merge(persons, on="record_id")
        .merge(groups, on="person_id")
    )
    joint_contacts = {c for c, g in parts.groupby("contact_id")["group_id"] if pair <= set(g)}
    return persons, joint_incidents, joint_contacts


def remove_tie(store, incidents: set[str], contacts: set[str]) -> None:
    with (
        store.registered("_bench_inc", pd.DataFrame({"id": sorted(incidents) or [""]})),
        store.registered("_bench_con", pd.DataFrame({"id": sorted(contacts) or [""]})),
    ):
        store.execute("DELETE FROM involvements WHERE incident_id IN (SELECT id FROM _bench_inc)")
        store.execute("DELETE FROM arrests WHERE incident_id IN (SELECT id FROM _bench_inc)")
        store.execute("DELETE FROM contact_participants WHERE contact_id IN (SELECT id FROM _bench_con)")


def set_identities(store, settings, persons: pd.DataFrame, mode: str) -> None:
    if mode == "truth":
        recs = store.df("SELECT agency, record_id FROM person_records").merge(persons, on="record_id")
        recs["cluster_size"] = recs.groupby("person_id")["record_id"].transform("size")
        store.write("person_identities", recs.assign(run_id="truth"), mode="replace")
    elif mode == "resolve":
        run_stage(store, settings, "resolve")


def one_city(seed: int, args: argparse.Namespace, work: Path) -> dict:
    city = work / f"city{seed}"
    make_city(city, n_incidents=args.incidents, seed=seed)
    persons, incidents, contacts = truth_frames(city)
    out = {"seed": seed}
    for variant in ("null", "planted"):
        settings = load_settings()
        settings.store.path = str(work / f"{variant}{seed}.duckdb")
        settings.network.n_permutations = args.permutations
        if args.associates is not None:
            settings.network.count_associates = args.associates
        store = open_store(settings)
        ingest.run_folder(store, settings, city)
        if variant == "null":
            remove_tie(store, incidents, contacts)
        set_identities(store, settings, persons, args.identities)
        if args.linkage:
            run_stage(store, settings, "linkage")
        network.run(store, settings)
        scores = score_ties(store.df("SELECT * FROM group_ties"), planted_ties(city))
        store.close()
        out[variant] = scores
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--incidents", type=int, default=3000)
    parser.add_argument("--identities", choices=("truth", "none", "resolve"), default="truth")
    parser.add_argument("--permutations", type=int, default=0)
    parser.add_argument(
        "--associates",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="count associates' ties (default: the count_associates setting)",
    )
    parser.add_argument("--linkage", action="store_true", help="run linkage first (co_series ties)")
    args = parser.parse_args()
    started, rows = time.perf_counter(), []
    with tempfile.TemporaryDirectory(prefix="cg-null-") as tmp:
        for seed in range(args.first_seed, args.first_seed + args.sims):
            rows.append(one_city(seed, args, Path(tmp)))
            r = rows[-1]
            print(
                f"seed {seed}: null false ties {r['null']['false_ties']}; planted found "
                f"{r['planted']['planted_ties_found']} onset error {r['planted']['onset_error_days']} "
                f"false {r['planted']['false_ties']}",
                flush=True,
            )
    report(rows, args, time.perf_counter() - started)


def report(rows: list[dict], args: argparse.Namespace, seconds: float) -> None:
    alarms = sum(1 for r in rows if r["null"]["false_group_ties"] > 0)
    found = [r["planted"] for r in rows if r["planted"]["planted_ties_found"]]
    errors = [f["onset_error_days"] for f in found if f["onset_error_days"] is not None]
    within = sum(1 for e in errors if e <= 31)
    n = len(rows)
    print(
        f"\n{n} cities of {args.incidents} incidents, identities={args.identities}, "
        f"associates={args.associates if args.associates is not None else 'setting'}, linkage={args.linkage}, "
        f"{seconds:.0f} s"
    )
    print("| measure | value |\n|---|---|")
    print(
        f"| null cities with a false alarm (any significant tie, FDR 0.05) | {alarms}/{n} = {alarms / n:.1%} |"
    )
    print(f"| planted tie found (significant) | {len(found)}/{n} = {len(found) / n:.1%} |")
    if errors:
        print(f"| onset error, days: median / max | {statistics.median(errors):.0f} / {max(errors)} |")
        print(f"| onset within 31 days of the truth | {within}/{len(errors)} |")
    other = sum(f["false_group_ties"] for f in (r["planted"] for r in rows))
    print(f"| false ties in the planted cities (all) | {other} |")


if __name__ == "__main__":
    main()
