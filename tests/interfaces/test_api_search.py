"""Name search through the names dictionary (reads/names.py) gives what ILIKE over every record gives, and the
API's fast row path (Session.records on a reader connection) reads what Arrow reads."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from casegraph.api import create_app
from casegraph.safeguards import owner_session
from casegraph.store import open_store
from casegraph.store.duckdb import ReaderStore
from tests.interfaces.test_api import (
    bearer,
    build_workspace_store,
    copy_store,
    opened_copy,
    raw,
    settings_for,
    sign_in,
)

with warnings.catch_warnings():  # Starlette's TestClient warns (a UserWarning) that it prefers httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def search_file(city_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("search") / "search.duckdb"
    build_workspace_store(city_store_file, dst, with_trends=False)
    return dst


def expected_persons(s: Any, pattern: str) -> set[str]:
    """Ground truth: the records (of every agency: the owner's workspace) with any name matching `pattern`."""
    found = raw(
        s,
        "SELECT agency || '/' || record_id FROM person_records WHERE "
        "(family_name ILIKE ? OR given_name ILIKE ? OR alias ILIKE ?)",
        [pattern] * 3,
    )
    return {r[0] for r in found}


def test_name_search_matches_ilike_over_all_records(search_file, tmp_path):
    s = settings_for(copy_store(search_file, tmp_path / "s.duckdb"))
    family, given = raw(
        s,
        "SELECT family_name, given_name FROM person_records WHERE agency = 'metro_pd' AND "
        "family_name IS NOT NULL AND given_name IS NOT NULL ORDER BY record_id LIMIT 1",
    )[0]
    texts = [family.lower(), given.upper()[1:4], f"{family[0]}_{family[2:4]}", "zz-nobody-zz", "a\\b"]
    answers = {}
    with TestClient(create_app(s), raise_server_exceptions=False) as client:
        sign_in(client)
        for text in texts:
            r = client.get("/api/persons", params={"q": text, "limit": 500}, headers=bearer(s))
            assert r.status_code == 200, r.text
            answers[text] = {p["person_id"] for p in r.json()["items"]}
    for text in texts:
        want = expected_persons(s, f"%{text}%")
        assert len(want) < 500, "pick a rarer name: the page would cut the answer"
        assert answers[text] == want, text
    assert answers[family.lower()] and answers[texts[1]] and not answers["zz-nobody-zz"]
    searches = raw(
        s,
        "SELECT detail FROM audit_log WHERE action = 'read' AND target = 'person_records' AND "
        "purpose = 'test: API contract'",
    )
    # every search is on record, including the one no name matched (nothing was read for it)
    unmatched = [t for t in texts if not answers[t]]
    assert sum("no visible name matches" in d for (d,) in searches) == len(unmatched) == 2
    assert len(searches) >= len(texts)


def test_records_reads_what_arrow_reads(search_file, tmp_path):
    s = settings_for(copy_store(search_file, tmp_path / "r.duckdb"))
    store = open_store(s)
    reader = ReaderStore(store)  # type: ignore[arg-type]
    try:
        g = owner_session(reader, s, purpose="test: records", origin="test")
        sql = "SELECT record_id, family_name, agency FROM person_records ORDER BY record_id LIMIT 7"
        fast = g.records(sql)
        assert fast == g.arrow(sql).to_pylist() and len(fast) == 7
    finally:
        reader.close()
        store.close()


def test_the_name_index_answers_as_the_sql_search(search_file, tmp_path, monkeypatch):
    """Same persons, counts, names, agencies and dates of birth from the in-memory index and from ILIKE in SQL
    (the path of a caller who sees too many records to index), with and without resolved persons."""
    from casegraph.api.reads import names, people

    with opened_copy(search_file, tmp_path / "n.duckdb") as (s, store):
        # persons of several records (a stand-in for resolve): one per family name
        store.execute(
            "INSERT INTO person_identities (record_id, agency, person_id, run_id) SELECT record_id, "
            "agency, 'P' || hash(family_name), 'test' FROM person_records"
        )
        g = owner_session(store, s, purpose="test: name index", origin="test")
        texts = [
            r[0][:4].lower()
            for r in g.rows(
                "SELECT family_name FROM person_records "
                "WHERE family_name IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5"
            )
        ]
        texts += ["a", "zz-nobody-zz"]
        for resolved in (True, False):
            if not resolved:
                monkeypatch.setattr(people, "stage_note", lambda *_: {"note": "resolve has not run"})
            indexed = {t: people.persons(g, t, limit=500, offset=0)["items"] for t in texts}
            monkeypatch.setattr(names, "MAX_INDEXED", 0)
            in_sql = {t: people.persons(g, t, limit=500, offset=0)["items"] for t in texts}
            monkeypatch.setattr(names, "MAX_INDEXED", 3_000_000)
            for t in texts:
                if t == "a":  # more matches than HITS: each path groups its own first 2000 records
                    assert indexed[t] and in_sql[t]
                    continue
                assert indexed[t] == in_sql[t], (resolved, t)
            assert indexed[texts[0]] and not indexed["zz-nobody-zz"]
            assert {p["person_id"].count("/") for p in indexed[texts[0]]} == ({0} if resolved else {1})
            assert (max(p["records"] for p in indexed[texts[0]]) > 1) == resolved


def test_evidence_records_say_where_and_what_about(search_file, tmp_path):
    """An arrest shows the area of its incident, whom it concerns and which incident; a claim, which record."""
    from casegraph.api.reads.activity import evidence_records

    with opened_copy(search_file, tmp_path / "e.duckdb") as (s, store):
        g = owner_session(store, s, purpose="test: evidence", origin="test")
        arrest, incident, area, given, family = g.rows(
            "SELECT a.arrest_id, a.incident_id, i.area, p.given_name, p.family_name FROM arrests a JOIN "
            "incidents i USING (agency, incident_id) JOIN person_records p USING (agency, record_id) "
            "WHERE i.area IS NOT NULL LIMIT 1"
        )[0]
        claim, record = g.rows("SELECT claim_id, record_id FROM membership_claims LIMIT 1")[0]
        shown = evidence_records(g, [f"arrest:{arrest}", f"claim:{claim}", "arrest:no-such-id"])
        assert (shown[0]["area"], shown[0]["about"]) == (area, f"{given} {family} · incident {incident}")
        assert (shown[1]["area"], shown[1]["about"]) == (None, f"record {record}")
        assert shown[2]["found"] is False
