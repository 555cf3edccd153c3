"""The HTTP API over a synthetic city (FastAPI's TestClient): answers checked against the store itself, and the
security contract of an embedded store's workspace: 401 until the one-time sign-in link is used, sign-out ends
the session, 422 with reasons for bad parameters, no SQL made from user input, CSRF protection, security
headers, inert spreadsheet exports, every request in the audit log."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from casegraph import ingest
from casegraph.api import create_app
from casegraph.pipeline import run_stage
from casegraph.safeguards import os_account, owner_session
from casegraph.settings import Settings, load_settings
from casegraph.store import open_store
from casegraph.store.duckdb import DuckDBStore

with warnings.catch_warnings():  # Starlette's TestClient warns (a UserWarning) that it prefers httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
FORMULA = '=HYPERLINK("http://evil.example","click")'
PLANTED_ALERT = {
    "alert_id": "AL-TEST-1",
    "run_id": "test-run",
    "stage": "trends",
    "kind": "group_spread",
    "subject": "G01",
    "title": "G01 reached D99",
    "detail": json.dumps({"area": "D99"}),
    "onset": pd.Timestamp("2024-02-18").date(),
    "created_at": pd.Timestamp("2024-03-01"),
    "severity": "high",
    "status": "open",
}
PLANTED_TIE = {
    "person_ties": 12,
    "persons_a": 9,
    "persons_b": 6,
    "strength": 7.0,
    "expected": 2.6,
    "ratio": 4.6,
    "p_value": 2e-5,
    "q_value": 1.2e-4,
    "significant": True,
    "onset": pd.Timestamp("2024-02-18").date(),
    "run_id": "test-run",
}
TIE_ALERT = PLANTED_ALERT | {
    "alert_id": "AL-TEST-TIE",
    "stage": "network",
    "kind": "group_tie_new",
    "subject": "G01|G02",
    "title": "New tie G01-G02 (planted)",
}
PLANTED_LINK = {"contributions": {"distance_m": 1.25, "days_apart": 0.75, "mo_entry": -0.5}, "base": -2.0}


def _files(path: Path) -> list[Path]:
    return [p for p in path.parent.glob(path.name + "*") if p.is_file()]


def copy_store(src: Path, dst: Path) -> Path:
    """A store file with its companions (audit anchor, API secret): the audit log refuses a store without them."""
    for f in _files(src):
        shutil.copy(f, dst.parent / f.name.replace(src.name, dst.name, 1))
    return dst


@contextmanager
def opened_copy(src: Path, dst: Path) -> Iterator[tuple[Settings, Any]]:
    """A copy of a store file (with its companions), opened for the block: for tests with their own sessions."""
    s = settings_for(copy_store(src, dst))
    store = open_store(s)
    try:
        yield s, store
    finally:
        store.close()


def settings_for(path: Path) -> Settings:
    s = load_settings()
    s.store.path = str(path)
    return s


def _planted_links(store: Any) -> None:
    """Two links with known contributions (base + contributions = log-odds) and a series of three."""
    ids = [
        r[0]
        for r in store.rows("SELECT incident_id FROM incidents WHERE agency = 'metro_pd' ORDER BY 1 LIMIT 3")
    ]
    log_odds = PLANTED_LINK["base"] + sum(PLANTED_LINK["contributions"].values())
    p = 1 / (1 + math.exp(-log_odds))
    links = pd.DataFrame(
        [
            {
                "link_id": f"L{n}",
                "run_id": "test-run",
                "model_id": "test-model",
                "agency_a": "metro_pd",
                "incident_a": a,
                "agency_b": "metro_pd",
                "incident_b": b,
                "probability": p,
                "log_odds": log_odds,
                "base": PLANTED_LINK["base"],
                "contributions": json.dumps(PLANTED_LINK["contributions"]),
                "features": json.dumps({"distance_m": 240}),
            }
            for n, (a, b) in enumerate([(ids[0], ids[1]), (ids[1], ids[2])])
        ]
    )
    series = pd.DataFrame(
        [
            {
                "series_id": "S-TEST",
                "run_id": "test-run",
                "agency": "metro_pd",
                "incident_id": i,
                "confidence": 0.5,
                "strongest": p,
                "size": 3,
                "cohesion": 0.4,
            }
            for i in ids
        ]
    )
    store.write("incident_links", links)
    store.write("series", series)
    evidence = [f"incident:{i}" for i in ids]
    tie = PLANTED_TIE | {"evidence": evidence, "pair": "G01|G02", "group_a": "G01", "group_b": "G02"}
    store.write(
        "alerts", pd.DataFrame([PLANTED_ALERT | {"evidence": evidence}, TIE_ALERT | {"evidence": evidence}])
    )
    store.write("group_ties", pd.DataFrame([tie]))


def _hostile_incident(tmp: Path, store: Any, s: Settings) -> None:
    """An incident whose narrative holds markup and whose premises is a spreadsheet formula."""
    path = tmp / "hostile.csv"
    row = {
        "incident_id": "IXSS1",
        "offence": "burglary",
        "occurred_from": "2024-06-01 10:00:00",
        "area": "D01",
        "x": 1000.0,
        "y": 1000.0,
        "premises": FORMULA,
        "narrative": XSS,
    }
    pd.DataFrame([row]).to_csv(path, index=False)
    ingest.run(store, s, path, table="incidents", agency="metro_pd")


def _expired_claim(store: Any) -> None:
    """A G01 claim past its review date: it must place nobody in the group anywhere."""
    store.execute(
        "INSERT INTO membership_claims SELECT * REPLACE ('MC-EXPIRED' AS claim_id, DATE '2020-01-01' AS "
        "review_date) FROM membership_claims WHERE group_id = 'G01' LIMIT 1"
    )


def build_workspace_store(src: Path, dst: Path, *, with_trends: bool = True) -> Settings:
    """The city with the trends stage run, planted links, a hostile incident and an expired claim."""
    copy_store(src, dst)
    s = settings_for(dst)
    store = open_store(s)
    try:
        _hostile_incident(dst.parent, store, s)
        _expired_claim(store)
        if with_trends:
            run_stage(store, s, "trends")
            _planted_links(store)
    finally:
        store.close()
    return s


PURPOSE = "test: API contract"


def bearer(s: Settings, purpose: str = PURPOSE) -> dict[str, str]:
    """The purpose of a request (the client is signed in: see Served)."""
    return {"X-Casegraph-Purpose": purpose}


def sign_in(client: TestClient, purpose: str = PURPOSE) -> Any:
    token = client.app.state.signin.link_token  # what `casegraph serve` prints
    return client.post("/login", data={"token": token, "purpose": purpose}, follow_redirects=False)


@pytest.fixture(scope="module")
def ws_file(city_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("ws") / "ws.duckdb"
    build_workspace_store(city_store_file, dst)
    return dst


class Served:
    """The app served in-process over one store copy, signed in with its one-time link (unless `signed_in` is
    False); stop() releases the store so the test can read it."""

    def __init__(self, s: Settings, signed_in: bool = True) -> None:
        self.s = s
        self.client = TestClient(create_app(s), raise_server_exceptions=False)
        self.client.__enter__()
        self.running = True
        if signed_in:
            assert sign_in(self.client).status_code == 303

    def stop(self) -> None:
        if self.running:
            self.client.__exit__(None, None, None)
            self.running = False


@pytest.fixture
def ws(ws_file: Path, tmp_path: Path) -> Iterator[Served]:
    """A fresh copy of the workspace store per test, served in-process and signed in."""
    served = Served(settings_for(copy_store(ws_file, tmp_path / "copy.duckdb")))
    yield served
    served.stop()


@pytest.fixture
def unsigned(ws_file: Path, tmp_path: Path) -> Iterator[Served]:
    """The same, before anyone has signed in."""
    served = Served(settings_for(copy_store(ws_file, tmp_path / "copy.duckdb")), signed_in=False)
    yield served
    served.stop()


def raw(s: Settings, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Read the store file directly (the test's own view, not the API's); the server must be stopped first."""
    store = open_store(s)
    try:
        return store.rows(sql, params)
    finally:
        store.close()


