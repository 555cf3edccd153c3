"""A server store on a real PostgreSQL: agencies kept apart by row-level security on every table, real sign-in,
stage runs that replace only their own scope's results, settings SQL confined to the run's rows, and an audit
log that no application role can change and whose tampering `audit verify` finds."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any

import psycopg
import pytest
from conftest import ADMIN, TASK_FORCE, USERS, creds, password, settings_for, signed_in, superuser
from typer.testing import CliRunner

from casegraph.cli import app
from casegraph.errors import CasegraphError, PolicyDenied
from casegraph.pipeline import STAGE_NAMES, run_stage
from casegraph.safeguards.policy import shown_columns
from casegraph.schema import model
from casegraph.store.server import Credentials, ServerStore, add_user

pytestmark = pytest.mark.server
METRO, COUNTY, TRANSIT = "metro_pd", "county_so", "transit_pd"


def cli(url: str, who: str | None, *args: str, pw: str | None = None, **env: str) -> Any:
    environ = {"CASEGRAPH_STORE": url, **env}
    if who:
        environ |= {
            "CASEGRAPH_USER": who,
            "CASEGRAPH_PASSWORD": pw if pw is not None else creds(who).password,
        }
    return CliRunner().invoke(app, ["--json", *args], env=environ)


def owners(row: dict[str, Any], table: str) -> set[str]:
    """The agencies (or scopes) a row belongs to, read off its columns."""
    found = {str(row[c]) for c in ("agency", "scope", "owner") if row.get(c)}
    found |= {str(row[c]) for c in row if c.startswith("agency_") and row[c]}
    return found - ({"grantee"} if table == "sharing_rules" else set())


# -- reading: every table of the schema, as each agency's analyst ------------------------------------------
@pytest.mark.parametrize("table", sorted(model.tables))
def test_an_analyst_reads_no_row_of_an_agency_that_shares_nothing_with_theirs(server_db, table):
    """transit_pd is in no agreement: its analyst reads none of metro's or county's records, derived rows or
    system rows, and metro's analyst none of transit's (generated over every declared table)."""
    for who, foreign in (("ana_transit", {METRO, COUNTY, TASK_FORCE[0]}), ("ana_metro", {TRANSIT})):
        with signed_in(server_db, who) as g:  # protected columns are not granted to analysts at all
            rows = g.records(f'SELECT {shown_columns(table)} FROM "{table}"')
        leaked = [r for r in rows if owners(r, table) & foreign]
        assert not leaked, f"{who} read {len(leaked)} foreign rows of {table}: {leaked[:1]}"


def test_a_task_force_shares_records_between_its_members_only(server_db):
    with signed_in(server_db, "ana_metro") as g:
        seen = {a for (a,) in g.rows("SELECT DISTINCT agency FROM incidents")}
    with signed_in(server_db, "ana_transit") as g:
        alone = {a for (a,) in g.rows("SELECT DISTINCT agency FROM incidents")}
    assert seen == {METRO, COUNTY} and alone == {TRANSIT}


def test_protected_fields_are_not_granted_to_analysts(server_db):
    with signed_in(server_db, "ana_metro") as g, pytest.raises(PolicyDenied, match="permission denied"):
        g.rows("SELECT suspect_race FROM incidents LIMIT 1")
    with signed_in(server_db, "aud_metro") as g:  # the fairness check reads them
        g.rows("SELECT suspect_race FROM incidents LIMIT 1")


def test_every_export_table_holds_only_what_the_exporter_may_read(server_db, tmp_path):
    for table in sorted(model.tables):
        out = tmp_path / f"{table}.jsonl"
        result = cli(
            server_db, "ana_transit", "export", table, "-o", str(out), "--to", "unit", "--purpose", "t"
        )
        if result.exit_code:  # a table the role may not read at all is refused, not leaked
            assert "permission denied" in result.output or "may not" in result.output, result.output
            continue
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        assert not [r for r in rows if owners(r, table) & {METRO, COUNTY, TASK_FORCE[0]}], table


# -- sign-in ----------------------------------------------------------------------------------------------
def test_a_wrong_password_is_refused_and_recorded(server_db, pg_cluster):
    result = cli(server_db, "ana_metro", "status", pw="not-the-password")
    assert result.exit_code == 2 and "wrong user name or password (recorded)" in result.output
    db = server_db.rsplit("/", 1)[1]
    with superuser(pg_cluster, db) as su:
        found = su.execute(
            "SELECT outcome FROM casegraph.audit_log WHERE user_id = 'ana_metro' AND action = 'login'"
        ).fetchall()
    assert ("denied: wrong user name or password",) in found


def test_identity_from_the_environment_grants_nothing(server_db):
    assert "without CASEGRAPH_PASSWORD" in cli(server_db, None, "status", CASEGRAPH_USER="ana_metro").output
    as_admin = cli(
        server_db,
        "ana_metro",
        "users",
        "add",
        "x_y",
        "--agency",
        METRO,
        "--role",
        "admin",
        "--password-stdin",
        CASEGRAPH_ROLE="admin",
        CASEGRAPH_AGENCY="transit_pd",
    )
    assert as_admin.exit_code == 2
    forged = cli(server_db, "cgt_" + "0" * 24, "status", pw="forged-token-secret")
    assert forged.exit_code == 2 and "wrong user name or password" in forged.output


def test_login_keeps_a_token_and_logout_revokes_it(server_db, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    env = {"CASEGRAPH_STORE": server_db, "XDG_CONFIG_HOME": str(tmp_path)}
    signed = CliRunner().invoke(
        app, ["login"], env=env | {"CASEGRAPH_USER": "ana_metro", "CASEGRAPH_PASSWORD": password("ana_metro")}
    )
    assert signed.exit_code == 0, signed.output
    token_file = tmp_path / "casegraph" / "login.json"
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    token = next(iter(json.loads(token_file.read_text()).values()))
    monkeypatch.delenv("CASEGRAPH_USER", raising=False)
    monkeypatch.delenv("CASEGRAPH_PASSWORD", raising=False)
    status = CliRunner().invoke(app, ["--json", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert CliRunner().invoke(app, ["logout"], env=env).exit_code == 0
    with pytest.raises(PolicyDenied):  # the server itself no longer lets the token sign in
        ServerStore(settings_for(server_db).store, server_db, Credentials(token["role"], token["secret"]))


def test_an_admin_adds_users_of_their_own_agency_only(server_db):
    with signed_in(server_db, "adm_transit") as g:
        add_user(g.inner, "new_transit", TRANSIT, "analyst", "a-long-password-1")
        with pytest.raises(PolicyDenied, match="only a platform admin"):
            add_user(g.inner, "sneaky_metro", METRO, "admin", "a-long-password-1")
        with pytest.raises(PolicyDenied, match="only a platform admin"):
            add_user(g.inner, "sneaky_platform", TRANSIT, "platform", "a-long-password-1")
    with signed_in(server_db, ADMIN.user) as g:
        add_user(g.inner, "new_metro", METRO, "analyst", "a-long-password-1")
    s = settings_for(server_db)
    with ServerStore(s.store, server_db, Credentials("new_transit", "a-long-password-1")) as new:
        assert {a for (a,) in new.rows("SELECT DISTINCT agency FROM incidents")} == {TRANSIT}


# -- stage runs and scopes ----------------------------------------------------------------------------------
def scoped_digest(pg_cluster: dict[str, Any], db: str, scope: str) -> dict[str, str]:
    """md5 of each scoped table's rows of one scope, read as the superuser (the whole table)."""
    out = {}
    with superuser(pg_cluster, db) as su:
        for table in (t.name for t in model.tables.values() if t.scoped and t.name != "runs"):
            rows = su.execute(
                f'SELECT t::text FROM casegraph."{table}" t WHERE scope = %s ORDER BY 1', [scope]
            ).fetchall()
            out[table] = hashlib.md5("\n".join(r[0] for r in rows).encode()).hexdigest() + f":{len(rows)}"
    return out


