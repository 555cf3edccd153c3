"""Near-repeat risk: the window read off a table, the alerts' zones, hits and area by their definitions, and the
prospective evaluation (on planted near repeats, and on the Chicago burglaries: trained on 2014-15, tested on
2016)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from casegraph.trends import risk
from casegraph.trends.alerts import near_repeat_alert
from tests.conftest import shared_data


def cell(lo, hi, tlo, thi, nst, expected, p, closed="right"):
    return {
        "space_lo": lo,
        "space_hi": hi,
        "time_lo": tlo,
        "time_hi": thi,
        "nst": nst,
        "expected": expected,
        "p": p,
        "closed": closed,
        "space_band": f"({lo}, {hi}]",
        "time_band": f"({tlo}, {thi}]",
        "band_id": f"burglary|{lo}-{hi}|{tlo}-{thi}",
    }


def table(closed="right"):
    """same place: nothing; 0-100 m: elevated 14 days; 100-200 m: 7 days (then 1.1x: too little);
    200-300 m: not significant (ends the window); 300-400 m: significant, but beyond the gap."""
    rows = [(0, 0.1, [(0, 0, 1.0)] * 3), (0.1, 100, [(20, 10, 0.01), (16, 10, 0.01), (11, 10, 0.2)])]
    rows += [(100, 200, [(16, 10, 0.01), (11, 10, 0.01), (10, 10, 0.5)])]
    rows += [(200, 300, [(12, 10, 0.2), (30, 10, 0.01), (30, 10, 0.01)])]
    rows += [(300, 400, [(30, 10, 0.01)] * 3)]
    edges = [(0, 7), (7, 14), (14, 21)]
    return [
        cell(lo, hi, tlo, thi, nst, exp, p, closed)
        for lo, hi, cells in rows
        for (tlo, thi), (nst, exp, p) in zip(edges, cells, strict=True)
    ]


def test_the_window_grows_out_from_the_incident_while_bands_stay_elevated():
    w = risk.risk_window(table(), alpha=0.05, min_ratio=1.5)
    assert [(r.hi, r.last_day) for r in w.rings] == [(0.1, 0), (100, 14), (200, 7)]
    assert (w.radius, w.days) == (200, 14)
    assert w.rings[1].ratio == 2.0 and w.rings[1].p == 0.01
    assert w.rings[1].evidence == ("burglary|0.1-100|0-7", "burglary|0.1-100|7-14")
    # every place inside a band that reaches it: the same place and 100 m for 14 days, 100-200 m for 7
    d = np.array([0, 50, 100, 150, 200, 250])
    assert w.last_day_at(d).tolist() == [14, 14, 14, 7, 7, 0]
    assert w.covers(np.array([50, 50, 50, 150, 150]), np.array([0, 1, 15, 7, 8])).tolist() == [
        False,  # the incident's own day: the alert starts the day after
        True,
        False,
        True,
        False,
    ]
    assert [w.radius_on(k) for k in (0, 1, 7, 8, 14, 15)] == [0.0, 200, 200, 100, 100, 0.0]
    assert w.describe() == [
        "0.1-100 m: 14 days, 2.00x chance (p 0.01)",
        "100-200 m: 7 days, 1.60x chance (p 0.01)",
    ]


def test_a_stricter_ratio_or_alpha_shrinks_it_and_none_is_said_plainly():
    assert risk.risk_window(table(), alpha=0.05, min_ratio=1.7).radius == 100
    assert risk.risk_window(table(), alpha=0.001, min_ratio=1.0) is None
    # bands closed on the left end a day earlier: [0, 7) is days 0-6
    left = risk.risk_window(table("left"), alpha=0.05, min_ratio=1.5)
    assert [r.last_day for r in left.rings] == [0, 13, 6]
    assert risk.last_day(7.0, "right") == 7 and risk.last_day(7.0, "left") == 6


def test_an_alert_names_its_zones_evidence_and_last_day():
    w = risk.risk_window(table(), alpha=0.05, min_ratio=1.5)
    incident = {"agency": "a", "incident_id": "I1", "offence": "burglary", "x": 10.0, "y": 20.0}
    row = near_repeat_alert(incident | {"occurred_on": date(2024, 3, 1)}, w, date(2024, 3, 5), "run", None)
    detail = __import__("json").loads(row["detail"])
    assert (detail["zone_radius_m"], detail["zone_until"]) == ([200, 100], ["2024-03-08", "2024-03-15"])
    assert row["expires"] == date(2024, 3, 15) and row["kind"] == "near_repeat" and row["subject"] == "a/I1"
    assert row["evidence"][0] == "incident:I1" and "near_repeat:burglary|100-200|0-7" in row["evidence"]
    assert "within 200 m until 2024-03-08, 2.0x chance within 100 m" in row["title"]


def test_live_alerts_are_those_still_running_on_the_as_of_day():
    w = risk.risk_window(table(), alpha=0.05, min_ratio=1.5)  # 14 days
    as_of = pd.Timestamp("2024-03-20")
    days = [as_of - pd.Timedelta(days=k) for k in (15, 14, 1, 0, -1)]
    incidents = pd.DataFrame({"incident_id": ["a", "b", "c", "d", "e"], "occurred_on": days})
    live = risk.live_alerts(w, incidents, as_of)
    # a ended yesterday; b's last day is today; d's starts tomorrow; e is after the as-of day
    assert live["incident_id"].tolist() == ["b", "c", "d"]
    assert live["occurred_on"].tolist() == [date(2024, 3, 6), date(2024, 3, 19), date(2024, 3, 20)]


def test_hits_by_the_definition():
    w = risk.risk_window(table(), alpha=0.05, min_ratio=1.5)
    xy = np.array([[0.0, 0.0], [80.0, 0.0], [0.0, 150.0], [0.0, -150.0], [30.0, 0.0], [5000.0, 0.0]])
    day = np.array([0, 10, 10, 5, 0, 3])
    # 1: 80 m on day 10 (<= 14); 2: 150 m on day 10 (> 7); 3: 150 m on day 5; 4: same day; 5: far away
    assert risk.alert_hits(w, xy, day).tolist() == [False, True, False, True, False, False]


def test_the_alerted_area_is_the_disc():
    w = risk.risk_window(table(), alpha=0.05, min_ratio=1.5)
    region = risk.study_region(
        np.array([[-1000.0, -1000.0], [1000.0, -1000.0], [0.0, 1000.0], [1000, 1000]]), 5.0
    )
    for days_after, radius in ((3, 200), (10, 100), (20, 0)):
        cells = risk.alerted_area(w, region, np.array([[0.0, 0.0]]), np.array([days_after]))
        assert cells * 25 == pytest.approx(math.pi * radius**2, rel=0.01)


def planted(seed: int = 3, n: int = 1500) -> tuple[np.ndarray, pd.Series]:
    """Background burglaries over two years in a 10 km square, and a near repeat 20-80 m away 1-5 days after
    a third of them."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10000, size=(n, 2))
    day = rng.integers(0, 730, size=n)
    seeds = rng.choice(n, n // 3, replace=False)
    angle = rng.uniform(0, 2 * np.pi, len(seeds))
    step = rng.uniform(20, 80, len(seeds))
    repeats = xy[seeds] + np.column_stack([np.cos(angle), np.sin(angle)]) * step[:, None]
    xy = np.vstack([xy, repeats])
    day = np.concatenate([day, day[seeds] + rng.integers(1, 6, len(seeds))])
    return xy, pd.Series(pd.Timestamp("2022-01-01") + pd.to_timedelta(day, unit="D"))


def test_prospective_evaluation_counts_hits_and_area_by_brute_force():
    xy, dates = planted()
    options = {"space": [0.1, 100, 200], "time_bands": [7, 14], "permutations": 49, "seed": 1}
    out = risk.prospective(
        xy,
        dates,
        train=(pd.Timestamp("2022-01-01"), pd.Timestamp("2022-12-31")),
        test=(pd.Timestamp("2023-01-01"), pd.Timestamp("2023-12-31")),
        table_options=options,
        alpha=0.05,
        min_ratios=[1.5],
        grid=20.0,
    )
    run = out["runs"][0]
    assert run["window"]["radius_m"] == 100 and run["window"]["days"] == 7
    alerts, hotspots = run["methods"]
    # brute force: a test incident is a hit when an incident 1-7 days before lies within 100 m
    day = (dates - dates.min()).dt.days.to_numpy()
    region = risk.study_region(xy[(dates.dt.year == 2022).to_numpy()], 20.0)
    tested = np.flatnonzero((dates.dt.year == 2023).to_numpy() & region.contains(xy))
    hits = sum(
        any(1 <= day[j] - day[i] <= 7 and np.hypot(*(xy[j] - xy[i])) <= 100 for i in range(len(day)))
        for j in tested
    )
    assert (alerts["test_incidents"], alerts["hits"]) == (len(tested), hits)
    assert alerts["pai"] > 5  # a third of the incidents are planted near repeats
    assert hotspots["area_time_share"] <= alerts["area_time_share"] and hotspots["hits"] < alerts["hits"]


def test_prospective_needs_both_periods():
    xy, dates = planted(n=100)
    with pytest.raises(ValueError, match="both"):
        risk.prospective(
            xy,
            dates,
            train=(pd.Timestamp("2030-01-01"), pd.Timestamp("2030-12-31")),
            test=(pd.Timestamp("2031-01-01"), pd.Timestamp("2031-12-31")),
            table_options={"space": [100], "time_bands": [7], "permutations": 9},
            alpha=0.05,
            min_ratios=[1.5],
        )


@pytest.mark.realdata
def test_chicago_trained_on_2014_15_tested_on_2016(tmp_path):
    """The issue's figure, through the command an analyst types: PAI of the alerts beside 28-day hot spots."""
    import json

    from typer.testing import CliRunner

    from casegraph.cli import app

    path = shared_data(
        "incidents", "chicago_residential_burglary_2014_2017", "chicago_residential_burglary_2014_2017.csv"
    )
    args = [
        "--json",
        "eval",
        "near-repeat",
        str(path),
        "--train-from",
        "2014-01-01",
        "--train-to",
        "2015-12-31",
    ]
    args += ["--test-from", "2016-01-01", "--test-to", "2016-12-31", "--min-ratio", "1.2,1.5"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["engine"] == "in-process"
    assert out["train_incidents"] == 12334 + 10858
    for run in out["runs"]:
        alerts, hotspots = run["methods"]
        assert alerts["test_incidents"] == hotspots["test_incidents"] > 11500  # 11,701 in 2016, in the hull
        assert alerts["pai"] > 2 and hotspots["area_time_share"] <= alerts["area_time_share"] * 1.001
    strict, loose = out["runs"][1], out["runs"][0]
    assert strict["methods"][0]["area_time_share"] < loose["methods"][0]["area_time_share"]
