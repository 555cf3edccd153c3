"""One audit chain for every connection of the workspace, appended with group commit.

Reader threads each hold their own DuckDB connection, but the hash chain has one head: entries must be chained
in one order and written by one writer. Entries wait in one queue, in arrival order; whoever holds the lead
writes every entry waiting at that moment in one statement (one commit, one anchor update).

`append` waits for the commit that holds its entries (the guard's contract). Inside `deferred()`, a reader lane
appends without waiting and hands the answer to `when_committed`, which releases it once those entries are
committed: the lane reads the next request meanwhile, so a commit takes the entries of every request finished
during the one before it (with 4 lanes waiting, a commit held ~1.2 requests' entries and cost ~2 ms of CPU each;
see bench/api). Nobody gets an answer before their entries are committed; if a commit fails, they get the error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from casegraph.safeguards.audit import Anchor, AuditLog, Entry
from casegraph.store import Store

# A commit costs ~2 ms of CPU however few entries it holds (~0.2 ms more per entry): the committer waits this
# long for more before writing deferred entries (answers wait for it; a synchronous append never does).
LINGER_SECONDS = 0.004


@dataclass
class _Ticket:
    entries: list[Entry]
    seq: int = 0
    done: bool = False
    error: BaseException | None = None
    then: list[Callable[[BaseException | None], None]] = field(default_factory=list)


class GroupCommitLog(AuditLog):
    """A thread-safe AuditLog: concurrent appends are chained in arrival order and committed together."""

    def __init__(self, store: Store, anchor: Anchor) -> None:
        super().__init__(store, anchor)
        self._start()

    def _start(self) -> None:
        self._cv = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._leader: int | None = None  # the thread writing (or holding the chain still), if any
        self._local = threading.local()  # .held: tickets of this thread's deferred() block, or None
        self._closing = False
        self.commits = 0
        self._committer = threading.Thread(target=self._commit_loop, name="casegraph-audit", daemon=True)
        self._committer.start()

    # -- appending ------------------------------------------------------------------------------------
    def append(self, entries: list[Entry]) -> int:
        if not entries:
            return self.seq
        ticket = _Ticket(list(entries))
        held = getattr(self._local, "held", None)
        with self._cv:
            self._waiting.append(ticket)
            if held is not None:  # deferred: the committer writes it; the answer waits in when_committed
                held.append(ticket)
                self._cv.notify_all()
                return self.seq
            self._lead_until(ticket)
        if ticket.error is not None:
            raise ticket.error
        return ticket.seq

    @contextmanager
    def deferred(self) -> Iterator[list[_Ticket]]:
        """Appends made by this thread inside the block do not wait for their commit; the tickets are yielded
        for when_committed."""
        held: list[_Ticket] = []
        self._local.held = held
        try:
            yield held
        finally:
            self._local.held = None

    def when_committed(self, tickets: list[_Ticket], then: Callable[[BaseException | None], None]) -> None:
        """then(None) once every ticket is committed, then(error) if one failed (at once if none is pending)."""
        with self._cv:
            pending = [t for t in tickets if not t.done]
            error = next((t.error for t in tickets if t.error is not None), None)
            if pending and error is None:
                countdown = _Countdown(len(pending), then)
                for t in pending:
                    t.then.append(countdown.one_done)
                return
        then(error)

    # -- committing -----------------------------------------------------------------------------------
    def _lead_until(self, ticket: _Ticket) -> None:
        """(With the lock held) write waiting batches, or wait for the writer, until `ticket` is committed."""
        me = threading.get_ident()
        while not ticket.done:
            if self._leader not in (None, me):
                self._cv.wait()
                continue
            self._write_waiting(me)

    def _write_waiting(self, me: int) -> None:
        """(With the lock held, no other leader) write everything waiting, then run its tickets' callbacks."""
        outer, self._leader = self._leader, me  # outer is me inside paused()
        batch, self._waiting = self._waiting, []
        self._cv.release()
        try:
            self._write(batch)
        finally:
            self._cv.acquire()
            # done only under the lock: when_committed sees a ticket done or adds its callback
            for t in batch:
                t.done = True
                for then in t.then:  # settles futures only (never takes this lock)
                    then(t.error)
            self._leader = outer
            self._cv.notify_all()

    def _commit_loop(self) -> None:
        """Writes deferred entries as soon as no other thread leads; leaves once closed and drained."""
        me = threading.get_ident()
        with self._cv:
            while True:
                while not (self._waiting and self._leader is None) and not (
                    self._closing and not self._waiting
                ):
                    self._cv.wait()
                if not self._waiting:
                    return
                if LINGER_SECONDS and not self._closing:  # let the reads finishing now join this commit
                    self._cv.wait(LINGER_SECONDS)
                    if self._leader is not None or not self._waiting:
                        continue
                self._write_waiting(me)

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            entries = [e for t in batch for e in t.entries]
            last = self._append_batch(entries) - len(entries)
            self.commits += 1
        except BaseException as exc:  # nothing of this batch is in the chain head: every caller learns it
            for t in batch:
                t.error = exc
            return
        for t in batch:
            last += len(t.entries)
            t.seq = last

    def _append_batch(self, entries: list[Entry]) -> int:
        """Write the entries in one transaction; the last seq."""
        return AuditLog.append(self, entries)

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

    def close(self) -> None:
        """Commit what is waiting and stop the committer."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._committer.join(timeout=60)


class ServerGroupCommitLog(GroupCommitLog):
    """Group commit for a server store's workspace: `write(entries)` hands a batch to the server, which chains
    and MACs it (one statement, one commit) and returns the last seq. The chain head is the server's."""

    def __init__(self, write: Callable[[list[Entry]], int]) -> None:
        self._write_entries = write
        self.seq, self.hash, self.entries = 0, "", 0
        self._start()

    def _append_batch(self, entries: list[Entry]) -> int:
        self.seq = self._write_entries(entries)
        return self.seq


class _Countdown:
    """Calls then(error) once, after `n` tickets are done (with the first error, if any)."""

    def __init__(self, n: int, then: Callable[[BaseException | None], None]) -> None:
        self._left, self._then = n, then
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def one_done(self, error: BaseException | None) -> None:
        with self._lock:
            self._left -= 1
            self._error = self._error or error
            last = self._left == 0
        if last:
            self._then(self._error)
