"""The network stage's SQL on a tiny hand-made store: who took part in what, the pair projection with
Newman weights, persons through person_identities or one per record, policy-passing claims as groups."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from casegraph.network import build, sql

CRITERIA = ["self_admission", "named_in_court_record"]


def records(store) -> None:
    recs = [("pd", f"R{i}", "1 Main St" if i in (3, 6) else None) for i in range(1, 7)] + [("so", "R7", None)]
    store.write(
        "person_records",
        pd.DataFrame(
            {
                "agency": [r[0] for r in recs],
                "record_id": [r[1] for r in recs],
                "address": [r[2] for r in recs],
                "postcode": ["60601"] * 7,
                "dob": [date(1990, 1, 1)] * 7,
                "race": ["x"] * 7,
            }
        ),
    )
    store.execute("UPDATE person_records SET address = '1  main st ' WHERE record_id = 'R4'")
    store.write(
        "incidents",
        pd.DataFrame(
            {
                "agency": ["pd", "pd", "so"],
                "incident_id": ["I1", "I2", "I3"],
                "offence": ["burglary"] * 3,
                "occurred_from": [datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 3, 1)],
            }
        ),
    )
    involvements = [
        ("pd", "I1", "R1", "suspect"),
        ("pd", "I1", "R3", "suspect"),
        ("pd", "I1", "R5", "victim"),
        ("pd", "I2", "R2", "arrestee"),
        ("pd", "I2", "R4", "offender"),
        ("so", "I3", "R1", "suspect"),
        ("so", "I3", "R7", "suspect"),
    ]  # R1 is pd's record
    store.write(
        "involvements",
        pd.DataFrame(involvements, columns=["agency", "incident_id", "record_id", "role"]).assign(
            involvement_id=[f"V{i}" for i in range(len(involvements))]
        ),
    )
    store.write(
        "arrests",
        pd.DataFrame(
            {
                "agency": "pd",
                "arrest_id": ["A1", "A2"],
                "record_id": ["R3", "R4"],
                "incident_id": "I1",
                "arrested_at": datetime(2024, 1, 3),
            }
        ),
    )
    store.write(
        "contacts",
        pd.DataFrame(
            {
                "agency": "pd",
                "contact_id": ["C1", "C2"],
                "kind": ["meeting", "call"],
                "occurred_at": [datetime(2024, 3, 1), datetime(2024, 3, 5)],
            }
        ),
    )
    parts = [("C1", "R1"), ("C1", "R4"), ("C1", "R6"), ("C2", "R5"), ("C2", "R6")]
    store.write(
        "contact_participants",
        pd.DataFrame(parts, columns=["contact_id", "record_id"]).assign(
            agency="pd", participant_id=[f"P{i}" for i in range(5)]
        ),
    )
    claims = [
        ("M1", "R1", "G1", CRITERIA, ["incident:I1"]),
        ("M2", "R3", "G1", CRITERIA, ["incident:I1"]),
        ("M3", "R4", "G2", CRITERIA, ["contact:C1"]),
        ("M4", "R6", "G2", CRITERIA[:1], ["contact:C1"]),
    ]
    store.write(
        "membership_claims",
        pd.DataFrame(claims, columns=["claim_id", "record_id", "group_id", "criteria", "evidence"]).assign(
            agency="pd", entered_by="a", entered_at=datetime(2024, 4, 1)
        ),
    )


@pytest.fixture
def tiny(store, settings):
    records(store)
    return store, settings


PAIRS = f"""
    SELECT pa.person_id, pb.person_id, e.kind, e.w, list_sort(list_distinct([e.ev_a, e.ev_b]))
    FROM {sql.SCRATCH_EVENTS} e JOIN (SELECT DISTINCT pidx, person_id FROM {sql.SCRATCH_PERSONS}) pa ON pa.pidx = e.a
    JOIN (SELECT DISTINCT pidx, person_id FROM {sql.SCRATCH_PERSONS}) pb ON pb.pidx = e.b"""


def pair_events(store, settings) -> dict[tuple[str, str, str], float]:
    src = build.sources_of(store, settings)
    build.make_scratch(store, settings, src)
    return {(a, b, k): round(w, 4) for a, b, k, w, _ in store.rows(PAIRS)}


def test_pairs_one_person_per_record(tiny):
    store, settings = tiny
    got = pair_events(store, settings)
    assert got == {
        ("pd:R1", "pd:R3", "co_offending"): 1.0,  # R5 was the victim
        ("pd:R2", "pd:R4", "co_offending"): 1.0,
        ("pd:R1", "so:R7", "co_offending"): 1.0,  # so's incident names pd's record R1
        ("pd:R3", "pd:R4", "co_arrest"): 1.0,
        ("pd:R1", "pd:R4", "meeting"): 0.5,
        ("pd:R1", "pd:R6", "meeting"): 0.5,
        ("pd:R4", "pd:R6", "meeting"): 0.5,
        ("pd:R5", "pd:R6", "call"): 1.0,
        ("pd:R3", "pd:R4", "shared_address"): 0.5,
        ("pd:R3", "pd:R6", "shared_address"): 0.5,
        ("pd:R4", "pd:R6", "shared_address"): 0.5,
    }
    evidence = {(a, b, k): e for a, b, k, _, e in store.rows(PAIRS)}
    assert evidence[("pd:R3", "pd:R4", "co_arrest")] == ["arrest:A1", "arrest:A2"]
    assert evidence[("pd:R3", "pd:R6", "shared_address")] == ["person_record:R3", "person_record:R6"]
    labels = dict(store.rows(f"SELECT person_id, group_id FROM {sql.SCRATCH_LABELS}"))
    assert labels == {"pd:R1": "G1", "pd:R3": "G1", "pd:R4": "G2"}  # M4 meets one criterion only


def test_pairs_through_person_identities(tiny):
    store, settings = tiny
    store.write(
        "person_identities",
        pd.DataFrame(
            {"agency": "pd", "record_id": ["R1", "R2"], "person_id": "P1", "cluster_size": 2, "run_id": "r"}
        ),
    )
    got = pair_events(store, settings)
    assert ("P1", "pd:R4", "co_offending") in got and ("P1", "pd:R3", "co_offending") in got
    assert not any("pd:R1" in key or "pd:R2" in key for key in got)
    assert build.sources_of(store, settings).notes == [
        "no linkage series in the store: co_series ties left out"
    ]


def test_large_events_and_the_same_incident_of_a_series(tiny):
    store, settings = tiny
    store.write(
        "series",
        pd.DataFrame({"series_id": "S1", "agency": "pd", "incident_id": ["I1", "I2"], "run_id": "r"}),
    )
    got = pair_events(store, settings)
    series = {(a, b) for a, b, k in got if k == "co_series"}
    # People of different incidents of the series; R1 and R3 only ever shared I1 (co_offending already).
    assert series == {("pd:R1", "pd:R2"), ("pd:R1", "pd:R4"), ("pd:R2", "pd:R3"), ("pd:R3", "pd:R4")}
    assert got[("pd:R1", "pd:R2", "co_series")] == round(1 / 3, 4)  # four people in the series
    settings.network.max_event_persons = 3
    got = pair_events(store, settings)
    assert ("pd:R1", "pd:R4", "meeting") in got and not any(k == "co_series" for _, _, k in got)
    settings.network.series_max_size, settings.network.max_event_persons = 2, 30
    store.write(
        "series", pd.DataFrame({"series_id": ["S1"], "agency": "pd", "incident_id": ["I9"], "run_id": "r"})
    )
    assert not any(k == "co_series" for _, _, k in pair_events(store, settings))


def test_no_protected_field_reaches_a_tie(tiny):
    store, settings = tiny
    first = pair_events(store, settings)
    store.execute("UPDATE person_records SET race = 'changed' || record_id")
    assert pair_events(store, settings) == first
    text = sql.participations_sql(use_series=True, use_addresses=True) + sql.persons_sql(True)
    assert "race" not in text.lower().replace("trace", "")


def test_person_ties_list_every_evidence_id(tiny):
    store, settings = tiny
    store.write(
        "contacts",
        pd.DataFrame(
            {"agency": ["pd"], "contact_id": ["C3"], "kind": ["call"], "occurred_at": [datetime(2024, 3, 9)]}
        ),
    )
    store.write(
        "contact_participants",
        pd.DataFrame(
            {"agency": "pd", "participant_id": ["P8", "P9"], "contact_id": "C3", "record_id": ["R6", "R5"]}
        ),
    )
    build.make_scratch(store, settings, build.sources_of(store, settings))

    def ties(max_evidence: int) -> dict:
        query = f"SELECT person_a, person_b, kind, evidence, evidence_total, n_events FROM ({sql.person_ties_sql(max_evidence)})"
        return {(a, b, k): rest for a, b, k, *rest in store.rows(query)}

    got = ties(50)
    assert got[("pd:R3", "pd:R4", "co_arrest")] == [["arrest:A1", "arrest:A2"], 2, 1]  # one event, two ids
    assert got[("pd:R5", "pd:R6", "call")] == [["contact:C2", "contact:C3"], 2, 2]  # two events
    assert got[("pd:R1", "pd:R3", "co_offending")] == [["incident:I1"], 1, 1]
    assert got[("pd:R4", "pd:R6", "shared_address")] == [["person_record:R4", "person_record:R6"], 2, 1]
    cut = ties(1)
    assert cut[("pd:R3", "pd:R4", "co_arrest")] == [["arrest:A1"], 2, 1]
    assert cut[("pd:R5", "pd:R6", "call")] == [["contact:C2"], 2, 2]
