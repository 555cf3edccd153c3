"""Review dates, keep decisions and purge on hand-made records (see make_records for the dates)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from safeguards_records import METRO, make_records

from casegraph.errors import PolicyDenied
from casegraph.safeguards import due, keep, owner_session, purge, tombstoned_rows_sql
from casegraph.schema import Field, Table, model
from casegraph.store import open_store
from casegraph.store.ddl import create_table_sql

TODAY = date(2026, 1, 1)
TIES = Table(
    name="test_ties",
    kind="derived",
    key="tie_id",
    description="a derived table naming contacts",
    fields=(
        Field("tie_id", "id"),
        Field("contact_id", "id"),
        Field("agency", "code"),
        Field("evidence", "list"),
        Field("run_id", "id"),
    ),
)


@pytest.fixture
def st(settings, monkeypatch):
    monkeypatch.setitem(model.tables, TIES.name, TIES)
    store = open_store(settings)
    make_records(store)
    store.execute(create_table_sql(TIES))
    store.execute(
        "INSERT INTO test_ties VALUES ('T1', 'C1', ?, ['contact:C2'], 'r'), ('T2', 'C2', ?, ['contact:C1'], 'r'), "
        "('T3', 'C2', ?, ['incident:I1'], 'r')",
        [METRO, METRO, METRO],
    )
    yield store
    store.close()


def test_review_lists_expired_and_failing(st, settings):
    g = owner_session(st, settings, purpose="review")
    rows = {(r["table_name"], r["record_key"]): r["status"] for r in due(g, today=TODAY, within_days=0)}
    # C1 (2019) and MC2 (cites only C1) are past 2024-01-01; MC3 fails (a minor, no approval); C2 and MC1 live.
    assert rows == {
        ("contacts", "C1"): "expired",
        ("membership_claims", "MC2"): "expired",
        ("membership_claims", "MC3"): "fails criteria",
    }
    g.close()


def test_purge_reaches_derived_rows_and_leaves_tombstones(st, settings):
    g = owner_session(st, settings, purpose="review")
    summary = purge(g, today=TODAY)
    g.close()
    assert summary["removed"] == {
        "membership_claims": 1,
        "contacts": 1,
        "contact_participants": 1,
        "test_ties": 2,
    }
    assert st.rows("SELECT tie_id FROM test_ties") == [("T3",)]
    assert st.rows("SELECT table_name, record_key FROM tombstones ORDER BY 1, 2") == [
        ("contact_participants", "P1"),
        ("contacts", "C1"),
        ("membership_claims", "MC2"),
    ]


def test_a_purged_id_in_new_rows_is_found_with_the_reason(st, settings):
    g = owner_session(st, settings, purpose="review")
    purge(g, today=TODAY)
    again = pd.DataFrame(
        [
            {
                "contact_id": "C1",
                "kind": "meeting",
                "occurred_at": pd.Timestamp("2019-01-01"),
                "agency": METRO,
                "source_id": "s2",
                "source_row": 1,
                "row_hash": "h",
                "ingested_at": pd.Timestamp.now(),
            }
        ]
    )
    with st.registered("_tmp_again", again):
        flagged = st.rows(tombstoned_rows_sql("contacts", "_tmp_again", keys=("contact_id",)))
    assert flagged[0][0] == "C1" and "was purged on" in flagged[0][2]


def test_keep_moves_the_review_date_and_needs_a_passing_claim(st, settings):
    g = owner_session(st, settings, purpose="review")
    with pytest.raises(PolicyDenied, match="cannot be kept"):
        keep(g, "membership_claims", "MC3", "checked", today=TODAY)  # still fails: a minor without approval
    kept = keep(g, "membership_claims", "MC2", "informant re-confirmed membership", today=TODAY)
    assert kept["next_review"] == date(2031, 1, 1)
    listed = {(r["table_name"], r["record_key"]) for r in due(g, today=TODAY, within_days=0)}
    assert ("membership_claims", "MC2") not in listed
    assert ("contacts", "C1") not in listed  # its citing claim lives on, so it does too
    g.close()
