"""Purge is total and stays total: a purged id never comes back (not even as a reject), rejects are reviewed
and purged like records, and the store file keeps none of the purged bytes."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from safeguards_records import METRO, make_records

from casegraph import ingest
from casegraph.safeguards import due, keep, owner_session, purge
from casegraph.store import open_store

TODAY = date(2026, 1, 1)  # C1 and MC2 of make_records are past their review date
LATER = date(2030, 1, 1)  # and C9 and MC9 below (their evidence is from 2024: live when imported)
NOTE = "met XQZ under the rail bridge"  # text that exists only in the purged contact
OFFICER = "officer-XQZ7731"  # only in the purged claim
KEPT = "seen XQZ at the bus depot"  # in a contact that stays
CONTACTS = f"contact_id,kind,occurred_at,description\nC9,meeting,2024-03-01 10:00,{NOTE}\nC10,meeting,2026-06-01 10:00,{KEPT}\n"
CLAIMS = (
    "claim_id,record_id,group_id,criteria,evidence,entered_by,entered_at\n"
    f"MC9,R1,G1,self_admission;frequents_group_area,contact:C9,{OFFICER},2024-03-02 09:00\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def import_intelligence(g, settings, tmp_path: Path) -> None:
    ingest.run(g, settings, write(tmp_path, "contacts.csv", CONTACTS), table="contacts", agency=METRO)
    ingest.run(g, settings, write(tmp_path, "claims.csv", CLAIMS), table="membership_claims", agency=METRO)


@pytest.fixture
def g(settings):
    store = open_store(settings)
    make_records(store)
    yield owner_session(store, settings, purpose="retention review")
    store.close()


def test_reimport_after_purge_stores_nothing_not_even_a_reject(g, settings, tmp_path):
    import_intelligence(g, settings, tmp_path)
    purge(g, today=LATER)
    rejects = g.count("rejects")
    # the same rows in new files (the same file again would be skipped whole as already imported)
    contacts = ingest.run(
        g, settings, write(tmp_path, "c.csv", CONTACTS + "\n"), table="contacts", agency=METRO
    )
    claims = ingest.run(
        g, settings, write(tmp_path, "m.csv", CLAIMS + "\n"), table="membership_claims", agency=METRO
    )
    assert (contacts.purged, contacts.loaded, contacts.duplicates) == (1, 0, 1)  # C9 purged, C10 stored
    assert (claims.purged, claims.loaded, claims.rejected) == (1, 0, 0)
    assert claims.problems == [
        {
            "row": 1,
            "field": "claim_id",
            "reason": f"purged: id MC9 was purged on {date.today()} (past its review date); "
            "purged records are not imported again",
            "outcome": "row skipped",
        }
    ]
    assert g.count("rejects") == rejects
    assert g.scalar("SELECT count(*) FROM membership_claims WHERE claim_id = 'MC9'") == 0


def test_rejects_carry_a_review_date_and_are_purged_with_every_copy_of_a_purged_record(g, settings, tmp_path):
    bad = "contact_id,kind,occurred_at\nC20,not-a-kind,2025-01-01 10:00\nC1,meeting,2019-01-02 12:00\n"
    report = ingest.run(g, settings, write(tmp_path, "bad.csv", bad), table="contacts", agency=METRO)
    assert report.rejected == 2  # C20: bad kind; C1: stored with other values (its raw row is a copy of C1)
    dated = g.rows("SELECT reject_id, rejected_at::DATE, review_date FROM rejects ORDER BY source_row")
    assert [(r[1], r[2]) for r in dated] == [
        (date.today(), date.today().replace(year=date.today().year + 5))
    ] * 2
    listed = {
        (d["table_name"], d["record_key"]): d["status"] for d in due(g, today=dated[0][2] + timedelta(days=1))
    }
    assert listed[("rejects", dated[0][0])] == "expired"

    summary = purge(g, today=TODAY)  # C1 is past its date: its rejected copy goes with it; C20's reject stays
    assert summary["removed"]["rejects"] == 1
    assert g.rows("SELECT raw LIKE '%C20%' FROM rejects") == [(True,)]
    c20 = g.scalar("SELECT reject_id FROM rejects")
    kept = keep(g, "rejects", c20, "the agency is fixing its contact kinds", today=dated[0][2])
    assert "rejects" not in purge(g, today=dated[0][2] + timedelta(days=1))["removed"]  # kept: a new period
    later = purge(g, today=kept["next_review"] + timedelta(days=1))
    assert later["removed"]["rejects"] == 1 and g.count("rejects") == 0
    assert g.scalar("SELECT count(*) FROM tombstones WHERE table_name = 'rejects'") == 1


def file_holds(path: str, *texts: str) -> list[str]:
    data = Path(path).read_bytes()
    return [t for t in texts if t.encode() in data]


def test_after_purge_the_store_file_holds_none_of_the_purged_bytes(settings, tmp_path):
    store = open_store(settings)
    make_records(store)
    import_intelligence(owner_session(store, settings), settings, tmp_path)
    store.close()
    assert file_holds(settings.store.path, NOTE, OFFICER) == [NOTE, OFFICER]  # the test can see them

    store = open_store(settings)
    summary = purge(owner_session(store, settings), today=LATER)
    store.close()
    assert summary["removed"]["contacts"] == 3 and summary["removed"]["membership_claims"] == 4
    assert summary["reclaimed"].startswith("rewrote")
    assert file_holds(settings.store.path, NOTE, OFFICER, KEPT) == [
        KEPT
    ]  # (the ids stay, in tombstones only)
    assert os.stat(settings.store.path).st_mode & 0o777 == 0o600

    store = open_store(settings)  # reopens, keeps what was not purged, and its audit chain
    assert store.rows("SELECT contact_id FROM contacts ORDER BY 1") == [("C10",)]
    assert owner_session(store, settings).scalar("SELECT count(*) FROM tombstones") > 0
    store.close()


def test_an_encrypted_store_is_rewritten_with_its_key(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEGRAPH_KEY", "correct horse battery staple")
    store = open_store(settings)
    make_records(store)
    import_intelligence(owner_session(store, settings), settings, tmp_path)
    summary = purge(owner_session(store, settings), today=LATER)
    assert store.scalar("SELECT count(*) FROM contacts WHERE contact_id = 'C9'") == 0  # usable after the swap
    store.close()
    assert summary["reclaimed"].startswith("rewrote")
    assert os.stat(settings.store.path).st_mode & 0o777 == 0o600
    assert file_holds(settings.store.path, NOTE, OFFICER, KEPT) == []  # no plaintext at all
    store = open_store(settings)
    assert store.rows("SELECT contact_id FROM contacts ORDER BY 1") == [("C10",)]
    store.close()
    monkeypatch.delenv("CASEGRAPH_KEY")
    with pytest.raises(Exception, match="is encrypted"):
        open_store(settings)
