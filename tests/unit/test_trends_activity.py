"""Baseline territory, spread into new areas, activity rows and growth events on hand-made links."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from casegraph.evaluation.trends import spread_scores
from casegraph.trends.activity import SpreadRule, activity_rows, baselines, period_start, spreads
from casegraph.trends.growth import growth_events, period_range


def links(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(group, incident, date, area) -> the links frame the stage builds."""
    frame = pd.DataFrame(rows, columns=["group_id", "incident_id", "occurred_on", "area"])
    frame["occurred_on"] = pd.to_datetime(frame["occurred_on"]).dt.date
    return frame.assign(
        agency="pd",
        via="member",
        members=[["pd/R1"]] * len(frame),
        evidence=[["x"]] * len(frame),
        x=np.arange(len(frame)) * 100.0,
        y=0.0,
    )


TWO = SpreadRule(min_incidents=2, window_days=60, member_incidents=2)  # member links alone need two here
HOME = [("G1", "I1", "2023-01-05", "D1"), ("G1", "I2", "2023-03-01", "D2"), ("G1", "I3", "2023-06-01", "D1")]


def test_a_new_area_raises_a_spread_once_confirmed():
    frame = links(
        [
            *HOME,
            ("G1", "I4", "2024-02-01", "D9"),
            ("G1", "I5", "2024-02-20", "D9"),
            ("G1", "I6", "2024-03-01", "D2"),
        ]
    )
    bases = baselines(frame, None, 365)
    assert bases["G1"].areas == ["D1", "D2"] and bases["G1"].end == date(2024, 1, 5)
    found = spreads(frame, bases, TWO)
    assert [(s.area, s.first_date, s.raised_on, s.incidents) for s in found] == [
        ("D9", date(2024, 2, 1), date(2024, 2, 20), ["I4", "I5"])
    ]


def test_no_spread_for_a_single_visit_a_late_second_one_or_a_home_area():
    frame = links(
        [
            *HOME,
            ("G1", "I4", "2024-02-01", "D8"),
            ("G1", "I5", "2024-02-01", "D9"),
            ("G1", "I6", "2024-06-01", "D9"),
            ("G1", "I7", "2024-05-01", "D2"),
        ]
    )
    assert spreads(frame, baselines(frame, None, 365), TWO) == []


def test_a_stray_incident_does_not_hide_a_later_confirmed_spread():
    frame = links(
        [
            *HOME,
            ("G1", "I4", "2024-02-01", "D9"),
            ("G1", "I5", "2024-08-01", "D9"),
            ("G1", "I6", "2024-08-09", "D9"),
        ]
    )
    (found,) = spreads(frame, baselines(frame, None, 365), TWO)
    assert (found.first_seen, found.first_date, found.raised_on) == (
        date(2024, 2, 1),
        date(2024, 8, 1),
        date(2024, 8, 9),
    )
    assert found.incidents == ["I5", "I6"] and found.total_in_area == 3


def test_series_only_spreads_need_two_series():
    frame = links(
        [
            *HOME,
            ("G1", "I4", "2024-02-01", "D9"),
            ("G1", "I5", "2024-02-03", "D9"),
            ("G1", "I6", "2024-02-05", "D9"),
        ]
    )
    frame.loc[3:, "via"] = "series"
    frame["evidence"] = [["x"]] * 3 + [["series:S1"], ["series:S1"], ["series:S1"]]
    bases = baselines(frame, None, 365)
    assert spreads(frame, bases, TWO) == []
    assert len(spreads(frame, bases, SpreadRule(corroborate=False))) == 1
    frame.at[5, "evidence"] = ["series:S2"]
    (found,) = spreads(frame, bases, TWO)
    assert found.raised_on == date(2024, 2, 5)


def test_a_lone_series_link_in_the_baseline_does_not_make_an_area_home():
    frame = links([*HOME, ("G1", "I0", "2023-02-01", "D9"), ("G1", "I4", "2024-02-01", "D9")])
    frame.loc[3, "via"] = "series"
    frame.at[3, "evidence"] = ["series:S1"]
    assert "D9" in baselines(frame, None, 365)["G1"].areas
    bases = baselines(frame, None, 365, SpreadRule())
    assert bases["G1"].areas == ["D1", "D2"]
    (found,) = spreads(frame, bases, SpreadRule())
    assert (found.area, found.first_seen, found.raised_on, found.incidents) == (
        "D9",
        date(2023, 2, 1),
        date(2024, 2, 1),
        ["I4"],
    )


