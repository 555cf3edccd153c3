"""Ingest benchmark: 1,000,000 synthetic incidents and the Toronto MCI file (240k rows) into a fresh store.

Each import runs as `casegraph ingest` in its own process so peak memory (max RSS) is the import's alone.
Targets (issue 3): 1M synthetic incidents < 60 s; Toronto 240k < 15 s. Usage: python bench/ingest/run.py [--rows N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TORONTO = ROOT.parent / "shared/data/incidents/toronto_mci_2014_2021/toronto_mci_2014_2021.csv"


def timed_ingest(store: Path, args: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one `casegraph ingest` process (wait4 gives its own rusage)."""
    cmd = [sys.executable, "-m", "casegraph", "--store", str(store), "ingest", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3) and proc.stderr:
        print(proc.stderr.read().decode(), file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, code


def count_rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic incidents")
    parser.add_argument("--city", type=Path, help="reuse (or keep) the generated city in this folder")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from casegraph.demo import make_city

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        city = args.city or Path(tmp) / "city"
        if not (city / "incidents.csv").exists():
            started = time.perf_counter()
            make_city(city, n_incidents=args.rows, seed=1)
            print(
                f"generated {args.rows:,} incidents in {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
        path = city / "incidents.csv"
        n = count_rows(path)
        secs, mb, code = timed_ingest(Path(tmp) / "a.duckdb", ["incidents", str(path)])
        rows.append(("synthetic incidents", n, secs, mb, code, 60))
        if TORONTO.exists():
            n = count_rows(TORONTO)
            secs, mb, code = timed_ingest(
                Path(tmp) / "b.duckdb", ["incidents", str(TORONTO), "-m", "toronto_mci"]
            )
            rows.append(("Toronto MCI (real)", n, secs, mb, code, 15))
    print(
        f"{'file':<22}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}{'exit':>6}{'target s':>10}  met"
    )
    for name, n, secs, mb, code, target in rows:
        met = "yes" if secs < target and code == 0 else "NO"
        print(f"{name:<22}{n:>11,}{secs:>9.1f}{n / secs:>10,.0f}{mb:>9.0f}{code:>6}{target:>10}  {met}")


if __name__ == "__main__":
    main()
