"""Hand-made records of two agencies for the safeguards' tests: ages, dates and evidence chosen so each rule of
claims, review and purge has a case."""

from __future__ import annotations

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
