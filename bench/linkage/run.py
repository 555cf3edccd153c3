"""Benchmark of casegraph's crime linkage against crimeserieslinkage 1.1.0 (PyPI); one command, prints tables.

    .venv/bin/python bench/linkage/run.py [--work DIR] [--incidents 1000000] [--skip-million] [--skip-peer]
                                          [--rerun-peer]

1. Real and simulated solved crimes (../shared/data/crime_series, converted by casegraph.linkage.datasets into
   evaluation folders) on the shared split assignments: casegraph runs `casegraph eval linkage` on its DEFAULT
   settings (blocking as `link` blocks; a pair it drops counts as score 0) and, as a diagnostic, with
   --all-pairs; the peer runs peer.py in its own virtual environment (bench/.venv-linkage) and scores every
   pair of held-out crimes. The metrics of both come from casegraph.linkage.metrics on the same pairs. The
   peer takes 45-90 minutes a data set on this machine, so its pair scores are cached in
   bench/results/linkage-peer/<data set> (with the command, its date, wall time and peak memory, and a
   fingerprint of the data, peer.py and its pins); the bench reads them while the fingerprint matches, says
   so in the table, and runs the peer only with --rerun-peer (a data set with no matching cache says so).
   Wall time and peak resident memory are each tool's whole process (wait4).
2. The synthetic city (5,000 incidents, seed 7): `casegraph eval linkage` with default settings.
3. A million synthetic incidents: scale.py's table (the whole linkage stage on a copy of the cached demo store:
   wall and CPU seconds, peak memory, load average; then `similar` latency on random seeds), beside the
   targets. The peer is not run there: at its measured cost per pair it could not finish.
Targets (issue 16) are printed beside the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PEER_VENV = ROOT / "bench" / ".venv-linkage"
PEER_PINS = [
    "crimeserieslinkage==1.1.0",
    "numpy<2",
    "pandas<2.3",
    "scipy<1.14",
    "scikit-learn<1.6",
    "matplotlib<3.10",
]
SHARED = ROOT.parent / "shared" / "data" / "crime_series"
PEER_CACHE = ROOT / "bench" / "results" / "linkage-peer"
sys.path.insert(0, str(ROOT))

from bench.common import measured  # noqa: E402
from bench.linkage import scale  # noqa: E402
from casegraph.evaluation.linkage import LINKAGE_METRICS  # noqa: E402
from casegraph.linkage.datasets import convert_crime_series  # noqa: E402
from casegraph.linkage.metrics import pairwise_scores, top_k_recall  # noqa: E402

TARGETS = {
    "israel": {"auc": 0.96, "top10_any": 0.72, "blocking_recall": 0.98},
    "porter": {"auc": 0.91, "blocking_recall": 0.98},
    "city5000": {"auc": 0.95, "top10_any": 0.9, "blocking_recall": 0.98},
}


def casegraph_eval(folder: Path, all_pairs: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "casegraph", "eval", "linkage", "--data", str(folder), "--json"]
    child = measured([*command, "--all-pairs"] if all_pairs else command)
    return {**json.loads(child.stdout), "wall_s": child.wall_s, "peak_gb": child.peak_gb}


def peer_environment() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PINS], check=True)
    return python


def peer_fingerprint(folder: Path) -> str:
    """What the peer's scores depend on: the evaluation folder's files, peer.py and the peer's pins."""
    digest = hashlib.sha256("\n".join(PEER_PINS).encode())
    for path in (
        HERE / "peer.py",
        *(folder / n for n in ("incidents.csv", "incident_truth.csv", "splits.csv")),
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def peer_run(folder: Path, out: Path) -> dict[str, Any]:
    """Run the peer on a folder; its scores and a record of the run go to `out`, the cache."""
    out.mkdir(parents=True, exist_ok=True)
    # Not nice'd: both tools' wall times are compared, and a nice'd peer starved on the shared machine.
    command = [str(peer_environment()), str(HERE / "peer.py"), str(folder), str(out)]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONWARNINGS": "ignore"}
    child = measured(command, env=env)
    wall, peak = child.wall_s, child.peak_gb
    record = {
        "wall_s": wall,
        "peak_gb": peak,
        "finished": datetime.now(UTC).isoformat(timespec="minutes"),
        "command": " ".join(command),
        "fingerprint": peer_fingerprint(folder),
    }
    (out / "measurement.json").write_text(json.dumps(record, indent=1))
    return record


def peer_eval(folder: Path, out: Path, rerun: bool) -> dict[str, Any] | None:
    """The peer's figures: from its cached scores while they match the data, from a new run with
    --rerun-peer, else None (a run takes most of an hour: never started unasked)."""
    path = out / "measurement.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    cached = not rerun and record.get("fingerprint") == peer_fingerprint(folder)
    if not cached and not rerun:
        return None
    if not cached:
        record = peer_run(folder, out)
    per_model: dict[str, list[dict[str, float]]] = {"naive_bayes": [], "gradient_boosting": []}
    for seed_file in sorted(out.glob("seed*.csv")):
        scores = pd.read_csv(seed_file, dtype={"i1": str, "i2": str})
        for model, rows in per_model.items():
            rows.append(score_pairs(folder, seed_file.stem, scores, model))
    return {
        **record,
        "cached": cached,
        "timings": json.loads((out / "timings.json").read_text()),
        **{m: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} for m, rows in per_model.items()},
    }