@pytest.mark.slow
def test_one_agencys_runs_leave_every_other_scopes_results_identical(server_db, pg_cluster):
    db = server_db.rsplit("/", 1)[1]
    with signed_in(server_db, "ana_metro") as g:
        for stage in STAGE_NAMES:
            run_stage(g, g.settings, stage)
    with signed_in(server_db, "ana_metro", scope=TASK_FORCE[0]) as g:
        for stage in STAGE_NAMES:
            run_stage(g, g.settings, stage)
    before = {s: scoped_digest(pg_cluster, db, s) for s in (METRO, TASK_FORCE[0])}
    assert int(before[METRO]["person_identities"].split(":")[1]) > 0
    assert int(before[METRO]["incident_links"].split(":")[1]) > 0
    with signed_in(server_db, "ana_transit") as g:
        for stage in STAGE_NAMES:
            run_stage(g, g.settings, stage)
        with pytest.raises(PolicyDenied, match="not in the scope"):
            g.use_scope(TASK_FORCE[0])
    with signed_in(server_db, "ana_county") as g:  # a member of the task force, in its own agency's scope
        run_stage(g, g.settings, "linkage")
    after = {s: scoped_digest(pg_cluster, db, s) for s in (METRO, TASK_FORCE[0])}
    assert after == before
    for scope in (None, TASK_FORCE[0]):  # a session reads one scope's results at a time, never a mix
        with signed_in(server_db, "ana_metro", scope=scope) as g:
            assert g.rows("SELECT DISTINCT scope FROM person_identities") == [(scope or METRO,)]
    assert int(scoped_digest(pg_cluster, db, TRANSIT)["person_identities"].split(":")[1]) > 0


