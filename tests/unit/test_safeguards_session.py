"""An embedded store's session: it acts for the account that owns the file, claims no roles, and records what it
does; the file and its companions are the owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from safeguards_records import make_records

from casegraph.errors import EngineError, PolicyDenied, SettingsError
from casegraph.safeguards import OWNER, os_account, owner_session
from casegraph.settings import load_settings
from casegraph.store import open_store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_session_acts_for_the_account_that_owns_the_file(store, settings, monkeypatch):
    monkeypatch.setenv("CASEGRAPH_USER", "admin")  # identity is never an environment variable
    monkeypatch.setenv("CASEGRAPH_ROLE", "admin")
    g = owner_session(store, load_settings(), purpose="test")
    assert (g.user.user_id, g.user.agency, g.user.role) == (os_account(), None, OWNER)
    assert all(g.user.can(a) for a in ("read", "purge", "export", "audit", "approve"))


def test_roles_and_agencies_in_the_settings_file_are_refused_with_the_reason(tmp_path, monkeypatch):
    config = tmp_path / "casegraph.toml"
    config.write_text('[user]\nid = "admin"\nrole = "admin"\n')
    with pytest.raises(SettingsError, match="no longer a setting"):
        load_settings(config)


def test_the_store_and_its_anchor_are_the_owners_alone(settings):
    st = open_store(settings)
    g = owner_session(st, settings, purpose="test")
    g.log("test", "files")
    st.close()
    store_file = Path(settings.store.path)
    assert mode(store_file) == 0o600
    assert mode(Path(f"{store_file}.audit-anchor")) & 0o077 == 0


def test_group_and_other_permissions_on_an_existing_store_are_taken_back(settings):
    open_store(settings).close()
    os.chmod(settings.store.path, 0o644)
    open_store(settings).close()
    assert mode(Path(settings.store.path)) == 0o600


def test_another_accounts_store_is_refused(settings, monkeypatch):
    open_store(settings).close()
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(settings.store.path).st_uid + 1)
    with pytest.raises(EngineError, match="belongs to another account"):
        open_store(settings)


def test_runs_and_operations_are_in_the_audit_log_with_purpose_and_origin(store, settings):
    g = owner_session(store, settings, purpose="case 24-117", origin="test origin")
    run_id = g.new_run("linkage", {})
    g.finish_run(run_id, "ok", {})
    with pytest.raises(RuntimeError), g.transaction():
        g.log("export", "incidents", rows=3)
        raise RuntimeError("failed half way")
    rows = store.rows(
        "SELECT user_id, role, action, target, purpose, origin, outcome FROM audit_log ORDER BY seq"
    )
    assert [(r[2], r[6]) for r in rows] == [("run", "ok"), ("run", "ok"), ("export", "rolled back")]
    assert {(r[0], r[1], r[4], r[5]) for r in rows} == {(os_account(), OWNER, "case 24-117", "test origin")}
    assert store.scalar("SELECT user_id FROM runs WHERE run_id = ?", [run_id]) == os_account()


def test_only_claims_that_pass_their_rules_count(store, settings):
    make_records(store)
    g = owner_session(store, settings, purpose="test")
    passing = {r[0] for r in g.rows(f"SELECT claim_id FROM {g.valid_claims()} ORDER BY 1")}
    # MC2 cites only a 2019 contact (past review), MC3 is about a minor without approval
    assert passing == {"MC1"}
    g.use_claims_snapshot("token-1")
    assert {r[0] for r in g.rows(f"SELECT claim_id FROM {g.valid_claims()}")} == passing


def test_a_log_that_fails_its_anchor_stops_every_session(store, settings):
    g = owner_session(store, settings, purpose="test")
    g.log("test", "one")
    g.log("test", "two")
    store.execute("DELETE FROM audit_log WHERE seq = 2")
    with pytest.raises(PolicyDenied, match="does not match its anchor"):
        owner_session(store, settings, purpose="test")


def test_protected_fields_are_never_shown_by_why(store, settings):
    from casegraph.safeguards import why

    make_records(store)
    data = why(owner_session(store, settings, purpose="test"), "R1")
    assert data["records"] and all("race" not in r for r in data["records"])
    assert pd.DataFrame(data["records"]).shape[0] == 1
