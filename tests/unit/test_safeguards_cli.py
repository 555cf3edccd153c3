"""The safeguards verbs, end to end through the CLI, as different users."""

from __future__ import annotations

import json

import pytest
from test_safeguards_guard import make_records
from typer.testing import CliRunner

from casegraph.cli import app
from casegraph.store import open_store


@pytest.fixture
def cli(settings, monkeypatch):
    st = open_store(settings)
    make_records(st)
    st.close()
    monkeypatch.delenv("CASEGRAPH_CONFIG", raising=False)

    def run(*args: str, user: str = "analyst", role: str = "analyst") -> tuple[int, str]:
        monkeypatch.setenv("CASEGRAPH_USER", user)
        monkeypatch.setenv("CASEGRAPH_ROLE", role)
        result = CliRunner().invoke(app, ["--store", settings.store.path, "--json", *args])
        return result.exit_code, result.output

    return run


def test_users_roles_and_verbs(cli):
    code, output = cli("why", "R1", "--purpose", "case 1")  # the first session creates analyst and admin
    assert code == 0 and {c["claim_id"] for c in json.loads(output)["claims"]} == {"MC1", "MC2"}
    assert (
        cli(
            "users", "add", "sgt", "--agency", "metro_pd", "--role", "supervisor", user="admin", role="admin"
        )[0]
        == 0
    )
    assert (
        cli("users", "add", "aud", "--agency", "metro_pd", "--role", "auditor", user="admin", role="admin")[0]
        == 0
    )
    code, output = cli("users", "add", "x", "--agency", "metro_pd", "--role", "admin")
    assert code == 2 and "add or change users" in output
    code, output = cli("review", "--today", "2026-01-01", "--within", "0", user="sgt", role="supervisor")
    assert code == 0 and {r["record_key"] for r in json.loads(output)} == {"C1", "MC2", "MC3"}
    code, output = cli("purge", "--dry-run", "--today", "2026-01-01", user="sgt", role="supervisor")
    assert code == 0 and json.loads(output)["expired"] == 2
    assert cli("purge", "--today", "2026-01-01")[0] == 2  # analysts do not purge
    code, output = cli("audit", "fairness", user="aud", role="auditor")
    assert code == 0 and json.loads(output)["breakdowns"][0]["field"] in {"race", "suspect_race"}
    code, output = cli("audit", "log", "--limit", "5", user="aud", role="auditor")
    assert code == 0 and len(json.loads(output)) == 5
    assert cli("audit", "disseminations", "R1", user="aud", role="auditor")[0] == 0
    code, output = cli("audit", "verify", user="aud", role="auditor")
    assert code == 0 and json.loads(output)["ok"]
    assert cli("agencies", "share", "county_so", user="admin", role="admin")[0] == 0
    assert cli("audit", "log")[0] == 2  # analysts do not read the audit log
