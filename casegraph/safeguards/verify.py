"""Checking the audit chain: every entry's MAC, every link to the one before, and the anchor at the end (and an
anchor exported earlier, kept elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from casegraph.safeguards.audit import (
    FIELDS,
    GENESIS,
    Anchor,
    anchor_mismatch,
    anchor_problem,
    entry_mac,
    legacy_hash,
)
from casegraph.store import Store, quote

SHOWN = 50


@dataclass
class Problem:
    seq: int | None
    kind: str  # edited | missing | relinked | duplicate | truncated | extended | anchor | key | expected
    message: str


@dataclass
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0
    anchor: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> int | None:
        """The first entry where the log breaks (the lowest seq of any problem)."""
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def add(self, seq: int | None, kind: str, message: str) -> None:
        if len(self.problems) < SHOWN:
            self.problems.append(Problem(seq, kind, message))
        else:
            self.more_problems += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "anchor": self.anchor,
            "first_bad_seq": self.first_bad,
            "problems": [p.__dict__ for p in self.problems],
            "more_problems": self.more_problems,
        }


def _check_row(row: dict[str, Any], state: Verification, expected: int, prev: str, anchor: Anchor) -> None:
    seq = int(row["seq"])
    if seq > expected:
        state.add(seq, "missing", f"entries {expected} to {seq - 1} are missing (deleted)")
    elif seq < expected:
        state.add(seq, "duplicate", f"entry {seq} appears more than once or out of order")
    elif row["prev_hash"] != prev:
        state.add(
            seq,
            "relinked",
            f"entry {seq} does not follow entry {seq - 1} (an entry was inserted, "
            "deleted or moved before it)",
        )
    if anchor.key is not None and _digest(row, anchor) != row["hash"]:
        state.add(
            seq,
            "edited",
            f"entry {seq} does not carry the MAC of its contents (changed after it was written, or written "
            "without the audit key)",
        )


def _digest(row: dict[str, Any], anchor: Anchor) -> str:
    """What the entry's hash must be: its MAC, or its SHA-256 when an older version wrote it (legacy_until)."""
    if int(row["seq"]) <= anchor.legacy_until:
        return legacy_hash(row, str(row["prev_hash"]))
    assert anchor.key is not None
    return entry_mac(row, str(row["prev_hash"]), anchor.key)


def verify(
    store: Store,
    anchor: Anchor,
    expect: tuple[int, str] | None = None,
    exported: dict[str, Any] | None = None,
) -> Verification:
    """Walk the whole log in seq order (streamed), then compare its end with the anchor, an anchor `exported`
    earlier and `expect`."""
    state = Verification(anchor=anchor.read())
    expected, prev = 1, GENESIS
    if anchor.key is None and store.scalar("SELECT count(*) FROM audit_log"):
        state.add(1, "key", f"the audit key ({anchor.where_key()}) is missing: no entry's MAC can be checked")
    cols = ", ".join(quote(c) for c in [*FIELDS, "prev_hash", "hash"])
    for batch in store.batches(f"SELECT {cols} FROM audit_log ORDER BY seq"):
        for row in batch.to_pylist():
            _check_row(row, state, expected, prev, anchor)
            expected, prev = int(row["seq"]) + 1, str(row["hash"])
            state.entries += 1
    state.head_seq, state.head_hash = expected - 1, prev
    problem = anchor_problem(store, anchor)
    if problem:
        kind = _anchor_kind(problem)
        state.add(_anchor_seq(state.anchor, state.head_seq, kind), kind, problem)
    if exported is not None:
        mismatch = anchor_mismatch(store, anchor, exported, exported=True)
        if mismatch:
            kind = _anchor_kind(mismatch)
            state.add(_anchor_seq(exported, state.head_seq, kind), kind, mismatch)
    if expect:
        found = store.rows("SELECT hash FROM audit_log WHERE seq = ?", [expect[0]])
        if not found or found[0][0] != expect[1]:
            state.add(
                expect[0], "expected", f"entry {expect[0]} does not have the hash you recorded ({expect[1]})"
            )
    state.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return state


def _anchor_seq(data: dict[str, Any] | None, head_seq: int, kind: str) -> int:
    """The entry an anchor problem points at: the anchor's head, or the first entry after it when the log goes
    on past it (the log's head, or entry 1, when there is no anchor)."""
    if data is None:
        return max(head_seq, 1)
    a_seq = int(data.get("seq", 0))
    return a_seq + 1 if kind == "extended" else max(a_seq, 1)


def _anchor_kind(problem: str) -> str:
    if "deleted" in problem:
        return "truncated"
    return "extended" if "goes on past" in problem else "anchor"


def verify_server(store: Store) -> Verification:
    """A server store's chain, checked by the server with its MAC key (casegraph.audit_verify): every entry's
    MAC and link, no gap, and the anchor's head and count (an emptied or cut log fails)."""
    state = Verification()
    for seq, kind, message in store.rows("SELECT seq, kind, message FROM casegraph.audit_verify()"):
        state.add(int(seq) if seq is not None else None, str(kind), str(message))
    state.entries = int(store.scalar("SELECT count(*) FROM audit_log"))
    found = store.rows("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    if found:
        state.head_seq, state.head_hash = int(found[0][0]), str(found[0][1])
    return state
