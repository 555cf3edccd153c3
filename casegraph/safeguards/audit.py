"""The tamper-evident audit log: append-only, chained with a keyed MAC, with an anchor kept outside the table.

Threat model. Each entry's MAC (HMAC-SHA256 with the audit key) covers its own fields and the previous entry's
MAC, so editing, deleting, reordering or forging any entry breaks the chain at that point, and nobody without the
key can write a new entry that verifies. A chain cannot show that its *last* entries were cut off, so the head
(seq, MAC) and the number of entries are also written to an anchor file beside the store (or elsewhere, see
safeguards.audit_anchor_file), signed with the same key. The key is made when the log starts (`casegraph init`),
in a file of its own (<store>.audit-key, mode 0600; safeguards.audit_key_file or $CASEGRAPH_AUDIT_KEY to keep it
elsewhere); once it exists, a missing anchor is a finding. What remains undetectable is someone holding the
store file, the anchor *and* the key: they can rewrite everything consistently. For that, keep a copy of the
anchor (`casegraph audit anchor --export`) on a system they do not control and check with `audit verify --anchor`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casegraph.errors import PolicyDenied
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
_MEMORY_KEYS: dict[int, bytes] = {}  # and their keys


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


def _canonical(values: dict[str, Any], prev_hash: str) -> bytes:
    payload = [values.get(f).isoformat() if f == "at" else values.get(f) for f in FIELDS]  # type: ignore[union-attr]
    return json.dumps([*payload, prev_hash], ensure_ascii=False, separators=(",", ":"), default=str).encode()


def entry_mac(values: dict[str, Any], prev_hash: str, key: bytes) -> str:
    """HMAC-SHA256 with the audit key over the entry's fields (canonical JSON) and the previous entry's MAC."""
    return hmac.new(key, _canonical(values, prev_hash), hashlib.sha256).hexdigest()


def legacy_hash(values: dict[str, Any], prev_hash: str) -> str:
    """The unkeyed SHA-256 of versions before the audit key: entries up to the anchor's `legacy_until` (a log
    those versions wrote, accepted by its owner) are checked with it."""
    return hashlib.sha256(_canonical(values, prev_hash)).hexdigest()


def anchor_path(settings: Settings, store_path: str) -> Path | None:
    """Where the anchor of the store at store_path is kept (None: in memory, for an in-memory store)."""
    if settings.safeguards.audit_anchor_file:
        return Path(settings.safeguards.audit_anchor_file)
    return None if store_path == ":memory:" else Path(f"{store_path}.audit-anchor")


def key_path(settings: Settings, store_path: str) -> Path | None:
    """Where the audit key of the store at store_path is kept (None: in memory, for an in-memory store)."""
    if settings.safeguards.audit_key_file:
        return Path(settings.safeguards.audit_key_file)
    return None if store_path == ":memory:" else Path(f"{store_path}.audit-key")


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically: a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Anchor:
    """The log's head (seq, MAC) and entry count kept outside the audit table, signed with the audit key."""

    def __init__(self, store: Store, settings: Settings) -> None:
        rules = settings.safeguards
        self.path = anchor_path(settings, store.path)
        self.key_path = key_path(settings, store.path)
        self.key_env = rules.audit_key_env
        self.memory_key = id(store)
        self.key = self._read_key(bool(rules.audit_key_file))
        self.legacy_until = int((self.read() or {}).get("legacy_until", 0))  # trusted once the MAC checks

    def _read_key(self, file_given: bool) -> bytes | None:
        """The key file named in the settings, else $CASEGRAPH_AUDIT_KEY, else the file beside the store."""
        env = os.environ.get(self.key_env)
        if env and not file_given:
            return env.encode()
        if self.key_path is None:
            return _MEMORY_KEYS.get(self.memory_key)
        try:
            return self.key_path.read_bytes().strip() or None
        except FileNotFoundError:
            return None

    def where_key(self) -> str:
        return f"{self.key_path} or ${self.key_env}" if self.key_path else f"${self.key_env}"

    def start(self) -> None:
        """A new log: make its key (unless one is given) and its anchor at entry 0."""
        if self.key is None:
            self._make_key()
        if self.read() is None:
            self.write(0, GENESIS, 0)

    def start_after_legacy(self, seq: int) -> None:
        """A log written before audit keys, accepted by its owner: a key is made now; entries up to `seq` stay
        checked by their SHA-256 chain (which anyone could have rewritten consistently)."""
        self._make_key()
        self.legacy_until = seq

    def _make_key(self) -> None:
        key = secrets.token_hex(32)
        if self.key_path is None:
            _MEMORY_KEYS[self.memory_key] = key.encode()
        else:
            write_private(self.key_path, key + "\n")
        self.key = key.encode()

    def mac(self, seq: int, digest: str, entries: int, legacy_until: int) -> str:
        if self.key is None:
            raise PolicyDenied(f"the audit key ({self.where_key()}) is missing")
        text = f"{seq}:{entries}:{digest}:{legacy_until}"
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def read(self) -> dict[str, Any] | None:
        if self.path is None:
            return _MEMORY_ANCHORS.get(self.memory_key)
        if not self.path.exists():
            return None
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def write(self, seq: int, digest: str, entries: int) -> None:
        data = {
            "seq": seq,
            "hash": digest,
            "entries": entries,
            "legacy_until": self.legacy_until,
            "at": datetime.now(UTC).isoformat(),
            "mac": self.mac(seq, digest, entries, self.legacy_until),
        }
        if self.path is None:
            _MEMORY_ANCHORS[self.memory_key] = data
            return
        write_private(self.path, json.dumps(data))

    def signature_problem(self, data: dict[str, Any], what: str = "the anchor") -> str | None:
        if self.key is None:
            return f"the audit key ({self.where_key()}) is missing: {what} cannot be checked"
        if not data.get("mac") or "entries" not in data:
            return f"{what} is not signed with the audit key (made by an older version, or by hand)"
        expected = self.mac(
            int(data["seq"]), str(data["hash"]), int(data["entries"]), int(data.get("legacy_until", 0))
        )
        if not hmac.compare_digest(str(data["mac"]), expected):
            return f"{what}'s signature does not match the audit key ({what} was edited, or the key replaced)"
        return None


