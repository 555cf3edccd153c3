"""The workspace (HTTP API) over a server store, signed in through its real sign-in page: PostgreSQL's row-level
security decides what each request sees. Generated over the app's routes (its OpenAPI document) and the kinds
of ids the schema's tables hold, not a hand list: an analyst of an agency in no agreement gets none of another
agency's records, derived rows or system rows; another agency's record answers exactly as a record that does
not exist (404), and the attempt is audited; wrong passwords, sign-out and forged cookies are checked too."""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TASK_FORCE, password, settings_for, signed_in, superuser

from casegraph.api import create_app
from casegraph.pipeline import STAGE_NAMES, run_stage
from casegraph.store.server import token_hash

with warnings.catch_warnings():  # Starlette's TestClient warns that it prefers httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.server
METRO, COUNTY, TRANSIT = "metro_pd", "county_so", "transit_pd"
AUTHENTICATOR = "authenticator-password-1"  # what conftest's city_template gave `initialise`
PURPOSE = "workspace tests"
# Which kind of id each route parameter takes (parameters are read off the app's OpenAPI document).
PARAM_KINDS = {
    "incident_id": "incident",
    "contact_id": "contact",
    "identifier": "item",
    "link_id": "link",
    "series_id": "series",
    "person_id": "person",
    "a": "record",
    "b": "record",
    "group": "group",
    "group_a": "group",
    "group_b": "group",
    "node": "node",
    "alert_id": "alert",
}
# The ids of each kind held by each agency (records) or scope (derived rows): (table, id column, owner column).
ID_SOURCES = {
    "incident": [("incidents", "incident_id", "agency")],
    "contact": [("contacts", "contact_id", "agency")],
    "item": [("property_items", "'IMEI:' || imei", "agency")],
    "record": [("person_records", "agency || '/' || record_id", "agency")],
    "group": [("groups", "group_id", "agency"), ("group_incidents", "group_id", "scope")],
    "person": [("person_identities", "person_id", "scope")],
    "series": [("series", "series_id", "scope")],
    "link": [("incident_links", "link_id", "scope")],
    "alert": [("alerts", "alert_id", "scope")],
}


@pytest.fixture(scope="module")
def workspace_db(server_db: str) -> str:
    """The city with every stage run by metro's analyst (its scope) and by transit's (its own)."""
    for who in ("ana_metro", "ana_transit"):
        with signed_in(server_db, who) as g:
            for stage in STAGE_NAMES:
                run_stage(g, g.settings, stage)
    return server_db


