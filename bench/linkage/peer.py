"""The peer: crimeserieslinkage 1.1.0 (PyPI), run in its own virtual environment (numpy<2, pandas<2.3 ...).

For each split seed of an evaluation folder it follows the package's own recipe (makeSeriesData, makePairs
with thres=365 and m=40, compareCrimes, then naiveBayes and GBC), trains on the training crimes and scores
every pair of held-out (test) crimes. It writes the pair scores; the bench computes the metrics for both
tools with the same code. Run by bench/linkage/run.py; PYTHONHASHSEED must be set (makePairs' sampling
differs between processes otherwise).

    python peer.py EVAL_FOLDER OUT_FOLDER [--seeds seed0,seed1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from itertools import combinations
from pathlib import Path

import crimeserieslinkage as csl
import numpy as np
import pandas as pd

COMPARE = csl.compareСrimes  # the package spells it with a Cyrillic "С"


def crimes_of(folder: Path) -> tuple[pd.DataFrame, dict]:
    """Crimes in the package's column names, and its varlist."""
    raw = pd.read_csv(folder / "incidents.csv", dtype=str)
    if "crimeID" not in raw:  # schema names (the Israeli folder)
        raw = raw.rename(
            columns={
                "incident_id": "crimeID",
                "x": "X",
                "y": "Y",
                "occurred_from": "DT.FROM",
                "occurred_to": "DT.TO",
            }
        )
    crimes = raw[
        [c for c in ("crimeID", "X", "Y", "DT.FROM", "DT.TO", "MO1", "MO2", "MO3") if c in raw]
    ].copy()
    crimes["X"], crimes["Y"] = crimes["X"].astype(float), crimes["Y"].astype(float)
    for c in ("DT.FROM", "DT.TO"):
        crimes[c] = pd.to_datetime(crimes[c])
    varlist = {"crimeID": "crimeID", "spatial": ["X", "Y"], "temporal": ["DT.FROM", "DT.TO"]}
    categorical = [c for c in ("MO1", "MO2", "MO3") if c in crimes]
    if categorical:
        varlist["categorical"] = categorical
    return crimes.reset_index(drop=True), varlist


def train(crimes: pd.DataFrame, offenders: pd.DataFrame, varlist: dict) -> tuple[dict, object, list[str]]:
    series = csl.makeSeriesData(crimedata=crimes.copy(), offender_table=offenders)
    pairs = csl.makePairs(series, thres=365, m=40, seed=1)
    X = COMPARE(pairs[["i1", "i2", "wt"]], crimes, varlist=varlist, binary=True)
    features = [c for c in X.columns if c not in ("i1", "i2", "wt")]
    y = (pairs["type"].to_numpy() == "linked").astype(int)
    # As in the package's own example: evidence, weights (column wt) and the label last.
    data = pd.concat([X.reset_index(drop=True), pd.DataFrame({"Y": y})], axis=1)
    nb = csl.naiveBayes(data, features, df=10, nbins=15, partition="quantile")
    gb = csl.GBC(X[features].astype(float), y, start=50, end=301, step=50)
    return nb, gb, features


def informative(nb: dict, features: list[str]) -> list[str]:
    """Features with a Bayes-factor table: predict_bf raises on the empty table a constant feature gets
    (e.g. the time of day of day-long windows), which carries no evidence anyway."""
    return [f for f in features if not (isinstance(nb[f], pd.DataFrame) and nb[f].empty)]


def inside_bins(nb: dict, X: pd.DataFrame) -> pd.DataFrame:
    """Work around a defect of predict_bf: a value outside its right-closed bins (at or below the lowest
    edge, or above the highest) maps to None, and one None among the values makes the whole call raise
    (np.isnan on an object array). Such values are moved into the nearest edge bin, the kindest reading."""
    X = X.copy()
    for name in X.columns:
        table = nb[name]
        if isinstance(table, pd.DataFrame) and {"from", "to"} <= set(table.columns) and not table.empty:
            low, high = float(table["from"].min()), float(table["to"].max())
            values = X[name].astype(float).clip(upper=high)
            X[name] = values.where(values > low, np.nextafter(low, np.inf))
    return X


def score(crimes: pd.DataFrame, nb: dict, gb: object, features: list[str], varlist: dict) -> pd.DataFrame:
    ids = crimes["crimeID"].tolist()
    pairs = pd.DataFrame(list(combinations(ids, 2)), columns=["i1", "i2"])
    X = COMPARE(pairs, crimes.reset_index(drop=True), varlist=varlist, binary=True)
    usable = informative(nb, features)
    pairs["naive_bayes"] = csl.predictnaiveBayes(nb, inside_bins(nb, X[usable]), var=usable)
    pairs["gradient_boosting"] = gb.predict_proba(X[features].astype(float))[:, 1]
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", default="")
    args = parser.parse_args()
    if not os.environ.get("PYTHONHASHSEED"):
        raise SystemExit("set PYTHONHASHSEED (the peer's makePairs differs between processes otherwise)")
    crimes, varlist = crimes_of(args.folder)
    truth = pd.read_csv(args.folder / "incident_truth.csv", dtype=str)
    offenders = truth.rename(columns={"incident_id": "crimeID", "offender_id": "offenderID"})[
        ["offenderID", "crimeID"]
    ]
    splits = pd.read_csv(args.folder / "splits.csv", dtype=str).set_index("incident_id")
    seeds = args.seeds.split(",") if args.seeds else [c for c in splits.columns if c.startswith("seed")]
    args.out.mkdir(parents=True, exist_ok=True)
    timings = {}
    for seed in seeds:
        started = time.perf_counter()
        role = crimes["crimeID"].map(splits[seed])
        train_crimes = crimes[role == "train"].reset_index(drop=True)
        nb, gb, features = train(
            train_crimes, offenders[offenders["crimeID"].isin(train_crimes["crimeID"])], varlist
        )
        trained = time.perf_counter()
        scores = score(crimes[role == "test"].reset_index(drop=True), nb, gb, features, varlist)
        scores.to_csv(args.out / f"{seed}.csv", index=False)
        timings[seed] = {
            "train_s": round(trained - started, 2),
            "score_s": round(time.perf_counter() - trained, 2),
            "test_pairs": len(scores),
        }
        print(seed, timings[seed], flush=True)
    (args.out / "timings.json").write_text(json.dumps(timings, indent=1))


if __name__ == "__main__":
    np.random.seed(0)
    main()