# -- the contract -------------------------------------------------------------------------------------
def test_openapi_schema_lists_every_view(ws):
    client = ws.client
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/incidents",
        "/api/incidents/{incident_id}/similar",
        "/api/series",
        "/api/persons/{person_id}",
        "/api/groups",
        "/api/ties/{group_a}/{group_b}",
        "/api/alerts",
        "/api/groups/{group}/activity",
        "/api/hotspots",
        "/api/audit",
        "/api/graph",
    ):
        assert path in paths, path


def test_no_credentials_is_401_with_a_json_reason(unsigned):
    client = unsigned.client
    for path in ("/api/incidents", "/api/alerts", "/api/me", "/api/groups/G01"):
        r = client.get(path)
        assert r.status_code == 401 and "sign in" in r.json()["detail"], path
    r = client.get("/api/incidents", headers={"Authorization": "Bearer forged.token"})
    assert r.status_code == 401
    assert client.get("/api/incidents", cookies={"cg_session": "forged"}).status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_no_environment_variable_or_header_grants_a_role(unsigned, monkeypatch):
    monkeypatch.setenv("CASEGRAPH_USER", "admin")
    monkeypatch.setenv("CASEGRAPH_ROLE", "admin")
    r = unsigned.client.get("/api/audit", headers={"X-Casegraph-User": "admin", "X-Casegraph-Role": "admin"})
    assert r.status_code == 401


