"""The guarded store: roles, agency ownership and sharing, protected fields hidden, one audit entry per statement."""

from __future__ import annotations

import pandas as pd
import pytest

from casegraph.errors import EngineError, PolicyDenied
from casegraph.safeguards import User, add_user, guard, session, share
from casegraph.store import open_store

P = "agency, source_id, source_row, row_hash, ingested_at"
METRO, COUNTY = "metro_pd", "county_so"


def make_records(store) -> None:
    """Two agencies' records, hand-made: ages, dates and evidence chosen so each rule has a case."""
    store.execute(
        f"INSERT INTO person_records (record_id, given_name, dob, race, {P}) VALUES "
        f"('R1', 'Ann', DATE '1990-01-01', 'white', '{METRO}', 's', 1, 'h', now()), "
        f"('R2', 'Bo', DATE '2012-06-01', 'black', '{METRO}', 's', 2, 'h', now()), "
        f"('R3', 'Cy', DATE '1985-01-01', 'white', '{COUNTY}', 's', 3, 'h', now())"
    )
    store.execute(
        f"INSERT INTO incidents (incident_id, offence, occurred_from, suspect_race, {P}) VALUES "
        f"('I1', 'burglary', TIMESTAMP '2024-03-01 10:00', 'white', '{METRO}', 's', 1, 'h', now()), "
        f"('I2', 'robbery', TIMESTAMP '2024-04-01 10:00', NULL, '{COUNTY}', 's', 2, 'h', now())"
    )
    store.execute(
        f"INSERT INTO contacts (contact_id, kind, occurred_at, {P}) VALUES "
        f"('C1', 'meeting', TIMESTAMP '2019-01-01 12:00', '{METRO}', 's', 1, 'h', now()), "
        f"('C2', 'meeting', TIMESTAMP '2024-05-01 12:00', '{METRO}', 's', 2, 'h', now())"
    )
    store.execute(
        f"INSERT INTO contact_participants (participant_id, contact_id, record_id, {P}) VALUES "
        f"('P1', 'C1', 'R1', '{METRO}', 's', 1, 'h', now()), ('P2', 'C2', 'R1', '{METRO}', 's', 2, 'h', now())"
    )
    store.execute(
        "INSERT INTO membership_claims (claim_id, record_id, group_id, criteria, evidence, entered_by, entered_at, "
        f"approved_by, {P}) VALUES "
        "('MC1', 'R1', 'G1', ['self_admission', 'frequents_group_area'], ['incident:I1', 'contact:C2'], 'ana', "
        f"TIMESTAMP '2024-06-01', NULL, '{METRO}', 's', 1, 'h', now()), "
        "('MC2', 'R1', 'G1', ['self_admission', 'group_tattoos_or_symbols'], ['contact:C1'], 'ana', "
        f"TIMESTAMP '2019-02-01', NULL, '{METRO}', 's', 2, 'h', now()), "
        "('MC3', 'R2', 'G1', ['self_admission', 'frequents_group_area'], ['incident:I1'], 'ana', "
        f"TIMESTAMP '2024-06-01', NULL, '{METRO}', 's', 3, 'h', now())"
    )


@pytest.fixture
def records_store(settings):
    st = open_store(settings)
    make_records(st)
    yield st
    st.close()


@pytest.fixture
def people(records_store, settings):
    """An admin session that has added one user of each role (metro) and a county analyst."""
    session(records_store, settings).close()
    admin = guard(records_store, "admin", settings=settings)
    for uid, agency, role in [
        ("sup", METRO, "supervisor"),
        ("aud", METRO, "auditor"),
        ("cty", COUNTY, "analyst"),
        ("cadmin", COUNTY, "admin"),
    ]:
        add_user(admin, uid, agency, role)
    admin.close()
    return records_store


def audit_rows(store) -> list[tuple]:
    return store.rows("SELECT user_id, action, target, outcome FROM audit_log ORDER BY seq")