def head(store: Store) -> tuple[int, str]:
    """The last entry's (seq, hash), or (0, GENESIS) for an empty log."""
    rows = store.rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)


def anchor_problem(store: Store, anchor: Anchor) -> str | None:
    """Why the log's end does not match its anchor (emptied, truncated, extended, replaced, anchor or key
    missing), or None. A log with no entries, no anchor and no key is a new one."""
    seq, _ = head(store)
    data = anchor.read()
    if data is None and anchor.key is None:
        return (
            None if seq == 0 else f"the audit log has {seq} entries but its anchor ({anchor.path}) is missing"
        )
    if data is None:
        return (
            f"the audit log's anchor ({anchor.path}) is missing, although the log was started (its key exists)"
            + (
                f"; the log holds {seq} entries"
                if seq
                else "; the log is empty: it was wiped, or the anchor removed"
            )
        )
    return anchor_mismatch(store, anchor, data, exported=False)


def anchor_mismatch(store: Store, anchor: Anchor, data: dict[str, Any], *, exported: bool) -> str | None:
    """How the log differs from an anchor: this store's (the log must end there) or one exported earlier (the
    log must still hold that head, and may have grown since)."""
    what = "the exported anchor" if exported else "the anchor"
    bad_sig = anchor.signature_problem(data, what)
    if bad_sig:
        return bad_sig
    seq, _ = head(store)
    a_seq, a_hash, a_n = int(data["seq"]), str(data["hash"]), int(data["entries"])
    if a_seq > seq:
        return (
            f"the audit log ends at entry {seq} but {what} records entry {a_seq}: "
            f"{a_seq - seq} entries were deleted from the end"
        )
    if a_seq < seq and not exported:
        return (
            f"the audit log goes on past its anchor (entry {a_seq}): entries {a_seq + 1} to {seq} were not "
            "written by casegraph (forged, or added outside it)"
        )
    found = store.rows("SELECT hash FROM audit_log WHERE seq = ?", [a_seq]) if a_seq else [(GENESIS,)]
    if not found or found[0][0] != a_hash:
        return f"entry {a_seq} of the audit log is not the one {what} records (replaced or rewritten)"
    n = int(store.scalar("SELECT count(*) FROM audit_log WHERE seq <= ?", [a_seq]))
    if n != a_n:
        return f"{what} counts {a_n} entries up to entry {a_seq}; the log holds {n}"
    return None


def export_anchor(store: Store, settings: Settings, dest: Path) -> dict[str, Any]:
    """Copy the anchor to `dest` (somewhere the store's owner cannot rewrite: another machine, write-once media);
    `audit verify --anchor dest` later shows the log still holds that head."""
    data = Anchor(store, settings).read()
    if data is None:
        raise PolicyDenied("this store's audit log has no anchor yet: nothing to export")
    write_private(dest, json.dumps({**data, "store": store.path}, indent=1) + "\n")
    return data


def read_exported_anchor(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PolicyDenied(f"cannot read the exported anchor {path}: {exc}") from exc
    return data


class AuditLog:
    """Appends entries to one store's audit_log, keeping the chain head and the anchor in step."""

    def __init__(self, store: Store, anchor: Anchor, *, accepting: bool = False) -> None:
        self.store, self.anchor = store, anchor
        self.seq, self.hash = head(store)
        self.entries = int(store.scalar("SELECT count(*) FROM audit_log"))
        if self.seq == 0 and anchor.key is None and anchor.read() is None:
            anchor.start()  # a new log (`casegraph init`): its key and anchor are made now
        elif accepting and anchor.key is None:
            anchor.start_after_legacy(self.seq)  # a log from before audit keys, accepted by its owner
        # Appending to a log that fails its anchor would move the anchor and so hide the finding: refused until
        # the owner accepts it, on the record (`audit verify --accept`).
        self.refused = None if accepting else anchor_problem(store, anchor)

    def append(self, entries: list[Entry]) -> int:
        """Append entries in order (one transaction); returns the last seq."""
        if not entries:
            return self.seq
        if self.refused:
            raise PolicyDenied(
                f"the audit log does not match its anchor ({self.refused}): nothing is added to it until the "
                "owner has looked (`casegraph audit verify`, then `audit verify --accept`)"
            )
        key = self.anchor.key
        if key is None:
            raise PolicyDenied(
                f"the audit key ({self.anchor.where_key()}) is missing: nothing can be recorded"
            )
        seq, prev = self.seq, self.hash
        rows = []
        for e in entries:
            seq += 1
            values = {**e.__dict__, "seq": seq}
            digest = entry_mac(values, prev, key)
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
        self.seq, self.hash, self.entries = seq, prev, self.entries + len(rows)
        self.anchor.write(seq, prev, self.entries)
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
