"""Tampering with the audit log by hand, in the DuckDB file itself, is detected and located: edited, deleted,
reordered, forged at the end, truncated, wiped, or its anchor removed or rewritten without the key."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from casegraph.cli import app
from casegraph.errors import PolicyDenied
from casegraph.safeguards import accept_audit_log, owner_session, verify_log
from casegraph.safeguards.audit import GENESIS, Anchor, AuditLog, Entry, entry_mac, legacy_hash
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


def test_the_mac_covers_every_field_the_chain_and_the_key():
    base = {"seq": 1, "at": datetime(2026, 1, 1), "user_id": "a", "action": "read"}
    key = b"k" * 32
    assert entry_mac(base, GENESIS, key) != entry_mac({**base, "user_id": "b"}, GENESIS, key)
    assert entry_mac(base, GENESIS, key) != entry_mac(base, "1" * 64, key)
    assert entry_mac(base, GENESIS, key) != entry_mac(base, GENESIS, b"j" * 32)


def test_the_key_is_made_with_the_log_beside_the_store_and_the_owners_alone(logged, settings):
    key = Path(f"{logged}.audit-key")
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    st = open_store(settings)
    seq, digest, entries = st.rows("SELECT max(seq), arg_max(hash, seq), count(*) FROM audit_log")[0]
    st.close()
    anchor = json.loads(Path(f"{logged}.audit-anchor").read_text())
    assert (anchor["seq"], anchor["hash"], anchor["entries"]) == (seq, digest, entries) == (13, digest, 13)


def test_an_edited_entry_is_found(logged, settings):
    tamper(logged, "UPDATE audit_log SET user_id = 'someone_else' WHERE seq = 6")
    assert problems(settings) == [(6, "edited")]


def test_a_deleted_entry_is_found(logged, settings):
    tamper(logged, "DELETE FROM audit_log WHERE seq = 5")
    assert problems(settings) == [(6, "missing"), (13, "anchor")]  # and the anchor counts 13 entries


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


def messages(settings) -> list[tuple]:
    st = open_store(settings)
    result = verify_log(st, settings)
    st.close()
    return [(p.seq, p.kind, p.message) for p in result.problems]


def test_a_wiped_log_with_its_anchor_deleted_fails(logged, settings):
    tamper(logged, "DELETE FROM audit_log")
    Path(f"{logged}.audit-anchor").unlink()
    assert messages(settings) == [
        (
            1,
            "anchor",
            f"the audit log's anchor ({logged}.audit-anchor) is missing, although the log was started (its key "
            "exists); the log is empty: it was wiped, or the anchor removed",
        )
    ]
    st = open_store(settings)
    with pytest.raises(PolicyDenied, match="does not match its anchor: the audit log's anchor"):
        owner_session(st, settings)
    st.close()


def test_an_emptied_log_fails_against_its_anchor(logged, settings):
    tamper(logged, "DELETE FROM audit_log")
    assert messages(settings) == [
        (
            13,
            "truncated",
            "the audit log ends at entry 0 but the anchor records entry 13: 13 entries were "
            "deleted from the end",
        )
    ]


def test_a_cut_tail_with_a_rewritten_anchor_fails_without_the_key(logged, settings):
    tamper(logged, "DELETE FROM audit_log WHERE seq > 10")
    anchor = Path(f"{logged}.audit-anchor")
    data = json.loads(anchor.read_text())
    st = open_store(settings)
    data.update(seq=10, entries=10, hash=st.scalar("SELECT hash FROM audit_log WHERE seq = 10"))
    st.close()
    anchor.write_text(json.dumps(data))  # the attacker moves the anchor back, but cannot sign it
    assert messages(settings) == [
        (
            10,
            "anchor",
            "the anchor's signature does not match the audit key (the anchor was edited, or the key replaced)",
        )
    ]


def test_an_entry_forged_at_the_end_fails(logged, settings):
    """An entry appended after the head with a correct SHA-256 over its fields and link (the old scheme)."""
    st = open_store(settings)
    prev = st.scalar("SELECT hash FROM audit_log WHERE seq = 13")
    st.close()
    at = datetime(2026, 1, 1)
    fields = [
        14,
        at.isoformat(),
        "root",
        None,
        "owner",
        "read",
        "nothing to see",
        "audit",
        "cli",
        None,
        "ok",
        None,
    ]
    digest = hashlib.sha256(json.dumps([*fields, prev], separators=(",", ":")).encode()).hexdigest()
    tamper(
        logged,
        "INSERT INTO audit_log VALUES (14, TIMESTAMP '2026-01-01', 'root', NULL, 'owner', 'read', "
        f"'nothing to see', 'audit', 'cli', NULL, 'ok', NULL, '{prev}', '{digest}')",
    )
    found = messages(settings)
    assert [(s, k) for s, k, _ in found] == [(14, "edited"), (14, "extended")]
    assert found[1][2] == (
        "the audit log goes on past its anchor (entry 13): entries 14 to 14 were not written by casegraph "
        "(forged, or added outside it)"
    )


def test_a_fully_rewritten_store_is_caught_only_by_an_outside_checkpoint(logged, settings):
    st = open_store(settings)
    seq, digest = st.rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    st.close()
    tamper(logged, f"DELETE FROM audit_log WHERE seq > {seq - 2}")
    Path(f"{logged}.audit-anchor").unlink()
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


def test_a_store_without_its_audit_key_is_refused(logged, settings):
    Path(f"{logged}.audit-key").unlink()
    assert messages(settings)[0] == (
        1,
        "key",
        f"the audit key ({logged}.audit-key or $CASEGRAPH_AUDIT_KEY) is missing: no entry's MAC can be checked",
    )
    st = open_store(settings)
    with pytest.raises(PolicyDenied, match=r"the audit key .* is missing"):
        owner_session(st, settings)
    st.close()


def test_an_exported_anchor_catches_an_owner_who_rewrites_the_log_with_the_key(logged, settings, tmp_path):
    def cli(*args: str) -> tuple[int, dict]:
        result = CliRunner().invoke(app, ["--store", str(logged), "--json", "audit", *args])
        return result.exit_code, json.loads(result.output)

    kept = tmp_path / "elsewhere" / "anchor.json"
    code, out = cli("anchor", "--export", str(kept))
    assert code == 0 and out["seq"] == 13 and kept.stat().st_mode & 0o777 == 0o600
    assert cli("verify", "--anchor", str(kept))[0] == 0
    # The owner holds the key: they cut entries 6 on and write new ones, anchor and all, consistently.
    tamper(logged, "DELETE FROM audit_log WHERE seq > 5")
    st = open_store(settings)
    anchor = Anchor(st, settings)
    anchor.write(5, st.scalar("SELECT hash FROM audit_log WHERE seq = 5"), 5)
    AuditLog(st, anchor).append([Entry(user_id="root", action="read", target=f"t{n}") for n in range(20)])
    st.close()
    code, out = cli("verify")
    assert code == 0 and out["ok"]  # what an owner holding the key can do: the local checks all pass
    code, out = cli("verify", "--anchor", str(kept))
    assert code == 1 and out["first_bad_seq"] == 13
    assert out["problems"][-1]["message"] == (
        "entry 13 of the audit log is not the one the exported anchor records (replaced or rewritten)"
    )


def test_looking_at_a_broken_log_does_not_heal_it(logged, settings):
    """`audit verify` records itself; on a log that fails its anchor that entry is refused, so the anchor is not
    moved and the finding stays until the owner accepts it."""
    tamper(logged, "DELETE FROM audit_log")
    Path(f"{logged}.audit-anchor").unlink()
    for _ in range(2):
        result = CliRunner().invoke(app, ["--store", str(logged), "--json", "audit", "verify"])
        assert result.exit_code == 1
        assert json.loads(result.stdout)["first_bad_seq"] == 1
    assert not Path(f"{logged}.audit-anchor").exists()
    st = open_store(settings)
    assert st.scalar("SELECT count(*) FROM audit_log") == 0
    st.close()


def test_a_log_from_before_audit_keys_is_accepted_once_then_checked_by_its_old_chain(settings):
    """A store an older version wrote (SHA-256 chain, unsigned anchor, no key) is refused until its owner accepts
    it; a key is made then, later entries carry MACs, and the old ones are still checked by their SHA-256."""
    st = open_store(settings)
    prev = GENESIS
    for seq in range(1, 6):
        values = {"seq": seq, "at": datetime(2025, 1, seq), "user_id": "root", "action": "read"}
        digest = legacy_hash(values, prev)
        st.execute(
            'INSERT INTO audit_log (seq, "at", user_id, action, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)',
            [seq, values["at"], "root", "read", prev, digest],
        )
        prev = digest
    Path(f"{settings.store.path}.audit-anchor").write_text(json.dumps({"seq": 5, "hash": prev, "mac": None}))
    with pytest.raises(PolicyDenied, match=r"the audit key .* is missing"):
        owner_session(st, settings)
    accepted = accept_audit_log(owner_session(st, settings, check_log=False))
    assert accepted.startswith("the audit key")
    owner_session(st, settings).log("read", "after the key")
    result = verify_log(st, settings)
    assert result.ok and result.entries == 7
    assert json.loads(Path(f"{settings.store.path}.audit-anchor").read_text())["legacy_until"] == 5
    st.execute("UPDATE audit_log SET user_id = 'x' WHERE seq IN (3, 7)")
    assert [(p.seq, p.kind) for p in verify_log(st, settings).problems] == [(3, "edited"), (7, "edited")]
    st.close()