def score_pairs(folder: Path, seed: str, scores: pd.DataFrame, model: str) -> dict[str, float]:
    """The peer's scores through casegraph's metric code, on the same held-out crimes and truth."""
    splits = pd.read_csv(folder / "splits.csv", dtype=str)
    test = splits.loc[splits[seed] == "test", "incident_id"].to_numpy()
    position = pd.Series(np.arange(len(test)), index=test)
    truth = pd.read_csv(folder / "incident_truth.csv", dtype=str)
    truth = truth[truth["incident_id"].isin(test)]
    codes = pd.factorize(truth["offender_id"])[0]
    matrix = coo_matrix(
        (np.ones(len(truth)), (position[truth["incident_id"]].to_numpy(), codes)),
        shape=(len(test), codes.max() + 1),
    ).tocsr()
    i, j = position[scores["i1"]].to_numpy(), position[scores["i2"]].to_numpy()
    p = scores[model].to_numpy(dtype=float)
    p = (p - p.min()) / (p.max() - p.min()) + 1e-9  # log Bayes factors to a positive score, ranks unchanged
    return {**pairwise_scores(i, j, p, matrix), **top_k_recall(i, j, p, matrix, first_times(folder, test))}


def first_times(folder: Path, ids: np.ndarray) -> np.ndarray:
    raw = pd.read_csv(folder / "incidents.csv", dtype=str)
    column = "DT.FROM" if "DT.FROM" in raw else "occurred_from"
    key = "crimeID" if "crimeID" in raw else "incident_id"
    return pd.to_datetime(raw.set_index(key).loc[ids, column]).astype("int64").to_numpy() / 3.6e12


def ours_row(name: str, label: str, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "dataset": name,
        "system": label,
        **{k: result[k] for k in LINKAGE_METRICS},
        "cand_per_incident": result["blocking"].get("candidates_per_incident"),
        "wall_s": result["wall_s"],
        "peak_gb": result["peak_gb"],
        "target": ", ".join(f"{k} >= {v}" for k, v in TARGETS.get(name, {}).items()),
        "met": met(result, TARGETS.get(name, {})),
    }


def met(result: dict[str, Any], targets: dict[str, float]) -> str:
    """'yes', or the targets missed (each with its measured value)."""
    missed = [f"{k} {result[k]:.3f}" for k, v in targets.items() if not result[k] >= v]
    return "yes" if not missed else "no: " + ", ".join(missed)


