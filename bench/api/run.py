"""API benchmark: list and detail endpoints over a store of 1,000,000 incidents, 50 concurrent clients on
loopback, bounded runs (a fixed number of requests) that stop by themselves. Target (issue 9): p95 < 100 ms and
no errors for the incident list and detail endpoints.

The store is what an analyst's holds: the demo city with every stage run (`casegraph demo -n N`: ingest,
resolve, linkage, network, trends), so reads go through the safeguards' views of derived tables too. It is
built once and cached in bench/results/demo-N (tens of minutes at 1,000,000 incidents).

Two load models, one after the other, each against its own server on a fresh copy of the store (its own audit
log, cold caches) and with its own verdict:
- saturation (think time 0): every client sends its next request as soon as the last is answered, so 50
  requests are always in flight; this measures capacity (what 50 scripts hammering the API would see).
- analysts (think time 1 s): each client pauses an exponential time with mean 1 s between requests, as a person
  clicking through the workspace (a human is slower than that: this is 50 very busy analysts).
After a saturation run, the floor: the same load on a request that runs no statement (GET /api/me), i.e. the
most this server can answer on this machine however fast the database were.
Each endpoint's main statement is also timed on the raw store (no HTTP, no safeguards, one client), so the
table shows what the workspace adds: ratio = API p50 / raw p50. The server runs in its own process.

--server: the same load also against a server store (PostgreSQL, issue 15; see serverstore.py): the same city
loaded by `casegraph demo-server`, served by `casegraph serve --workers N` and signed in as an analyst of the
city police; each run on a fresh copy of the database, its audit chain verified after it with `casegraph audit
verify`. Target (issue 15): list and detail p95 < 100 ms, >= 500 requests/s with no think time, no errors.
A last table puts the two backends side by side.
Usage: python bench/api/run.py [--incidents N] [--requests N] [--clients 50] [--think-ms 0 1000] [--store FILE]
       [--only KIND ...] [--no-floor] [--server [--workers 2]]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # client.py beside this file
import serverstore  # noqa: E402

from bench.common import demo_store, free_port, percentile, signed_in  # noqa: E402

TARGET_MS = 100.0
FLOOR = ("floor: /api/me", "/api/me", {})  # signed in, the session, a lane; no statement, no audit entry
LIST_AND_DETAIL = ("incidents: newest", "incidents: filtered", "incidents: area, page 3", "incident detail")


def sample_inputs(path: Path) -> dict[str, list[Any]]:
    """Ids, offences, areas and names to ask for (read before the server holds the file)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    q = lambda sql: [r[0] for r in con.execute(sql).fetchall()]  # noqa: E731
    out = {
        "ids": q("SELECT incident_id FROM incidents WHERE agency = 'metro_pd' USING SAMPLE 2000 ROWS"),
        "offences": q("SELECT DISTINCT offence FROM incidents"),
        "areas": q("SELECT DISTINCT area FROM incidents WHERE area IS NOT NULL"),
        "names": q("SELECT DISTINCT family_name FROM person_records USING SAMPLE 200 ROWS"),
        "months": q("SELECT DISTINCT strftime(occurred_from, '%Y-%m') FROM incidents"),
    }
    con.close()
    return out