def test_settings_sql_cannot_reach_outside_the_runs_rows(server_db):
    """Splink's blocking rules come from the settings file and run as SQL: on a server store they run in the
    run's own snapshot, with the server detached and file access switched off."""
    with signed_in(server_db, "ana_transit") as g:
        for rule in (
            "l.record_id IN (SELECT record_id FROM pg.casegraph.person_records WHERE agency = 'metro_pd')",
            "l.record_id IN (SELECT column0 FROM read_csv('/etc/passwd'))",
        ):
            g.settings.resolve.blocking_rules = [rule]
            with pytest.raises(Exception, match=r"does not exist|disabled by configuration"):
                run_stage(g, g.settings, "resolve")
        g.settings.resolve.blocking_rules = ["l.agency = 'metro_pd' AND r.agency = 'metro_pd'"]
        with contextlib.suppress(
            CasegraphError
        ):  # nothing to block on is an acceptable answer; a metro pair is not
            run_stage(g, g.settings, "resolve")
        pairs = g.rows("SELECT DISTINCT agency_a FROM resolve_pairs")
    assert set(pairs) <= {(TRANSIT,)}


# -- the audit log ------------------------------------------------------------------------------------------
def test_no_application_role_can_change_the_audit_log(server_db):
    with signed_in(server_db, "adm_metro") as g:
        for statement in (
            "UPDATE audit_log SET user_id = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(CasegraphError):
                g.execute(statement)
        with pytest.raises(CasegraphError):
            g.execute(
                "INSERT INTO audit_log (seq, at, user_id, action, prev_hash, hash) "
                "VALUES (999999, now(), 'x', 'read', 'x', 'x')"
            )


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        ("UPDATE casegraph.audit_log SET user_id = 'someone_else' WHERE seq = 3", "edited"),
        ("DELETE FROM casegraph.audit_log WHERE seq = 4", "missing"),
        (
            "INSERT INTO casegraph.audit_log SELECT seq + 1, at, user_id, agency, role, action, target, purpose, "
            "origin, detail, outcome, row_count, hash, encode(sha256(convert_to(hash, 'UTF8')), 'hex') "
            "FROM casegraph.audit_log ORDER BY seq DESC LIMIT 1",
            "edited",
        ),
        ("DELETE FROM casegraph.audit_log", "truncated"),
    ],
    ids=["edited", "deleted", "appended-forged", "wiped"],
)
def test_audit_verify_finds_tampering_by_the_databases_superuser(pg_cluster, city_template, tamper, kind):
    db = f"cg_audit_{kind}_{os.getpid()}"
    with superuser(pg_cluster) as su:
        su.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        su.execute(f"CREATE DATABASE {db} TEMPLATE {city_template}")
    url = f"postgresql://127.0.0.1:{pg_cluster['port']}/{db}"
    for _ in range(3):  # entries to tamper with: each verb is one
        assert cli(url, "ana_metro", "status").exit_code == 0
    assert cli(url, "aud_metro", "audit", "verify").exit_code == 0
    with superuser(pg_cluster, db) as su:
        su.execute("ALTER TABLE casegraph.audit_log DISABLE TRIGGER USER")
        su.execute(tamper)
    result = cli(url, "aud_metro", "audit", "verify")
    assert result.exit_code == 1 and kind in {p["kind"] for p in json.loads(result.stdout)["problems"]}
    with superuser(pg_cluster) as su:
        su.execute(f"DROP DATABASE {db} WITH (FORCE)")


