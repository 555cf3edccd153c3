"""One measurement, run in its own process so its peak memory is its own:

    python measure.py TASK IMPL OUT_DIR

IMPL casegraph runs in the project's environment; pointpats, davies, esda and pymannkendall run in the bench
environment (bench/.venv-trends). Prints one JSON line: task, impl, seconds (computation only: data loading and
the implementation's import excluded), compute_cpu (the process's CPU seconds over the computation: all threads, robust to a busy machine),
peak_mb (the whole process, data included) and the numbers compared; larger arrays go to OUT_DIR.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "incidents"
CHICAGO = DATA / "chicago_residential_burglary_2014_2017" / "chicago_residential_burglary_2014_2017.csv"
TORONTO = DATA / "toronto_mci_2014_2021" / "toronto_mci_2014_2021.csv"
NEAR_REPEAT_MCI = ("Break and Enter", "Robbery", "Auto Theft")
BANDS = {"space": [0.1, 100, 200, 300, 400], "time": [7, 14, 21]}
CELL, PERMS = 250.0, 99


def chicago(years: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(CHICAGO, parse_dates=["date"])
    frame = frame[frame["date"].dt.year.isin(years)]
    return frame[["x", "y"]].to_numpy(float), (frame["date"] - frame["date"].min()).dt.days.to_numpy()


def toronto(mci: tuple[str, ...] | None = None) -> tuple[np.ndarray, pd.Series]:
    frame = pd.read_csv(TORONTO, parse_dates=["date"])
    if mci:
        frame = frame[frame["mci"].isin(mci)]
    return frame[["x_utm17n", "y_utm17n"]].to_numpy(float), frame["date"]


def knox_points(task: str) -> tuple[np.ndarray, np.ndarray, list[float], list[float]]:
    if task == "knox_chicago_2014":
        return (*chicago((2014,)), [200.0], [7.0])
    if task == "knox_chicago_all":
        return (*chicago((2014, 2015, 2016, 2017)), [200.0], [7.0])
    xy, dates = toronto(NEAR_REPEAT_MCI)
    return xy, (dates - dates.min()).dt.days.to_numpy(), BANDS["space"], BANDS["time"]


def preload(impl: str) -> None:
    """Import the implementation before the clock starts: import time is not the computation's."""
    modules = {"casegraph": "casegraph.trends.spacetime", "pointpats": "pointpats", "davies": "davies_knox"}
    importlib.import_module(modules[impl])


def run_knox(task: str, impl: str) -> dict:
    xy, t, s_bands, t_bands = knox_points(task)
    preload(impl)
    started, cpu = time.perf_counter(), time.process_time()
    if impl == "casegraph":
        from casegraph.trends.knox import near_repeat

        observed = near_repeat(xy, t, space=s_bands, time_bands=t_bands, permutations=PERMS, seed=1).observed
    elif impl == "davies":
        from davies_knox import knox_test

        observed = knox_test(xy, t.astype(float), s_bands, t_bands, PERMS, seed=1)[0]
    else:  # pointpats: one band only
        from pointpats.spacetime import Knox

        np.random.seed(1)
        result = Knox(
            xy, t.reshape(-1, 1).astype(float), delta=s_bands[0], tau=t_bands[0], permutations=PERMS
        )
        observed = np.array([[result.nst]])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    observed = np.asarray(observed, dtype=np.int64).tolist()
    return {"n": len(t), "observed": observed, "seconds": seconds, "compute_cpu": cpu}


SPACETIME = {
    # task: (Chicago burglary months of 2014, the test)
    "local_knox_chicago_q1": ((1, 2, 3), "local"),
    "modified_knox_chicago_q1": ((1, 2, 3), "modified"),
    "jacquez_chicago_2014": (tuple(range(1, 13)), "jacquez"),
    "mantel_chicago_q1": ((1, 2, 3), "mantel"),
}
DELTA, TAU, K = 200.0, 7.0, 3


