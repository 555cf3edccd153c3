"""`casegraph report group`: the report holds what the store holds about the group (checked against the store),
escapes markup, and writes a dissemination entry (who, for whom, why, which records) before it is handed over."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from casegraph import ingest
from casegraph.api.report import build_report
from casegraph.errors import PolicyDenied
from casegraph.safeguards import owner_session
from casegraph.store import open_store
from tests.interfaces.test_api import build_workspace_store, copy_store, settings_for

HOSTILE_NAME = "<script>alert(1)</script> Crew"


@pytest.fixture(scope="module")
def report_file(city_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("report") / "r.duckdb"
    s = build_workspace_store(city_store_file, dst)
    store = open_store(s)
    hostile = dst.parent / "groups.csv"
    pd.DataFrame([{"group_id": "GX", "name": HOSTILE_NAME, "kind": "crew"}]).to_csv(hostile, index=False)
    ingest.run(store, s, hostile, table="groups", agency="metro_pd")
    store.close()
    return dst


@pytest.fixture
def session(report_file: Path, tmp_path: Path):
    s = settings_for(copy_store(report_file, tmp_path / "copy.duckdb"))
    store = open_store(s)
    g = owner_session(store, s, purpose="test: group report")
    yield g, store
    store.close()


def test_report_holds_the_groups_members_and_evidence_and_is_disseminated(session):
    g, store = session
    html = build_report(g, "Iron Kettles", recipient="DI Patel, gangs unit", purpose="op. kettle briefing")
    members = g.rows(
        f"SELECT claim_id, agency, record_id, evidence FROM {g.valid_claims()} WHERE group_id = 'G01'"
    )
    assert members
    for _claim, agency, record, evidence in members:
        assert f"{agency}/{record}" in html and all(e in html for e in evidence)
    linked = g.scalar("SELECT count(*) FROM group_incidents WHERE group_id = 'G01'")
    assert f"Linked incidents ({linked})" in html and "<script" not in html.lower()
    assert "data:image/svg+xml;base64," in html  # activity chart and map, as images (no script)
    ((did, recipient, purpose, what),) = store.rows(
        "SELECT dissemination_id, recipient, purpose, what FROM disseminations"
    )
    assert (recipient, purpose, what) == (
        "DI Patel, gangs unit",
        "op. kettle briefing",
        "group report G01",
    ) and did in html
    items = {(t, k) for t, k in store.rows("SELECT table_name, record_key FROM dissemination_items")}
    assert {("membership_claims", c) for c, _, _, _ in members} <= items and ("groups", "G01") in items


def test_report_escapes_markup_in_names(session):
    g, _ = session
    html = build_report(g, "GX", recipient="unit", purpose="escaping check")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Crew" in html and "<script>" not in html


def test_report_needs_a_recipient_and_a_purpose(session):
    g, store = session
    with pytest.raises(PolicyDenied):
        build_report(g, "G01", recipient=" ", purpose="x")
    assert store.rows("SELECT count(*) FROM disseminations") == [(0,)]


def test_stage_not_run_sections_say_so(city_store_file: Path, tmp_path: Path):
    s = build_workspace_store(city_store_file, tmp_path / "bare.duckdb", with_trends=False)
    store = open_store(s)
    g = owner_session(store, s, purpose="test: bare report")
    html = build_report(g, "G01", recipient="unit", purpose="bare")
    store.close()
    assert "stage not run" in html and "network" in html


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="PDF output needs Debian's chromium (apt-get install chromium)"
)
def test_pdf_report_through_the_cli(report_file: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from casegraph.cli import app

    store = copy_store(report_file, tmp_path / "cli.duckdb")
    out = tmp_path / "g01.pdf"
    result = CliRunner().invoke(
        app,
        [
            "--store",
            str(store),
            "report",
            "group",
            "G01",
            "--out",
            str(out),
            "--recipient",
            "unit",
            "--purpose",
            "pdf check",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"%PDF-"