def test_nothing_runs_anonymously_or_with_a_claimed_role(people, settings):
    with pytest.raises(PolicyDenied, match="no such user"):
        guard(people, "mallory", settings=settings)
    with pytest.raises(PolicyDenied, match="users table says analyst"):
        guard(people, User("analyst", METRO, "admin"), settings=settings)
    assert audit_rows(people)[-1][1:] == ("login", None, audit_rows(people)[-1][3])
    assert audit_rows(people)[-1][3].startswith("denied")


def test_agency_sees_own_rows_until_shared(people, settings):
    cty = guard(people, "cty", settings=settings)
    assert cty.rows("SELECT record_id FROM person_records ORDER BY 1") == [("R3",)]
    cty.close()
    metro_admin = guard(people, "admin", settings=settings)
    share(metro_admin, COUNTY, tables=["person_records"])
    metro_admin.close()
    cty = guard(people, "cty", settings=settings)
    assert cty.rows("SELECT record_id FROM person_records ORDER BY 1") == [("R1",), ("R2",), ("R3",)]
    assert cty.rows("SELECT incident_id FROM incidents") == [("I2",)]  # only person_records were shared
    cty.close()


def test_only_the_owner_admin_shares(people, settings):
    cadmin = guard(people, "cadmin", settings=settings)
    share(cadmin, METRO)  # county shares county's rows: fine
    cadmin.close()
    analyst = guard(people, "analyst", settings=settings)
    with pytest.raises(PolicyDenied, match="share an agency"):
        share(analyst, COUNTY)
    assert analyst.rows("SELECT record_id FROM person_records ORDER BY 1") == [("R1",), ("R2",), ("R3",)]
    analyst.close()


def test_catalog_bypass_and_escape_hatches_are_refused(people, settings):
    g = guard(people, "analyst", settings=settings)
    for sql in [
        "SELECT * FROM cg.main.person_records",
        'SELECT * FROM "cg"."person_records"',
        "SELECT * FROM query_table('person_records')",
        "ATTACH 'x.duckdb' AS y",
        "SET search_path = 'cg.main'",
        "COPY person_records TO 'x.csv'",
        "DROP VIEW person_records",
        "CREATE TEMP VIEW incidents AS SELECT 1",
        "SELECT 1; DELETE FROM incidents",
        "BEGIN TRANSACTION",
    ]:
        with pytest.raises(PolicyDenied):
            g.execute(sql)
    assert sum(1 for r in audit_rows(people) if r[1] == "denied") == 10
    g.close()


def test_protected_fields_are_hidden_from_guarded_reads(people, settings):
    g = guard(people, "analyst", settings=settings)
    assert "race" not in g.columns("person_records")
    assert "race" not in g.df("SELECT * FROM person_records").columns
    with pytest.raises(EngineError, match="race"):
        g.rows("SELECT race FROM person_records")
    g.close()


def test_roles(people, settings):
    aud = guard(people, "aud", settings=settings)
    assert aud.rows("SELECT count(*) FROM incidents") == [(1,)]
    with pytest.raises(PolicyDenied, match="auditor"):
        aud.execute("CREATE TEMP TABLE _tmp_x AS SELECT 1 AS a")
    with pytest.raises(PolicyDenied, match="run stages"):
        aud.new_run("linkage", {})
    aud.close()
    analyst = guard(people, "analyst", settings=settings)
    with pytest.raises(PolicyDenied, match="audit"):
        analyst.rows("SELECT * FROM audit_log")
    with pytest.raises(PolicyDenied, match="add or change users"):
        add_user(analyst, "eve", METRO, "admin")
    analyst.close()