def request_mix(inputs: dict[str, list[Any]], rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """One request of each kind, with random values: (kind, path, params)."""
    month = rng.choice(inputs["months"])
    return [
        ("incidents: newest", "/api/incidents", {"limit": 50}),
        (
            "incidents: filtered",
            "/api/incidents",
            {
                "offence": rng.choice(inputs["offences"]),
                "from": f"{month}-01",
                "to": f"{month}-28",
                "limit": 50,
            },
        ),
        (
            "incidents: area, page 3",
            "/api/incidents",
            {"area": rng.choice(inputs["areas"]), "offset": 100, "limit": 50},
        ),
        ("incident detail", f"/api/incidents/{rng.choice(inputs['ids'])}", {}),
        ("groups", "/api/groups", {}),
        ("persons: name search", "/api/persons", {"q": rng.choice(inputs["names"]), "limit": 20}),
        ("alerts", "/api/alerts", {}),
    ]


async def wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(3000):  # 5 minutes: worker processes start slowly on a busy machine
            if proc.poll() is not None:
                raise SystemExit(f"the server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                if (await client.get(f"{base}/api/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not start in 5 minutes")


async def load(
    base: str, headers: dict[str, str], inputs: dict[str, list[Any]], args: argparse.Namespace
) -> list[tuple[str, float, int]]:
    """`clients` workers, each with its own keep-alive connection, share a bounded queue of requests; each
    records (kind, seconds, status) and, with --think-ms, pauses an exponential time between its requests."""
    from client import RawClient

    args.error_samples = {}
    rng = random.Random(7)
    kinds = set(args.only or [k for k, _, _ in request_mix(inputs, random.Random(0))])
    mix = lambda: [FLOOR] if args.floor else [r for r in request_mix(inputs, rng) if r[0] in kinds]  # noqa: E731
    rounds = args.requests if args.floor else args.requests // len(kinds) + 1
    plan = [r for _ in range(rounds) for r in mix()][: args.requests]
    rng.shuffle(plan)
    warm = plan[: args.clients * 2]
    queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
    results: list[tuple[str, float, int]] = []
    host, port = base.rsplit("//", 1)[1].rsplit(":", 1)
    clients = [RawClient(host, int(port), headers) for _ in range(args.clients)]
    for n, item in enumerate(warm):
        await clients[n % len(clients)].get(item[1], item[2])

    async def worker(client: RawClient) -> None:
        if args.think_ms:  # start as a person would, after a first pause: no burst of 50 at the same instant
            await asyncio.sleep(rng.expovariate(1000 / args.think_ms))
        while not queue.empty():
            kind, path, params = queue.get_nowait()
            started = time.perf_counter()
            try:
                status, body = await client.get(path, params)
                if status >= 400 and kind not in args.error_samples:
                    args.error_samples[kind] = f"{status} {body[:300].decode(errors='replace')}"
            except (TimeoutError, OSError, ValueError, IndexError) as exc:
                status = 0
                args.error_samples.setdefault(kind, f"{type(exc).__name__}: {exc}")
            results.append((kind, time.perf_counter() - started, status))
            if args.think_ms:
                await asyncio.sleep(rng.expovariate(1000 / args.think_ms))

    for item in plan:
        queue.put_nowait(item)
    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    args.wall = time.perf_counter() - started
    for c in clients:
        await c.close()
    return results


def raw_timings(path: Path, inputs: dict[str, list[Any]], repeat: int = 15) -> dict[str, float]:
    """Each endpoint's main statement on the raw store (no HTTP, no safeguards), median ms."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True, config={"threads": "2"})
    rng = random.Random(3)
    statements = {
        "incidents: newest": (
            "SELECT incident_id, agency, offence, occurred_from, area FROM incidents WHERE agency = 'metro_pd' "
            "ORDER BY occurred_from DESC LIMIT 50",
            lambda: [],
        ),
        "incidents: filtered": (
            "SELECT incident_id, agency, offence, occurred_from, area FROM incidents WHERE agency = 'metro_pd' "
            "AND offence = ? AND occurred_from >= ?::DATE ORDER BY occurred_from DESC LIMIT 50",
            lambda: [rng.choice(inputs["offences"]), f"{rng.choice(inputs['months'])}-01"],
        ),
        "incidents: area, page 3": (
            "SELECT incident_id FROM incidents WHERE agency = 'metro_pd' AND area = ? ORDER BY occurred_from DESC "
            "LIMIT 50 OFFSET 100",
            lambda: [rng.choice(inputs["areas"])],
        ),
        "incident detail": (
            "SELECT * FROM incidents WHERE agency = 'metro_pd' AND incident_id = ?",
            lambda: [rng.choice(inputs["ids"])],
        ),
        "persons: name search": (
            "SELECT record_id FROM person_records WHERE agency = 'metro_pd' AND family_name ILIKE '%' || ? || '%' LIMIT 20",
            lambda: [rng.choice(inputs["names"])],
        ),
    }
    out = {}
    for kind, (sql, params) in statements.items():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            con.execute(sql, params()).fetchall()
            times.append(time.perf_counter() - started)
        out[kind] = median(times) * 1000
    con.close()
    return out


def report(results: list[tuple[str, float, int]], raw: dict[str, float], args: argparse.Namespace) -> bool:
    print(
        f"\nAPI benchmark ({args.backend} store): {args.incidents:,} incidents, {args.clients} concurrent clients, {len(results)} requests "
        f"in {args.wall:.1f} s ({len(results) / args.wall:.0f} req/s), think time {args.think_ms} ms"
        + (
            " (exponential, per client)"
            if args.think_ms
            else " (saturation: a client sends its next request at once)"
        )
    )
    print(
        f"server CPU {args.server_cpu:.1f} s: {args.server_cpu / len(results) * 1000:.1f} ms per request; "
        + (
            f"PostgreSQL CPU {args.postgres_cpu / len(results) * 1000:.1f} ms per request; "
            if hasattr(args, "postgres_cpu")
            else ""
        )
        + f"load generator CPU {args.client_cpu / len(results) * 1000:.1f} ms per request; "
        f"machine: {os.cpu_count()} cores, load average {args.load:.1f} at the end"
    )
    print(
        f"{'endpoint':26} {'n':>5} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'raw ms':>7} {'p50/raw':>8}  target"
    )
    ok = any(k in LIST_AND_DETAIL for k, _, _ in results)  # a run of other kinds only has no verdict
    for kind in dict.fromkeys(k for k, _, _ in results):
        ms = [t * 1000 for k, t, _ in results if k == kind]
        errors = sum(1 for k, _, s in results if k == kind and not 200 <= s < 300)
        p50, p95 = percentile(ms, 50), percentile(ms, 95)
        target = kind in LIST_AND_DETAIL
        passed = p95 < TARGET_MS and errors == 0
        ok &= passed or not target
        base = raw.get(kind)
        print(
            f"{kind:26} {len(ms):5d} {errors:6d} {p50:8.1f} {p95:8.1f} {percentile(ms, 99):8.1f} {max(ms):8.1f} "
            f"{base if base else float('nan'):7.1f} {p50 / base if base else float('nan'):8.1f}  "
            f"{('PASS' if passed else 'FAIL') + ' (p95 < 100 ms, no errors)' if target else '-'}"
        )
    for kind, sample in getattr(args, "error_samples", {}).items():
        print(f"first error of {kind}: {sample}")
    if not any(k in LIST_AND_DETAIL for k, _, _ in results):
        print("no list or detail request in this run (--only): the verdict below is FAIL for want of one")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--think-ms",
        type=float,
        nargs="+",
        default=[0.0, 1000.0],
        help="mean pause between a client's requests; one load run per value (default: 0 and 1000)",
    )
    parser.add_argument("--store", type=Path, help="use this store instead of building the synthetic city")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor run (see floor())")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="KIND",
        help="request kinds to send (default: all seven); e.g. --only 'incident detail' groups",
    )
    parser.add_argument(
        "--server", action="store_true", help="also load a server store (PostgreSQL) of the same city"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the server's workspace")
    parser.add_argument("--server-only", action="store_true", help="with --server: no embedded run")
    parser.add_argument(
        "--server-folder",
        type=Path,
        help="with --server: a server store built before (default bench/results)",
    )
    args = parser.parse_args()
    args.floor = False
    args.backend = "embedded"
    source = args.store or demo_store(args.incidents)
    inputs = sample_inputs(source)
    demo = serverstore.server_store(args.incidents, args.server_folder) if args.server else None
    try:
        runs = []
        for think in args.think_ms:
            run = argparse.Namespace(**{**vars(args), "think_ms": think})
            if not (demo is not None and args.server_only):
                runs.append((think, serve_and_load(source, inputs, run)))
            if demo is not None:
                run = argparse.Namespace(**{**vars(args), "think_ms": think, "backend": "server"})
                runs.append((think, serve_and_load_server(demo, run)))
        raw = raw_timings(source, inputs)
        verdicts = [
            (
                think,
                run,
                report(results, raw if run.backend == "embedded" else {}, run)
                and audit.startswith("audit: ok"),
            )
            for think, (run, results, audit) in runs
        ]
        for think, (run, _, audit) in runs:
            print(f"{run.backend}, think time {think:g} ms: {audit}")
        for think, run, ok in verdicts:
            print(
                f"{run.backend}, think time {think:g} ms: list and detail p95 < {TARGET_MS:g} ms, no errors, "
                f"audit ok: {'PASS' if ok else 'FAIL'}"
            )
        if 0 in args.think_ms and not args.no_floor and not args.server_only:
            print(floor(source, inputs, args))
        if demo is not None:
            side_by_side(runs)
    finally:
        if demo is not None:
            serverstore.stop_cluster(demo)
    sys.exit(0 if all(ok for _, _, ok in verdicts) else 1)


def side_by_side(runs: list[tuple[float, tuple[Any, Any, str]]]) -> None:
    """The backends' list and detail figures in one table (same city, same clients, same request mix)."""
    print(
        f"\n{'backend':9} {'think ms':>8} {'clients':>7} {'list p50':>8} {'list p95':>8} {'det p50':>8} "
        f"{'det p95':>8} {'req/s':>6} {'errors':>6} {'load':>5}  audit"
    )
    for think, (run, results, audit) in runs:
        lists, detail = _times(results, LIST_AND_DETAIL[:3]), _times(results, LIST_AND_DETAIL[3:])
        errors = sum(1 for _, _, s in results if not 200 <= s < 300)
        print(
            f"{run.backend:9} {think:8g} {run.clients:7d} {_ms(percentile(lists, 50))} {_ms(percentile(lists, 95))} "
            f"{_ms(percentile(detail, 50))} {_ms(percentile(detail, 95))} {len(results) / run.wall:6.0f} "
            f"{errors:6d} {run.load:5.1f}  {audit.split(':', 2)[1].strip()}"
        )
    served_by = next((r for _, (r, _, _) in runs if r.backend == "server"), None)
    if served_by is not None:
        print(
            f"store: {served_by.incidents:,} incidents (the same city in both); server: {served_by.workers} "
            f"worker processes, signed in as {serverstore.ANALYST}; load = 1-minute load average at the end of the run"
        )


def _times(results: list[tuple[str, float, int]], kinds: tuple[str, ...]) -> list[float]:
    return [t * 1000 for k, t, _ in results if k in kinds]


def _ms(value: float | None) -> str:
    return f"{value:8.1f}" if value is not None else f"{'-':>8}"


def floor(source: Path, inputs: dict[str, list[Any]], args: argparse.Namespace) -> str:
    """The saturation run again with a request that runs no statement: GET /api/me signs in, takes the caller's
    session on a lane and answers from it. What it reaches is the most this server can do on this machine,
    however fast the statements were; checked by the audit: no read entry for it."""
    run = argparse.Namespace(**{**vars(args), "think_ms": 0.0, "floor": True})
    run, results, audit = serve_and_load(source, inputs, run)
    ms = [t * 1000 for _, t, status in results if 200 <= status < 300]
    if len(ms) < len(results) or not audit.startswith("audit: ok"):
        return f"floor: not measured ({len(results) - len(ms)} errors; {audit})"
    return (
        f"floor (saturation, GET /api/me: no statement): {len(ms) / run.wall:.0f} req/s, p50 "
        f"{percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, server CPU "
        f"{run.server_cpu / len(ms) * 1000:.1f} ms per request"
    )


@contextmanager
def served(source: Path) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes], Any]]:
    """A fresh copy of the store (its own audit log, cold caches) served in its own process:
    (base url, the analyst's headers, the server process, the copy's settings)."""
    from casegraph.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.duckdb"
        shutil.copy(source, store)
        for kept in ("audit-anchor", "audit-key"):  # the audit chain's head and its MAC key, beside the store
            if Path(f"{source}.{kept}").exists():
                shutil.copy(Path(f"{source}.{kept}"), f"{store}.{kept}")
        # Write the copy out now: left to the kernel, its writeback comes ~30 s into the run and stalls the audit
        # log's fsyncs (every answer waits for those) for about a second.
        os.sync()
        s = load_settings()
        s.store.path = str(store)
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("server.py")),
                "--store",
                str(store),
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            link = proc.stdout.readline().decode() if proc.stdout else ""
            asyncio.run(wait_up(f"http://127.0.0.1:{port}", proc))
            headers = signed_in(f"http://127.0.0.1:{port}", link, "benchmark")
            yield f"http://127.0.0.1:{port}", headers, proc, s
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=60)