def chicago_months(months: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(CHICAGO, parse_dates=["date"])
    frame = frame[(frame["date"].dt.year == 2014) & frame["date"].dt.month.isin(months)]
    days = (frame["date"] - frame["date"].min()).dt.days.to_numpy().astype(float)
    return frame[["x", "y"]].to_numpy(float), days


def run_spacetime(task: str, impl: str, out: Path) -> dict:
    """One of pointpats' tests or casegraph's, with the same permutations (numpy RandomState 1 = np.random.seed(1));
    the per-event arrays of local Knox go to OUT_DIR for run.py to compare."""
    months, test = SPACETIME[task]
    xy, t = chicago_months(months)
    preload(impl)
    started, cpu = time.perf_counter(), time.process_time()
    if impl == "casegraph":
        from casegraph.trends import spacetime

        rs = np.random.RandomState(1)
        if test == "local":
            r = spacetime.local_knox(xy, t, delta=DELTA, tau=TAU, permutations=PERMS, seed=rs)
            arrays, summary = (
                (r.nst, r.p_sim, r.p_hypergeom),
                {"stat": r.overall["nst"], "p_sim": r.overall["p_sim"]},
            )
        else:
            call = {
                "modified": lambda: spacetime.modified_knox(
                    xy, t, delta=DELTA, tau=TAU, permutations=PERMS, seed=rs
                ),
                "jacquez": lambda: spacetime.jacquez(xy, t, k=K, permutations=PERMS, seed=rs),
                "mantel": lambda: spacetime.mantel(xy, t, permutations=PERMS, seed=rs),
            }[test]
            summary, arrays = call(), None
    else:
        import warnings

        import pointpats

        warnings.simplefilter("ignore")
        np.random.seed(1)
        tc = t.reshape(-1, 1)
        if test == "local":
            r = pointpats.KnoxLocal(xy, tc, delta=DELTA, tau=TAU, permutations=PERMS)
            arrays, summary = (r.nsti, r.p_sims, r.p_hypergeom), {"stat": r.nst, "p_sim": r.p_sim}
        else:
            call = {
                "modified": lambda: pointpats.modified_knox(xy, tc, DELTA, TAU, PERMS),
                "jacquez": lambda: pointpats.jacquez(xy, tc, K, PERMS),
                "mantel": lambda: pointpats.mantel(xy, tc, PERMS),
            }[test]
            found = call()
            summary, arrays = {"stat": found["stat"], "p_sim": found["pvalue"]}, None
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if arrays is not None:
        np.savez(out / f"{task}-{impl}.npz", nst=arrays[0], p_sim=arrays[1], p_hypergeom=arrays[2])
    stat, p = float(summary["stat"]), float(summary["p_sim"])
    return {"n": len(t), "stat": stat, "p_sim": p, "seconds": seconds, "compute_cpu": cpu}


def cube_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from casegraph.trends.hotspots import hotspot_steps

    xy, dates = toronto()
    return xy[:, 0], xy[:, 1], hotspot_steps(dates, "month")


def run_ehsa_casegraph(out: Path) -> dict:
    from casegraph.trends.hotspots import emerging_hotspots, grid_weights
    from casegraph.trends.mannkendall import mann_kendall

    x, y, steps = cube_inputs()
    started = time.perf_counter()
    ehs = emerging_hotspots(x, y, steps, cell=CELL, time_lag=1)
    seconds = time.perf_counter() - started
    w = grid_weights(ehs.cube.col, ehs.cube.row, CELL, 1.5 * CELL).tocoo()
    mk = mann_kendall(ehs.z)
    np.savez(
        out / "ehsa.npz",
        counts=ehs.cube.counts,
        w_row=w.row,
        w_col=w.col,
        z=ehs.z,
        mk_z=mk.z,
        mk_p=mk.p,
        mk_tau=mk.tau,
        mk_s=mk.s,
    )
    return {
        "n": len(x),
        "locations": int(ehs.z.shape[0]),
        "steps": int(ehs.z.shape[1]),
        "classes": {k: v for k, v in ehs.class_counts().items() if v},
        "seconds": seconds,
    }


def space_time_weights(saved: dict, time_lag: int = 1):
    """The binary space-time weights over bins (index t * L + location): cells in reach at t - lag .. t."""
    from scipy import sparse

    n_l, n_t = saved["counts"].shape
    rows, cols = [], []
    for t in range(n_t):
        for lag in range(time_lag + 1):
            if t - lag >= 0:
                rows.append(saved["w_row"] + t * n_l)
                cols.append(saved["w_col"] + (t - lag) * n_l)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_l * n_t, n_l * n_t))


def run_ehsa_pysal(out: Path) -> dict:
    import pymannkendall
    from esda.getisord import G_Local
    from libpysal.graph import Graph

    saved = dict(np.load(out / "ehsa.npz"))
    y = saved["counts"].T.ravel()
    started = time.perf_counter()
    g_local = G_Local(
        y, Graph.from_sparse(space_time_weights(saved)), transform="B", star=True, permutations=0
    )
    gi_seconds = time.perf_counter() - started
    z_ref = g_local.Zs.reshape(saved["counts"].shape[1], -1).T
    started = time.perf_counter()
    tests = [pymannkendall.original_test(row) for row in saved["z"]]
    mk_seconds = time.perf_counter() - started
    diffs = {"gi_z": float(np.abs(z_ref - saved["z"]).max())}
    for name, key in (("z", "mk_z"), ("p", "mk_p"), ("Tau", "mk_tau"), ("s", "mk_s")):
        ref = np.array([getattr(r, name) for r in tests], dtype=float)
        diffs[f"mk_{name.lower()}"] = float(np.abs(ref - saved[key]).max())
    return {
        "n_bins": int(y.size),
        "gi_seconds": gi_seconds,
        "mk_seconds": mk_seconds,
        "seconds": gi_seconds + mk_seconds,
        "max_abs_diff": diffs,
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    task, impl, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sys.path.insert(0, str(Path(__file__).parent))
    cpu_at_start = cpu_seconds()
    if task.startswith("knox") or task.startswith("near_repeat"):
        result = run_knox(task, impl)
    elif task in SPACETIME:
        result = run_spacetime(task, impl, out)
    elif impl == "casegraph":
        result = run_ehsa_casegraph(out)
    else:
        result = run_ehsa_pysal(out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["cpu_seconds"] = cpu_seconds() - cpu_at_start  # data loading included; robust to a busy machine
    sys.stdout.write(
        json.dumps({"task": task, "impl": impl, **result, "peak_mb": round(peak_kb / 1024, 1)}) + "\n"
    )


if __name__ == "__main__":
    main()