def test_records_are_never_edited_and_only_own_agency_is_added(people, settings):
    g = guard(people, "analyst", settings=settings)
    for sql in [
        "DELETE FROM incidents",
        "UPDATE person_records SET given_name = 'x'",
        "TRUNCATE contacts",
        "DELETE FROM sources",
        "INSERT INTO tombstones (tombstone_id) VALUES ('x')",
    ]:
        with pytest.raises(PolicyDenied, match=r"refused|append-only"):
            g.execute(sql)
    row = {
        "record_id": "R9",
        "source_id": "s",
        "source_row": 9,
        "row_hash": "h",
        "ingested_at": pd.Timestamp.now(),
    }
    with pytest.raises(PolicyDenied, match="agency metro_pd only"):
        g.write("person_records", pd.DataFrame([{**row, "agency": COUNTY}]))
    g.write("person_records", pd.DataFrame([{**row, "agency": METRO}]))
    g.close()
    assert people.rows("SELECT agency FROM person_records WHERE record_id = 'R9'") == [(METRO,)]


def test_one_audit_entry_per_statement_with_user_purpose_and_origin(people, settings):
    g = guard(people, "analyst", settings=settings, purpose="case 24-118", origin="test-host")
    before = people.scalar("SELECT count(*) FROM audit_log")
    g.rows("SELECT * FROM person_records")  # person-level: audited
    g.rows("SELECT count(*) FROM runs")  # not person-level: not audited
    g.arrow("SELECT p.record_id FROM person_records p JOIN contact_participants c USING (record_id)")
    g.close()
    rows = people.rows(
        "SELECT user_id, action, target, purpose, origin, row_count FROM audit_log WHERE seq > ? "
        "ORDER BY seq",
        [before],
    )
    assert rows == [
        ("analyst", "read", "person_records", "case 24-118", "test-host", 2),
        ("analyst", "read", "contact_participants,person_records", "case 24-118", "test-host", 2),
    ]


def test_entries_made_in_a_rolled_back_transaction_are_still_logged(people, settings):
    g = guard(people, "analyst", settings=settings)
    with pytest.raises(RuntimeError), g.transaction():
        g.rows("SELECT * FROM person_records")
        raise RuntimeError("stage failed")
    g.close()
    last = people.rows("SELECT action, outcome FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert last == [("read", "rolled back")]


def test_derived_rows_follow_the_visibility_of_every_record_they_name(people, settings):
    """A link between a metro and a county incident is seen only where both incidents are; a group's incident
    follows the incident's agency and the group's record (not the group's agency: G1 is metro's, I2 county's)."""
    people.execute(
        f"INSERT INTO groups (group_id, name, {P}) VALUES ('G1', 'Crew', '{METRO}', 's', 1, 'h', now())"
    )
    people.execute(
        "INSERT INTO incident_links (link_id, agency_a, incident_a, agency_b, incident_b) VALUES "
        f"('L1', '{METRO}', 'I1', '{COUNTY}', 'I2'), ('L2', '{METRO}', 'I1', NULL, NULL)"
    )
    people.execute(
        "INSERT INTO group_incidents (link_id, group_id, agency, incident_id) VALUES "
        f"('GI1', 'G1', '{METRO}', 'I1'), ('GI2', 'G1', '{COUNTY}', 'I2'), "
        f"('GI3', 'G9', '{METRO}', 'I1')"
    )

    def seen(user: str) -> tuple[list[tuple], list[tuple]]:
        g = guard(people, user, settings=settings)
        try:
            return (
                g.rows("SELECT link_id FROM incident_links ORDER BY 1"),
                g.rows("SELECT link_id FROM group_incidents ORDER BY 1"),
            )
        finally:
            g.close()

    # metro: both of its own rows; the county incident and the group G9 (no such record) are not visible
    assert seen("analyst") == ([("L2",)], [("GI1",)])
    assert seen("cty") == ([], [])  # county sees its incident I2 but not metro's group G1
    metro_admin = guard(people, "admin", settings=settings)
    share(metro_admin, COUNTY, tables=["incidents", "groups"])
    metro_admin.close()
    assert seen("cty") == ([("L1",), ("L2",)], [("GI1",), ("GI2",)])
    assert seen("analyst") == ([("L2",)], [("GI1",)])  # sharing is one way
