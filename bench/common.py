"""What the workspace benchmarks share: the store they measure (the demo city with every stage run, built once
and cached in bench/results/demo-N), a free loopback port, and one percentile definition."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SEED = 7
ANALYST = ("analyst", "metro_pd", "analyst")  # (user, agency, role) the benchmarks sign in as


def casegraph_cli() -> str:
    return str(Path(sys.executable).with_name("casegraph"))


def store_settings(store: Path) -> Any:
    from casegraph.settings import load_settings

    s = load_settings()
    s.store.path = str(store)
    return s


def demo_store(n: int) -> Path:
    """`casegraph demo` on a city of n incidents (ingest and every stage, as an analyst's store holds), plus the
    analyst to sign in as; built once (1,000,000 incidents take tens of minutes) and kept in bench/results."""
    folder = RESULTS / f"demo-{n}"
    store, done = folder / "casegraph.duckdb", folder / "built.ok"
    if store.exists() and done.exists():
        return store
    folder.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"CASEGRAPH_USER": "admin", "CASEGRAPH_ROLE": "admin", "CASEGRAPH_AGENCY": "metro_pd"}
    log = RESULTS / f"demo-{n}.log"
    print(f"building the store once: casegraph demo -n {n} (log: {log}) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    cmd = [casegraph_cli(), "--store", str(store), "demo", "-n", str(n), "--seed", str(SEED), "--out", folder]
    with log.open("w") as fh:
        if subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"casegraph demo failed: see {log}")
    add_analyst(store)
    done.write_text(f"casegraph demo -n {n} --seed {SEED}: {time.perf_counter() - started:.0f} s\n")
    print(f"built {store} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return store


def add_analyst(store: Path) -> None:
    """The demo runs as its admin; the benchmarks read as a metro analyst (what the safeguards let them see)."""
    from casegraph.safeguards import add_user, guard
    from casegraph.store import open_store

    s = store_settings(store)
    opened = open_store(s)
    try:
        if not opened.scalar("SELECT count(*) FROM users WHERE user_id = ?", [ANALYST[0]]):
            admin = guard(opened, "admin", settings=s, purpose="benchmark setup")
            add_user(admin, *ANALYST)
            admin.close()
    finally:
        opened.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