def test_the_sign_in_link_works_once_and_a_wrong_one_is_audited(unsigned):
    client, s = unsigned.client, unsigned.s
    token = client.app.state.signin.link_token
    wrong = client.post("/login", data={"token": "guess", "purpose": "probing"}, follow_redirects=False)
    assert wrong.status_code == 401 and "cg_session" not in wrong.cookies
    no_purpose = client.post("/login", data={"token": token, "purpose": ""}, follow_redirects=False)
    assert no_purpose.status_code == 401 and "purpose" in no_purpose.text
    first = sign_in(client)
    assert first.status_code == 303 and "cg_session" in first.cookies
    assert client.get("/api/incidents").status_code == 200
    other = TestClient(client.app, raise_server_exceptions=False)
    again = other.post("/login", data={"token": token, "purpose": "second browser"}, follow_redirects=False)
    assert again.status_code == 401 and "works once" in again.text
    unsigned.stop()
    denied = raw(s, "SELECT purpose FROM audit_log WHERE action = 'login' AND outcome LIKE 'denied%'")
    assert ("probing",) in denied and ("second browser",) in denied
    assert raw(s, "SELECT user_id FROM audit_log WHERE action = 'login' AND outcome = 'ok'") == [
        (os_account(),)
    ]


def test_sign_out_ends_the_session_at_once(ws):
    client = ws.client
    cookie = client.cookies.get("cg_session")
    csrf = client.get("/api/me").json()["csrf"]
    assert client.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False).status_code == 303
    replay = TestClient(client.app, raise_server_exceptions=False)
    assert replay.get("/api/incidents", cookies={"cg_session": cookie}).status_code == 401


def test_incident_list_matches_the_store_and_pages(ws):
    client, s = ws.client, ws.s
    r = client.get(
        "/api/incidents",
        params={"offence": "burglary", "from": "2023-03-01", "to": "2023-06-30", "limit": 20},
        headers=bearer(s),
    )
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok"
    ws.stop()
    (expected,) = raw(
        s,
        "SELECT count(*) FROM incidents WHERE offence = 'burglary' AND "
        "occurred_from >= DATE '2023-03-01' AND occurred_from < DATE '2023-07-01'",
    )[0:1]
    assert body["total"] == expected[0] > 20
    assert body["next_offset"] == 20 and len(body["items"]) == 20
    assert {i["offence"] for i in body["items"]} == {"burglary"}
    assert len({i["agency"] for i in body["items"]}) > 1  # the owner of the file sees every agency's records
    days = [i["occurred_from"] for i in body["items"]]
    assert (
        days == sorted(days, reverse=True) and "2023-03-01" <= days[-1][:10] <= days[0][:10] <= "2023-06-30"
    )
    assert all("suspect_race" not in i for i in body["items"])


