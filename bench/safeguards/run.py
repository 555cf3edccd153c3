"""Overhead of the guarded store (statement scan, agency view, audit entry) on a 1,000,000-row read path.

One command: `.venv/bin/python bench/safeguards/run.py [--rows N] [--repeat R]` (or `bench/run safeguards`).
The peer is the plain store running the query the guard effectively runs (the user's agency, protected fields
left out), so the ratio is the cost of the safeguards themselves; the plain unfiltered read is shown too.
Target: guarded / plain-equivalent < 1.10.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from casegraph.safeguards import session
from casegraph.settings import load_settings
from casegraph.store import open_store

PATHS = {
    "arrow: all visible rows": (
        "SELECT * FROM person_records",
        "SELECT * EXCLUDE (race) FROM person_records WHERE agency IN ('metro_pd')",
    ),
    "arrow: 3 columns": (
        "SELECT record_id, family_name, dob FROM person_records",
        "SELECT record_id, family_name, dob FROM person_records WHERE agency IN ('metro_pd')",
    ),
    "aggregate by sex": (
        "SELECT sex, count(*) FROM person_records GROUP BY 1",
        "SELECT sex, count(*) FROM person_records WHERE agency IN ('metro_pd') GROUP BY 1",
    ),
}


def build(path: Path, rows: int) -> None:
    s = load_settings()
    s.store.path = str(path)
    st = open_store(s)
    st.execute(
        "INSERT INTO person_records (record_id, agency, source_id, source_row, row_hash, ingested_at, given_name, "
        "family_name, dob, sex, address, postcode, race) SELECT 'R' || i, CASE WHEN i % 10 = 0 THEN 'county_so' "
        "ELSE 'metro_pd' END, 'bench', i, md5(i::VARCHAR), now(), 'Given' || (i % 997), 'Family' || (i % 7919), "
        "DATE '1950-01-01' + (i % 20000)::INTEGER, CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END, "
        "(i % 9999) || ' Main Street', '606' || (i % 100), 'r' || (i % 5) FROM range(?) t(i)",
        [rows],
    )
    st.close()


def paired(plain, settings, sql: str, same: str, repeat: int) -> tuple[float, float, float]:
    """Median seconds of (plain all, plain same, guarded), measured in turn each round so load drift on a
    shared machine hits all three alike. Opening the session (login entry, views) is not timed."""
    samples: dict[str, list[float]] = {"all": [], "same": [], "guarded": []}
    for i in range(repeat + 1):
        g = session(plain, settings, purpose="benchmark")
        t0 = time.perf_counter()
        g.arrow(sql)
        t1 = time.perf_counter()
        g.close()  # the plain runs must not see the session's views
        plain.arrow(sql)
        t2 = time.perf_counter()
        plain.arrow(same)
        t3 = time.perf_counter()
        if i:  # round 0 warms the caches
            samples["guarded"].append(t1 - t0)
            samples["all"].append(t2 - t1)
            samples["same"].append(t3 - t2)
    return tuple(statistics.median(samples[k]) for k in ("all", "same", "guarded"))  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        build(path, args.rows)
        s = load_settings()
        s.store.path = str(path)
        plain = open_store(s)
        print(f"{args.rows:,} person records (90 % visible to the user); median of {args.repeat} rounds\n")
        print(f"{'read path':<26}{'plain all':>11}{'plain same':>12}{'guarded':>10}{'guarded/same':>14}")
        for name, (sql, same) in PATHS.items():
            t_all, t_same, t_guard = paired(plain, s, sql, same, args.repeat)
            print(f"{name:<26}{t_all:>10.3f}s{t_same:>11.3f}s{t_guard:>9.3f}s{t_guard / t_same:>13.3f}x")
        entries = plain.scalar("SELECT count(*) FROM audit_log WHERE action = 'read'")
        plain.close()
        print(f"\naudit read entries written: {entries} (one per guarded statement, not per row)")


if __name__ == "__main__":
    main()
