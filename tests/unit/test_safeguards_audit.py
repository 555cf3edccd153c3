"""Tampering with the audit log by hand, in the DuckDB file itself, is detected and located."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from casegraph.errors import PolicyDenied
from casegraph.safeguards import accept_audit_log, owner_session, verify_log
from casegraph.safeguards.audit import GENESIS, entry_hash
from casegraph.store import open_store


@pytest.fixture
def logged(settings) -> Path:
    """A closed store whose log holds 13 entries."""
    st = open_store(settings)
    g = owner_session(st, settings)
    for n in range(13):
        g.log("read", f"person_records {n}")
    assert st.scalar("SELECT count(*) FROM audit_log") == 13
    st.close()
    return Path(settings.store.path)


def tamper(path: Path, *statements: str) -> None:
    """What someone with the file (and its key) could do: edit the table directly, outside casegraph."""
    con = duckdb.connect(str(path))
    for sql in statements:
        con.execute(sql)
    con.close()


def problems(settings) -> list[tuple]:
    st = open_store(settings)
    result = verify_log(st, settings)
    st.close()
    return [(p.seq, p.kind) for p in result.problems]


def test_an_untouched_log_verifies(logged, settings):
    assert problems(settings) == []
    st = open_store(settings)
    rows = st.rows("SELECT seq, prev_hash, hash FROM audit_log ORDER BY seq")
    assert rows[0][1] == GENESIS and all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))
    st.close()


def test_the_hash_covers_every_field():
    base = {"seq": 1, "at": __import__("datetime").datetime(2026, 1, 1), "user_id": "a", "action": "read"}
    assert entry_hash(base, GENESIS) != entry_hash({**base, "user_id": "b"}, GENESIS)
    assert entry_hash(base, GENESIS) != entry_hash(base, "1" * 64)


def test_an_edited_entry_is_found(logged, settings):
    tamper(logged, "UPDATE audit_log SET user_id = 'someone_else' WHERE seq = 6")
    assert problems(settings) == [(6, "edited")]


def test_a_deleted_entry_is_found(logged, settings):
    tamper(logged, "DELETE FROM audit_log WHERE seq = 5")
    assert problems(settings) == [(6, "missing")]


def test_reordered_entries_are_found(logged, settings):
    tamper(logged, "UPDATE audit_log SET seq = CASE seq WHEN 7 THEN 8 ELSE 7 END WHERE seq IN (7, 8)")
    found = problems(settings)
    assert (7, "relinked") in found and (7, "edited") in found and (8, "edited") in found


def test_deleting_the_last_entries_is_found_and_blocks_sessions(logged, settings):
    tamper(logged, "DELETE FROM audit_log WHERE seq > 10")
    assert problems(settings) == [(13, "truncated")]
    st = open_store(settings)
    with pytest.raises(PolicyDenied, match="3 entries were deleted from the end"):
        owner_session(st, settings)
    accepting = owner_session(st, settings, check_log=False)
    assert accept_audit_log(accepting).startswith("the audit log ends at entry 10")
    result = verify_log(st, settings)
    assert result.ok and result.head_seq == 11
    assert "deleted from the end" in st.scalar("SELECT detail FROM audit_log WHERE seq = 11")
    owner_session(st, settings)  # sessions run again, the acceptance itself is on the record
    st.close()


def test_a_rewritten_anchor_is_caught_by_its_signature(logged, settings, monkeypatch):
    monkeypatch.setenv("CASEGRAPH_AUDIT_KEY", "k" * 32)
    st = open_store(settings)
    turning_on = owner_session(st, settings, check_log=False)
    assert "not signed" in accept_audit_log(turning_on)  # turning the key on is accepted once
    st.close()
    tamper(logged, "DELETE FROM audit_log WHERE seq > 12")  # 14 entries after the acceptance
    anchor = Path(f"{logged}.audit-anchor")
    data = json.loads(anchor.read_text())
    st = open_store(settings)
    data.update(seq=12, hash=st.scalar("SELECT hash FROM audit_log WHERE seq = 12"))
    st.close()
    anchor.write_text(json.dumps(data))  # the attacker moves the anchor back, but cannot sign it
    assert problems(settings) == [(12, "anchor")]


def test_a_fully_rewritten_store_is_caught_only_by_an_outside_checkpoint(logged, settings):
    st = open_store(settings)
    seq, digest = st.rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    st.close()
    tamper(logged, f"DELETE FROM audit_log WHERE seq > {seq - 2}")
    Path(f"{logged}.audit-anchor").unlink()  # no key configured: the anchor can go too
    st = open_store(settings)
    assert verify_log(st, settings).problems[0].kind == "anchor"  # missing anchor is itself a finding
    assert verify_log(st, settings, expect=(seq, digest)).problems[-1].kind == "expected"
    st.close()


def test_a_store_copied_without_its_anchor_is_refused(logged, settings):
    Path(f"{logged}.audit-anchor").unlink()
    st = open_store(settings)
    with pytest.raises(PolicyDenied, match=r"anchor .* is missing"):
        owner_session(st, settings)
    st.close()
