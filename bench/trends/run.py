"""Benchmark of the trends statistics against the reference Python implementations, in one run:

    .venv/bin/python bench/trends/run.py [--skip-slow] [--only TASK ...]

References (installed from PyPI into bench/.venv-trends, created here on first use): PySAL pointpats (Knox, local
Knox, modified Knox, Jacquez, Mantel), esda (Gi*) with libpysal, pymannkendall; and Toby Davies' Knox code
(tobydavies/NearRepeat, MIT; optional, see DAVIES below: not kept in this repository). The space-time tests draw
their permutations from numpy RandomState(1) on both sides (pointpats under np.random.seed(1)), so their
p-values must be equal, not only their statistics. pointpats builds n x n matrices (modified Knox, Mantel) or
loops over n x n (local Knox's analytic p-values): those run on a quarter of the Chicago year.
Every measurement runs in its own process (peak memory = that process). Prints a table with the agreement of
the results and the speed and memory ratios (reference / casegraph); writes bench/results/trends.json.
"seconds" is the computation's wall time (data loading excluded); "compute cpu s" its CPU time (all threads:
the work done, which a busy shared machine distorts least; "cpu ratio" compares it); "cpu s" is the process's
CPU time with loading included (the load average is printed).
`--skip-slow` leaves out Davies' near-repeat table on Toronto (measured at 26 min and 9.2 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path
from tempfile import TemporaryDirectory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BENCH_VENV = ROOT / "bench" / ".venv-trends"
# Davies' NearRepeat code (MIT) is not kept in this repository: to compare with it, put its Knox code in
# bench/trends/davies_knox.py locally (git-ignored); without it the comparison is with pointpats and esda only.
DAVIES = HERE / "davies_knox.py"
REFERENCES = [
    "pointpats==2.5.5",
    "esda==2.9.0",
    "libpysal==4.14.1",
    "pymannkendall==1.4.3",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
]
TASKS = {
    "knox_chicago_2014": ["casegraph", "davies", "pointpats"],
    "knox_chicago_all": ["casegraph", "davies", "pointpats"],
    "near_repeat_toronto": ["casegraph", "davies"],
    "ehsa_toronto": ["casegraph", "pysal"],
    "local_knox_chicago_q1": ["casegraph", "pointpats"],
    "modified_knox_chicago_q1": ["casegraph", "pointpats"],
    "jacquez_chicago_2014": ["casegraph", "pointpats"],
    "mantel_chicago_q1": ["casegraph", "pointpats"],
}
WHAT = {
    "knox_chicago_2014": "Knox 200 m x 7 d, 99 perms, Chicago burglary 2014 (12,334)",
    "knox_chicago_all": "Knox 200 m x 7 d, 99 perms, Chicago burglary 2014-17 (45,319)",
    "near_repeat_toronto": "near-repeat 5 x 3 bands, 99 perms, Toronto B&E+robbery+auto theft (106,738)",
    "ehsa_toronto": "emerging hot spots 250 m x month (Gi* + Mann-Kendall), Toronto MCI (239,935)",
    "local_knox_chicago_q1": "local Knox 200 m x 7 d, 99 perms, Chicago burglary Jan-Mar 2014 (2,633)",
    "modified_knox_chicago_q1": "modified Knox 200 m x 7 d, 99 perms, Chicago burglary Jan-Mar 2014 (2,633)",
    "jacquez_chicago_2014": "Jacquez k-NN, k = 3, 99 perms, Chicago burglary 2014 (12,334)",
    "mantel_chicago_q1": "Mantel (d+1)^-1 x (dt+1)^-1, 99 perms, Chicago burglary Jan-Mar 2014 (2,633)",
}
SPACETIME = {"local_knox_chicago_q1", "modified_knox_chicago_q1", "jacquez_chicago_2014", "mantel_chicago_q1"}


def reference_python() -> Path:
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {BENCH_VENV} with {', '.join(REFERENCES)} ...", flush=True)
        venv.create(BENCH_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REFERENCES], check=True)
    return python


def measure(task: str, impl: str, out: Path) -> dict:
    python = Path(sys.executable) if impl == "casegraph" else reference_python()
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), str(HERE / "measure.py"), task, impl, str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        return {"task": task, "impl": impl, "error": done.stderr.strip().splitlines()[-1:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    return result


def cli_hotspots() -> dict:
    """The command an analyst types, end to end (start-up, CSV read, analysis)."""
    csv = (
        ROOT.parent / "shared" / "data" / "incidents" / "toronto_mci_2014_2021" / "toronto_mci_2014_2021.csv"
    )
    cli = Path(sys.executable).parent / "casegraph"
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(cli),
            "--json",
            "trends",
            "hotspots",
            str(csv),
            "--x",
            "x_utm17n",
            "--y",
            "y_utm17n",
            "--date",
            "date",
            "--cell",
            "250",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"task": "ehsa_toronto", "impl": "casegraph CLI", "error": done.stderr[-300:]}
    out = json.loads(done.stdout)
    return {"task": "ehsa_toronto", "impl": "casegraph CLI", "seconds": out["seconds"], "wall_seconds": wall}


def agreement(task: str, ours: dict, ref: dict, out: Path | None = None) -> str:
    if "error" in ref or "error" in ours:
        return "error"
    if task in SPACETIME:
        return spacetime_agreement(task, ours, ref, out)
    if task == "ehsa_toronto":
        worst = max(ref["max_abs_diff"].values())
        return f"max |diff| {worst:.1e}" + (" ok" if worst <= 1e-9 else " DIFFERS")
    ours_obs, ref_obs = ours["observed"], ref["observed"]
    if len(ref_obs) == 1 and len(ref_obs[0]) == 1 and (len(ours_obs), len(ours_obs[0])) != (1, 1):
        return "n/a"
    return "identical counts" if ours_obs == ref_obs else f"DIFFERS {ours_obs} vs {ref_obs}"


def spacetime_agreement(task: str, ours: dict, ref: dict, out: Path | None) -> str:
    """Same statistic (relative difference) and same permutation p-value; for local Knox, every event's count
    and permutation p-value equal and the largest difference of the hypergeometric p-values."""
    rel = abs(ours["stat"] - ref["stat"]) / max(abs(ref["stat"]), 1e-300)
    same = rel <= 1e-9 and ours["p_sim"] == ref["p_sim"]
    text = f"stat {ours['stat']:.6g} (rel diff {rel:.0e}), p {ref['p_sim']:.2f}"
    mine, theirs = (out / f"{task}-casegraph.npz", out / f"{task}-pointpats.npz") if out else (None, None)
    if mine and mine.exists() and theirs.exists():
        import numpy as np

        a, b = np.load(mine), np.load(theirs)
        events = np.array_equal(a["nst"], b["nst"]) and np.array_equal(a["p_sim"], b["p_sim"])
        worst = float(np.abs(a["p_hypergeom"] - b["p_hypergeom"]).max())
        same = same and events and worst <= 1e-12
        text += f"; {len(a['nst'])} events: counts, p_sim {'equal' if events else 'DIFFER'}, p_hg |diff| {worst:.0e}"
    return text + (" ok" if same else " DIFFERS")


def rows_for(task: str, results: list[dict], out: Path | None = None) -> list[list[str]]:
    ours = next(r for r in results if r["impl"] == "casegraph")
    rows = []
    for r in results:
        if "error" in r:
            rows.append([task, r["impl"], "error", "", "", "", "", "", "", " ".join(r["error"])])
            continue
        speed = "" if r["impl"].startswith("casegraph") else f"{r['seconds'] / ours['seconds']:.1f}x"
        cpu = f"{r['cpu_seconds']:.1f}" if "cpu_seconds" in r else ""
        work = f"{r['compute_cpu']:.2f}" if "compute_cpu" in r else ""
        work_ratio = (
            f"{r['compute_cpu'] / ours['compute_cpu']:.1f}x"
            if not r["impl"].startswith("casegraph") and "compute_cpu" in r and ours.get("compute_cpu")
            else ""
        )
        memory = (
            ""
            if r["impl"].startswith("casegraph") or "peak_mb" not in r
            else f"{r['peak_mb'] / ours['peak_mb']:.1f}x"
        )
        agree = "" if r["impl"].startswith("casegraph") else agreement(task, ours, r, out)
        rows.append(
            [
                task,
                r["impl"],
                f"{r['seconds']:.2f}",
                work,
                cpu,
                f"{r.get('peak_mb', '')}",
                speed,
                work_ratio,
                memory,
                agree,
            ]
        )
    return rows


def print_table(rows: list[list[str]]) -> None:
    head = [
        "task",
        "implementation",
        "seconds",
        "compute cpu s",
        "cpu s",
        "peak MB",
        "time ratio",
        "cpu ratio",
        "memory ratio",
        "agreement",
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for line in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-slow", action="store_true", help="skip Davies' near-repeat table on Toronto")
    parser.add_argument("--only", choices=sorted(TASKS), nargs="+", help="only these tasks")
    args = parser.parse_args()
    all_rows, saved, load_before = [], {}, os.getloadavg()
    with TemporaryDirectory(prefix="bench-trends-") as tmp:
        for task, impls in TASKS.items():
            if args.only and task not in args.only:
                continue
            print(f"{task}: {WHAT[task]}", flush=True)
            chosen = [
                i
                for i in impls
                if not (args.skip_slow and task == "near_repeat_toronto" and i == "davies")
                and not (i == "davies" and not DAVIES.exists())
            ]
            results = [measure(task, impl, Path(tmp)) for impl in chosen]
            if task == "ehsa_toronto":
                results.append(cli_hotspots())
            saved[task] = results
            all_rows += rows_for(task, results, Path(tmp))
    print(f"\nload average before the run: {load_before}; after: {os.getloadavg()}")
    print_table(all_rows)
    out = ROOT / "bench" / "results" / "trends.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(saved, indent=1))
    print(f"\nratios are reference / casegraph (higher = casegraph faster or smaller); details in {out}")


if __name__ == "__main__":
    main()