@pytest.fixture(scope="module", autouse=True)
def authenticator_password() -> Iterator[None]:
    """Every workspace of this module signs in as cg_authenticator, whichever test builds it first."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CASEGRAPH_AUTHENTICATOR_PASSWORD", AUTHENTICATOR)
    yield
    patch.undo()


@pytest.fixture(scope="module")
def app(workspace_db: str) -> Iterator[Any]:
    yield create_app(settings_for(workspace_db))


def sign_in(client: TestClient, who: str, pw: str | None = None) -> Any:
    """Through the sign-in page, as a browser does."""
    form = {"user": who, "password": pw if pw is not None else password(who), "purpose": PURPOSE}
    return client.post("/login", data=form, follow_redirects=False)


@pytest.fixture(scope="module")
def transit(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        assert sign_in(client, "ana_transit").status_code == 303
        yield client


@pytest.fixture(scope="module")
def ids(workspace_db: str, pg_cluster: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """kind -> owner (agency or scope) -> ids, as the database's superuser sees them (the test's ground truth)."""
    out: dict[str, dict[str, set[str]]] = {}
    with superuser(pg_cluster, workspace_db.rsplit("/", 1)[1]) as su:
        su.execute("SET search_path = casegraph")
        for kind, sources in ID_SOURCES.items():
            for table, column, owner in sources:
                for value, who in su.execute(f"SELECT DISTINCT {column}, {owner} FROM {table}").fetchall():
                    out.setdefault(kind, {}).setdefault(str(who), set()).add(str(value))
    return out


def foreign_only(ids: dict[str, dict[str, set[str]]], kind: str) -> list[str]:
    """Ids of `kind` that metro, county or the task force hold and transit does not (sorted, to be stable)."""
    theirs = set().union(*(v for k, v in ids.get(kind, {}).items() if k != TRANSIT))
    return sorted(theirs - ids.get(kind, {}).get(TRANSIT, set()))


def foreign_value(ids: dict[str, dict[str, set[str]]], kind: str) -> str:
    if kind == "node":
        return f"incident:{METRO}/{foreign_only(ids, 'incident')[0]}"
    found = foreign_only(ids, kind)
    assert found, f"the city holds no {kind} id that only other agencies have: the test needs one"
    return found[0]


def routes(app: Any, method: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(path, parameters) of every API route with `method`, from the app's own OpenAPI document."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        if method in ops:
            out.append((path, ops[method].get("parameters", [])))
    return out


def request_for(path: str, params: list[dict[str, Any]], value: Any) -> tuple[str, dict[str, str], list[str]]:
    """The URL of a route with every id parameter filled by value(kind); (url, query, values used)."""
    used, query = [], {}
    for p in params:
        kind = PARAM_KINDS.get(p["name"])
        if p["in"] == "path":
            assert kind, f"{path}: no id kind for the parameter {p['name']} (add it to PARAM_KINDS)"
            v = value(kind)
            path = path.replace("{" + p["name"] + "}", v)
            used.append(v)
        elif p.get("required") and kind:
            query[p["name"]] = value(kind)
            used.append(query[p["name"]])
    return path, query, used


def strings(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(data, list):
        for v in data:
            yield from strings(v)
    elif data is not None:
        yield str(data)


def fresh_client(db: str) -> TestClient:
    """A client of an app of its own (each TestClient runs its app's lifespan: a workspace per client), as
    another worker process would be."""
    return TestClient(create_app(settings_for(db)), raise_server_exceptions=False)


def test_every_route_answers_an_unsigned_or_forged_request_with_401(app, workspace_db):
    with fresh_client(workspace_db) as client:
        client.cookies.set("cg_session", "forged-" + "x" * 40)
        for path, params in routes(app, "get"):
            if path == "/api/health":
                continue
            url, query, _ = request_for(path, params, nobody_has)
            r = client.get(url, params=query)
            assert r.status_code == 401, (url, r.status_code, r.text[:200])


def test_no_route_shows_transit_any_row_of_another_agency(app, transit, ids):
    """Every GET route, as transit's analyst (in no agreement), with no ids and with other agencies' ids:
    no answer names metro, county or the task force, or holds an id only they have."""
    named = re.compile(r"\b(" + "|".join(map(re.escape, (METRO, COUNTY, TASK_FORCE[0]))) + r")\b")
    foreign_ids = {v for kind in ID_SOURCES for v in foreign_only(ids, kind) if len(v) > 3}
    checked = 0
    for path, params in routes(app, "get"):
        url, query, used = request_for(path, params, lambda kind: foreign_value(ids, kind))
        r = transit.get(url, params=query)
        assert r.status_code in (200, 403, 404, 409, 422), (url, r.status_code, r.text[:300])
        shown = {blanked(s, used) for s in strings(r.json())}  # what was asked may be echoed back
        leaked = {s for s in shown if named.search(s) or s in foreign_ids}
        assert not leaked, f"{url} showed transit's analyst {sorted(leaked)[:5]}"
        checked += 1
    assert checked >= 25


def test_transit_sees_its_own_rows_through_the_same_routes(transit, ids):
    """The filter is not 'nothing at all': transit's own incidents, series and links are there."""
    listed = transit.get("/api/incidents", params={"limit": 500}).json()
    assert listed["total"] == len(ids["incident"][TRANSIT]) and {i["agency"] for i in listed["items"]} == {
        TRANSIT
    }
    assert listed["total_exact"] is True  # fewer than a server store counts
    counted = transit.get("/api/incidents", params={"limit": 10, "offset": 5}).json()
    assert counted["total"] == listed["total"] and counted["next_offset"] == 15
    assert [i["incident_id"] for i in counted["items"]] == [i["incident_id"] for i in listed["items"][5:15]]
    series = transit.get("/api/series").json()
    assert series["items"] and {s["series_id"] for s in series["items"]} <= ids["series"][TRANSIT]
    own = sorted(ids["incident"][TRANSIT])[0]
    assert transit.get(f"/api/incidents/{own}").json()["incident"]["agency"] == TRANSIT


def test_an_agreement_shares_records_through_the_api(workspace_db, ids):
    """metro and county form the task force: metro's analyst opens a county incident, transit's cannot."""
    county_only = sorted(ids["incident"][COUNTY] - ids["incident"][METRO] - ids["incident"][TRANSIT])[0]
    with fresh_client(workspace_db) as metro:
        assert sign_in(metro, "ana_metro").status_code == 303
        assert metro.get(f"/api/incidents/{county_only}").json()["incident"]["agency"] == COUNTY
        agencies = {i["agency"] for i in metro.get("/api/incidents", params={"limit": 500}).json()["items"]}
        assert agencies == {METRO, COUNTY}


def test_another_agencys_record_answers_as_one_that_does_not_exist_and_is_audited(
    app, transit, ids, workspace_db, pg_cluster
):
    """Generated over every route with an id: the same status and the same body (the id aside) for another
    agency's id and for an id nobody has; each attempt is in the audit log with transit's analyst and a 404."""
    compared = []
    for path, params in routes(app, "get"):
        if not any(p["in"] == "path" for p in params):
            continue
        url, query, used = request_for(path, params, lambda kind: foreign_value(ids, kind))
        missing_url, missing_query, missing = request_for(path, params, lambda kind: nobody_has(kind))
        theirs, nobodys = transit.get(url, params=query), transit.get(missing_url, params=missing_query)
        assert theirs.status_code == nobodys.status_code, (url, theirs.text, nobodys.text)
        assert blanked(theirs.text, used) == blanked(nobodys.text, missing), (url, theirs.text, nobodys.text)
        compared.append((url, theirs.status_code))
    assert len(compared) >= 12
    assert dict(compared)[f"/api/incidents/{foreign_value(ids, 'incident')}"] == 404
    with superuser(pg_cluster, workspace_db.rsplit("/", 1)[1]) as su:
        for url, status in compared:
            found = su.execute(
                "SELECT outcome FROM casegraph.audit_log WHERE user_id = 'ana_transit' AND action IN ('read', "
                "'change') "
                "AND target LIKE %s ORDER BY seq DESC LIMIT 1",
                [f"GET {url}%"],
            ).fetchone()
            assert found, f"no audit entry for {url}"
            assert found[0].startswith(str(status)) or (status == 200 and found[0] == "ok"), (url, found)


def nobody_has(kind: str) -> str:
    return (
        "incident:nobody/N0NE-404"
        if kind == "node"
        else ("nobody/N0NE-404" if kind == "record" else "N0NE-404")
    )


def blanked(text: str, values: list[str]) -> str:
    """The text with the ids asked for blanked out (and their parts: `incident:agency/id` is echoed as id)."""
    parts = {p for v in values for p in (v, v.split(":", 1)[-1], v.rsplit("/", 1)[-1])}
    for v in sorted(parts, key=len, reverse=True):
        text = text.replace(v, "<id>")
    return text


def test_a_wrong_password_is_refused_slowly_and_audited(workspace_db, pg_cluster):
    with fresh_client(workspace_db) as client:
        started = time.perf_counter()
        r = sign_in(client, "ana_transit", "not-the-password-1")
        elapsed = time.perf_counter() - started
        assert r.status_code == 401 and "wrong user name or password" in r.text
        assert "cg_session" not in r.cookies and client.get("/api/me").status_code == 401
        assert elapsed >= 1.0, f"a wrong password was answered in {elapsed:.2f} s"
        assert sign_in(client, "nobody_at_all", "whatever-password").status_code == 401
    with superuser(pg_cluster, workspace_db.rsplit("/", 1)[1]) as su:
        outcomes = {
            u: o
            for u, o in su.execute(
                "SELECT user_id, outcome FROM casegraph.audit_log WHERE action = 'login' AND origin LIKE 'api %'"
            ).fetchall()
        }
    assert outcomes["ana_transit"].startswith("denied") or "ok" in outcomes.values()
    assert outcomes.get("nobody_at_all", "").startswith("denied")


def test_sign_out_revokes_the_session_for_every_worker(workspace_db):
    """Sessions live in the database: a second app (another worker process) knows the cookie, and after
    sign-out neither accepts it."""
    with fresh_client(workspace_db) as first, fresh_client(workspace_db) as second:
        assert sign_in(first, "ana_transit").status_code == 303
        cookie = first.cookies.get("cg_session")
        second.cookies.set("cg_session", cookie)
        assert second.get("/api/me").json()["user_id"] == "ana_transit"
        csrf = first.get("/api/me").json()["csrf"]
        assert (
            first.post("/logout", headers={"x-csrf-token": csrf}, follow_redirects=False).status_code == 303
        )
        second.cookies.set("cg_session", cookie)
        assert second.get("/api/incidents").status_code == 401
        first.cookies.set("cg_session", cookie)
        assert first.get("/api/incidents").status_code == 401


def test_the_stored_hash_of_a_session_opens_nothing(workspace_db, pg_cluster):
    """Who reads the sessions table gets hashes, which are not cookies."""
    with fresh_client(workspace_db) as client:
        assert sign_in(client, "ana_transit").status_code == 303
        cookie = client.cookies.get("cg_session")
        with superuser(pg_cluster, workspace_db.rsplit("/", 1)[1]) as su:
            stored = {
                h for (h,) in su.execute("SELECT token_hash FROM casegraph_private.web_sessions").fetchall()
            }
        assert token_hash(cookie) in stored and cookie not in stored
        client.cookies.set("cg_session", token_hash(cookie))
        assert client.get("/api/me").status_code == 401


def test_the_workspace_reads_as_the_authenticator_only(app, transit, workspace_db, pg_cluster):
    """No code path reads as a superuser or owner: the workspace's connections are cg_authenticator's."""
    assert transit.get("/api/incidents").status_code == 200
    with superuser(pg_cluster) as su:
        logins = {
            u
            for (u,) in su.execute(
                "SELECT usename FROM pg_stat_activity WHERE application_name = 'casegraph workspace' "
                "AND datname = %s",
                [workspace_db.rsplit("/", 1)[1]],
            ).fetchall()
        }
    assert logins == {"cg_authenticator"}


def test_the_export_of_a_signed_in_analyst_holds_only_rows_they_may_read(transit):
    csrf = transit.get("/api/me").json()["csrf"]
    r = transit.post(
        "/api/exports/incidents",
        json={"recipient": "unit 7", "purpose": "briefing", "limit": 10000},
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 200, r.text
    lines = r.text.strip().splitlines()
    assert len(lines) > 1 and all(METRO not in line and COUNTY not in line for line in lines)


def test_me_says_who_is_signed_in(transit):
    me = transit.get("/api/me").json()
    assert (me["user_id"], me["agency"], me["role"]) == ("ana_transit", TRANSIT, "analyst"), json.dumps(me)


def test_a_task_force_member_chooses_the_task_force_and_reads_its_derived_rows(workspace_db, pg_cluster):
    """metro's analyst works in metro's scope by default; choosing the task force in the workspace shows its
    results (here its persons) on every worker, and the choice is on the record."""
    force = TASK_FORCE[0]
    with signed_in(workspace_db, "ana_metro", scope=force) as g:
        run_stage(g, g.settings, "resolve")
    with superuser(pg_cluster, workspace_db.rsplit("/", 1)[1]) as su:
        found = su.execute(
            "SELECT person_id FROM casegraph.person_identities WHERE scope = %s EXCEPT "
            "SELECT person_id FROM casegraph.person_identities WHERE scope <> %s ORDER BY 1 LIMIT 1",
            [force, force],
        ).fetchone()
    assert found, "the task force's run made no person of its own"
    person = found[0]
    with fresh_client(workspace_db) as metro, fresh_client(workspace_db) as other_worker:
        assert sign_in(metro, "ana_metro").status_code == 303
        me = metro.get("/api/me").json()
        assert (me["scope"], me["scopes"]) == (METRO, [METRO, force])
        assert metro.get(f"/api/persons/{person}").status_code == 404
        chosen = metro.post("/api/session/scope", json={"scope": force}, headers={"x-csrf-token": me["csrf"]})
        assert chosen.status_code == 200, chosen.text
        assert metro.get("/api/me").json()["scope"] == force
        assert metro.get(f"/api/persons/{person}").status_code == 200
        other_worker.cookies.set("cg_session", metro.cookies.get("cg_session"))
        assert other_worker.get(f"/api/persons/{person}").status_code == 200
        back = metro.post("/api/session/scope", json={"scope": METRO}, headers={"x-csrf-token": me["csrf"]})
        assert back.status_code == 200 and metro.get(f"/api/persons/{person}").status_code == 404
    with superuser(pg_cluster, workspace_db.rsplit("/", 1)[1]) as su:
        chosen_scopes = [
            t
            for (t,) in su.execute(
                "SELECT target FROM casegraph.audit_log WHERE user_id = 'ana_metro' AND action = 'scope' "
                "ORDER BY seq"
            ).fetchall()
        ]
    assert chosen_scopes[-2:] == [force, METRO]


def test_a_scope_the_user_is_not_in_cannot_be_chosen(transit):
    me = transit.get("/api/me").json()
    assert (me["scope"], me["scopes"]) == (TRANSIT, [TRANSIT])
    r = transit.post(
        "/api/session/scope", json={"scope": TASK_FORCE[0]}, headers={"x-csrf-token": me["csrf"]}
    )
    assert r.status_code == 403 and "not in the scope" in r.json()["detail"]
    assert transit.get("/api/me").json()["scope"] == TRANSIT


WRITES = ("post", "put", "patch", "delete")


def example_body(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A valid request body for a JSON schema of the app's document: each property's first allowed value."""
    if "$ref" in schema:
        return example_body(doc, doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "const" in schema or "enum" in schema:
        return schema.get("const", (schema.get("enum") or [None])[0])
    if schema.get("type") == "object":
        return {k: example_body(doc, v) for k, v in schema.get("properties", {}).items()}
    if schema.get("type") == "integer":
        return int(schema.get("minimum", 1))
    text = "generated write-route test"
    return text[: int(schema.get("maxLength", len(text)))].ljust(int(schema.get("minLength", 0)), "x")


def write_routes(app: Any) -> list[tuple[str, str, list[dict[str, Any]], Any]]:
    """(method, path, parameters, a valid body) of every route that changes something, from the app's own
    OpenAPI document."""
    doc = app.openapi()
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method in WRITES:
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                out.append(
                    (method, path, op.get("parameters", []), example_body(doc, body) if body else None)
                )
    return out


def every_table(cluster: dict[str, Any], db: str) -> dict[str, str]:
    """Each table of the store but the audit log: row count and a digest of its rows, as the superuser sees it."""
    out = {}
    with superuser(cluster, db) as su:
        tables = [
            t
            for (t,) in su.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'casegraph' AND tablename <> 'audit_log'"
            ).fetchall()
        ]
        for table in tables:
            row = su.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                f"FROM casegraph.{table} t"
            ).fetchone()
            out[table] = f"{row[0]}:{row[1]}"
    return out


def test_every_write_route_answers_another_agencys_id_as_a_missing_one_and_changes_nothing(
    app, transit, ids, workspace_db, pg_cluster
):
    """Generated over every POST/PUT/PATCH/DELETE route with an id in its path: transit's analyst sending
    another agency's id gets exactly the answer an id nobody has gets (the id aside), no table but the audit
    log changes, and each attempt is in the audit log as transit's."""
    db = workspace_db.rsplit("/", 1)[1]
    csrf = {"x-csrf-token": transit.get("/api/me").json()["csrf"]}
    before = every_table(pg_cluster, db)
    sent = []
    for method, path, params, body in write_routes(app):
        if not any(p["in"] == "path" for p in params):
            continue
        url, query, used = request_for(path, params, lambda kind: foreign_value(ids, kind))
        missing_url, missing_query, missing = request_for(path, params, nobody_has)
        theirs = transit.request(method, url, params=query, json=body, headers=csrf)
        nobodys = transit.request(method, missing_url, params=missing_query, json=body, headers=csrf)
        assert theirs.status_code == nobodys.status_code == 404, (url, theirs.text, nobodys.text)
        assert blanked(theirs.text, used) == blanked(nobodys.text, missing), (url, theirs.text, nobodys.text)
        sent.append(f"{method.upper()} {url}")
    assert len(sent) >= 3, sent
    assert every_table(pg_cluster, db) == before
    with superuser(pg_cluster, db) as su:
        for what in sent:
            found = su.execute(
                "SELECT outcome FROM casegraph.audit_log WHERE user_id = 'ana_transit' AND target = %s "
                "ORDER BY seq DESC LIMIT 1",
                [what],
            ).fetchone()
            assert found and found[0].startswith("404"), (what, found)
