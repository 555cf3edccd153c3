"""The Near Repeat Calculator's own outputs reproduced: every observed count exactly, the ratios and the
shuffle means within sampling error, the band labels (../shared/data/near_repeat_calculator, from the NearRepeat
R package's inst/extdata)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from casegraph.trends.knox import near_repeat
from casegraph.trends.nrc import nrc_cells, nrc_label, nrc_table
from tests.conftest import shared_data

EXAMPLES = {
    # input, NRC verbose output, distance edges (m), time edges (days), NRC iterations
    "burglary": ("chicago_be_month1.csv", "chicago_be_month1_NRverbose", [100, 200, 300], [7, 14, 21], 20),
    "arson": ("chicago_arson.csv", "chicago_arson_NRverbose", [200, 400, 600], [1, 2, 3], 100),
}


def read_nrc_verbose(path: Path) -> dict:
    """The NRC's verbose CSV: its three tables (5 x 4; blank = 0 or none) and, per cell, the shuffled counts."""
    lines = list(csv.reader(path.read_text().splitlines()))
    out: dict = {"cells": {}}
    titles = {
        "Observed over mean expected frequencies": "ratio",
        "Statistical significant table": "p",
        "Observed frequencies distribution": "observed",
    }
    for k, row in enumerate(lines):
        if row and row[0] in titles:
            out["columns"] = [c.strip() for c in lines[k + 1][2:] if c.strip()]
            body = lines[k + 3 : k + 3 + 5]
            out["rows"] = [r[1].strip() for r in body]
            out[titles[row[0]]] = [[_number(v) for v in r[2 : 2 + len(out["columns"])]] for r in body]
        elif row and row[0].startswith("Row ") and " Column " in row[0]:
            r, c = (int(v) for v in row[0].removeprefix("Row ").split(" Column "))
            shuffles, j = [int(v) for v in lines[k + 1][1:] if v.strip()], k + 2
            while lines[j] and lines[j][0] == "":
                shuffles += [int(v) for v in lines[j][1:] if v.strip()]
                j += 1
            fields = {f[0].strip(): f[1].strip() for f in lines[j : j + 6] if len(f) >= 2}
            out["cells"][(r - 1, c - 1)] = {
                "shuffles": np.array(shuffles),
                "observed": int(fields["Observed"]),
                "mean": float(fields["Mean"]),
                "p": float(fields["P value"]),
                "ratio": float(fields["Obs over Mean Exp"]),
            }
    return out


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def load(name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    data_file, verbose, *_ = EXAMPLES[name]
    folder = shared_data("near_repeat_calculator")
    frame = pd.read_csv(folder / data_file, header=None, names=["x", "y", "date"], parse_dates=["date"])
    days = (frame["date"] - frame["date"].min()).dt.days.to_numpy()
    nrc = read_nrc_verbose(next(folder.glob(f"{verbose}_*.csv")))
    return frame[["x", "y"]].to_numpy(), days, nrc


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_observed_counts_equal_the_nrc_in_every_cell(name):
    xy, days, nrc = load(name)
    _, _, s_edges, t_edges, _ = EXAMPLES[name]
    table = nrc_table(xy, days, distance_edges=s_edges, time_edges=t_edges, permutations=0)
    expected = [[int(v or 0) for v in row] for row in nrc["observed"]]
    assert table.observed.tolist() == expected
    assert table.observed.sum() == len(days) * (len(days) - 1) // 2
    # The per-cell blocks repeat the table: the parser read the same numbers twice.
    assert all(c["observed"] == expected[r][k] for (r, k), c in nrc["cells"].items())


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_euclidean_or_double_precision_do_not_reproduce_it(name):
    """What the conventions buy: Euclidean distance misses (44 vs 54 pairs at 0-100 m x 0-7 days for the
    burglaries); on the arsons, even Manhattan in double precision moves a pair across the 400 m edge."""
    xy, days, nrc = load(name)
    _, _, s_edges, t_edges, _ = EXAMPLES[name]
    expected = [[int(v or 0) for v in row] for row in nrc["observed"]]
    options = {"space": [0, *s_edges], "time_bands": t_edges, "permutations": 0, "closed": "left"}
    euclidean = near_repeat(xy, days, **options).with_beyond()
    assert euclidean.observed.tolist() != expected
    if name == "burglary":
        assert (euclidean.observed[1, 0], expected[1][0]) == (54, 44)
    else:
        double = near_repeat(xy, days, **options, metric="manhattan").with_beyond()
        assert double.observed.tolist() != expected
        assert double.observed[2:4, 3].tolist() == [141, 233]  # the NRC: 140, 234


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_shuffle_means_and_ratios_agree_within_sampling_error(name):
    xy, days, nrc = load(name)
    _, _, s_edges, t_edges, iterations = EXAMPLES[name]
    table = nrc_table(xy, days, distance_edges=s_edges, time_edges=t_edges, permutations=999, seed=21)
    assert len(nrc["cells"]) == table.observed.size
    checked = 0
    for (r, k), theirs in nrc["cells"].items():
        assert len(theirs["shuffles"]) == iterations - 1
        assert theirs["mean"] == pytest.approx(theirs["shuffles"].mean(), abs=1e-9)
        ours = table.perms[:, r, k]
        # Two estimates of one mean (the exact one is ns * nt / pairs): within 4 standard errors.
        se = np.sqrt(ours.var() / len(ours) + theirs["shuffles"].var() / len(theirs["shuffles"]))
        assert abs(ours.mean() - theirs["mean"]) <= 4 * se + 1e-9, (r, k)
        assert abs(table.expected[r, k] - theirs["mean"]) <= 4 * se + 1e-9, (r, k)
        if theirs["mean"] > 0 and theirs["observed"] > 0:
            obs = theirs["observed"]
            low, high = obs / (ours.mean() + 4 * se), obs / max(ours.mean() - 4 * se, 1e-12)
            assert low <= theirs["ratio"] <= high, (r, k)
            assert table.cell(r, k)["ratio_mean"] == pytest.approx(obs / ours.mean())
            checked += 1
    assert checked >= 10


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_band_labels_are_the_nrc_labels(name):
    xy, days, nrc = load(name)
    _, _, s_edges, t_edges, _ = EXAMPLES[name]
    cells = nrc_cells(nrc_table(xy, days, distance_edges=s_edges, time_edges=t_edges, permutations=0))
    rows = list(dict.fromkeys(c["nrc_space_band"] for c in cells))
    columns = list(dict.fromkeys(c["nrc_time_band"] for c in cells))
    assert (rows, columns) == (nrc["rows"], nrc["columns"])


def test_nrc_labels_state_its_off_by_one_convention():
    assert nrc_label(0, 0, first="1") == "Same location"
    assert nrc_label(0, 100, first="1") == "1 to 100"
    assert nrc_label(100, 200, first="1") == "101 to 200"
    assert nrc_label(0, 7, first="0") == "0 to 7"
    assert nrc_label(7, 14, first="0") == "8 to 14"
    assert nrc_label(21, np.inf, first="0") == "More than 21"


def test_same_location_band_and_open_bands_on_a_hand_example():
    # a, b at one place 3 days apart; c 60 m (Manhattan: 30 + 30) from both, 10 and 7 days after them;
    # d 2 km away, 7, 4 and 3 days from a, b and c.
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [30.0, 30.0], [2000.0, 0.0]])
    t = np.array([0.0, 3.0, 10.0, 7.0])
    table = nrc_table(xy, t, distance_edges=[50, 100], time_edges=[7, 14], permutations=0)
    # rows: same place, (0, 50), [50, 100), [100, inf); columns: [0, 7), [7, 14), [14, inf)
    assert table.observed.tolist() == [[1, 0, 0], [0, 0, 0], [0, 2, 0], [2, 1, 0]]
    euclid = near_repeat(xy, t, space=[0, 50, 100], time_bands=[7, 14], permutations=0, closed="left")
    assert euclid.with_beyond().observed[1:3].tolist() == [[0, 2, 0], [0, 0, 0]]  # 42.4 m < 50 m


@pytest.mark.realdata
def test_the_cli_prints_the_nrc_table_and_says_which_ratio():
    from typer.testing import CliRunner

    from casegraph.cli import app

    _, _, nrc = load("burglary")
    path = shared_data("near_repeat_calculator", EXAMPLES["burglary"][0])
    args = ["trends", "knox", str(path), "--no-header", "--nrc", "--bands-space", "100,200,300"]
    args += ["--bands-time", "7,14,21", "--perms", "19"]
    res = CliRunner().invoke(app, ["--json", *args])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["distance"], out["precision"], out["closed"], out["ratio_shown"]) == (
        "manhattan",
        "single",
        "left",
        "mean",
    )
    observed = [[c["nst"] for c in out["bands"][r * 4 : r * 4 + 4]] for r in range(5)]
    assert observed == [[int(v or 0) for v in row] for row in nrc["observed"]]
    assert all({"ratio_mean", "ratio_median"} <= set(c) for c in out["bands"])
    text = CliRunner().invoke(app, args).stdout
    assert "ratio = observed / mean of the permutations" in text and "Same location" in text
    refused = CliRunner().invoke(app, [*args, "--distance", "euclidean"])
    assert refused.exit_code != 0 and "--nrc measures Manhattan" in refused.output
