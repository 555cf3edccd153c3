"""The safeguards verbs, end to end through the CLI, as the owner of an embedded store."""

from __future__ import annotations

import json

import pytest
from safeguards_records import make_records
from typer.testing import CliRunner

from casegraph.cli import app
from casegraph.safeguards import os_account
from casegraph.store import open_store


@pytest.fixture
def cli(settings, monkeypatch):
    st = open_store(settings)
    make_records(st)
    st.close()
    monkeypatch.delenv("CASEGRAPH_CONFIG", raising=False)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--store", settings.store.path, "--json", *args])
        return result.exit_code, result.output

    return run


def test_the_owner_reviews_purges_and_audits(cli):
    code, output = cli("why", "R1", "--purpose", "case 1")
    assert code == 0 and {c["claim_id"] for c in json.loads(output)["claims"]} == {"MC1", "MC2"}
    code, output = cli("review", "--today", "2026-01-01", "--within", "0")
    assert code == 0 and {r["record_key"] for r in json.loads(output)} == {"C1", "MC2", "MC3"}
    code, output = cli("purge", "--dry-run", "--today", "2026-01-01")
    assert code == 0 and json.loads(output)["expired"] == 2
    code, output = cli("audit", "fairness")
    assert code == 0 and json.loads(output)["breakdowns"][0]["field"] in {"race", "suspect_race"}
    code, output = cli("audit", "log", "--limit", "50")
    entries = json.loads(output)
    assert code == 0 and {e["user_id"] for e in entries} == {os_account()}
    verbs = [(e["target"], e["purpose"]) for e in entries if e["action"] == "cli"][::-1]
    assert verbs[:2] == [
        ("casegraph why --purpose case 1 --person R1", "case 1"),
        ("casegraph review --today 2026-01-01 --within 0", "review"),
    ]
    assert cli("audit", "disseminations", "R1")[0] == 0
    code, output = cli("audit", "verify")
    assert code == 0 and json.loads(output)["ok"]


def test_users_and_sharing_are_not_verbs_of_an_embedded_store(cli):
    assert cli("users", "add", "x", "--agency", "metro_pd", "--role", "admin")[0] == 2
    assert cli("agencies", "share", "county_so")[0] == 2