def test_incident_detail_hides_protected_fields_and_keeps_markup_as_text(ws):
    client, s = ws.client, ws.s
    r = client.get("/api/incidents/IXSS1", headers=bearer(s))
    incident = r.json()["incident"]
    assert r.status_code == 200 and incident["narrative"] == XSS and "suspect_race" not in incident
    assert r.headers["content-type"].startswith("application/json")


def test_the_owner_reads_every_agency_and_the_audit_log(ws):
    client, _s = ws.client, ws.s
    agencies = {i["agency"] for i in client.get("/api/incidents", params={"limit": 500}).json()["items"]}
    assert {"metro_pd", "county_so"} <= agencies
    log = client.get("/api/audit").json()
    assert log["items"] and {e["user_id"] for e in log["items"]} == {os_account()}


def test_a_missing_record_is_404_and_says_nothing_about_owners(ws):
    r = ws.client.get("/api/incidents/NOPE123")
    assert r.status_code == 404 and r.json()["detail"] == "no incidents row NOPE123"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": "abc"},
        {"limit": 100000},
        {"offset": -1},
        {"from": "2024-13-01"},
        {"from": "2024-05-01", "to": "2024-01-01"},
        {"bbox": "1,2,3"},
        {"bbox": "5,5,1,1"},
        {"group": "G01' OR '1'='1"},
        {"q": "x"},
        {"order": "occurred_from; DROP TABLE incidents"},
    ],
)
def test_bad_parameters_are_422_with_reasons(ws, params):
    client, s = ws.client, ws.s
    r = client.get("/api/incidents", params=params, headers=bearer(s))
    assert r.status_code == 422, (params, r.text)
    assert r.json()["detail"].startswith("invalid parameters") and r.json()["reasons"]


def test_bad_ids_are_4xx_never_500(ws):
    client, s = ws.client, ws.s
    for path in (
        "/api/incidents/I1'%20OR%201=1--",
        "/api/links/%00",
        "/api/series/x%3Bdrop",
        "/api/alerts/nope",
        "/api/groups/NOPE",
        "/api/ties/G01/NOPE",
        "/api/graph/expand?node=evil:1",
        "/api/persons/nobody",
    ):
        r = client.get(path, headers=bearer(s))
        assert 400 <= r.status_code < 500 and "detail" in r.json(), (path, r.status_code, r.text)


def test_user_input_only_ever_travels_as_sql_parameters(ws, monkeypatch):
    """Every executed statement is recorded; a marker sent in every text parameter never appears in SQL text."""
    client, s = ws.client, ws.s
    seen: list[str] = []
    real = DuckDBStore._run  # every connection of the workspace (writer, readers, audit) is a DuckDBStore
    monkeypatch.setattr(
        DuckDBStore, "_run", lambda self, sql, params: (seen.append(sql), real(self, sql, params))[1]
    )
    mark = "zq9marker"
    for path, params in [
        (
            "/api/incidents",
            {"offence": mark, "area": mark, "group": mark, "series": mark, "agency": "metro_pd", "q": mark},
        ),
        ("/api/map/points", {"offence": mark, "q": mark}),
        ("/api/persons", {"q": mark}),
        ("/api/alerts", {"group": mark, "kind": mark}),
        ("/api/ties", {"group": mark}),
        (f"/api/incidents/{mark}", {}),
        (f"/api/groups/{mark}", {}),
        ("/api/graph", {"group": mark}),
        ("/api/graph/expand", {"node": f"person:{mark}"}),
        ("/api/hotspots", {"class": mark}),
    ]:
        assert client.get(path, params=params, headers=bearer(s)).status_code < 500
    assert len(seen) > 20 and not [q for q in seen if mark in q]
    r = client.get("/api/incidents", params={"q": "' OR 1=1 --"}, headers=bearer(s))
    assert r.status_code == 200 and r.json()["total"] == 0