def test_one_incident_with_a_claimed_member_is_enough_by_default():
    frame = links([*HOME, ("G1", "I4", "2024-02-01", "D9"), ("G1", "I5", "2024-03-01", "D8")])
    frame.loc[4, "via"] = "series"
    (found,) = spreads(frame, baselines(frame, None, 365), SpreadRule())
    assert (found.area, found.raised_on, found.incidents) == ("D9", date(2024, 2, 1), ["I4"])


def test_contacts_in_the_baseline_make_an_area_home():
    frame = links([*HOME, ("G1", "I4", "2024-02-01", "D9"), ("G1", "I5", "2024-02-02", "D9")])
    contacts = pd.DataFrame(
        {"group_id": ["G1"], "area": ["D9"], "seen_on": [date(2023, 4, 1)], "why": ["contact:C1"]}
    )
    bases = baselines(frame, contacts, 365)
    assert "D9" in bases["G1"].areas and bases["G1"].evidence["D9"] == ["contact:C1"]
    assert spreads(frame, bases, TWO) == []


def test_activity_rows_count_and_flag_new_areas():
    frame = links([*HOME, ("G1", "I4", "2024-02-01", "D9"), ("G1", "I5", "2024-02-20", "D9")])
    rows = activity_rows(frame, baselines(frame, None, 365))
    month = rows[rows["period_kind"] == "month"]
    totals = month[month["area"] == "*"].set_index("period_start")
    assert totals["incidents"].sum() == 5 and totals.loc[date(2024, 2, 1), "incidents"] == 2
    assert (
        totals.loc[date(2024, 2, 1), "new_areas"] == 1
        and totals.loc[date(2024, 2, 1), "cumulative_areas"] == 3
    )
    assert totals.loc[date(2023, 1, 1), "new_areas"] == 0  # the baseline's areas are home, not new
    per_area = month[(month["area"] == "D9")]
    assert per_area["new_areas"].tolist() == [1]
    assert set(rows["period_kind"]) == {"week", "month"}


def test_periods_start_on_monday_and_the_first_of_the_month():
    days = pd.Series([date(2024, 5, 1), date(2024, 5, 5), date(2024, 5, 6)])
    assert [d.date() for d in period_start(days, "week")] == [date(2024, 4, 29)] * 2 + [date(2024, 5, 6)]
    assert [d.date() for d in period_start(days, "month")] == [date(2024, 5, 1)] * 3


OPTIONS = {"recent_months": 3, "reference_months": 12, "min_ratio": 1.5, "min_incidents": 5, "alpha": 0.05}


def test_a_sustained_rise_is_one_growth_event():
    months = period_range(date(2022, 1, 1), date(2024, 12, 1), "month")
    rng = np.random.default_rng(1)
    counts = np.concatenate([rng.poisson(4, 24), rng.poisson(14, 12)]).astype(float)
    events = growth_events(counts, months, "G1", OPTIONS)
    assert len(events) == 1
    assert date(2023, 11, 1) <= events[0].onset <= date(2024, 1, 1) and events[0].ratio > 1.5


def test_a_steady_rate_raises_no_growth_event():
    months = period_range(date(2022, 1, 1), date(2024, 12, 1), "month")
    for seed in range(5):
        counts = np.random.default_rng(seed).poisson(6, len(months)).astype(float)
        assert growth_events(counts, months, "G1", OPTIONS) == []


def test_spread_scores():
    truth = pd.DataFrame(
        {"group_id": ["G3", "G3"], "area": ["D8", "D10"], "first_date": ["2024-02-16", "2024-05-09"]}
    )
    alerts = pd.DataFrame(
        {
            "kind": ["group_spread", "group_spread", "group_growth"],
            "subject": ["G3", "G4", "G3"],
            "detail": [
                '{"area": "D10", "raised_on": "2024-05-20"}',
                '{"area": "D1", "raised_on": "2024-01-02"}',
                '{"onset": "2024-01-01"}',
            ],
        }
    )
    s = spread_scores(truth, alerts)
    assert (s["spreads"], s["spreads_detected"], s["spread_delay_days"], s["false_spread_alerts"]) == (
        2,
        1,
        11,
        1,
    )
    assert s["false_alerts"] == ["G4:D1"] and s["first_spread_delay_days"] is None
