"""Membership claims: criteria, evidence, approval for minors, review dates; SQL scan; protected fields."""

from __future__ import annotations

from datetime import date

import pytest
from safeguards_records import METRO, make_records

from casegraph.errors import ClaimRefused, PolicyDenied
from casegraph.safeguards import (
    add_claim,
    assert_not_protected,
    claim_problems_sql,
    declared_field_problems,
    owner_session,
    review_dates_sql,
)
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
    g = owner_session(st, settings)
    assert g.rows(f"SELECT claim_id FROM {g.valid_claims()}") == [("MC1",)]
    assert st.rows("SELECT count(*) FROM membership_claims") == [(3,)]


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
    g = owner_session(st, settings)
    with pytest.raises(ClaimRefused, match=message):
        add_claim(g, record_id="R1", group_id="G1", criteria=criteria, evidence=evidence, agency=METRO)
    g.close()
    assert st.scalar("SELECT count(*) FROM membership_claims") == 3


def test_a_claim_about_a_minor_needs_a_supervisors_approval(st, settings):
    g = owner_session(st, settings)
    ok = {
        "record_id": "R2",
        "group_id": "G1",
        "agency": METRO,
        "criteria": ["self_admission", "frequents_group_area"],
        "evidence": ["incident:I1"],
    }
    today = date.today()
    age = today.year - 2012 - ((today.month, today.day) < (6, 1))  # R2 was born on 2012-06-01
    with pytest.raises(ClaimRefused, match=f"was {age} when"):
        add_claim(g, **ok)
    claim = add_claim(g, **ok, approved_by="sgt.vance")  # embedded: the owner records who approved
    assert (claim,) in g.rows(f"SELECT claim_id FROM {g.valid_claims()}")


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
