"""The tamper-evident audit log: append-only, hash-chained, with an anchor kept outside the table.

Threat model. Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting or
reordering any entry breaks the chain at that point. A chain cannot show that its *last* entries were cut off,
so the latest (seq, hash) is also written to an anchor file beside the store (or elsewhere, see
safeguards.audit_anchor_file), signed with HMAC when an audit key is configured. What remains undetectable is an
attacker who can rewrite the store file (holding its encryption key), the anchor file *and* the audit key: for
that, ship `casegraph audit log --head` to a system they do not control and check with `audit verify --expect`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casegraph.settings import Settings
from casegraph.store import Store, quote

GENESIS = "0" * 64
CHUNK = 500
FIELDS = (
    "seq",
    "at",
    "user_id",
    "agency",
    "role",
    "action",
    "target",
    "purpose",
    "origin",
    "detail",
    "outcome",
    "row_count",
)
_MEMORY_ANCHORS: dict[int, dict[str, Any]] = {}  # anchors of in-memory stores, by store id


@dataclass
class Entry:
    user_id: str
    action: str
    agency: str | None = None
    role: str | None = None
    target: str | None = None
    purpose: str | None = None
    origin: str | None = None
    detail: str | None = None
    outcome: str = "ok"
    row_count: int | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


def entry_hash(values: dict[str, Any], prev_hash: str) -> str:
    """sha256 over the entry's fields (canonical JSON) and the previous hash."""
    payload = [values.get(f).isoformat() if f == "at" else values.get(f) for f in FIELDS]  # type: ignore[union-attr]
    text = json.dumps([*payload, prev_hash], ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def anchor_path(settings: Settings, store_path: str) -> Path | None:
    """Where the anchor of the store at store_path is kept (None: in memory, for an in-memory store)."""
    if settings.safeguards.audit_anchor_file:
        return Path(settings.safeguards.audit_anchor_file)
    return None if store_path == ":memory:" else Path(f"{store_path}.audit-anchor")


class Anchor:
    """The latest (seq, hash) kept outside the audit table, optionally signed with an HMAC key."""

    def __init__(self, store: Store, settings: Settings) -> None:
        rules = settings.safeguards
        self.path = anchor_path(settings, store.path)
        self.memory_key = id(store)
        self.key = _audit_key(rules.audit_key_file, rules.audit_key_env)

    def _mac(self, seq: int, digest: str) -> str | None:
        if not self.key:
            return None
        return hmac.new(self.key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()

    def read(self) -> dict[str, Any] | None:
        if self.path is None:
            return _MEMORY_ANCHORS.get(self.memory_key)
        if not self.path.exists():
            return None
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def write(self, seq: int, digest: str) -> None:
        data = {
            "seq": seq,
            "hash": digest,
            "at": datetime.now(UTC).isoformat(),
            "mac": self._mac(seq, digest),
        }
        if self.path is None:
            _MEMORY_ANCHORS[self.memory_key] = data
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the owner's alone
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)  # atomic: a crash leaves the old anchor or the new one

    def signature_problem(self, data: dict[str, Any]) -> str | None:
        if not self.key:
            return None
        if not data.get("mac"):
            return "the anchor is not signed although an audit key is configured"
        if not hmac.compare_digest(str(data["mac"]), self._mac(int(data["seq"]), str(data["hash"])) or ""):
            return "the anchor's signature does not match (the anchor file was edited)"
        return None


def _audit_key(key_file: str | None, key_env: str) -> bytes | None:
    if key_file:
        return Path(key_file).read_bytes().strip() or None
    value = os.environ.get(key_env)
    return value.encode() if value else None


def head(store: Store) -> tuple[int, str]:
    """The last entry's (seq, hash), or (0, GENESIS) for an empty log."""
    rows = store.rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)


def anchor_problem(store: Store, anchor: Anchor) -> str | None:
    """Why the log's end does not match its anchor (truncated, replaced, anchor missing), or None."""
    seq, _ = head(store)
    data = anchor.read()
    if data is None:
        return (
            None if seq == 0 else f"the audit log has {seq} entries but its anchor ({anchor.path}) is missing"
        )
    bad_sig = anchor.signature_problem(data)
    if bad_sig:
        return bad_sig
    a_seq, a_hash = int(data["seq"]), str(data["hash"])
    if a_seq > seq:
        return (
            f"the audit log ends at entry {seq} but its anchor records entry {a_seq}: "
            f"{a_seq - seq} entries were deleted from the end"
        )
    found = store.rows("SELECT hash FROM audit_log WHERE seq = ?", [a_seq]) if a_seq else [(GENESIS,)]
    if not found or found[0][0] != a_hash:
        return f"entry {a_seq} of the audit log is not the one its anchor records (replaced or rewritten)"
    return None


class AuditLog:
    """Appends entries to one store's audit_log, keeping the chain head and the anchor in step."""

    def __init__(self, store: Store, anchor: Anchor) -> None:
        self.store, self.anchor = store, anchor
        self.seq, self.hash = head(store)

    def append(self, entries: list[Entry]) -> int:
        """Append entries in order (one transaction); returns the last seq."""
        if not entries:
            return self.seq
        seq, prev = self.seq, self.hash
        rows = []
        for e in entries:
            seq += 1
            values = {**e.__dict__, "seq": seq}
            digest = entry_hash(values, prev)
            rows.append([*(values[f] for f in FIELDS), prev, digest])
            prev = digest
        cols = ", ".join(quote(c) for c in [*FIELDS, "prev_hash", "hash"])
        marks = ", ".join("?" * (len(FIELDS) + 2))
        for start in range(0, len(rows), CHUNK):  # one statement (one commit) per chunk: commits dominate
            chunk = rows[start : start + CHUNK]
            tuples = ", ".join(f"({marks})" for _ in chunk)
            self.store.execute(
                f"INSERT INTO audit_log ({cols}) VALUES {tuples}", [v for r in chunk for v in r]
            )
        self.seq, self.hash = seq, prev
        self.anchor.write(seq, prev)
        return seq


class ServerAuditLog(AuditLog):
    """A server store's audit log: the server chains and MACs each entry (casegraph.audit_append) for the user
    the connection signed in as; the entry's user, agency and role are the server's, not the caller's."""

    def __init__(self, store: Store) -> None:  # no anchor file: the server keeps its own (with the count)
        self.store = store
        self.seq, self.hash = head(store)

    def append(self, entries: list[Entry]) -> int:
        for e in entries:
            self.seq = self.store.audit_append(e.__dict__)  # type: ignore[attr-defined]
        return self.seq
