"""One audit chain for every connection of the workspace, appended with group commit.

Reader threads each hold their own DuckDB connection, but the hash chain has one head: entries must be chained
in one order and written by one writer. `GroupCommitLog.append` is called from any thread; whichever caller finds
no commit under way becomes the leader and writes every entry waiting at that moment in one statement (one
commit, one anchor update), the others wait for the commit that holds their entries. Nobody gets an answer before
their entries are committed, so a request is never answered without its audit entry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from casegraph.safeguards.audit import Anchor, AuditLog, Entry
from casegraph.store import Store


@dataclass
class _Ticket:
    entries: list[Entry]
    seq: int = 0
    done: bool = False
    error: BaseException | None = None


class GroupCommitLog(AuditLog):
    """A thread-safe AuditLog: concurrent appends are chained in arrival order and committed together."""

    def __init__(self, store: Store, anchor: Anchor) -> None:
        super().__init__(store, anchor)
        self._cv = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._leader: int | None = None  # the thread writing (or holding the chain still), if any
        self.commits = 0

    def append(self, entries: list[Entry]) -> int:
        if not entries:
            return self.seq
        ticket, me = _Ticket(list(entries)), threading.get_ident()
        with self._cv:
            self._waiting.append(ticket)
            while not ticket.done:
                if self._leader not in (None, me):
                    self._cv.wait()
                    continue
                outer, self._leader = self._leader, me  # outer is me inside paused()
                batch, self._waiting = self._waiting, []
                self._cv.release()
                try:
                    self._write(batch)
                finally:
                    self._cv.acquire()
                    self._leader = outer
                    self._cv.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.seq

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            last = self.seq
            super().append([e for t in batch for e in t.entries])
            self.commits += 1
        except BaseException as exc:  # nothing of this batch is in the chain head: every caller learns it
            for t in batch:
                t.error, t.done = exc, True
            return
        for t in batch:
            last += len(t.entries)
            t.seq, t.done = last, True

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No commit from another thread until the block ends (this thread may still append): for checks that
        read the table's head and then the anchor, which a commit in between would set apart."""
        me = threading.get_ident()
        with self._cv:
            while self._leader is not None:
                self._cv.wait()
            self._leader = me
        try:
            yield
        finally:
            with self._cv:
                self._leader = None
                self._cv.notify_all()
