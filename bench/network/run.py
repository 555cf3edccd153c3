"""bench/network: the network stage at 1,000,000 persons and 10,000,000 person ties.

One command; prints a table. The store is generated once (cached under --work): 1,000 groups holding 60 %
of the persons, ties as pairwise calls (contacts with two participants), 60 % of them inside a group, the
rest at random, dated over two years, plus a planted tie of 300 calls between G0001 and G0002 in the last
half year. Then `casegraph.network.run` (graph build from the store's tables, group ties with 99
permutations, onsets, key players with sampled betweenness, Gould-Fernandez roles and Leiden communities,
writing every table) runs in a child process whose peak resident memory is reported (DuckDB included).

    .venv/bin/python bench/network/run.py                    # 1e6 persons, 1e7 ties
    .venv/bin/python bench/network/run.py --persons 100000 --ties 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

START = datetime(2023, 1, 1)
SPAN_S = 730 * 86_400


def settings_for(path: Path, memory: str):
    from casegraph.settings import load_settings

    s = load_settings()
    s.store.path = str(path)
    s.store.memory_limit = memory
    s.network.n_permutations = 99
    return s


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(numbers.astype(str), width)))


def generate(path: Path, persons: int, ties: int, groups: int, memory: str) -> None:
    from casegraph.store import open_store

    rng = np.random.default_rng(2026)
    store = open_store(settings_for(path, memory))
    group_of = np.where(rng.random(persons) < 0.6, rng.integers(0, groups, persons), -1)
    store.write(
        "person_records",
        pa.table(
            {
                "agency": pa.array(["pd"] * persons),
                "record_id": _ids("R", np.arange(persons), 7),
                "dob": pa.array([date(1990, 1, 1)] * persons, pa.date32()),
            }
        ),
    )
    members = np.flatnonzero(group_of >= 0)
    order = members[np.argsort(group_of[members], kind="stable")]
    starts = np.searchsorted(group_of[order], np.arange(groups))
    sizes = np.bincount(group_of[members], minlength=groups)
    chunk = 1_000_000
    for lo in range(0, ties, chunk):
        n = min(chunk, ties - lo)
        a = rng.integers(0, persons, n)
        inside = (rng.random(n) < 0.6) & (group_of[a] >= 0)
        g = np.maximum(group_of[a], 0)
        partner = order[starts[g] + (rng.random(n) * np.maximum(sizes[g], 1)).astype(np.int64)]
        b = np.where(inside, partner, rng.integers(0, persons, n))
        when = START.timestamp() + rng.integers(0, SPAN_S, n)
        _calls(store, lo, a, b, when)
    _planted(store, rng, order, starts, sizes, ties)
    _claims(store, members, group_of)
    store.close()


def _calls(store, first: int, a: np.ndarray, b: np.ndarray, when: np.ndarray) -> None:
    n = len(a)
    cid = _ids("C", np.arange(first, first + n), 8)
    store.write(
        "contacts",
        pa.table(
            {
                "agency": pa.array(["pd"] * n),
                "contact_id": cid,
                "kind": pa.array(["call"] * n),
                "occurred_at": pa.array((when * 1e6).astype("int64"), pa.timestamp("us")),
            }
        ),
    )
    people = np.concatenate([a, b])
    store.write(
        "contact_participants",
        pa.table(
            {
                "agency": pa.array(["pd"] * 2 * n),
                "participant_id": _ids("P", np.arange(2 * first, 2 * first + 2 * n), 9),
                "contact_id": pa.concat_arrays([cid, cid]),
                "record_id": _ids("R", people, 7),
            }
        ),
    )


def _planted(store, rng, order, starts, sizes, ties: int) -> None:
    n = 300
    a = order[starts[0] + rng.integers(0, sizes[0], n)]
    b = order[starts[1] + rng.integers(0, sizes[1], n)]
    when = START.timestamp() + SPAN_S - rng.integers(0, SPAN_S // 4, n)
    _calls(store, ties, a, b, when)


def _claims(store, members: np.ndarray, group_of: np.ndarray) -> None:
    n = len(members)
    store.write(
        "membership_claims",
        pa.table(
            {
                "agency": pa.array(["pd"] * n),
                "claim_id": _ids("M", np.arange(n), 7),
                "record_id": _ids("R", members, 7),
                "group_id": _ids("G", group_of[members] + 1, 4),
                "criteria": pa.array([["self_admission", "named_in_court_record"]] * n),
                "evidence": pa.array([["contact:C00000000"]] * n),
                "entered_by": pa.array(["bench"] * n),
                "entered_at": pa.array([START + timedelta(days=700)] * n, pa.timestamp("us")),
            }
        ),
    )


CHILD = """
import json, resource, sys, time
from casegraph import network
from casegraph.settings import load_settings
from casegraph.store import open_store
s = load_settings()
s.store.path, s.store.memory_limit, s.network.n_permutations = {path!r}, {memory!r}, 99
store = open_store(s)
t = time.perf_counter()
summary = network.run(store, s)
summary["wall_seconds"] = round(time.perf_counter() - t, 1)
me, forked = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
summary["peak_rss_gb"] = round(me.ru_maxrss / 1e6, 2)
summary["forked_peak_rss_gb"] = round(forked.ru_maxrss / 1e6, 2)
summary["cpu_seconds"] = round(me.ru_utime + me.ru_stime, 1)
summary["forked_cpu_seconds"] = round(forked.ru_utime + forked.ru_stime, 1)
print(json.dumps(summary, default=str))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--ties", type=int, default=10_000_000)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--memory", default="4GB", help="DuckDB memory limit")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "casegraph-bench-network"))
    args = parser.parse_args()
    path = Path(args.work) / f"net_{args.persons}_{args.ties}.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        generate(path, args.persons, args.ties, args.groups, args.memory)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s", flush=True)
    code = CHILD.format(path=str(path), memory=args.memory)
    load_before = os.getloadavg()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    s = json.loads(result.stdout.strip().splitlines()[-1])
    s["load_average"] = f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after (1-minute)"
    report(s, args)


def report(s: dict, args: argparse.Namespace) -> None:
    top = s["ties"][:5]
    print(
        f"\n{args.persons:,} persons, {args.ties:,} call ties, {args.groups} groups "
        f"(children peak {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6:.2f} GB)"
    )
    print("| measure | value |\n|---|---|")
    rows = [
        ("people / ties in the graph", f"{s['n_nodes']:,} / {s['n_edges']:,}"),
        ("total seconds (build + 99 permutations + key players + writes)", s["wall_seconds"]),
        *[(f"  {k} seconds", v) for k, v in s["step_seconds"].items()],
        (
            "CPU seconds: stage process (DuckDB threads included) / forked Leiden process",
            f"{s['cpu_seconds']} / {s['forked_cpu_seconds']}",
        ),
        ("load average (2 cores, shared)", s["load_average"]),
        ("peak memory, GB (stage process, DuckDB included)", s["peak_rss_gb"]),
        ("peak memory, GB (forked Leiden process)", s["forked_peak_rss_gb"]),
        ("significant group ties (planted: G0001-G0002)", f"{s['significant_group_ties']} {top}"),
        ("betweenness", s["methods"]["betweenness"]),
        ("communities", s["methods"]["communities"]),
        ("brokerage", s["methods"]["brokerage"]),
        (
            "NMI / ARI communities vs groups",
            f"{s['communities_vs_groups']['nmi']} / {s['communities_vs_groups']['ari']}",
        ),
        ("under 5 minutes and 8 GB", s["wall_seconds"] < 300 and s["peak_rss_gb"] < 8),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
