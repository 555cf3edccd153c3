"""Stage trends on the synthetic city: declared tables only, links checked against the records and the truth,
spread alerts against the planted spread, acknowledgements kept, protected fields unused, the CLI verbs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from casegraph import trends
from casegraph.evaluation.trends import spread_scores
from casegraph.schema import model
from casegraph.trends import sql
from tests.conftest import changed_tables, store_planted_series, table_counts


@pytest.fixture
def ran(city_store, settings):
    before = table_counts(city_store)
    summary = trends.run(city_store, settings)
    return city_store, settings, summary, before


def test_writes_only_declared_tables(ran):
    store, _settings, summary, before = ran
    changed = changed_tables(store, before)
    assert changed <= set(trends.WRITES) | {"runs"}
    assert {"group_incidents", "group_activity", "group_trends", "hotspots"} <= changed
    assert set(summary["rows"]) == set(trends.WRITES)
    assert store.scalar("SELECT count(DISTINCT run_id) FROM group_activity") == 1


def expected_member_links(store) -> set[tuple[str, str]]:
    """The rule written again with pandas on the stored records (ingest may have refused some claims):
    claims with >= 2 criteria and evidence; their records as suspect, arrestee or offender, or arrested."""
    claims = store.df("SELECT record_id, group_id, criteria, evidence FROM membership_claims")
    claims = claims[(claims["criteria"].map(len) >= 2) & (claims["evidence"].map(len) >= 1)]
    inv = store.df("SELECT record_id, incident_id, role FROM involvements")
    inv = inv[inv["role"].isin(["suspect", "arrestee", "offender"])]
    arrests = store.df("SELECT record_id, incident_id FROM arrests WHERE incident_id IS NOT NULL")
    hits = pd.concat(
        [
            claims.merge(inv, on="record_id")[["group_id", "incident_id"]],
            claims.merge(arrests, on="record_id")[["group_id", "incident_id"]],
        ]
    )
    return set(map(tuple, hits.drop_duplicates().to_numpy()))


def test_member_links_follow_the_rule_and_the_truth(ran, city_dir):
    store = ran[0]
    got = store.df("SELECT group_id, incident_id, evidence FROM group_incidents WHERE via = 'member'")
    assert set(zip(got["group_id"], got["incident_id"], strict=True)) == expected_member_links(store)
    assert all(any(e.startswith("claim:") for e in ev) for ev in got["evidence"])
    # Against the truth: a member-linked incident was committed by a true member of that group.
    truth = pd.read_csv(city_dir / "incident_truth.csv").merge(
        pd.read_csv(city_dir / "group_truth.csv"), left_on="offender_id", right_on="person_id"
    )
    true_pairs = set(zip(truth["group_id"], truth["incident_id"], strict=True))
    pairs = list(zip(got["group_id"], got["incident_id"], strict=True))
    assert sum(p in true_pairs for p in pairs) / len(pairs) >= 0.95


def test_activity_totals_match_the_links(ran):
    store = ran[0]
    per_group = store.df("SELECT group_id, count(*) AS n FROM group_incidents GROUP BY 1").set_index(
        "group_id"
    )["n"]
    for kind in ("week", "month"):
        totals = store.df(
            "SELECT group_id, sum(incidents) AS n FROM group_activity WHERE period_kind = ? "
            "AND area = '*' GROUP BY 1",
            [kind],
        ).set_index("group_id")["n"]
        assert totals.to_dict() == per_group.to_dict()


def spread_alerts(store) -> pd.DataFrame:
    frame = trends.alerts(store, "group_spread")
    return frame.assign(area=[json.loads(d)["area"] for d in frame["detail"]])


def test_no_spread_alert_for_groups_that_do_not_spread(ran, city_dir):
    truth = pd.read_csv(city_dir / "spread_truth.csv")
    alerts = spread_alerts(ran[0])
    planted = set(zip(truth["group_id"], truth["area"], strict=True))
    assert all((a.subject, a.area) in planted for a in alerts.itertuples())


def test_the_planted_spread_is_found_within_a_month_given_correct_series(city_store, settings, city_dir):
    """With the series a perfect linkage would give, the spreading group's alerts match the truth."""
    store_planted_series(city_store, city_dir)
    trends.run(city_store, settings)
    truth = pd.read_csv(city_dir / "spread_truth.csv")
    scores = spread_scores(truth, trends.alerts(city_store))
    assert scores["false_spread_alerts"] == 0
    assert scores["spreads_detected"] >= 1 and scores["spread_delay_days"] <= 30


def test_rerun_replaces_rows_and_keeps_acknowledgements(ran):
    store, settings, _summary, _before = ran
    alerts = trends.alerts(store)
    rows = table_counts(store)
    if len(alerts):
        assert trends.acknowledge(store, alerts["alert_id"].iloc[0], "analyst.a", note="seen")
    trends.run(store, settings)
    after = table_counts(store)
    assert all(after[t] == rows[t] for t in trends.WRITES)
    if len(alerts):
        again = trends.alerts(store).set_index("alert_id")
        assert again.loc[alerts["alert_id"].iloc[0], "status"] == "acknowledged"
    assert not trends.acknowledge(store, "AL-none", "analyst.a")


