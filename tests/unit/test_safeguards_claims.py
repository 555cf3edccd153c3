"""Membership claims: criteria, evidence, approval for minors, review dates; SQL scan; protected fields."""

from __future__ import annotations

from datetime import date

import pytest
from test_safeguards_guard import METRO, make_records

from casegraph.errors import ClaimRefused, PolicyDenied
from casegraph.safeguards import (
    add_claim,
    assert_not_protected,
    claim_problems_sql,
    declared_field_problems,
    guard,
    review_dates_sql,
    session,
)
from casegraph.safeguards.sqlscan import analyse
from casegraph.store import open_store


@pytest.fixture
def st(settings):
    store = open_store(settings)
    make_records(store)
    yield store
    store.close()


def test_problems_of_each_hand_made_claim(st, settings):
    rows = st.rows(
        claim_problems_sql(
            "membership_claims", settings.safeguards, keys=("claim_id",), today=date(2026, 1, 1)
        )
    )
    found = {(c, f) for c, f, _ in rows}
    # MC1 passes; MC2's only evidence is a 2019 contact: past review on 2024-01-01; MC3 is about a 12-year-old.
    assert found == {("MC2", "review_date"), ("MC3", "approved_by")}
    reason = dict(((c, f), r) for c, f, r in rows)[("MC3", "approved_by")]
    assert reason.startswith("the person was 12 when the claim was entered")


def test_review_date_is_five_years_after_the_latest_evidence(st, settings):
    dates = {
        c: (str(latest)[:10], str(review))
        for _, c, latest, review in st.rows(review_dates_sql("membership_claims", settings.safeguards))
    }
    assert dates["MC1"] == ("2024-05-01", "2029-05-01")  # contact C2 is later than incident I1
    assert dates["MC2"] == ("2019-01-01", "2024-01-01")


def test_group_level_reads_count_only_passing_claims(st, settings):
    g = session(st, settings)
    assert g.rows("SELECT claim_id FROM membership_claims") == [("MC1",)]
    assert st.rows("SELECT count(*) FROM cg.main.membership_claims") == [(3,)]
    g.close()


@pytest.mark.parametrize(
    ("criteria", "evidence", "message"),
    [
        (["self_admission"], ["incident:I1"], "meets 1 criteria; at least 2"),
        (["self_admission", "frequents_group_area"], [], "no evidence records cited"),
        (["self_admission", "frequents_group_area"], ["incident:I404"], "incident:I404 is not in the store"),
        (["self_admission", "frequents_group_area"], ["hearsay"], "hearsay is not written kind:id"),
        (["self_admission", "wears_red"], ["incident:I1"], "wears_red is not one of the accepted"),
    ],
)
def test_a_claim_without_criteria_or_evidence_is_refused(st, settings, criteria, evidence, message):
    g = session(st, settings)
    with pytest.raises(ClaimRefused, match=message):
        add_claim(g, record_id="R1", group_id="G1", criteria=criteria, evidence=evidence)
    g.close()
    assert st.scalar("SELECT count(*) FROM cg.main.membership_claims") == 3


def test_a_claim_about_a_minor_needs_a_casegraph_supervisor(st, settings):
    g = session(st, settings)
    ok = {
        "record_id": "R2",
        "group_id": "G1",
        "criteria": ["self_admission", "frequents_group_area"],
        "evidence": ["incident:I1"],
    }
    today = date.today()
    age = today.year - 2012 - ((today.month, today.day) < (6, 1))  # R2 was born on 2012-06-01
    with pytest.raises(ClaimRefused, match=f"was {age} when"):
        add_claim(g, **ok)
    with pytest.raises(ClaimRefused, match="not a supervisor"):
        add_claim(g, **ok, approved_by="admin")
    g.close()
    admin = guard(st, "admin", settings=settings)
    admin.execute("INSERT INTO users (user_id, agency, role) VALUES ('sgt', ?, 'supervisor')", [METRO])
    admin.close()
    g = session(st, settings)
    claim = add_claim(g, **ok, approved_by="sgt")
    assert (claim,) in g.rows("SELECT claim_id FROM membership_claims")
    g.close()


def test_sql_scan_finds_reads_and_the_written_table():
    tables, catalogs = frozenset({"incidents", "person_records", "runs"}), frozenset({"cg"})
    (st,) = analyse(
        'INSERT INTO "incidents" (a) SELECT ?::VARCHAR || x FROM t JOIN person_records p USING (a) '
        "WHERE note = 'runs' -- person_records",
        tables,
        catalogs,
    )
    assert (st.kind, st.target, st.reads) == ("write", "incidents", frozenset({"person_records"}))
    (st,) = analyse("WITH x AS (SELECT * FROM incidents) UPDATE runs SET a = 1", tables, catalogs)
    assert (st.verb, st.target) == ("UPDATE", "runs")
    assert analyse("EXPLAIN ANALYZE DELETE FROM runs", tables, catalogs)[0].kind == "refused"
    assert analyse("SELECT * FROM temp.main.incidents", tables, catalogs)[0].kind == "read"


def test_protected_and_refused_fields_cannot_be_declared_features():
    assert declared_field_problems({"incidents": ["offence", "x"]}) == []
    assert (
        len(
            declared_field_problems(
                [
                    "incidents.suspect_race",
                    "person_records.race",
                    "person_records.religion",
                    "person_records.nickname",
                ]
            )
        )
        == 4
    )
    with pytest.raises(PolicyDenied, match="protected"):
        assert_not_protected("person_records", ["dob", "race"], use="blocking key")
