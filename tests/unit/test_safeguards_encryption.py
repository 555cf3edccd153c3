"""Encryption at rest: an encrypted store holds no plaintext and refuses to open without its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from casegraph.cli import app
from casegraph.errors import EngineError
from casegraph.safeguards import owner_session
from casegraph.store import open_store

NAME = "Zebediah Quarrington"  # a value that would stand out in the file's bytes
P = "agency, source_id, source_row, row_hash, ingested_at"


def fill(settings) -> None:
    st = open_store(settings)
    st.execute(
        f"INSERT INTO person_records (record_id, given_name, {P}) VALUES ('R1', ?, 'metro_pd', 's', 1, 'h', now())",
        [NAME],
    )
    st.close()


def file_bytes(path: str) -> bytes:
    return b"".join(p.read_bytes() for p in Path(path).parent.glob(Path(path).name + "*") if p.is_file())


def test_plain_store_shows_the_name_encrypted_store_does_not(settings, tmp_path, monkeypatch):
    fill(settings)
    assert NAME.encode() in file_bytes(settings.store.path)  # the test can see plaintext when it is there
    monkeypatch.setenv("CASEGRAPH_KEY", "correct horse battery staple")
    settings.store.path = str(tmp_path / "secret.duckdb")
    fill(settings)
    assert NAME.encode() not in file_bytes(settings.store.path)
    st = open_store(settings)
    assert st.rows("SELECT given_name FROM person_records") == [(NAME,)]
    st.close()


def test_no_key_and_wrong_key_are_refused_clearly(settings, monkeypatch):
    monkeypatch.setenv("CASEGRAPH_KEY", "right key")
    fill(settings)
    monkeypatch.delenv("CASEGRAPH_KEY")
    with pytest.raises(EngineError, match="is encrypted: give its key"):
        open_store(settings)
    monkeypatch.setenv("CASEGRAPH_KEY", "wrong key")
    with pytest.raises(EngineError, match="wrong encryption key"):
        open_store(settings)


def test_encrypt_copies_a_plain_store_with_its_audit_chain(settings, tmp_path, monkeypatch):
    fill(settings)
    st = open_store(settings)
    owner_session(st, settings).log("test", "start the audit chain")
    st.close()
    dest = tmp_path / "enc.duckdb"
    monkeypatch.setenv("CASEGRAPH_KEY", "k3y")
    result = CliRunner().invoke(app, ["encrypt", settings.store.path, str(dest)])
    assert result.exit_code == 0, result.output
    assert NAME.encode() not in file_bytes(str(dest))
    result = CliRunner().invoke(app, ["--store", str(dest), "--json", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.output