def real_data(work: Path, skip_peer: bool, rerun_peer: bool) -> list[dict[str, Any]]:
    rows = []
    for folder in convert_crime_series(SHARED, work / "crime_series"):
        ours = casegraph_eval(folder, all_pairs=False)
        rows.append(ours_row(folder.name, "casegraph, default settings", ours))
        diagnostic = casegraph_eval(folder, all_pairs=True)
        rows.append(
            {
                **ours_row(folder.name, "casegraph --all-pairs (diagnostic)", diagnostic),
                "target": "",
                "met": "",
            }
        )
        if skip_peer:
            continue
        peer = peer_eval(folder, PEER_CACHE / folder.name, rerun_peer)
        if peer is None:
            print(f"{folder.name}: no cached peer scores match this data; --rerun-peer runs the peer")
            continue
        if peer["cached"]:
            print(
                f"{folder.name}: peer figures from its cached scores of {peer['finished']} UTC: {peer['command']}"
            )
        for model in ("naive_bayes", "gradient_boosting"):
            rows.append(
                {
                    "dataset": folder.name,
                    "system": f"crimeserieslinkage ({model})"
                    + (f" [cached {peer['finished'][:10]}]" if peer["cached"] else ""),
                    **{k: peer[model].get(k) for k in LINKAGE_METRICS},
                    "cand_per_incident": None,
                    "wall_s": peer["wall_s"],
                    "peak_gb": peer["peak_gb"],
                    "target": "",
                    "met": "",
                }
            )
    return rows


def synthetic_city(work: Path) -> dict[str, Any]:
    from casegraph.demo import make_city

    folder = work / "city5000"
    if not (folder / "incidents.csv").exists():
        make_city(folder, n_incidents=5000, seed=7)
    return casegraph_eval(folder, all_pairs=False)


def show(rows: list[dict[str, Any]]) -> None:
    table = pd.DataFrame(rows)
    with pd.option_context(
        "display.width", 160, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        print(table.to_string(index=False))


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for dataset in sorted({r["dataset"] for r in rows}):
        ours = next(
            r for r in rows if r["dataset"] == dataset and r["system"] == "casegraph, default settings"
        )
        peers = [r for r in rows if r["dataset"] == dataset and not r["system"].startswith("casegraph")]
        for peer in peers:
            out.append(
                {
                    "dataset": dataset,
                    "versus": peer["system"],
                    "auc_difference": ours["auc"] - peer["auc"],
                    "top10_difference": ours["top10_any"] - peer["top10_any"],
                    "time_ratio_peer_over_casegraph": peer["wall_s"] / ours["wall_s"],
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "casegraph-bench-linkage")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument(
        "--rerun-peer", action="store_true", help="run the peer again instead of reading its cached scores"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    print(
        "== real and simulated solved crimes: held-out crimes of the shared splits (dropped pairs score 0) =="
    )
    results["real"] = real_data(args.work, args.skip_peer, args.rerun_peer)
    show(results["real"])
    if not args.skip_peer:
        results["ratios"] = ratios(results["real"])
        show(results["ratios"])
    print("\n== synthetic city, 5,000 incidents (seed 7), default settings ==")
    city = synthetic_city(args.work)
    results["city"] = {k: city[k] for k in (*LINKAGE_METRICS, "n_series", "wall_s", "peak_gb")}
    city_met = met(results["city"], TARGETS["city5000"])
    show(
        [
            {
                **results["city"],
                "target": "auc > 0.95, top10_any > 0.9, blocking_recall >= 0.98",
                "met": city_met,
            }
        ]
    )
    if not args.skip_million:
        print(f"\n== {args.incidents:,} synthetic incidents: whole `link`, then `similar` (scale.py) ==")
        results["million"] = scale.measure(args.incidents, args.work, 200)
        show(scale.table(results["million"]))
        show(scale.phases(results["million"]))
    out = ROOT / "bench" / "results" / "linkage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=float))
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