def test_every_verb_and_run_is_on_the_record_with_the_signed_in_user(server_db, pg_cluster):
    assert cli(server_db, "ana_metro", "status").exit_code == 0
    db = server_db.rsplit("/", 1)[1]
    with superuser(pg_cluster, db) as su:
        last = su.execute(
            "SELECT user_id, agency, role, action FROM casegraph.audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert last == ("ana_metro", METRO, "analyst", "cli")
    assert USERS["ana_metro"] == (METRO, "analyst")


def test_init_refuses_a_database_that_has_a_store(server_db, pg_cluster):
    db = server_db.rsplit("/", 1)[1]
    url = f"postgresql://postgres@/{db}?host={pg_cluster['folder']}&port={pg_cluster['port']}"
    result = CliRunner().invoke(
        app,
        ["init"],
        env={"CASEGRAPH_STORE": url, "CASEGRAPH_USER": "x", "CASEGRAPH_PASSWORD": "y-long-password"},
    )
    assert result.exit_code == 2 and "already holds a casegraph schema" in result.output
    with pytest.raises(psycopg.Error):
        psycopg.connect(
            f"host=127.0.0.1 port={pg_cluster['port']} dbname={db} user=postgres", connect_timeout=3
        )


def test_a_supervisor_purges_their_agencys_expired_records_and_the_bytes_need_the_owner(server_db):
    """Purge on a server store: the supervisor's agency's expired claims and contacts go (rows deleted for every
    reader), other agencies' stay; the bytes leave PostgreSQL's files with VACUUM FULL, which only the tables'
    owner may run, and the summary says so."""
    with signed_in(server_db, "ana_county") as g:
        county_claims = g.scalar("SELECT count(*) FROM membership_claims WHERE agency = 'county_so'")
    result = cli(server_db, "sup_metro", "purge", "--today", "2031-06-01")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["removed"]["membership_claims"] > 0 and summary["removed"]["contacts"] > 0
    assert summary["reclaimed"].startswith("rows deleted; their bytes stay in the server's files until")
    with signed_in(server_db, "sup_metro") as g:
        assert g.scalar("SELECT count(*) FROM membership_claims WHERE agency = 'metro_pd'") == 0
        assert g.scalar("SELECT count(*) FROM tombstones WHERE agency = 'metro_pd'") > 0
    with signed_in(server_db, "ana_county") as g:
        assert g.scalar("SELECT count(*) FROM membership_claims WHERE agency = 'county_so'") == county_claims