def serve_and_load(
    source: Path, inputs: dict[str, list[Any]], run: argparse.Namespace
) -> tuple[Any, Any, str]:
    """One load run against its own server and copy of the store; (run, results, audit check)."""
    with served(source) as (base, headers, proc, s):
        cpu_before, client_before = cpu_seconds(proc.pid), time.process_time()
        results = asyncio.run(load(base, headers, inputs, run))
        run.server_cpu = cpu_seconds(proc.pid) - cpu_before
        run.client_cpu = time.process_time() - client_before
        run.load = os.getloadavg()[0]
        stop(proc)  # the audit is read from the server's copy of the store, which goes with the block
        return run, results, audit_check(s, results, statements=not run.floor)


def serve_and_load_server(demo: Any, run: argparse.Namespace) -> tuple[Any, Any, str]:
    """One load run against `casegraph serve --workers N` on a fresh copy of the server store."""
    inputs = serverstore.sample_inputs(demo)
    with serverstore.served_server(demo, run.workers, "benchmark") as (base, headers, proc, database):
        tree = lambda: sum(cpu_seconds(p) for p in serverstore.process_tree(proc.pid))  # noqa: E731
        cpu_before, pg_before, client_before = (
            tree(),
            serverstore.postgres_cpu_seconds(demo),
            time.process_time(),
        )
        results = asyncio.run(load(base, headers, inputs, run))
        run.server_cpu = tree() - cpu_before
        run.postgres_cpu = serverstore.postgres_cpu_seconds(demo) - pg_before
        run.client_cpu = time.process_time() - client_before
        run.load = os.getloadavg()[0]
        stop(proc)
        answered = sum(1 for _, _, status in results if 200 <= status < 300)
        return run, results, serverstore.audit_check(demo, database, answered)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def audit_check(s: Any, results: list[tuple[str, float, int]], *, statements: bool = True) -> str:
    """After the run (server stopped): the hash chain and its anchor verify, and the answered requests left
    read entries, or none at all for a run whose requests run no statement (the floor)."""
    from casegraph.safeguards import verify_log
    from casegraph.store import open_store

    if not Path(s.store.path).exists():
        return f"audit: MISSING: no store at {s.store.path} to check"
    store = open_store(s)
    try:
        check = verify_log(store, s)
        reads = store.scalar("SELECT count(*) FROM audit_log WHERE action = 'read' AND purpose = 'benchmark'")
    finally:
        store.close()
    answered = sum(1 for _, _, status in results if 200 <= status < 300)
    if statements:
        as_expected, otherwise = bool(reads) or not answered, "MISSING: no read entries"
    else:
        as_expected, otherwise = not reads, "UNEXPECTED: read entries"
    state = f"BROKEN ({check.problems[:2]})" if check.problems else "ok" if as_expected else otherwise
    return (
        f"audit: {state}: chain of {check.entries} entries verified with its anchor; {reads} read entries "
        f"(purpose 'benchmark') for {answered} answered requests (+ warm-up)"
    )


if __name__ == "__main__":
    main()
