"""Pair features on hand-made incidents: each comparison against its hand-computed value."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from casegraph.linkage.comparisons import COMPARISONS
from casegraph.linkage.encode import Encoded, IncidentEncoder
from casegraph.linkage.features import pair_features

FRAME = pd.DataFrame(
    {
        "offence": ["burglary", "burglary", "theft", "burglary"],
        "occurred_from": pd.to_datetime(
            ["2024-01-01 22:00", "2024-01-03 23:00", "2024-01-02 10:00", "2024-01-10 00:00"]
        ),
        "occurred_to": pd.to_datetime(
            ["2024-01-01 22:00", "2024-01-03 23:00", "2024-01-02 12:00", "2024-01-11 00:00"]
        ),
        "x": [0.0, 300.0, 1000.0, np.nan],
        "y": [0.0, 400.0, 0.0, 5.0],
        "premises": ["house", "house", "shop", None],
        "mo_entry": ["window", "door", "window", "window"],
        "property_taken": ["cash;jewellery", "jewellery;laptop", None, "cash"],
        "vehicle": ["red van", "Red  van", None, "blue car"],
        "narrative": ["entered by the rear window and took cash"] * 2 + ["shoplifting of cosmetics"] * 2,
        "suspect_age_min": [20, 30, None, 18],
        "suspect_age_max": [25, 35, None, None],
        "suspect_height_cm": [180, 172, None, 175],
        "suspect_count": [1, 2, None, 1],
        "suspect_build": ["slim", "slim", None, "heavy"],
        "suspect_clothing": ["black hoodie", "black hoodie jeans", None, None],
    }
)
NAMES = [c.name for c in COMPARISONS]


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    encoder = IncidentEncoder(comparisons=COMPARISONS, text_dims=2).fit(
        pd.concat([FRAME] * 5, ignore_index=True)
    )
    enc = encoder.transform(FRAME)
    i, j = np.array([0, 0, 0]), np.array([1, 2, 3])
    return pd.DataFrame(pair_features(enc, i, enc, j, COMPARISONS), columns=NAMES, index=["01", "02", "03"])


def test_place_and_time(features):
    assert features.loc["01", "distance_m"] == pytest.approx(500.0)
    assert math.isnan(features.loc["03", "distance_m"])  # no place recorded: no evidence, not "far"
    assert features.loc["01", "days_apart"] == pytest.approx(2 + 1 / 24, abs=1e-5)
    assert features.loc["01", "hours_apart_in_day"] == pytest.approx(1.0, abs=1e-3)  # 22:00 vs 23:00
    # 2024-01-01 is a Monday: Monday 22:00 vs Wednesday 23:00 is two days and an hour apart in the week
    assert features.loc["01", "days_apart_in_week"] == pytest.approx(2 + 1 / 24, abs=1e-3)
    assert features.loc["03", "hours_apart_in_day"] == pytest.approx(
        6.0, abs=1e-6
    )  # a day-long window: no information


def test_space_time_is_distance_times_days(features):
    assert features.loc["01", "distance_times_days"] == pytest.approx(500.0 * (2 + 1 / 24), rel=1e-5)
    assert math.isnan(features.loc["03", "distance_times_days"])  # no place: no evidence either way


def test_categories_weigh_rare_agreement(features):
    # 'house' is 2 of the 3 recorded premises: agreement = 1 + surprisal = 1 - ln(2/3)
    assert features.loc["01", "premises"] == pytest.approx(1 - math.log(2 / 3), rel=1e-5)
    assert features.loc["02", "premises"] == 0.0
    assert math.isnan(features.loc["03", "premises"])
    assert features.loc["01", "same_offence"] == 1.0 and features.loc["02", "same_offence"] == 0.0


def test_sets_text_and_suspects(features):
    assert features.loc["01", "property_taken"] == pytest.approx(
        1 / 3
    )  # {cash, jewellery} vs {jewellery, laptop}
    assert features.loc["01", "vehicle"] == pytest.approx(1.0)  # case and spacing do not matter
    assert features.loc["01", "suspect_clothing"] == pytest.approx(2 / 3)
    assert features.loc["01", "narrative"] == pytest.approx(1.0, abs=1e-2)  # identical narratives
    assert features.loc["02", "narrative"] < 0.5
    assert features.loc["01", "suspect_age_gap"] == 5.0  # 20-25 vs 30-35
    assert features.loc["03", "suspect_age_gap"] == 2.0  # 20-25 vs 18 (a single bound stands for both)
    assert features.loc["01", "suspect_height_gap"] == 8.0
    assert features.loc["01", "suspect_count_gap"] == 1.0
    assert math.isnan(features.loc["02", "suspect_height_gap"])


def test_encoding_round_trips_through_the_index_text():
    encoder = IncidentEncoder(comparisons=COMPARISONS, text_dims=2).fit(
        pd.concat([FRAME] * 5, ignore_index=True)
    )
    enc = encoder.transform(FRAME)
    back = Encoded.unpack(enc.pack(), enc.dtype())
    for name, values in enc.columns.items():
        np.testing.assert_array_equal(back[name], values)
