"""Evaluation data for `casegraph eval linkage --data DIR`, and the converter for ../shared/data/crime_series.

An evaluation folder holds:
  incidents.csv        incidents, in schema field names or in any columns a mapping.yaml beside it maps
  mapping.yaml         optional ingest mapping for incidents.csv
  incident_truth.csv   incident_id with offender_id and/or series_id (several rows for co-offended incidents);
                       two incidents are linked when they share the key
  splits.csv           optional: incident_id and one column per split seed holding train / test (anything
                       else, e.g. "unsolved", is left out); without it, splits are drawn by co-offending component
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from casegraph.errors import CasegraphError
from casegraph.linkage.heldout import Truth

ATTRIBUTION = "Copyright (c) 2021 (2022), Consortium Board ROXANNE (3-clause BSD-style licence)."


def read_truth(
    folder: Path, *, linked_by: str = "auto", n_splits: int = 3, test_share: float = 0.3, seed: int = 0
) -> Truth:
    """The truth keys and the splits of an evaluation folder."""
    path = folder / "incident_truth.csv"
    if not path.exists():
        raise CasegraphError(f"{folder}: no incident_truth.csv (incident_id with offender_id or series_id)")
    raw = pd.read_csv(path, dtype=str)
    column = _key_column(raw, linked_by, path)
    keys = raw[["incident_id"]].assign(key=raw[column])
    single = keys["key"].isna() | (keys["key"].str.strip() == "")
    keys.loc[single, "key"] = "single:" + keys.loc[single, "incident_id"]
    keys = keys.drop_duplicates().reset_index(drop=True)
    splits_path = folder / "splits.csv"
    if splits_path.exists():
        splits = pd.read_csv(splits_path, dtype=str)
        splits = splits[["incident_id", *[c for c in splits.columns if c.startswith("seed")]]]
    else:
        splits = component_splits(keys, n_splits, test_share, seed)
    return Truth(keys, splits, column)


def _key_column(raw: pd.DataFrame, linked_by: str, path: Path) -> str:
    if linked_by in ("series", "offender"):
        column = f"{linked_by}_id"
    elif "series_id" in raw and raw["series_id"].notna().any():
        column = "series_id"
    else:
        column = "offender_id"
    if column not in raw:
        raise CasegraphError(f"{path}: no {column} column")
    return column


def component_splits(keys: pd.DataFrame, n_splits: int, test_share: float, seed: int) -> pd.DataFrame:
    """train / test per seed, drawn by co-offending component so no series straddles the split."""
    ids, inc = pd.factorize(keys["incident_id"])
    kid, _ = pd.factorize(keys["key"])
    n, k = len(inc), kid.max() + 1
    graph = coo_matrix((np.ones(len(ids)), (ids, kid + n)), shape=(n + k, n + k))
    component = connected_components(graph, directed=False)[1][:n]
    out = {"incident_id": np.asarray(inc)}
    for s in range(n_splits):
        test = np.random.default_rng([seed, s]).random(component.max() + 1) < test_share
        out[f"seed{s}"] = np.where(test[component], "test", "train")
    return pd.DataFrame(out)


PORTER_MAPPING = """# Porter & Reich's crimelinkage example data (simulated), columns as published.
table: incidents
agency: porter_sim
fields:
  incident_id: crimeID
  offence: {value: burglary}   # the package does not say; one offence so blocking by family keeps every pair
  x: X
  y: Y
  mo_entry: MO1                 # three anonymous categorical MO variables
  mo_target: MO2
  mo_other: MO3
  occurred_from: {column: DT.FROM, format: "%Y-%m-%d %H:%M:%S"}
  occurred_to: {column: DT.TO, format: "%Y-%m-%d %H:%M:%S"}
"""


def convert_porter(source: Path, out: Path, splits: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "crimes.csv", out / "incidents.csv")
    (out / "mapping.yaml").write_text(PORTER_MAPPING)
    crimes = pd.read_csv(source / "crimes.csv", dtype=str)
    offenders = pd.read_csv(source / "offenders.csv", dtype=str).drop_duplicates()
    truth = offenders[offenders["crimeID"].isin(crimes["crimeID"])]
    truth = truth.rename(columns={"crimeID": "incident_id", "offenderID": "offender_id"})
    truth[["incident_id", "offender_id"]].to_csv(out / "incident_truth.csv", index=False)
    _write_splits(splits, out)


def convert_israel(source: Path, out: Path, splits: Path) -> None:
    """Dates become day-long windows (the hour is unknown). num_of_offenders is left out: it is the number
    charged, known only once the crime is solved, and it would leak the answer into the features."""
    out.mkdir(parents=True, exist_ok=True)
    crimes = pd.read_csv(source / "crimes_2020h1.csv", dtype=str)
    pd.DataFrame(
        {
            "incident_id": crimes["crime_id"],
            "agency": "israel_inp",
            "offence": "burglary",
            "occurred_from": crimes["date"] + "T00:00:00",
            "occurred_to": crimes["date"] + "T23:59:59",
            "x": crimes["x_scaled"],
            "y": crimes["y_scaled"],  # min-max scaled upstream: relative units only
        }
    ).to_csv(out / "incidents.csv", index=False)
    pairs = pd.read_csv(source / "offender_crime_2020h1.csv", dtype=str).drop_duplicates()
    pairs.rename(columns={"crime_id": "incident_id"})[["incident_id", "offender_id"]].to_csv(
        out / "incident_truth.csv", index=False
    )
    (out / "NOTICE").write_text(f"Israel National Police burglaries via the ROXANNE project. {ATTRIBUTION}\n")
    _write_splits(splits, out)


def _write_splits(source: Path, out: Path) -> None:
    splits = pd.read_csv(source, dtype=str).rename(columns={"crime_id": "incident_id"})
    splits.to_csv(out / "splits.csv", index=False)


def convert_crime_series(source: Path, out: Path) -> list[Path]:
    """../shared/data/crime_series -> out/porter and out/israel evaluation folders (with the shared splits)."""
    source, out = Path(source), Path(out)
    convert_porter(source / "porter_crimelinkage_simulated", out / "porter", source / "splits_porter.csv")
    convert_israel(source / "israel_inp_burglary", out / "israel", source / "splits_israel.csv")
    return [out / "porter", out / "israel"]