def test_near_repeat_alerts_are_bounded_evidenced_and_expire(ran):
    store, settings, summary, _before = ran
    cfg = settings.trends
    alerts = trends.alerts(store, "near_repeat")
    assert summary["near_repeat_alerts"] == len(alerts) > 0
    as_of = pd.Timestamp(store.scalar("SELECT CAST(max(occurred_from) AS DATE) FROM incidents"))
    table = store.df("SELECT band_id, nst, expected, p FROM near_repeat").set_index("band_id")
    incidents = store.df("SELECT incident_id, offence, CAST(occurred_from AS DATE) AS day FROM incidents")
    incidents = incidents.set_index("incident_id")
    for a in alerts.itertuples():
        detail = json.loads(a.detail)
        day = incidents.loc[a.evidence[0].removeprefix("incident:")]
        assert pd.Timestamp(a.onset) == pd.Timestamp(day["day"]) and detail["offence"] == day["offence"]
        assert 0 <= (as_of - pd.Timestamp(day["day"])).days <= detail["days"]
        assert pd.Timestamp(a.expires) >= as_of and a.status == "open"
        assert pd.Timestamp(a.expires).date().isoformat() == detail["until"] == max(detail["zone_until"])
        cells = table.loc[[e.removeprefix("near_repeat:") for e in a.evidence[1:]]]
        assert len(cells) and (cells["p"] <= cfg.risk_alpha).all()
        assert (cells["nst"] / cells["expected"] >= cfg.risk_min_ratio).all()
        assert all(b.startswith(day["offence"] + "|") for b in cells.index)


def test_near_repeat_alerts_expire_by_themselves_and_can_be_turned_off(city_store, settings):
    settings.trends.risk_as_of = pd.Timestamp("2023-06-30").date()
    trends.run(city_store, settings)
    alerts = trends.alerts(city_store, "near_repeat")
    # raised for June 2023; the store holds later incidents, so each has expired without a re-run
    assert len(alerts) and set(alerts["status"]) == {"expired"}
    assert all(pd.Timestamp(e).date() < pd.Timestamp("2023-08-01").date() for e in alerts["expires"])
    settings.trends.risk_alerts = False
    assert trends.run(city_store, settings)["near_repeat_alerts"] == 0
    assert trends.alerts(city_store, "near_repeat").empty


def test_no_protected_field_is_used():
    protected = {name for _table, name in model.protected_fields()}
    assert protected  # the schema declares some (suspect_race, race)
    texts = [
        sql.group_incidents_sql(use_identities=a, use_series=b, claims="membership_claims", series_agency=b)
        for a in (True, False)
        for b in (True, False)
    ]
    texts += [
        sql.member_contacts_sql(use_identities=True, claims="membership_claims"),
        sql.points_sql(),
        sql.data_window_sql(),
    ]
    texts += [p.read_text() for p in Path(trends.__file__).parent.glob("*.py")]
    assert not [f for f in protected for text in texts if f in text]


def test_charts_are_png(ran, tmp_path):
    store = ran[0]
    group = store.scalar("SELECT group_id FROM group_trends ORDER BY incidents DESC LIMIT 1")
    for path in (
        trends.group_chart(store, group, tmp_path / "g.png"),
        trends.hotspot_chart(store, tmp_path / "m.png"),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_knox_and_hotspots_on_a_csv(city_dir, tmp_path):
    from casegraph.cli import app  # here, so the stage tests above do not depend on every CLI module

    incidents = pd.read_csv(city_dir / "incidents.csv")
    csv = tmp_path / "points.csv"
    incidents[["x", "y", "occurred_from"]].to_csv(csv, index=False)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "--json",
            "trends",
            "knox",
            str(csv),
            "--x",
            "x",
            "--y",
            "y",
            "--date",
            "occurred_from",
            "--space",
            "200",
            "--time",
            "7",
            "--perms",
            "9",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"n", "ns", "nt", "nst", "ratio_median", "p", "seconds"} <= set(out) and out["n"] == len(incidents)
    res = runner.invoke(
        app,
        [
            "--json",
            "trends",
            "knox",
            str(csv),
            "--date",
            "occurred_from",
            "--perms",
            "9",
            "--bands-space",
            "0.1,100,200",
            "--bands-time",
            "7,14",
        ],
    )
    bands = json.loads(res.stdout)["bands"]
    assert len(bands) == 6 and sum(b["nst"] for b in bands) == json.loads(res.stdout)["nst"]
    res = runner.invoke(
        app, ["--json", "trends", "hotspots", str(csv), "--date", "occurred_from", "--cell", "250"]
    )
    assert res.exit_code == 0, res.output
    hs = json.loads(res.stdout)
    assert sum(hs["classes"].values()) == hs["locations"] and "seconds" in hs


def test_an_empty_store_gives_empty_tables(store, settings):
    summary = trends.run(store, settings)
    assert summary["rows"] == dict.fromkeys(trends.WRITES, 0)
    assert store.scalar("SELECT status FROM runs WHERE run_id = ?", [summary["run_id"]]) == "ok"


def test_grid_areas_when_the_data_name_none(city_store, settings):
    settings.trends.area_source = "grid"
    settings.trends.area_grid_m = 4000.0  # the city's districts are 4 km squares on the same origin
    trends.run(city_store, settings)
    areas = city_store.df("SELECT DISTINCT area FROM group_incidents WHERE area IS NOT NULL")["area"]
    assert len(areas) and all(a.startswith("g") for a in areas)
    assert city_store.scalar("SELECT count(*) FROM group_activity WHERE area LIKE 'g%'") > 0
