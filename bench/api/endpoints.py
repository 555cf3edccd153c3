"""Every GET endpoint of the workspace, one analyst, one request at a time, over the same store as run.py (the
demo city with every stage run, 1,000,000 incidents by default): the first answer (cold: caches empty) and the
median of the next ones, so a view that is slow for one analyst shows up even when no load is on.
Usage: python bench/api/endpoints.py [--incidents N] [--repeat 5] [--store FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import served  # noqa: E402

from bench.common import demo_store  # noqa: E402

SLOW_MS = 100.0  # a warm answer slower than this is flagged


def sample(path: Path) -> dict[str, Any]:
    """An id of each kind the endpoints take, read before the server holds the file (None when absent)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)

    def first(sql: str) -> Any:
        row = con.execute(sql).fetchone()
        return row[0] if row else None

    out = {
        "incident": first(
            "SELECT incident_id FROM incidents WHERE agency = 'metro_pd' ORDER BY incident_id "
            "LIMIT 1 OFFSET 1000"
        ),
        "linked": first(
            "SELECT incident_a FROM incident_links WHERE agency_a = 'metro_pd' ORDER BY probability "
            "DESC LIMIT 1"
        ),
        "link": first(
            "SELECT link_id FROM incident_links WHERE agency_a = 'metro_pd' AND agency_b = 'metro_pd' "
            "ORDER BY probability DESC LIMIT 1"
        ),
        "series": first(
            "SELECT series_id FROM series WHERE agency = 'metro_pd' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ),
        "person": first(
            "SELECT person_id FROM person_identities WHERE agency = 'metro_pd' GROUP BY 1 "
            "ORDER BY count(*) DESC, 1 LIMIT 1"
        ),
        "group": first("SELECT group_id FROM groups ORDER BY 1 LIMIT 1"),
        "tie": con.execute("SELECT group_a, group_b FROM group_ties ORDER BY p_value LIMIT 1").fetchone(),
        "alert": first("SELECT alert_id FROM alerts ORDER BY onset DESC LIMIT 1"),
        "name": first(
            "SELECT family_name FROM person_records WHERE family_name IS NOT NULL LIMIT 1 OFFSET 500"
        ),
        "area": first("SELECT area FROM incidents WHERE area IS NOT NULL LIMIT 1"),
    }
    con.close()
    return out


def requests(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, path, params) for every GET endpoint the workspace's views call; those whose id is missing in
    this store are left out."""
    group, tie = ids["group"], ids["tie"]
    out: list[tuple[str, str, dict[str, Any]] | None] = [
        ("status", "/api/status", {}),
        ("incidents: newest", "/api/incidents", {"limit": 50}),
        ("incidents: area", "/api/incidents", {"area": ids["area"], "limit": 50}),
        ("incidents: text", "/api/incidents", {"q": "window", "limit": 50}),
        ("incidents: group", "/api/incidents", {"group": group, "limit": 50}) if group else None,
        ("incident", f"/api/incidents/{ids['incident']}", {}),
        ("incident: similar", f"/api/incidents/{ids['linked']}/similar", {}) if ids["linked"] else None,
        ("link", f"/api/links/{ids['link']}", {}) if ids["link"] else None,
        ("series", "/api/series", {}),
        ("series: one", f"/api/series/{ids['series']}", {}) if ids["series"] else None,
        ("persons: name", "/api/persons", {"q": ids["name"]}),
        ("person", f"/api/persons/{ids['person']}", {}) if ids["person"] else None,
        ("groups", "/api/groups", {}),
        ("group", f"/api/groups/{group}", {}) if group else None,
        ("group: incidents", f"/api/groups/{group}/incidents", {}) if group else None,
        ("group: activity", f"/api/groups/{group}/activity", {}) if group else None,
        ("group: areas", f"/api/groups/{group}/areas", {}) if group else None,
        ("ties", "/api/ties", {}),
        ("tie", f"/api/ties/{tie[0]}/{tie[1]}", {}) if tie else None,
        ("alerts", "/api/alerts", {}),
        ("alert", f"/api/alerts/{ids['alert']}", {}) if ids["alert"] else None,
        ("map: points", "/api/map/points", {"limit": 20000}),
        ("map: areas", "/api/map/areas", {}),
        ("hotspots", "/api/hotspots", {}),
        ("graph: one group", "/api/graph", {"group": group}) if group else None,
        ("graph: expand", "/api/graph/expand", {"node": f"group:{group}"}) if group else None,
        ("audit", "/api/audit", {}),  # an analyst may not read the audit log: 403 expected
    ]
    return [r for r in out if r is not None]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="warm requests per endpoint after the first")
    parser.add_argument("--store", type=Path, help="use this store instead of the demo city")
    args = parser.parse_args()
    source = args.store or demo_store(args.incidents)
    import httpx

    plan = requests(sample(source))
    print(f"\nEvery GET endpoint, one analyst, one request at a time: {source}")
    print(f"{'endpoint':20} {'status':>6} {'KB':>7} {'first ms':>9} {'warm p50 ms':>12}")
    slow = []
    with (
        served(source) as (base, headers, _, _),
        httpx.Client(base_url=base, headers=headers, timeout=300) as c,
    ):
        for label, path, params in plan:
            times, status, size = [], 0, 0
            for _ in range(args.repeat + 1):
                started = time.perf_counter()
                r = c.get(path, params=params)
                times.append((time.perf_counter() - started) * 1000)
                status, size = r.status_code, len(r.content)
            warm = median(times[1:]) if len(times) > 1 else times[0]
            flag = "  SLOW" if warm > SLOW_MS else "" if status == 200 or label == "audit" else "  FAILED"
            if flag:
                slow.append(label)
            print(f"{label:20} {status:6d} {size / 1024:7.1f} {times[0]:9.1f} {warm:12.1f}{flag}")
    print(f"warm answers over {SLOW_MS:g} ms, or failed: {', '.join(slow) if slow else 'none'}")


if __name__ == "__main__":
    main()
