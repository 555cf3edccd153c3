"""What the workspace benchmarks share: the store they measure (the demo city with every stage run, built once
and cached in bench/results/demo-N), a free loopback port, and one percentile definition."""

from __future__ import annotations

import math
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SEED = 7
SIGN_IN_LINK = re.compile(r"/login\?token=([A-Za-z0-9_\-]+)")
# Debian's chromium, as the browser tests and the link-chart benchmark launch it (WebGL through ANGLE on
# SwiftShader: headless, no GPU); Playwright drives it, never `playwright install`.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def casegraph_cli() -> str:
    return str(Path(sys.executable).with_name("casegraph"))


def store_settings(store: Path) -> Any:
    from casegraph.settings import load_settings

    s = load_settings()
    s.store.path = str(store)
    return s


def demo_store(n: int) -> Path:
    """`casegraph demo` on a city of n incidents (ingest and every stage, as an analyst's store holds); built
    once (1,000,000 incidents take tens of minutes) and kept in bench/results."""
    folder = RESULTS / f"demo-{n}"
    store, done = folder / "casegraph.duckdb", folder / "built.ok"
    if store.exists() and done.exists():
        return store
    folder.mkdir(parents=True, exist_ok=True)
    log = RESULTS / f"demo-{n}.log"
    print(f"building the store once: casegraph demo -n {n} (log: {log}) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    cmd = [casegraph_cli(), "--store", str(store), "demo", "-n", str(n), "--seed", str(SEED), "--out", folder]
    with log.open("w") as fh:
        if subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"casegraph demo failed: see {log}")
    done.write_text(f"casegraph demo -n {n} --seed {SEED}: {time.perf_counter() - started:.0f} s\n")
    print(f"built {store} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return store


def signed_in(base: str, link_text: str, purpose: str) -> dict[str, str]:
    """Use the one-time sign-in link a served workspace printed (found in `link_text`); the headers of the
    signed-in session, for every client of the benchmark to share."""
    import httpx

    found = SIGN_IN_LINK.search(link_text)
    if found is None:
        raise SystemExit(f"no sign-in link in the server's output: {link_text[-500:]}")
    form = {"token": found.group(1), "purpose": purpose}
    answer = httpx.post(f"{base}/login", data=form, follow_redirects=False, timeout=60)
    if "cg_session" not in answer.cookies:
        raise SystemExit(f"sign-in refused ({answer.status_code}): {answer.text[:300]}")
    return {"Cookie": f"cg_session={answer.cookies['cg_session']}", "X-Casegraph-Purpose": purpose}


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
