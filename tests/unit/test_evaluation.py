"""casegraph.evaluation's scorers on hand-built cases: series recovered, a planted tie missed, the table rows,
and clear errors for a folder without truth."""

from __future__ import annotations

import pandas as pd
import pytest

from casegraph.errors import CasegraphError
from casegraph.evaluation import evaluate_city, linkage, network, resolve, truth_table
from casegraph.settings import load_settings


def test_series_recovered_needs_a_mutual_majority():
    incidents = pd.Series([f"I{i}" for i in range(10)])
    truth = pd.DataFrame(
        {
            "incident_id": [f"I{i}" for i in range(10)],
            "series_id": ["A", "A", "A", "A", "B", "B", "C", "C", None, None],
        }
    )
    found = pd.DataFrame(
        {
            # F1 holds 3 of A's 4 (recovered); F2 holds both of B plus four others (B is only 1/3 of it: not
            # recovered); C is split in two (each half, and each its own series: recovered)
            "incident_id": ["I0", "I1", "I2", "I4", "I5", "I3", "I8", "I9", "I6"],
            "series_id": ["F1", "F1", "F1", "F2", "F2", "F2", "F2", "F2", "F3"],
        }
    )
    s = linkage.score_series(incidents, found, truth)
    assert (s["planted_series"], s["series_found"], s["series_recovered"]) == (3, 3, 2)
    assert s["incidents_in_planted_series"] == 8 and s["incidents_in_found_series"] == 9
    assert 0 < s["bcubed_precision"] < 1 and 0 < s["bcubed_recall"] < 1
    perfect = linkage.score_series(incidents, truth.dropna(), truth)
    assert perfect["series_recovered"] == 3 and perfect["bcubed_f1"] == pytest.approx(1.0)


def test_a_planted_tie_not_found_is_a_row_that_says_so():
    planted = pd.DataFrame({"group_a": ["G01"], "group_b": ["G02"], "onset": [pd.Timestamp("2024-01-10")]})
    ties = pd.DataFrame(
        {
            "group_a": ["G03"],
            "group_b": ["G04"],
            "significant": [True],
            "onset": [pd.Timestamp("2024-01-01")],
            "detected_at": [pd.Timestamp("2024-02-01")],
        }
    )
    got = network.score_ties(ties, planted)
    assert (got["planted_ties_found"], got["onset_error_days"], got["false_ties"]) == (0, None, ["G03-G04"])
    scores = {**got, "nmi": 0.5, "ari": 0.4, "truth_compared": 10, "true_groups": 2}
    rows = truth_table({"network": scores})
    assert rows[0] == {
        "stage": "network",
        "measure": "planted tie G01-G02",
        "found": "not found",
        "truth": "onset 2024-01-10",
        "quality": "",
    }
    assert rows[1]["found"] == "1" and rows[1]["quality"] == "not planted: G03-G04"


def test_persons_found_against_true_persons():
    found = pd.DataFrame(
        {"record_id": ["r1", "r2", "r3", "r4"], "agency": "a", "person_id": ["p1", "p1", "p1", "p2"]}
    )
    truth = pd.DataFrame(
        {"record_id": ["r1", "r2", "r3", "r4", "r9"], "person_id": ["x", "x", "y", "z", "w"]}
    )
    s = resolve.score_identities(found, truth)
    assert (s["persons_found"], s["persons_true"], s["n_records"]) == (2, 3, 4)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1.0)
    [row] = truth_table({"resolve": s})
    assert (row["found"], row["truth"]) == ("2", "3")


def test_a_folder_without_truth_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "incidents.csv").write_text("incident_id\nI1\n")
    with pytest.raises(CasegraphError, match=r"not a synthetic city with truth: no group_tie_truth\.csv"):
        evaluate_city(tmp_path, load_settings(), ("network",))
