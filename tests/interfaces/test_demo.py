"""`casegraph demo`: it runs twice in a row (it replaces every file of its store), and when it refuses to
replace a store, it says exactly what to do."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casegraph.cli import app
from casegraph.cli.storefiles import replace_demo_store, store_files
from casegraph.errors import CasegraphError
from casegraph.settings import load_settings
from casegraph.store import open_store

runner = CliRunner()
SMALL_CITY = ["--incidents", "1000", "--seed", "3"]


def demo(out: Path, *extra: str):
    return runner.invoke(app, ["demo", "--out", str(out), *SMALL_CITY, *extra])


def test_the_demo_runs_twice_and_its_store_opens_after_each_run(tmp_path, monkeypatch):
    monkeypatch.delenv("CASEGRAPH_STORE", raising=False)
    for name in ("CASEGRAPH_USER", "CASEGRAPH_ROLE"):  # the demo acts as its admin (restored after the test)
        monkeypatch.setenv(name, "admin")
    out = tmp_path / "demo-out"
    first = demo(out)
    assert first.exit_code == 0, first.output
    store = out / "casegraph.duckdb"
    # every side file a first run and a workspace leave beside the store
    assert Path(f"{store}.audit-anchor").exists()
    assert runner.invoke(app, ["--store", str(store), "serve", "--token-for", "someone"]).exit_code == 0
    assert Path(f"{store}.api-secret").exists()
    second = demo(out)
    assert second.exit_code == 0, second.output
    status = runner.invoke(app, ["--store", str(store), "--json", "status"])
    assert status.exit_code == 0, status.output
    assert not Path(f"{store}.api-secret").exists()  # the old store's secret went with it


def test_the_demo_refuses_a_store_it_did_not_make_and_says_how_to_remove_it(tmp_path):
    settings = load_settings()
    settings.store.path = str(tmp_path / "mine.duckdb")
    open_store(settings).close()
    with pytest.raises(CasegraphError) as refused:
        replace_demo_store(settings, tmp_path / "city")
    message = str(refused.value)
    assert "not a store made by `casegraph demo`" in message
    assert f"rm -r {settings.store.path}" in message and "--out" in message
    assert Path(settings.store.path).exists()  # nothing was removed


def test_the_demo_refuses_a_store_open_in_another_process(tmp_path):
    settings = load_settings()
    settings.store.path = str(tmp_path / "demo.duckdb")
    replace_demo_store(settings, tmp_path / "city")  # marks it as the demo's
    open_store(settings).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            settings.store.path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(CasegraphError, match=r"open in another process.*stop that process"):
            replace_demo_store(settings, tmp_path / "city")
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    removed = replace_demo_store(settings, tmp_path / "city")
    assert Path(settings.store.path) in removed and not Path(settings.store.path).exists()


def test_store_files_name_the_anchor_where_the_settings_put_it(tmp_path):
    settings = load_settings()
    settings.store.path = str(tmp_path / "s.duckdb")
    settings.safeguards.audit_anchor_file = str(tmp_path / "elsewhere" / "anchor")
    names = {str(p) for p in store_files(settings)}
    assert str(tmp_path / "elsewhere" / "anchor") in names
    assert f"{settings.store.path}.api-secret" in names and f"{settings.store.path}.wal" in names