def test_state_changes_need_the_csrf_token_and_are_audited(ws):
    client, s = ws.client, ws.s
    alert_id = client.get("/api/alerts", headers=bearer(s)).json()["items"][0]["alert_id"]
    csrf = client.get("/api/me").json()["csrf"]
    path, body = (
        f"/api/alerts/{alert_id}/acknowledge",
        {"status": "acknowledged", "note": "checked D10 reports"},
    )
    assert client.post(path, json=body).status_code == 403
    assert client.post(path, json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    evil = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
    assert client.post(path, json=body, headers=evil).status_code == 403
    r = client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    assert (
        r.status_code == 200
        and r.json()["status"] == "acknowledged"
        and r.json()["acknowledged_by"] == os_account()
    )
    ws.stop()
    assert raw(s, "SELECT status, note FROM alerts WHERE alert_id = ?", [alert_id]) == [
        ("acknowledged", "checked D10 reports")
    ]
    changes = raw(s, "SELECT purpose, target, outcome FROM audit_log WHERE action = 'change'")
    assert (PURPOSE, f"POST {path}", "ok") in changes


def test_security_headers_on_pages_and_api(ws):
    client, s = ws.client, ws.s
    for r in (
        client.get("/login"),
        client.get("/api/health"),
        client.get("/api/incidents", headers=bearer(s)),
    ):
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
    assert client.get("/api/health").headers["cache-control"] == "no-store"


def test_export_makes_formulas_inert_and_records_a_dissemination(ws):
    client, s = ws.client, ws.s
    r = client.post(
        "/api/exports/incidents",
        params={"from": "2024-06-01", "to": "2024-06-01", "area": "D01"},
        json={"recipient": "Sgt. Doe, burglary unit", "purpose": "case 24-117"},
        headers={"X-CSRF-Token": client.get("/api/me").json()["csrf"]},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    hostile = next(row for row in rows if row["incident_id"] == "IXSS1")
    assert hostile["premises"] == "'" + FORMULA and hostile["narrative"] == XSS
    ws.stop()
    d = raw(s, "SELECT recipient, purpose, user_id FROM disseminations")
    assert d == [("Sgt. Doe, burglary unit", "case 24-117", os_account())]
    assert ("incidents", "IXSS1") in raw(s, "SELECT table_name, record_key FROM dissemination_items")


def test_stage_not_run_is_said_plainly(ws):
    client, s = ws.client, ws.s
    persons = client.get("/api/persons", headers=bearer(s)).json()  # resolve did not run
    assert persons["status"] == "stage not run" and "casegraph resolve" in persons["note"]
    hotspots = client.get("/api/hotspots", headers=bearer(s)).json()  # trends ran; it may have found no cells
    assert hotspots["status"] == "ok" or (
        hotspots["status"] == "no rows" and "trends stage ran" in hotspots["note"]
    )
    graph = client.get("/api/graph", params={"group": "G01"}, headers=bearer(s)).json()
    assert "person_identities" in graph["notes"]


def test_a_group_tie_with_its_evidence(ws):
    client, s = ws.client, ws.s
    tie = client.get("/api/ties/G02/G01", headers=bearer(s)).json()
    assert tie["pair"] == ["G01", "G02"] and tie["p_value"] == PLANTED_TIE["p_value"]
    assert [f"{r['kind']}:{r['id']}" for r in tie["evidence_records"]] == tie["evidence"]
    edges = client.get("/api/graph", params={"group": ["G01", "G02"]}, headers=bearer(s)).json()["edges"]
    assert [e["pair"] for e in edges if e["kind"] == "group_tie"] == [["G01", "G02"]]


def test_alert_evidence_records_are_the_alerts_own(ws):
    client, s = ws.client, ws.s
    alerts = client.get("/api/alerts", headers=bearer(s)).json()["items"]
    assert alerts, "the trends stage raised no alert on the city"
    detail = client.get(f"/api/alerts/{alerts[0]['alert_id']}", headers=bearer(s)).json()
    shown = [f"{r['kind']}:{r['id']}" for r in detail["evidence_records"]]
    assert shown == detail["evidence"] and all(r.get("found", True) for r in detail["evidence_records"])


def test_near_repeat_alerts_show_their_table_cells_and_expire(ws, tmp_path):
    client, s = ws.client, ws.s
    listed = client.get("/api/alerts", params={"kind": "near_repeat", "limit": 500}, headers=bearer(s)).json()
    assert listed["total"] > 0 and {a["status"] for a in listed["items"]} == {"open"}
    first = listed["items"][0]
    assert first["expires"] and first["detail"]["zone_radius_m"] and first["detail"]["x"] is not None
    detail = client.get(f"/api/alerts/{first['alert_id']}", headers=bearer(s)).json()
    cells = [r for r in detail["evidence_records"] if r["kind"] == "near_repeat"]
    assert cells and all(r.get("found", True) and "near-repeat table" in r["about"] for r in cells)
    ws.stop()
    # the store now holds incidents after the alert's last day: it has expired, without a re-run
    store = open_store(s)
    try:
        store.execute("UPDATE alerts SET expires = DATE '2024-01-01' WHERE alert_id = ?", [first["alert_id"]])
    finally:
        store.close()
    again = Served(s)
    try:
        expired = again.client.get("/api/alerts", params={"status": "expired"}, headers=bearer(s)).json()
        assert [a["alert_id"] for a in expired["items"]] == [first["alert_id"]]
        still_open = again.client.get(
            "/api/alerts", params={"status": "open", "limit": 500}, headers=bearer(s)
        )
        assert first["alert_id"] not in {a["alert_id"] for a in still_open.json()["items"]}
    finally:
        again.stop()


def test_link_why_adds_up_to_the_score(ws):
    client, s = ws.client, ws.s
    link = client.get("/api/links/L0", headers=bearer(s)).json()
    total = link["base"] + sum(c["contribution"] for c in link["why"])
    assert math.isclose(total, link["log_odds"]) and link["why"][0]["feature"] == "distance_m"
    similar = client.get(f"/api/incidents/{link['incident_b']}/similar", headers=bearer(s)).json()["items"]
    assert {x["other_id"] for x in similar} == {
        link["incident_a"],
        client.get("/api/links/L1", headers=bearer(s)).json()["incident_b"],
    }


def test_group_members_are_the_claims_that_pass_the_safeguards(ws):
    client, s = ws.client, ws.s
    api = client.get("/api/groups/G01", headers=bearer(s)).json()
    ws.stop()
    store = open_store(s)
    g = owner_session(store, s, purpose="test: compare")
    expected = {r[0] for r in g.rows(f"SELECT claim_id FROM {g.valid_claims()} WHERE group_id = 'G01'")}
    everything = {r[0] for r in store.rows("SELECT claim_id FROM membership_claims WHERE group_id = 'G01'")}
    store.close()
    assert {m["claim_id"] for m in api["members"]} == expected and expected < everything
    assert "MC-EXPIRED" in everything - expected
    assert all(m["criteria"] and m["evidence"] for m in api["members"])


def test_link_chart_graph_has_typed_weighted_ties(ws):
    client, s = ws.client, ws.s
    graph = client.get("/api/graph", params={"group": "G01"}, headers=bearer(s)).json()
    members = client.get("/api/groups/G01", headers=bearer(s)).json()["members"]
    kinds = {e["kind"] for e in graph["edges"]}
    assert {"member", "attributed"} <= kinds
    member_edges = [e for e in graph["edges"] if e["kind"] == "member"]
    assert {c for e in member_edges for c in e["claim_ids"]} == {m["claim_id"] for m in members}
    ids = {n["id"] for n in graph["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])


def test_concurrent_requests_are_all_answered_and_audited(ws):
    client, s = ws.client, ws.s
    with ThreadPoolExecutor(16) as pool:
        codes = list(
            pool.map(
                lambda i: (
                    client.get(
                        "/api/incidents", params={"limit": 5, "offset": i}, headers=bearer(s)
                    ).status_code
                ),
                range(64),
            )
        )
    assert codes == [200] * 64
    ws.stop()
    (n,) = raw(
        s,
        "SELECT count(*) FROM audit_log WHERE action = 'read' AND target LIKE 'GET /api/incidents?%' "
        "AND purpose = ?",
        [PURPOSE],
    )[0]
    assert n == 64


def test_serve_get_answers_one_request_in_process(ws_file: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from casegraph.cli import app

    store = copy_store(ws_file, tmp_path / "cli.duckdb")
    result = CliRunner().invoke(app, ["--store", str(store), "serve", "--get", "/api/groups"])
    assert result.exit_code == 0, result.output
    assert "G01" in {g["group_id"] for g in json.loads(result.stdout)["items"]}
    missing = CliRunner().invoke(app, ["--store", str(store), "serve", "--get", "/api/groups/NOPE"])
    assert missing.exit_code == 1 and "NOPE" in missing.stdout


def test_a_link_is_decided_from_its_why_panel_with_csrf_and_audit(ws):
    client, s = ws.client, ws.s
    series = client.get("/api/series", params={"limit": 1}, headers=bearer(s)).json()["items"][0]
    pair = client.get(f"/api/series/{series['series_id']}", headers=bearer(s)).json()["links"][0]
    found = client.get(f"/api/links/{pair['link_id']}", headers=bearer(s)).json()
    link = (found["link_id"], found["incident_a"], found["incident_b"])
    csrf = client.get("/api/me").json()["csrf"]
    path, body = f"/api/links/{link[0]}/decision", {"decision": "not-linked", "note": "alibi checked"}
    assert client.post(path, json=body).status_code == 403  # no CSRF token
    assert client.post(path, json={"decision": "maybe"}, headers={"X-CSRF-Token": csrf}).status_code == 422
    r = client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    assert (
        r.status_code == 200
        and r.json()["decision"] == "not-linked"
        and r.json()["decided_by"] == os_account()
    )
    ws.stop()
    decided = raw(s, "SELECT incident_a, incident_b, decision, note, decided_by FROM linkage_decisions")
    assert decided == [(*sorted(link[1:]), "not-linked", "alibi checked", os_account())]
    changes = raw(s, "SELECT purpose, target, outcome FROM audit_log WHERE action = 'change'")
    assert (PURPOSE, f"POST {path}", "ok") in changes


def test_a_stolen_items_path_runs_from_its_theft_to_its_sightings(ws, ws_file):
    """An item taken in an incident and pawned later: the incident lists it, its path starts with the theft."""
    imei, agency, incident, *theft_xy = raw(
        settings_for(ws_file),
        "SELECT p.imei, p.agency, p.incident_id, i.x, i.y FROM property_items p JOIN property_events e "
        "ON e.imei = p.imei JOIN incidents i ON i.agency = p.agency AND i.incident_id = p.incident_id "
        "ORDER BY p.agency, p.item_id LIMIT 1",
    )[0]
    client = ws.client
    path = client.get(f"/api/items/IMEI:{imei}").json()
    kinds = [s["sighting_kind"] for s in path["sightings"]]
    assert kinds[0] == "taken" and len(kinds) >= 2 and path["sightings"][0]["incident_id"] == incident
    # placed where the map draws incidents: the theft at its incident's x/y, a sale at the shop's lat/lon projected
    first = path["sightings"][0]
    assert (first["x"], first["y"]) == pytest.approx(theft_xy, abs=0.01) and path["map_note"] is None
    assert all(s["x"] is not None and s["y"] is not None for s in path["sightings"])
    flows = [
        client.get(f"/api/groups/{g['group_id']}/item-flows").json()
        for g in client.get("/api/groups").json()["items"]
    ]
    # this store's linkage never ran: no item links, so no flows, and a note that says so (the walk-through
    # draws them on the demo store)
    assert flows and all(fl["items"] == [] and "property_links" in fl["note"] for fl in flows)
    detail = client.get(f"/api/incidents/{incident}", params={"agency": agency}).json()
    assert f"IMEI:{imei}" in {i["identifier"] for i in detail["items"]}
    missing = client.get("/api/items/IMEI:000000000000000")
    assert missing.status_code == 404 and "no item" in missing.json()["detail"]
