"""The HTTP API over a synthetic city (FastAPI's TestClient): answers checked against the store itself, and the
security contract: 401 without credentials, 403 (audited) for a wrong role or agency, 422 with reasons for bad
parameters, no SQL made from user input, CSRF protection, security headers, inert spreadsheet exports."""

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
from casegraph.api import Signer, create_app, load_secret, user_token
from casegraph.pipeline import run_stage
from casegraph.safeguards import User, add_user, bootstrap, guard
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


def build_workspace_store(src: Path, dst: Path, *, with_trends: bool = True) -> Settings:
    """The city with the trends stage run, planted links, a hostile incident and users of two agencies."""
    copy_store(src, dst)
    s = settings_for(dst)
    store = open_store(s)
    try:
        _hostile_incident(dst.parent, store, s)
        if with_trends:
            run_stage(store, s, "trends")
            _planted_links(store)
        bootstrap(store, s)
        admin = guard(store, User("admin", "metro_pd", "admin"), settings=s, purpose="test setup")
        add_user(admin, "auditor1", "metro_pd", "auditor")
        add_user(admin, "county1", "county_so", "analyst")
        admin.close()
    finally:
        store.close()
    return s


def bearer(s: Settings, user: str = "analyst", purpose: str | None = "test: API contract") -> dict[str, str]:
    headers = {"Authorization": f"Bearer {user_token(Signer(load_secret(s)), user)}"}
    if purpose:
        headers["X-Casegraph-Purpose"] = purpose
    return headers


@pytest.fixture(scope="module")
def ws_file(city_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("ws") / "ws.duckdb"
    build_workspace_store(city_store_file, dst)
    return dst


class Served:
    """The app served in-process over one store copy; stop() releases the store so the test can read it."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.client = TestClient(create_app(s), raise_server_exceptions=False)
        self.client.__enter__()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.client.__exit__(None, None, None)
            self.running = False


@pytest.fixture
def ws(ws_file: Path, tmp_path: Path) -> Iterator[Served]:
    """A fresh copy of the workspace store per test, served in-process."""
    served = Served(settings_for(copy_store(ws_file, tmp_path / "copy.duckdb")))
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


def test_no_credentials_is_401_with_a_json_reason(ws):
    client = ws.client
    for path in ("/api/incidents", "/api/alerts", "/api/me", "/api/groups/G01"):
        r = client.get(path)
        assert r.status_code == 401 and "sign in" in r.json()["detail"], path
    r = client.get("/api/incidents", headers={"Authorization": "Bearer forged.token"})
    assert r.status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_an_unknown_user_is_refused_and_audited(ws):
    client, s = ws.client, ws.s
    assert client.get("/api/incidents", headers=bearer(s, "ghost")).status_code == 403
    token = user_token(Signer(load_secret(s)), "ghost")
    page = client.post("/login", data={"token": token, "purpose": "probing"}, follow_redirects=False)
    assert page.status_code == 403 and "no such user" in page.text and "cg_session" not in page.cookies
    ws.stop()
    assert ("ghost", "login") in raw(s, "SELECT user_id, action FROM audit_log WHERE outcome LIKE 'denied%'")


def test_a_purpose_is_required_for_data(ws):
    client, s = ws.client, ws.s
    r = client.get("/api/incidents", headers=bearer(s, purpose=None))
    assert r.status_code == 400 and "purpose" in r.json()["detail"]


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
        "SELECT count(*) FROM incidents WHERE agency = 'metro_pd' AND offence = 'burglary' AND "
        "occurred_from >= DATE '2023-03-01' AND occurred_from < DATE '2023-07-01'",
    )[0:1]
    assert body["total"] == expected[0] > 20
    assert body["next_offset"] == 20 and len(body["items"]) == 20
    assert {i["offence"] for i in body["items"]} == {"burglary"}
    assert {i["agency"] for i in body["items"]} == {"metro_pd"}  # the analyst's agency only
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


def test_another_agencys_incident_is_403_and_audited(ws):
    s = ws.s
    ws.stop()
    (county_incident,) = raw(s, "SELECT incident_id FROM incidents WHERE agency = 'county_so' LIMIT 1")[0]
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        r = c.get(f"/api/incidents/{county_incident}", headers=bearer(s))
        listed = c.get("/api/incidents", params={"agency": "county_so"}, headers=bearer(s))
        own = c.get(f"/api/incidents/{county_incident}", headers=bearer(s, "county1"))
    assert r.status_code == 403 and "county_so" in r.json()["detail"]
    assert listed.status_code == 403
    assert own.status_code == 200
    denied = raw(
        s, "SELECT user_id, target, purpose FROM audit_log WHERE action = 'denied' AND user_id = 'analyst'"
    )
    assert (("analyst", f"incidents:{county_incident}", "test: API contract")) in denied
    assert any(t == "incidents of county_so" for _, t, _ in denied)


def test_wrong_role_is_403_and_audited_right_role_reads_the_log(ws):
    client, s = ws.client, ws.s
    r = client.get("/api/audit", headers=bearer(s))
    ok = client.get("/api/audit", params={"action": "denied"}, headers=bearer(s, "auditor1"))
    assert r.status_code == 403 and "auditor" in r.json()["detail"]
    assert ok.status_code == 200
    assert any(e["user_id"] == "analyst" and e["target"] == "audit log" for e in ok.json()["items"])


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


def _cookie_session(client: TestClient, s: Settings) -> str:
    token = user_token(Signer(load_secret(s)), "analyst")
    r = client.post("/login", data={"token": token, "purpose": "test: acknowledge"}, follow_redirects=False)
    assert r.status_code == 303 and "cg_session" in r.cookies
    return client.get("/api/me").json()["csrf"]


def test_state_changes_need_the_csrf_token_and_are_audited(ws):
    client, s = ws.client, ws.s
    alert_id = client.get("/api/alerts", headers=bearer(s)).json()["items"][0]["alert_id"]
    csrf = _cookie_session(client, s)
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
        and r.json()["acknowledged_by"] == "analyst"
    )
    ws.stop()
    assert raw(s, "SELECT status, note FROM alerts WHERE alert_id = ?", [alert_id]) == [
        ("acknowledged", "checked D10 reports")
    ]
    writes = raw(s, "SELECT purpose, detail FROM audit_log WHERE action = 'write' AND target = 'alerts'")
    assert any(p == "test: acknowledge" and "checked D10 reports" in d for p, d in writes)


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
        headers=bearer(s),
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    hostile = next(row for row in rows if row["incident_id"] == "IXSS1")
    assert hostile["premises"] == "'" + FORMULA and hostile["narrative"] == XSS
    ws.stop()
    d = raw(s, "SELECT recipient, purpose, user_id FROM disseminations")
    assert d == [("Sgt. Doe, burglary unit", "case 24-117", "analyst")]
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
    g = guard(store, "analyst", settings=s, purpose="test: compare")
    expected = {r[0] for r in g.rows("SELECT claim_id FROM membership_claims WHERE group_id = 'G01'")}
    everything = {
        r[0] for r in store.rows("SELECT claim_id FROM cg.main.membership_claims WHERE group_id = 'G01'")
    }
    g.close()
    store.close()
    assert {m["claim_id"] for m in api["members"]} == expected and expected < everything
    assert all(m["criteria"] and m["evidence"] for m in api["members"])


def test_link_chart_graph_has_typed_weighted_ties(ws):
    client, s = ws.client, ws.s
    graph = client.get("/api/graph", params={"group": "G01"}, headers=bearer(s)).json()
    members = client.get("/api/groups/G01", headers=bearer(s)).json()["members"]
    kinds = {e["kind"] for e in graph["edges"]}
    assert {"member", "attributed"} <= kinds
    member_edges = [e for e in graph["edges"] if e["kind"] == "member"]
    assert {e["claim_id"] for e in member_edges} == {m["claim_id"] for m in members}
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
        "SELECT count(*) FROM audit_log WHERE action = 'read' AND target = 'incidents' AND purpose = ?",
        ["test: API contract"],
    )[0]
    assert n >= 64


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
    csrf = _cookie_session(client, s)
    path, body = f"/api/links/{link[0]}/decision", {"decision": "not-linked", "note": "alibi checked"}
    assert client.post(path, json=body).status_code == 403  # no CSRF token
    assert client.post(path, json={"decision": "maybe"}, headers={"X-CSRF-Token": csrf}).status_code == 422
    r = client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    assert (
        r.status_code == 200 and r.json()["decision"] == "not-linked" and r.json()["decided_by"] == "analyst"
    )
    ws.stop()
    decided = raw(s, "SELECT incident_a, incident_b, decision, note, decided_by FROM linkage_decisions")
    assert decided == [(*sorted(link[1:]), "not-linked", "alibi checked", "analyst")]
    writes = raw(s, "SELECT purpose FROM audit_log WHERE action = 'write' AND target = 'linkage_decisions'")
    assert writes and all(p == "test: acknowledge" for (p,) in writes)
